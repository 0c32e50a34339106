#!/usr/bin/env bash
# Build and run every test: the lint checks, the whole ctest suite in the
# release preset (unit, stress, crash, fuzz replay, bench smoke), then the
# asan-ubsan preset on everything but the benchmark and the tsan preset on
# the unit and stress labels (TSan cannot see races between processes; the
# thread-based stress tests are there for it).
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
echo "all test suites passed"
