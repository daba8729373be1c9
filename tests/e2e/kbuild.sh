#!/usr/bin/env bash
# vigil build and vigil run --build on a real kernel: Debian's
# linux-source-6.12 (scripts/kernel-tree.sh), tinyconfig plus vigil's VM
# fragment plus the `size` collection, built with ccache into a fresh output
# directory, booted under TCG, and its selftest run:
#  (a) vigil run --build builds, boots, the test passes, the run records the build;
#  (b) a second vigil run --build with no change rebuilds nothing;
#  (c) a one-line change rebuilds incrementally (that file, and the link);
#  (d) an option whose dependency is missing is reported, with where it was asked;
#  (e) a new warning is reported against the previous build (--compare-to auto);
#  (f) a syntax error: exit 1, the compiler's diagnostic in the output and in the store.
# Needs linux-source-6.12 and qemu-system-x86 (skips without them). The tree
# and ccache persist across runs, so only the first run on a machine
# compiles everything.
source "$(dirname "$0")/lib.sh"
if [ ! -f "${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}" ] || ! command -v qemu-system-x86_64 > /dev/null; then
  echo "skipped: needs linux-source-6.12 and qemu-system-x86 (scripts/install-deps.sh)"
  exit 0
fi
TREE=$(bash "$VIGIL_SRC/scripts/kernel-tree.sh" "${VIGIL_KERNEL_TREE:-/var/tmp/vigil-kernel/linux}")
# A fresh output directory (a direct subdirectory of the tree: kbuild's
# paths are then relative, and ccache's hits survive any tree location).
OUT=$TREE/.vigil-e2e-out
rm -rf "$OUT"
DB=$TMP/vigil.db
BUILD=(--base-config tinyconfig --build-output "$OUT")
q() { sqlite3 "$DB" "$1"; }

# (a)
set +e
"$VIGIL" run --build "$TREE" "${BUILD[@]}" -c size --db "$DB" --color never > "$TMP/a.out" 2>&1
rc=$?
set -e
expect_eq "(a) vigil run --build exits 0" 0 "$rc"
grep -q '^\[PASS\] size:get_size' "$TMP/a.out" && pass "(a) size:get_size passed in the VM" ||
  { fail "(a) no PASS"; tail -n 40 "$TMP/a.out"; }
grep -q 'vm: Linux 6.12' "$TMP/a.out" && pass "(a) the built kernel booted" || fail "(a) no boot line"
expect_eq "(a) the run records the build" "1|built" "$(q 'select r.build_id, b.status from runs r join builds b on b.id = r.build_id')"
expect_eq "(a) the build records the tree's commit" "$(git -C "$TREE" rev-parse HEAD)" "$(q 'select commit_hash from builds where id = 1')"
steps1=$(q 'select steps from builds where id = 1')
[ "$steps1" -gt 500 ] && pass "(a) the first build compiled everything ($steps1 steps)" || fail "(a) steps $steps1"
[ -f "$OUT/kselftest_install/kselftest-list.txt" ] && pass "(a) kselftests installed" || fail "(a) no kselftest-list.txt"

# (b)
"$VIGIL" run --build "$TREE" "${BUILD[@]}" -c size --db "$DB" --color never > "$TMP/b.out" 2>&1 || true
grep -q 'built in .*: 0 steps (nothing to rebuild)' "$TMP/b.out" && pass "(b) nothing rebuilt" ||
  { fail "(b) rebuilt"; grep '^build' "$TMP/b.out"; }
grep -q '^\[PASS\] size:get_size' "$TMP/b.out" && pass "(b) and the test passes again" || fail "(b) no PASS"
expect_eq "(b) the second run records the second build" "2" "$(q 'select build_id from runs where id = 2')"

# (c)
echo '/* vigil e2e: a one-line change */' >> "$TREE/kernel/sys.c"
"$VIGIL" build --tree "$TREE" --base-config tinyconfig --output "$OUT" -c size --db "$DB" > "$TMP/c.out" 2>&1 || true
steps3=$(q 'select steps from builds where id = 3')
if [ "$steps3" -gt 0 ] && [ "$steps3" -lt 60 ]; then pass "(c) incremental: $steps3 steps"; else fail "(c) steps $steps3"; fi
grep -q 'CC      kernel/sys.o' "$OUT/.vigil/build.log" && pass "(c) kernel/sys.c recompiled" || fail "(c) kernel/sys.o not rebuilt"
expect_eq "(c) the tree is recorded dirty" "1" "$(q 'select dirty from builds where id = 3')"

# (d)
"$VIGIL" build --tree "$TREE" --base-config tinyconfig --output "$OUT" -c size --set CONFIG_NET_SCH_NETEM=y \
  --db "$DB" > "$TMP/d.out" 2>&1 || true
grep -q 'CONFIG_NET_SCH_NETEM: wanted y, got n (--set)' "$TMP/d.out" && pass "(d) the dropped option is reported" ||
  { fail "(d) not reported"; head "$TMP/d.out"; }
expect_eq "(d) and recorded" 'CONFIG_NET_SCH_NETEM: wanted y, got n (--set)' \
  "$(q "select config_mismatches_json from builds where id = 4" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0])')"

# (e)
printf 'static int vigil_e2e_unused(void) { return 0; }\n' >> "$TREE/kernel/sys.c"
"$VIGIL" build --tree "$TREE" --base-config tinyconfig --output "$OUT" -c size --compare-to auto --db "$DB" \
  --json "$TMP/e.json" > "$TMP/e.out" 2>&1 || true
grep -q "^1 new warning against build 4:" "$TMP/e.out" && pass "(e) one new warning against the last build" ||
  { fail "(e) new warnings"; cat "$TMP/e.out"; }
grep -q "^  kernel/sys.c:[0-9]*:[0-9]*: warning: .vigil_e2e_unused. defined but not used \[-Wunused-function\]" "$TMP/e.out" &&
  pass "(e) named with file:line:col and its flag" || fail "(e) the warning line"
expect_eq "(e) in the JSON" "-Wunused-function" "$(json_get "$TMP/e.json" "d['new_warnings'][0]['flag']")"

# (f)
printf 'int vigil_e2e_broken = ;\n' >> "$TREE/kernel/sys.c"
set +e
"$VIGIL" build --tree "$TREE" --base-config tinyconfig --output "$OUT" -c size --db "$DB" > "$TMP/f.out" 2>&1
rc=$?
set -e
expect_eq "(f) a syntax error exits 1" 1 "$rc"
grep -q "FAILED after .*: make all failed" "$TMP/f.out" && pass "(f) the failure is named" || fail "(f) failure line"
grep -q "^  kernel/sys.c:[0-9]*:[0-9]*: error: expected expression before .;. token" "$TMP/f.out" &&
  pass "(f) the compiler's diagnostic is printed" || { fail "(f) no diagnostic"; cat "$TMP/f.out"; }
grep -q "failing command: .*gcc.* kernel/sys.o" "$TMP/f.out" && pass "(f) the failing command is printed" ||
  fail "(f) no failing command"
[ "$(wc -l < "$TMP/f.out")" -lt 40 ] && pass "(f) in a few lines, not make's whole output" || fail "(f) too long"
expect_eq "(f) the diagnostic is in the store" "failed|error|kernel/sys.c" \
  "$(q "select b.status, d.severity, d.file from builds b join build_diagnostics d on d.build_id = b.id where b.id = 6 and d.severity = 'error' limit 1")"

git -C "$TREE" checkout -q -- kernel/sys.c
finish
