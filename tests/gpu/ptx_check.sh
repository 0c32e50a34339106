#!/usr/bin/env bash
# Compile tests/gpu/ptx_probe.cu for each architecture zring targets and
# check, kernel by kernel, that the ring code reads the other side's index
# with ld.acquire.sys, publishes its own with st.release.sys, touches slots
# with .sys relaxed accesses, and never emits an atomic read-modify-write
# (atom./red.) on a word a CPU also writes.
# Usage: ptx_check.sh <nvcc> <source dir> <work dir> [arch ...]
set -euo pipefail
nvcc=$1 src=$2 work=$3
shift 3
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(80 90)
mkdir -p "$work"
fail=0
# kernel: the instructions it must contain
declare -A must=(
  [probe_poll]="ld.acquire.sys.u64 ld.relaxed.sys.u64 st.release.sys.u64"
  [probe_poll_burst]="ld.acquire.sys.u64 ld.relaxed.sys.u64 st.release.sys.u64"
  [probe_wait]="ld.acquire.sys.u64 ld.acquire.sys.u32 st.release.sys.u64 nanosleep"
  [probe_push]="ld.acquire.sys.u64 st.relaxed.sys.u64 st.release.sys.u64"
  [probe_push_wait]="ld.acquire.sys.u64 ld.acquire.sys.u32 st.relaxed.sys.u64 st.release.sys.u64"
)
for arch in "${archs[@]}"; do
  ptx="$work/ptx_probe.sm_$arch.ptx"
  "$nvcc" -ptx -arch=compute_"$arch" -I"$src/include" "$src/tests/gpu/ptx_probe.cu" -o "$ptx"
  for k in "${!must[@]}"; do
    body=$(awk -v k="$k" '/\.entry/ { on = index($0, k "(") > 0 } on' "$ptx")
    if [ -z "$body" ]; then
      echo "sm_$arch $k: kernel not found in $ptx"; fail=1; continue
    fi
    for insn in ${must[$k]}; do
      grep -qF "$insn" <<<"$body" || { echo "sm_$arch $k: no $insn"; fail=1; }
    done
    if grep -qE '^\s*(atom|red)\.' <<<"$body"; then
      echo "sm_$arch $k: atomic read-modify-write:"; grep -E '^\s*(atom|red)\.' <<<"$body"; fail=1
    fi
    if grep -qE 'ld\.volatile|ld\.global\.u64|ld\.u64' <<<"$body"; then
      echo "sm_$arch $k: a plain or volatile 64-bit load (ring words must be .sys atomics):"
      grep -E 'ld\.volatile|ld\.global\.u64|ld\.u64' <<<"$body"; fail=1
    fi
  done
  echo "sm_$arch: $(grep -c 'ld.acquire.sys' "$ptx") ld.acquire.sys, $(grep -c 'st.release.sys' "$ptx") st.release.sys, $(grep -cE '^\s*(atom|red)\.' "$ptx" || true) atom/red"
done
[ $fail -eq 0 ] && echo "ptx check: ok"
exit $fail
