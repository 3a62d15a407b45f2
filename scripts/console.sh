#!/usr/bin/env bash
# The admin console (console/): `console.sh` bundles it into build/console/, which the worker
# embeds (src/edge/console.rs), so it runs before the Rust build; `console.sh check`
# type-checks it (esbuild only strips types) and runs its unit tests on Node.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin
[ -x "$bin/esbuild" ] || {
  echo "keygate: node_modules/.bin/esbuild is missing: run scripts/tools.sh (make tools)" >&2
  exit 1
}

case "${1:-build}" in
build)
  out=build/console
  # Written beside, then moved: a failed build never leaves half a console to embed.
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  "$bin/esbuild" console/src/main.ts --bundle --format=esm --target=es2022 --minify \
    --legal-comments=none --log-level=warning --outfile="$out.tmp/app.js"
  "$bin/esbuild" console/style.css --bundle --minify --log-level=warning \
    --outfile="$out.tmp/app.css"
  cp console/favicon.svg "$out.tmp/"
  # The page names its script and style by content: they are cached for a year
  # (domain::manage::console), and a new build is a new URL.
  version() { sha256sum "$out.tmp/$1" | cut -c1-16; }
  sed -e "s|\"app.js\"|\"app.js?v=$(version app.js)\"|" \
    -e "s|\"app.css\"|\"app.css?v=$(version app.css)\"|" \
    console/index.html >"$out.tmp/index.html"
  grep -q 'app.js?v=' "$out.tmp/index.html" && grep -q 'app.css?v=' "$out.tmp/index.html" || {
    echo "keygate: console/index.html must name \"app.js\" and \"app.css\"" >&2
    exit 1
  }
  rm -rf "$out"
  mv "$out.tmp" "$out"
  ;;
check)
  "$bin/tsc" -p console/tsconfig.json
  tests=target/console-tests
  rm -rf "$tests"
  "$bin/esbuild" console/test/*.test.ts --bundle --platform=node --format=esm \
    --log-level=warning --outdir="$tests" --out-extension:.js=.mjs
  node --test --test-reporter=dot "$tests"/*.mjs
  ;;
*)
  echo "usage: scripts/console.sh [build|check]" >&2
  exit 2
  ;;
esac
