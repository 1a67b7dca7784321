# sam.mk: build and deploy the AWS SAM application in template.yaml.
#
# Included from the Makefile (`include sam.mk`); also works alone (`make -f sam.mk lambda-zips`).
#
#   make build-ApiFunction ARTIFACTS_DIR=dir   what `sam build` runs for each function
#                                             (Metadata BuildMethod: makefile); writes dir/bootstrap
#   make lambda-zips                          the four functions as build/lambda/<name>.zip
#   make cfn-lint                             lint template.yaml (SAM transform included)
#   make deploy-local                         deploy template.yaml to a local endpoint (moto_server),
#                                             check every resource and its configuration, run each
#                                             function's code (host build) against the deployed
#                                             resources, delete the stack again
#   make sam-translate                        template.yaml expanded to CloudFormation JSON
#
# DEPLOY_LOCAL_ARGS adds options, e.g. DEPLOY_LOCAL_ARGS="--smoke --keep" leaves the stack (and the
# moto_server) up; "" skips the smoke run. See `python3 scripts/deploy_local.py deploy --help`.
#
# The functions are built from $(LAMBDA_PKGDIR)/<name> inside the Go module at $(LAMBDA_MODDIR)
# (default: ./functions of this repository). To try the build with stand-in functions kept
# outside the repository: make lambda-zips LAMBDA_MODDIR=/tmp/stubfn

SAM_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

GO       ?= go
PYTHON   ?= python3
CFN_LINT ?= cfn-lint

LAMBDA_MODDIR  ?= $(SAM_MK_DIR)
LAMBDA_PKGDIR  ?= ./functions
LAMBDA_OUT     ?= $(SAM_MK_DIR)/build/lambda
LAMBDA_NAMES   := api handoff antientropy health
LAMBDA_GOENV   := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_GOFLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
DEPLOY_LOCAL    = $(PYTHON) $(SAM_MK_DIR)/scripts/deploy_local.py
DEPLOY_LOCAL_ARGS ?= --smoke

# sam_lambda_build(name,dir): cross-compile $(LAMBDA_PKGDIR)/name into dir/bootstrap.
sam_lambda_build = \
	test -n "$(strip $(2))" || { echo "sam.mk: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }; \
	mkdir -p "$(abspath $(2))" && \
	cd "$(LAMBDA_MODDIR)" && \
	$(LAMBDA_GOENV) $(GO) build $(LAMBDA_GOFLAGS) -o "$(abspath $(2))/bootstrap" $(LAMBDA_PKGDIR)/$(1)

.PHONY: build-ApiFunction build-HandoffFunction build-AntiEntropyFunction build-HealthFunction \
	lambda-zips cfn-lint deploy-local sam-translate sam-FORCE

build-ApiFunction:
	@$(call sam_lambda_build,api,$(ARTIFACTS_DIR))
build-HandoffFunction:
	@$(call sam_lambda_build,handoff,$(ARTIFACTS_DIR))
build-AntiEntropyFunction:
	@$(call sam_lambda_build,antientropy,$(ARTIFACTS_DIR))
build-HealthFunction:
	@$(call sam_lambda_build,health,$(ARTIFACTS_DIR))

## lambda-zips: build/lambda/{api,handoff,antientropy,health}.zip (linux/arm64 `bootstrap` each)
lambda-zips: $(LAMBDA_NAMES:%=$(LAMBDA_OUT)/%.zip)

# Always rebuilt (Go's build cache makes an unchanged function cost about a second); the zip is
# written deterministically (fixed timestamp, mode 0755) so an unchanged binary gives the same zip.
$(LAMBDA_OUT)/%.zip: sam-FORCE
	@$(call sam_lambda_build,$*,$(LAMBDA_OUT)/$*)
	@$(DEPLOY_LOCAL) zip $(LAMBDA_OUT)/$*/bootstrap $@

sam-FORCE:

## cfn-lint: lint template.yaml
cfn-lint:
	$(CFN_LINT) -- $(SAM_MK_DIR)/template.yaml

## sam-translate: template.yaml expanded to plain CloudFormation in build/sam/template.json
sam-translate:
	$(DEPLOY_LOCAL) translate -o $(SAM_MK_DIR)/build/sam/template.json

## deploy-local: build the zips, deploy template.yaml to a local endpoint, check, tear down
deploy-local: lambda-zips
	$(DEPLOY_LOCAL) deploy --zip-dir $(LAMBDA_OUT) --moddir $(LAMBDA_MODDIR) --pkgdir $(LAMBDA_PKGDIR) $(DEPLOY_LOCAL_ARGS)
