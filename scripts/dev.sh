#!/usr/bin/env bash
# Runs keygate locally: demo origin, wrangler dev on workerd, a demo key. See examples/dev.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --example dev
