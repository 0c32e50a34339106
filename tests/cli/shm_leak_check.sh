#!/bin/sh
# Fails if a finished test left a segment in /dev/shm. Tests name their
# segments zring-test-[cli-]<pid>-<n> or zring-fuzz-<pid>[-...], and their blobs
# the same (files zring-blob-zring-test-<pid>-<n>, ...): a file whose pid is
# gone was left behind (files of tests still running elsewhere, e.g. a
# parallel session, are not touched). The registry of file-backed arenas,
# /dev/shm/.zring-files, is checked too: a link to a test's file (a path
# with zring-test-<pid> or zring-fuzz-<pid> in it) whose pid is gone was
# left behind; the link is removed, not the file it names.
# --clean: remove such leftovers of earlier runs (fixture setup).
left=""
for f in /dev/shm/zring-test-* /dev/shm/zring-fuzz-* \
         /dev/shm/zring-blob-zring-test-* /dev/shm/zring-blob-zring-fuzz-*; do
  [ -e "$f" ] || continue
  pid=$(basename "$f" | sed -E 's/^(zring-blob-)?zring-(test|fuzz)-(cli-)?([0-9]+).*/\4/')
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    left="$left $(basename "$f")"
    rm -f "$f"
  fi
done
for l in /dev/shm/.zring-files/*; do
  [ -L "$l" ] || continue
  target=$(readlink "$l")
  case "$target" in
    *zring-test-[0-9]*|*zring-fuzz-[0-9]*) ;;
    *) continue ;;
  esac
  pid=$(printf '%s\n' "$target" | sed -E 's/.*zring-(test|fuzz)-([0-9]+).*/\2/')
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    left="$left .zring-files/$(basename "$l")->$target"
    rm -f "$l"
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
