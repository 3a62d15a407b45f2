# keygate: `make dev` runs it locally, `make test` runs every test. Both install what they
# need first (pinned), and skip whatever is already installed or built.
SHELL := /bin/bash
TOOLS ?= $(HOME)/.cache/keygate/cargo
export WASM_BINDGEN_BIN := $(TOOLS)/bin/wasm-bindgen
export WASM_OPT_BIN := $(CURDIR)/node_modules/.bin/wasm-opt
export ESBUILD_BIN := $(CURDIR)/node_modules/.bin/esbuild
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

SOURCES := $(shell find src -type f) Cargo.toml Cargo.lock

.PHONY: dev test tools build check bench soak fuzz clean

dev: tools build
	scripts/dev.sh

test: tools build check
	cargo test --lib --tests

tools:
	@scripts/tools.sh

build: build/index.js

build/index.js: $(SOURCES)
	$(TOOLS)/bin/worker-build --release
	@touch $@

# The Worker target must compile too, lint-free: the native tests do not build the glue.
check:
	cargo fmt --check
	cargo clippy --quiet --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy --quiet --all-targets -- -D warnings

# One table: native stage costs (criterion), then workerd end to end with wrk beside a
# pass-through worker, bundle size, restart, and counted cost per request. Numbers go in the
# README with the machine they ran on. BENCH_SECONDS / BENCH_ROUNDS shorten or lengthen it.
bench: tools build
	@scripts/tools.sh bench
	cargo bench --bench core
	cargo bench --bench workerd

# The soak alone (make test runs it too): SOAK_SECONDS of mixed traffic, default 60.
soak: tools build
	cargo test --test soak

# libFuzzer on the key parser, the policy, the management bodies and the field filter:
# FUZZ_SECONDS per target (default 60). Crashes land in fuzz/regressions/, replayed by make test.
fuzz:
	scripts/fuzz.sh

clean:
	rm -rf build target fuzz/target
