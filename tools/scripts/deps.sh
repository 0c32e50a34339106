#!/usr/bin/env bash
# Install the Debian packages zring needs, if any is missing (Debian 12, root).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git clang clang-format llvm libclang-rt-14-dev python3
      codespell
      liburing-dev libhwloc-dev libzstd-dev libxxhash-dev libbenchmark-dev libcmocka-dev libjansson-dev
      # the benchmark suite's peers and its plot (bench/README.md); the
      # suite reports a peer as skipped when its package is missing
      libdpdk-dev libck-dev libboost-dev libiceoryx-posh-dev iceoryx python3-matplotlib)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
