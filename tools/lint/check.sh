#!/usr/bin/env bash
# Grep-based lint, in the spirit of DPDK's checkpatches.sh. Run by CI and
# usable as a pre-commit hook. Exit 1 with file:line for each violation.
set -uo pipefail
cd "$(dirname "$0")/../.."
fail=0
report() { echo "lint: $*"; fail=1; }

lib_files=$(ls runtime/*.[ch] rings/*.[ch] gpu/*.[ch])

# 1. Atomics only in their _explicit forms, no volatile, no GCC builtins.
if out=$(grep -nE '\batomic_(load|store|exchange|fetch_[a-z]+|compare_exchange_(weak|strong))\(' $lib_files); then
  report "implicit seq_cst atomic (use the _explicit form):"; echo "$out"
fi
# gpu_device.h is the exception: it compiles as CUDA C++ and as C, so it
# uses inline PTX on the device and the __atomic builtins on the host.
if out=$(grep -nE '\b(volatile|__sync_[a-z_]+|__atomic_[a-z_]+)\b' $lib_files \
    $(ls include/zring/*.h | grep -v gpu_device.h)); then
  report "volatile or GCC atomic builtin outside gpu_device.h:"; echo "$out"
fi
# 2. The library never exits, aborts or prints to stdout.
if out=$(grep -nE '(^|[^a-z_])(exit|abort|printf|puts)\(' $lib_files); then
  report "exit/abort/printf in the library:"; echo "$out"
fi
# 3. Every memory order is explained: an acquire/release/seq_cst needs a
#    label (A1, R2, F1) or a "pairs with" note, a relaxed one a "relaxed:"
#    note, within a few lines above it (or on the line).
for f in $lib_files; do
  awk -v f="$f" '
    { line[NR] = $0 }
    /memory_order_(acquire|release|acq_rel|seq_cst)/ {
      ok = 0
      for (i = NR; i >= NR - 4 && i > 0; i--)
        if (line[i] ~ /\/\* *[ARF][0-9]/ || line[i] ~ /pairs with/ || line[i] ~ /(acquire|release|acq_rel)[:,]/) ok = 1
      if (!ok) { printf "lint: %s:%d: acquire/release without a label or pairing note\n", f, NR; bad = 1 }
    }
    /memory_order_relaxed/ {
      ok = 0
      for (i = NR; i >= NR - 6 && i > 0; i--)
        if (line[i] ~ /relaxed/ && line[i] ~ /\/\*|\*/) ok = 1
      if (!ok) { printf "lint: %s:%d: relaxed access without a note saying why\n", f, NR; bad = 1 }
    }
    END { exit bad }' "$f" || fail=1
done
# 4. Every label named in a file's synchronisation map exists in that file.
for f in $lib_files; do
  for lab in $(sed -n '/Synchronisation map/,/\*\//p' "$f" | grep -oE '\b[ARF][0-9]+\b' | sort -u); do
    n=$(grep -cE "/\* *$lab[: ]" "$f")
    [ "$n" -ge 1 ] || report "$f: label $lab is in the synchronisation map but not in the code"
  done
done
# 5. Formatting (.clang-format), when clang-format is installed.
if command -v clang-format >/dev/null 2>&1; then
  if ! out=$(clang-format --dry-run --Werror $(git ls-files '*.c' '*.h' '*.cc' '*.cu') 2>&1); then
    echo "$out" | head -20
    report "code is not clang-formatted: run clang-format -i on the files above"
  fi
fi
# 6. Spelling, when codespell is installed.
if command -v codespell >/dev/null 2>&1; then
  codespell -q 3 -L te,nd,ser include runtime rings tests tools README.md || fail=1
fi
[ $fail -eq 0 ] && echo "lint: ok"
exit $fail
