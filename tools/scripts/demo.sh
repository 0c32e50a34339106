#!/usr/bin/env bash
# Build zring (release preset) and run the demo.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target zring_demo
./build/release/tools/zring_demo "$@"
