# bench.mk: the benchmark and the simulator (issue 8). Included from the Makefile
# (`include bench.mk`); also works alone (`make -f bench.mk bench`). Neither target is
# part of `make test`.
#
#   make bench        cartwheel bench on kumo (in-process), one moto_server, one
#                     moto_server per node (it starts and stops them itself), and the
#                     lognormal endpoint (the in-memory store with S3-like latencies), plus the
#                     Lambda figures of the contract test when the emulator is installed;
#                     results in bench/results/ (bench.json, bench.md, latency-cdf-*.svg,
#                     lambda.json). About 15 minutes with the defaults.
#   make sim          cartwheel sim: the paper's tables on a simulated 300-node ring;
#                     bench/results/sim.json and sim.md. About two minutes.
#   make bench-go     the Go micro-benchmarks of core/ (go test -bench, allocations shown);
#                     also saved as bench/results/micro.txt
#   make bench-local  the durable embedded store of `cartwheel serve` (issue 15): the server's
#                     RSS after storing 1 GiB of values, and the restart time with 100,000 keys
#                     (after Ctrl-C and after kill -9); printed, never asserted. A few minutes;
#                     BENCH_LOCAL_ARGS="--bytes 268435456 --keys 20000" for a quicker run.
#   make bench-region the set check's region nemesis (issue 17) over three local S3 endpoints,
#                     one per region (kumo; CARTWHEEL_REGION_CHECK_BACKEND=moto for one
#                     moto_server each): the endpoint cut (siblings and LWW) and the
#                     partition (cluster quorum and local quorum), REGION_DURATION (default
#                     30s) each; also the last step of make bench. bench/results/region.txt.
#
# BENCH_ARGS / SIM_ARGS add flags (see `cartwheel bench --help`, `cartwheel sim --help`),
# e.g. make bench BENCH_ARGS="--endpoints moto-per-node --duration 30s".
# BENCH_LAMBDA=auto (default: run the contract test when .bin/aws-lambda-rie or
# CARTWHEEL_RIE exists), 1 (always), 0 (never).

BENCH_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

GO           ?= go
BENCH_ARGS   ?=
SIM_ARGS     ?=
BENCH_GO_ARGS ?=
BENCH_OUT    ?= bench/results
BENCH_LAMBDA ?= auto
BENCH_BIN    := $(BENCH_MK_DIR)/.bin/cartwheel-bench

.PHONY: bench sim bench-go bench-lambda bench-build bench-local bench-region

REGION_DURATION ?= 30s

## bench-region: one of three regions cut off (its endpoint stopped, or partitioned) while all
## write; acknowledged writes lost, siblings vs LWW, cluster quorum vs local quorum
bench-region:
	@mkdir -p $(BENCH_MK_DIR)/$(BENCH_OUT)
	@cd $(BENCH_MK_DIR) && log=$$(mktemp) && echo "bench-region: $(REGION_DURATION) per run, 5 runs (a few minutes)" && \
	  CARTWHEEL_REGION_CHECK_DURATION=$(REGION_DURATION) $(GO) test -count=1 -v -timeout 30m \
	    -run 'TestRegionCut|TestRegionPartition' ./internal/regioncheck/ > $$log 2>&1; rc=$$?; \
	  grep -E '^\s*(---|(check|cluster|acknowledged|lost|request errors|max siblings|region nemesis|during the cut) )|: (siblings|lww|quorum)' $$log \
	    | tee $(BENCH_OUT)/region.txt; \
	  if [ $$rc -ne 0 ]; then tail -40 $$log; fi; rm -f $$log; exit $$rc

bench-build:
	cd $(BENCH_MK_DIR) && $(GO) build -o $(BENCH_BIN) ./cmd/cartwheel

## bench: Cartwheel against the raw S3 patterns it is made of, on local endpoints (results in bench/results/)
bench: bench-build bench-lambda
	cd $(BENCH_MK_DIR) && $(BENCH_BIN) bench --out $(BENCH_OUT) --lambda-json $(BENCH_OUT)/lambda.json \
	  --command-label "make bench$(if $(BENCH_ARGS), BENCH_ARGS=\"$(BENCH_ARGS)\")" $(BENCH_ARGS)
	$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) bench-region

# The Lambda figures (bootstrap sizes, cold starts under the emulator) come from the
# contract test; a failed run leaves the previous file (its date is printed) or none.
bench-lambda: tools-rie
	@cd $(BENCH_MK_DIR) && rie=$${CARTWHEEL_RIE:-$(BENCH_MK_DIR)/.bin/aws-lambda-rie}; \
	if [ "$(BENCH_LAMBDA)" = 0 ]; then \
	  echo "bench: BENCH_LAMBDA=0: Lambda figures not measured"; \
	elif [ "$(BENCH_LAMBDA)" = 1 ] || [ -x "$$rie" ]; then \
	  mkdir -p $(BENCH_OUT); \
	  echo "bench: measuring the Lambda bootstraps under the emulator (functions/contract)"; \
	  if CARTWHEEL_BENCH_OUT=$(BENCH_MK_DIR)/$(BENCH_OUT)/lambda.json.tmp $(GO) test -count=1 -run TestContract ./functions/contract/; then \
	    mv $(BENCH_OUT)/lambda.json.tmp $(BENCH_OUT)/lambda.json; \
	  else \
	    rm -f $(BENCH_OUT)/lambda.json.tmp; echo "bench: the contract test failed: Lambda figures not updated"; \
	  fi; \
	else \
	  echo "bench: no Lambda emulator at $$rie (make tools-rie): Lambda figures n/a"; \
	fi

## sim: the Dynamo paper's tables on a simulated large ring, with the real core packages
sim: bench-build
	cd $(BENCH_MK_DIR) && $(BENCH_BIN) sim --out $(BENCH_OUT) \
	  --command-label "make sim$(if $(SIM_ARGS), SIM_ARGS=\"$(SIM_ARGS)\")" $(SIM_ARGS)

## bench-go: Go micro-benchmarks of the core (preference lists, clocks, encoding, Merkle diff)
bench-go:
	cd $(BENCH_MK_DIR) && mkdir -p $(BENCH_OUT) && \
	  $(GO) test -run '^$$' -bench . -benchmem $(BENCH_GO_ARGS) ./core/... > $(BENCH_OUT)/micro.txt.tmp && \
	  mv $(BENCH_OUT)/micro.txt.tmp $(BENCH_OUT)/micro.txt && cat $(BENCH_OUT)/micro.txt

## bench-local: RSS after storing 1 GiB and restart time with 100,000 keys, on the embedded store
BENCH_LOCAL_ARGS ?=
bench-local: bench-build
	cd $(BENCH_MK_DIR) && $(GO) run ./bench/localbench --bin $(BENCH_BIN) $(BENCH_LOCAL_ARGS)
