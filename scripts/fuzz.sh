#!/usr/bin/env bash
# `make fuzz`: each cargo-fuzz target for FUZZ_SECONDS (default 60) under libFuzzer with
# AddressSanitizer, on the stable toolchain (RUSTC_BOOTSTRAP lets it take the sanitizer flags;
# stable rustc ships the sanitizer runtimes). A crash is copied to fuzz/regressions/<target>/,
# where `make test` replays it from then on (tests/fuzz_replay.rs): commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${KEYGATE_TOOLS:-$HOME/.cache/keygate/cargo}"
CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TARGETS=(key policy manage_body field_filter)

have=$("$TOOLS/bin/cargo-fuzz" --version 2>/dev/null | awk '{print $NF}') || true
if [ "$have" != "$CARGO_FUZZ_VERSION" ]; then
  echo "keygate: installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS" >&2
  cargo install --quiet --root "$TOOLS" cargo-fuzz --version "=$CARGO_FUZZ_VERSION"
fi
export PATH="$TOOLS/bin:$PATH" RUSTC_BOOTSTRAP=1

cd fuzz
failed=()
for target in "${TARGETS[@]}"; do
  mkdir -p "corpus/$target"
  echo "fuzz: $target for ${SECONDS_PER_TARGET} s" >&2
  if cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"target-$target.log" 2>&1; then
    runs=$(awk '/stat::number_of_executed_units/ {print $NF}' "target-$target.log")
    echo "fuzz: $target ok, ${runs:-?} inputs, no crash" >&2
  else
    failed+=("$target")
    mkdir -p "regressions/$target"
    cp artifacts/"$target"/* "regressions/$target/" 2>/dev/null || true
    tail -30 "target-$target.log" >&2
    echo "fuzz: $target FAILED; the input is in fuzz/regressions/$target/" >&2
  fi
  rm -f "target-$target.log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each, no crash" >&2
