#!/usr/bin/env bash
# vigil decode and vigil scan --modules on the crash module's own frames: the
# module (tests/console/module) is built with debug info against the newest
# Debian 6.1 cloud kernel headers; frames made from its ELF symbols must
# decode to the source lines of those functions, compressed .ko too, and the
# recorded 6.1 consoles decode to the lines that crashed when they were made
# with the same kernel.
source "$(dirname "$0")/lib.sh"
ko=$(bash "$VIGIL_SRC/scripts/console-corpus.sh" --module-only --line 6.1 | tail -n 1)
[ -f "$ko" ] || { fail "module not built"; finish; }
moddir=$(dirname "$ko")
src="$VIGIL_SRC/tests/console/module/vigil_crash.c"

# symbol_size FUNC: its size in the .ko, hex.
# (awk reads to the end: an early exit would SIGPIPE readelf under pipefail)
symbol_size() { readelf -sW "$ko" | awk -v f="$1" '$4 == "FUNC" && $8 == f && !done { printf "%x\n", $3; done = 1 }'; }
# body_lines FUNC: first and last line of its definition in the source.
body_lines() {
  awk -v f="$1" '$0 ~ "^static .*[ *]" f "\\(" { start = NR } start && /^}/ { print start, NR; exit }' "$src"
}

for fn in vigil_crash_warn vigil_crash_null vigil_crash_gpf vigil_crash_refcount; do
  size=$(symbol_size "$fn")
  read -r first last < <(body_lines "$fn")
  printf '[    1.000000] RIP: 0010:%s+0x1/0x%s [vigil_crash]\n[    1.000001]  %s+0x4/0x%s [vigil_crash]\n' \
    "$fn" "$size" "$fn" "$size" > "$TMP/frames.txt"
  "$VIGIL" decode --modules "$moddir" "$TMP/frames.txt" > "$TMP/decoded.txt" 2> "$TMP/err.txt"
  n=0
  while read -r line; do
    if [[ $line =~ $fn\ \(.*vigil_crash\.c:([0-9]+)\)\ \[vigil_crash\]$ ]]; then
      l=${BASH_REMATCH[1]}
      if [ "$l" -ge "$first" ] && [ "$l" -le "$last" ]; then n=$((n + 1)); fi
    fi
  done < "$TMP/decoded.txt"
  expect_eq "$fn: both frames decode into its body (lines $first-$last)" 2 "$n"
done

# A compressed module is decompressed; "-" and "_" are the same in names.
mkdir -p "$TMP/xz"
xz -c "$ko" > "$TMP/xz/vigil-crash.ko.xz"
"$VIGIL" decode --modules "$TMP/xz" "$TMP/frames.txt" > "$TMP/decoded-xz.txt"
# (the source path is relative to where the .ko was found: compare file:line)
sed -E 's#[^ (]*/(vigil_crash\.c)#\1#' "$TMP/decoded-xz.txt" > "$TMP/decoded-xz-rel.txt"
cmp -s "$TMP/decoded.txt" "$TMP/decoded-xz-rel.txt" && pass ".ko.xz decodes the same" || fail ".ko.xz decodes the same"

# A frame of a module that is not there: unchanged, and said once on stderr.
printf ' foo_bar+0x1/0x10 [nosuchmod]\nplain line\n' | "$VIGIL" decode --modules "$moddir" - > "$TMP/none.txt" 2> "$TMP/none.err"
expect_eq "unknown module: line unchanged" " foo_bar+0x1/0x10 [nosuchmod]" "$(head -n 1 "$TMP/none.txt")"
expect_eq "other lines unchanged" "plain line" "$(tail -n 1 "$TMP/none.txt")"
grep -q "cannot find the .ko of module nosuchmod" "$TMP/none.err" && pass "says which module is missing" || fail "says which module is missing"
set +e
"$VIGIL" decode < /dev/null 2> /dev/null; rc=$?
set -e
expect_eq "decode without --vmlinux/--modules exits 2" 2 "$rc"

# The recorded consoles, when they were made with this very module build.
corpus="$VIGIL_SRC/tests/console/corpus/6.1"
release=$(basename "$moddir")
if grep -qx "uname -r: $release" "$corpus/KERNEL"; then
  warn_line=$(grep -n 'WARN_ON(vigil_crash_on)' "$src" | head -n 1 | cut -d: -f1)
  "$VIGIL" decode --modules "$moddir" "$corpus/warn.log" > "$TMP/warn.txt"
  grep -q "RIP: 0010:vigil_crash_warn (vigil_crash.c:$warn_line) \[vigil_crash\]" "$TMP/warn.txt" \
    && pass "recorded WARNING decodes to the WARN_ON line $warn_line" || fail "recorded WARNING decodes to line $warn_line"
  set +e
  "$VIGIL" scan --json --modules "$moddir" "$corpus/null.log" > "$TMP/null.json"
  set -e
  got=$(json_get "$TMP/null.json" '[f.get("source","") for f in d["reports"][0]["frames"] if f["function"]=="vigil_crash_init"][0]')
  [[ $got == vigil_crash.c:* ]] && pass "scan --modules: frames carry their source ($got)" || fail "scan --modules: source [$got]"
else
  echo "note: corpus made with $(head -n 1 "$corpus/KERNEL"), module built for $release: recorded frames not compared"
fi
finish
