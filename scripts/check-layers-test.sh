#!/usr/bin/env bash
# The layer check fails on what it must catch: an include up the order, one
# across a layer, a file cycle, an unknown module; and passes a clean tree.
set -euo pipefail
check="$(dirname "$0")/check-layers.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mk() { mkdir -p "$tmp/$1/src/$(dirname "$2")"; printf '%s\n' "$3" > "$tmp/$1/src/$2"; }
mk clean base/a.h '#include <string>'
mk clean engine/e.cc '#include "base/a.h"'
mk up base/a.h '#include "engine/e.h"'
mk up engine/e.h ''
mk across ktap/k.h '#include "console/c.h"'
mk across console/c.h ''
mk cycle store/a.h '#include "store/b.h"'
mk cycle store/b.h '#include "store/a.h"'
mk unknown misc/x.h ''
python3 "$check" "$tmp/clean/src" >/dev/null || { echo "FAIL: a clean tree was refused"; exit 1; }
for t in up across cycle unknown; do
  if python3 "$check" "$tmp/$t/src" >"$tmp/out" 2>&1; then
    echo "FAIL: the $t tree passed"; cat "$tmp/out"; exit 1
  fi
  echo "ok: $t refused: $(head -1 "$tmp/out")"
done
