#!/usr/bin/env bash
# Installs what building and running keygate needs, pinned, and only what is missing:
# the wasm32 target, worker-build and wasm-bindgen-cli (from the crate registry, into a cache
# outside the clone so every clone on this machine reuses them), and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${KEYGATE_TOOLS:-$HOME/.cache/keygate/cargo}"
WORKER_BUILD_VERSION=0.8.7
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "keygate: adding the wasm32-unknown-unknown target" >&2
  rustup target add wasm32-unknown-unknown || {
    echo "keygate: cannot install the wasm32-unknown-unknown target (rustup target add failed)" >&2
    exit 1
  }
fi

install_crate() { # crate version binary
  local have
  have=$("$TOOLS/bin/$3" --version 2>/dev/null | awk '{print $NF}') || true
  if [ "$have" != "$2" ]; then
    echo "keygate: installing $1 $2 into $TOOLS (slow the first time, cached after)" >&2
    cargo install --quiet --root "$TOOLS" "$1" --version "=$2"
  fi
}
install_crate wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen
install_crate worker-build "$WORKER_BUILD_VERSION" worker-build

# `tools.sh bench`: the load generator too, from Debian's packages.
if [ "${1:-}" = bench ] && ! command -v wrk >/dev/null; then
  echo "keygate: installing wrk (apt-get)" >&2
  { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null || {
    echo "keygate: cannot install wrk; install it and run make bench again" >&2
    exit 1
  }
fi

# `tools.sh browser`: headless Chromium and its matching ChromeDriver for the console's browser
# tests (tests/console.rs), from Debian's packages: no browser download from elsewhere.
if [ "${1:-}" = browser ] && ! { command -v chromium && command -v chromedriver; } >/dev/null; then
  echo "keygate: installing chromium and chromium-driver (apt-get)" >&2
  { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; } >/dev/null || {
    echo "keygate: cannot install chromium and chromium-driver; install them and run make test again" >&2
    exit 1
  }
fi

# npm ci only when package-lock.json changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "keygate: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
fi
