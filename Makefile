# keygate: `make dev` runs it locally, `make test` runs every test. Both install what they
# need first (pinned), and skip whatever is already installed or built.
SHELL := /bin/bash
TOOLS ?= $(HOME)/.cache/keygate/cargo
# The scripts read KEYGATE_TOOLS (so they also run on their own): pass them the same directory.
export KEYGATE_TOOLS := $(TOOLS)
export WASM_BINDGEN_BIN := $(TOOLS)/bin/wasm-bindgen
export WASM_OPT_BIN := $(CURDIR)/node_modules/.bin/wasm-opt
export ESBUILD_BIN := $(CURDIR)/node_modules/.bin/esbuild
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

# The Worker's sources: not the CLI (src/bin), which the wasm build never compiles.
SOURCES := $(shell find src -type f -not -path 'src/bin/*') Cargo.toml Cargo.lock
CONSOLE_SOURCES := $(shell find console -type f) scripts/console.sh
# What src/edge/console.rs embeds: built before any Rust build of the worker.
CONSOLE := build/console/index.html

.PHONY: dev test unit tools build console check lint bench soak fuzz clean screenshots

dev: tools build
	scripts/dev.sh

test: tools build check
	@scripts/tools.sh browser
	cargo test --lib --tests

tools:
	@scripts/tools.sh

build: build/index.js

build/index.js: $(SOURCES) $(CONSOLE)
	$(TOOLS)/bin/worker-build --release
	@touch $@

# The admin console's files (console/ bundled by esbuild), which the worker embeds.
console: $(CONSOLE)

$(CONSOLE): $(CONSOLE_SOURCES)
	scripts/console.sh

# The console's pictures in docs/console/ (README, Console), taken again by its browser suite.
screenshots: tools build
	@scripts/tools.sh browser
	CONSOLE_SCREENSHOTS=docs/console cargo test --test console

# The inner loop: format, native lints, the native unit and property tests. No worker build,
# no workerd, no tools to install; `make test` runs all of it and more.
unit: lint
	cargo test --quiet --lib --bins

# The Worker target must compile too, lint-free: the native tests do not build the glue
# (which embeds the console, so it is built first). The console is type-checked and its unit
# tests run on Node.
check: lint $(CONSOLE)
	scripts/console.sh check
	cargo clippy --quiet --target wasm32-unknown-unknown --lib -- -D warnings

# Formatting and native clippy over keygate and its test support crate (tests/support).
lint:
	cargo fmt --all --check
	cargo clippy --quiet --workspace --all-targets -- -D warnings

# One table: native stage costs (criterion), then workerd end to end with wrk beside a
# pass-through worker, bundle size, restart, and counted cost per request. Numbers go in the
# README (headline) and docs/performance.md (every line) with the machine they ran on. BENCH_SECONDS / BENCH_ROUNDS shorten or lengthen it.
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
