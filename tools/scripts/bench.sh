#!/usr/bin/env bash
# The whole benchmark suite in one command (Debian 12, root): installs what
# it needs (the peers too: DPDK, Concurrency Kit, Boost, iceoryx), builds
# the release preset and runs every program, zring beside its bounds and
# peers in the same run. Writes build/bench-results/<time>/ with
# results.json, results.md and latency.png, and points
# build/bench-results/latest at it.
#   bash tools/scripts/bench.sh [bench/run.sh options: --repetitions N --min-time S --filter RE --smoke]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
out="build/bench-results/$(date +%Y%m%d-%H%M%S)"
ZR_BENCH_COMMAND="bash tools/scripts/bench.sh $*" bash bench/run.sh build/release "$out" "$@"
ln -sfn "$(basename "$out")" build/bench-results/latest
echo "results: $out/results.md, $out/results.json, $out/latency.png"
