#!/bin/sh
# Every symbol libzring.so exports starts with zr_ (plus the version node).
lib="$1"
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v -e '^zr_' -e '^ZRING_[0-9]*$')
if [ -n "$bad" ]; then
  echo "symbols exported without the zr_ prefix:"; echo "$bad"; exit 1
fi
echo "exports ok: $(nm -D --defined-only "$lib" | grep -c ' T zr_') zr_ functions"
