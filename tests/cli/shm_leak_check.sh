#!/bin/sh
# Fails if a test left a zring-test-* segment in /dev/shm.
# --clean: remove leftovers of earlier runs first (run as a fixture setup).
if [ "$1" = "--clean" ]; then
  rm -f /dev/shm/zring-test-* /dev/shm/zring-fuzz-*
  exit 0
fi
left=$(ls /dev/shm 2>/dev/null | grep -E '^zring-(test|fuzz)-' || true)
if [ -n "$left" ]; then
  echo "segments left in /dev/shm by tests:" >&2
  echo "$left" >&2
  rm -f /dev/shm/zring-test-* /dev/shm/zring-fuzz-*
  exit 1
fi
echo "no zring test segment left in /dev/shm"
