#!/bin/sh
# Fails if a finished test left a segment in /dev/shm. Tests name their
# segments zring-test-<pid>-<n> or zring-fuzz-<pid>[-...], and their blobs
# the same (files zring-blob-zring-test-<pid>-<n>, ...): a file whose pid is
# gone was left behind (files of tests still running elsewhere, e.g. a
# parallel session, are not touched).
# --clean: remove such leftovers of earlier runs (fixture setup).
left=""
for f in /dev/shm/zring-test-* /dev/shm/zring-fuzz-* \
         /dev/shm/zring-blob-zring-test-* /dev/shm/zring-blob-zring-fuzz-*; do
  [ -e "$f" ] || continue
  pid=$(basename "$f" | sed -E 's/^(zring-blob-)?zring-(test|fuzz)-([0-9]+).*/\3/')
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    left="$left $(basename "$f")"
    rm -f "$f"
  fi
done
if [ "$1" = "--clean" ]; then
  [ -n "$left" ] && echo "removed leftovers of earlier runs:$left"
  exit 0
fi
if [ -n "$left" ]; then
  echo "segments left in /dev/shm by tests:$left" >&2
  exit 1
fi
echo "no zring test segment left in /dev/shm"
