#!/usr/bin/env bash
# Build and run every test: the lint checks, the whole ctest suite in the
# release preset (unit, stress, crash, fuzz replay, bench smoke), then the
# asan-ubsan preset on everything but the benchmark and the tsan preset on
# the unit and stress labels (TSan cannot see races between processes; the
# thread-based stress tests are there for it), and the libFuzzer targets.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/scripts/deps.sh
jobs=$(nproc)
run_preset() { # preset, ctest label regex (empty: all)
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j "$jobs"
  if [ -n "$2" ]; then
    ctest --preset "$1" -j "$jobs" -L "$2"
  else
    ctest --preset "$1" -j "$jobs"
  fi
}
bash tools/lint/check.sh
run_preset release ""
run_preset asan-ubsan "unit|stress|crash|fuzz"
run_preset tsan "unit|stress"
# The libFuzzer binaries (clang): built so they cannot rot, and each run for
# a few seconds from its seed corpus (the replays above already ran it).
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
for t in build/fuzz/tests/fuzz/fuzz_*; do
  case "$t" in *_replay) continue ;; esac
  name=$(basename "$t"); work=$(mktemp -d)
  "$t" -max_total_time=10 -print_final_stats=0 "$work" "tests/fuzz/corpus/${name#fuzz_}" 2>&1 | tail -1
  rm -rf "$work"
done
echo "all test suites passed"
