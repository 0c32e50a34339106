#!/usr/bin/env bash
# Build zring (release preset) and run the demo; with --keep the arena stays
# for build/release/tools/zring (stat, top, jobs, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target zring_demo zring_cli
./build/release/tools/zring_demo "$@"
