# Cartwheel — the Dynamo design as a serverless Go application.
# The two commands a new user needs: `make run` and `make test`.

GO          ?= go
BIN         := $(CURDIR)/.bin
STATICCHECK := $(BIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
GOPKGS      := ./...

.PHONY: all run test lint unit integration coverage fuzz tools tools-browser screenshot clean

all: test

## run: start Cartwheel locally (durable embedded store, HTTP API on 127.0.0.1:8080 only);
## RUN_ARGS passes flags to `cartwheel serve`
run:
	@echo "building cartwheel: the first build downloads and compiles its modules (the AWS SDK, bbolt, ...), several minutes on a fresh machine; -v names each package compiled; later builds take seconds"
	$(GO) build -v -ldflags "-X main.commit=$$(git rev-parse --short=12 HEAD 2>/dev/null)" -o $(BIN)/cartwheel ./cmd/cartwheel
	exec $(BIN)/cartwheel serve $(RUN_ARGS)

## test: lint, then every test (unit + integration on kumo and on moto, end to end,
## Lambda contract under the Runtime Interface Emulator, browser), race detector on;
## every fuzz target briefly; cfn-lint; the SAM template deployed to moto
test: lint tools-rie tools-browser
	bash scripts/test.sh
	bash scripts/fuzz.sh $(TEST_FUZZTIME)
	$(MAKE) --no-print-directory cfn-lint
	$(MAKE) --no-print-directory deploy-local

TEST_FUZZTIME ?= 3s

## tools-browser: Debian's chromium for the dashboard's browser test (installed when missing)
tools-browser:
	bash scripts/install-chromium.sh

## lint: gofmt, go vet, staticcheck, core/ imports only the standard library, and
## ARCHITECTURE.md's floors and package list match the code's imports
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOPKGS)
	$(STATICCHECK) $(GOPKGS)
	bash scripts/corecheck.sh
	python3 scripts/archcheck.py

## coverage: statement coverage of core/ (each package must stay >= 90%)
coverage:
	$(GO) test -cover ./core/...

## fuzz: run every fuzz target for FUZZTIME each (default 10s)
FUZZTIME ?= 10s
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

tools: $(STATICCHECK)

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## screenshot: retake docs/dashboard.png with the browser test
screenshot: tools-browser
	CARTWHEEL_SCREENSHOT=$(CURDIR)/docs/dashboard.png $(GO) test -count=1 -run TestDashboardInBrowser ./cmd/cartwheel/

clean:
	rm -rf $(BIN) build .aws-sam

include sam.mk
include rie.mk
include bench.mk
