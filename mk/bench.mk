# mk/bench.mk: benchmarks against libcoap and aiocoap (see BENCHMARKS.md).
#
#   make bench                 module vs libcoap vs aiocoap, side by side
#   make bench BENCH_SECONDS=10 BENCH_CONFIGS=1x1,8x1,8x4,32x1
#   make stress                tests/stress (also part of `make test`)
#   make stress-flood-full     the 100,000-datagram flood, recorded in BENCHMARKS.md

BENCH_SECONDS ?= 5
# CLIENTSxINFLIGHT per row: clients each have their own socket and thread.
BENCH_CONFIGS ?= 1x1,8x1,8x4
COAP_LOAD := $(ROOT)/target/release/coap-load
BENCH_OUT := $(WORK)/bench/results.json

.PHONY: bench coap-load stress stress-flood-full

coap-load: ## Build tools/coap-load, the CoAP GET load generator (target/release/coap-load)
	cargo build --release -p coap-load

bench: unix coap-load ## Side-by-side GET throughput/latency: the module (unix build) vs libcoap coap-server vs aiocoap
	python3 $(ROOT)/tests/bench/run_bench.py --micropython $(UNIX_BIN) --load $(COAP_LOAD) \
	  --seconds $(BENCH_SECONDS) --configs $(BENCH_CONFIGS) --json $(BENCH_OUT)
	@echo "results: $(BENCH_OUT)"
