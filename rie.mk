# rie.mk: AWS's Lambda Runtime Interface Emulator, for the contract test in functions/contract.
#
# Included from the Makefile (`include rie.mk`); also works alone (`make -f rie.mk rie`).
#
#   make tools-rie     install .bin/aws-lambda-rie (pinned; a no-op when it is already there)
#   make rie           the same (the file target's short name)
#   make contract      run the contract test: each function's linux `bootstrap` under the emulator
#
# `make test` must depend on tools-rie: without the emulator the contract test FAILS and says to
# run `make tools-rie` (CARTWHEEL_SKIP_RIE=1 skips it instead, loudly). The test finds the
# binary at $(RIE), or at CARTWHEEL_RIE if that is set.
#
# The emulator listens on 0.0.0.0:8080 unless told otherwise; the test always passes loopback
# addresses (--runtime-interface-emulator-address and --runtime-api-address). It has no --help.

RIE_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

GO          ?= go
RIE_BIN     ?= $(RIE_MK_DIR)/.bin
RIE         := $(RIE_BIN)/aws-lambda-rie
RIE_MODULE  := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d

.PHONY: tools-rie rie contract

## tools-rie: install the Lambda Runtime Interface Emulator into .bin/ (prerequisite of `make test`)
tools-rie: $(RIE)

rie: $(RIE)

# To move to another version, change RIE_VERSION and delete .bin/aws-lambda-rie.
$(RIE):
	GOBIN=$(RIE_BIN) $(GO) install $(RIE_MODULE)@$(RIE_VERSION)

## contract: build the four bootstraps and invoke them through the emulator
contract: $(RIE)
	cd $(RIE_MK_DIR) && $(GO) test -count=1 -v -run TestContract ./functions/contract/
