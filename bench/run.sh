#!/usr/bin/env bash
# Run every benchmark program of a built tree and write the report:
#   bench/run.sh BUILD_DIR OUT_DIR [--smoke] [--repetitions N] [--min-time S] [--filter RE]
# OUT_DIR gets raw/<program>.json (Google Benchmark's own output), and from
# bench/report.py results.json, results.md and latency.png. --smoke runs
# each benchmark once with a tiny time and few round trips: it proves the
# suite runs end to end, and its numbers mean nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 2 ] || { sed -n '2,7p' "$0"; exit 2; }
build="$1"; out="$2"; shift 2
reps=3; min_time=0.2; filter=""; smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1; reps=1; min_time=0.001 ;;
    --repetitions) reps="$2"; shift ;;
    --min-time) min_time="$2"; shift ;;
    --filter) filter="$2"; shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$smoke" = 1 ] && export ZR_BENCH_RT_ITERS="${ZR_BENCH_RT_ITERS:-200}"
programs=(bench_rings bench_job bench_bounds bench_iceoryx bench_slab bench_persist bench_gpu)
# Built only when the build found what they need; left out, loudly, when not.
optional=" bench_gpu "
mkdir -p "$out/raw"
files=(); failed=()
for p in "${programs[@]}"; do
  exe="$build/bench/$p"
  if [ ! -x "$exe" ] && [[ "$optional" == *" $p "* ]]; then
    echo "== $p: not built (bench_gpu needs nvcc, the CUDA toolkit): left out" >&2
    continue
  fi
  if [ ! -x "$exe" ]; then
    echo "run.sh: $exe is not built (is libbenchmark-dev installed?)" >&2
    exit 1
  fi
  args=(--benchmark_min_time="$min_time" --benchmark_out="$out/raw/$p.json"
        --benchmark_out_format=json)
  if [ "$reps" -gt 1 ]; then
    args+=(--benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true
           --benchmark_display_aggregates_only=true)
  fi
  [ -n "$filter" ] && args+=(--benchmark_filter="$filter")
  echo "== $p" >&2
  "$exe" "${args[@]}" >&2 || failed+=("$p")
  [ -s "$out/raw/$p.json" ] && files+=("$out/raw/$p.json")
done
cmd="bench/run.sh $build $out --repetitions $reps --min-time $min_time${filter:+ --filter $filter}"
[ "$smoke" = 1 ] && cmd="bench/run.sh $build $out --smoke"
# report.py's first line names Debian's python3, which has python3-matplotlib
"$here/report.py" --out "$out" --command "${ZR_BENCH_COMMAND:-$cmd}" "${files[@]}"
if [ "$smoke" = 1 ]; then
  for f in results.json results.md latency.png; do
    [ -s "$out/$f" ] || { echo "run.sh: $out/$f was not written" >&2; failed+=("report"); }
  done
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: these programs failed (their errors are in the report): ${failed[*]}" >&2
  exit 1
fi
