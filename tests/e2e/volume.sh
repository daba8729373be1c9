#!/usr/bin/env bash
# Hostile volume: a test printing results without end stays within a memory
# bound and its run finishes, with a bounded number of stored subtests; a test
# whose output passes the 16 MiB cap reports the same results in its JSON,
# JUnit, KTAP and store; KTAP nested to the depth limit reads back whole.
source "$(dirname "$0")/lib.sh"

# What a run of `exec yes "ok 1 x"` may cost at most (measured: about 80 MB, mostly the 16 MiB output and its copies).
MAX_RUN_RSS_KB=$((200 * 1024))
# And `vigil flakes --json` over its stored results afterwards (about 9 MB).
MAX_FLAKES_RSS_KB=$((100 * 1024))

max_rss_kb() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }
sql() { "$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$@"; }

T="$TMP/kst"
mkdir -p "$T/vol"
printf '#!/bin/sh\nexec yes "ok 1 x"\n' > "$T/vol/yes.sh"
# Real results before, between and after 20 MB of other output: the capped log
# keeps the first and last 8 MiB only.
cat > "$T/vol/big.sh" <<'EOF'
#!/bin/sh
echo "TAP version 13"
echo "1..4"
echo "ok 1 before"
yes nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn | head -n 100000
echo "ok 2 middle # SKIP not here"
yes nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn | head -n 100000
echo "not ok 3 after"
echo "ok 4 last"
exit 1
EOF
chmod +x "$T/vol/yes.sh" "$T/vol/big.sh"
echo "timeout=20" > "$T/vol/settings"
printf 'vol:yes.sh\nvol:big.sh\n' > "$T/kselftest-list.txt"

# 1. Results without end: bounded memory, a finished run, bounded rows.
set +e
/usr/bin/time -v -o "$TMP/run.time" "$VIGIL" run --tests "$T" -t vol:yes.sh --db "$TMP/v.db" --color never \
  --json "$TMP/yes.json" --junit "$TMP/yes.xml" --ktap "$TMP/yes.ktap" > "$TMP/yes.out" 2>&1
rc=$?
set -e
tail -5 "$TMP/yes.out"
rss=$(max_rss_kb "$TMP/run.time")
echo "vigil run of exec yes \"ok 1 x\" for 20 s: max RSS ${rss} kB"
expect_eq "yes run: exit 1 (timeout)" 1 "$rc"
[ "$rss" -lt "$MAX_RUN_RSS_KB" ] && pass "yes run: max RSS ${rss} kB < ${MAX_RUN_RSS_KB} kB" \
  || fail "yes run: max RSS ${rss} kB >= ${MAX_RUN_RSS_KB} kB"
expect_eq "yes run: finished in the store" "FAIL 1" \
  "$(sql "$TMP/v.db" "SELECT status || ' ' || (finished_at IS NOT NULL) FROM runs WHERE id = 1")"
expect_eq "yes run: JSON status" TIMEOUT "$(json_get "$TMP/yes.json" "d['tests'][0]['status']")"
expect_eq "yes run: JSON says truncated" True "$(json_get "$TMP/yes.json" "d['tests'][0]['truncated']")"
rows=$(sql "$TMP/v.db" "SELECT COUNT(*) FROM subtests")
dropped=$(sql "$TMP/v.db" "SELECT subtests_dropped FROM attempts")
echo "stored subtests: $rows, counted and not kept: $dropped"
expect_eq "yes run: stored subtests capped" 10000 "$rows"
[ "$dropped" -gt 10000 ] && pass "yes run: the rest counted ($dropped)" || fail "yes run: dropped $dropped"
expect_eq "yes run: JSON subtests_dropped = store" "$dropped" "$(json_get "$TMP/yes.json" "d['tests'][0]['subtests_dropped']")"
expect_eq "yes run: JUnit says so" 1 "$(grep -c "<property name=\"subtests_dropped\" value=\"$dropped\"/>" "$TMP/yes.xml")"
expect_eq "yes run: JUnit has no phantom CRASH" 0 "$(grep -c 'CRASH' "$TMP/yes.xml" || true)"
expect_eq "yes run: JUnit says TIMEOUT" 1 "$(grep -c 'type="TIMEOUT"' "$TMP/yes.xml")"
expect_eq "yes run: summary says truncated" 1 "$(grep -c "truncated: $dropped more subtests counted, not kept" "$TMP/yes.out")"

set +e
/usr/bin/time -v -o "$TMP/flakes.time" "$VIGIL" flakes --db "$TMP/v.db" --json > "$TMP/flakes.json" 2> "$TMP/flakes.err"
frc=$?
set -e
frss=$(max_rss_kb "$TMP/flakes.time")
echo "vigil flakes --json afterwards: max RSS ${frss} kB, $(wc -c < "$TMP/flakes.json") bytes"
expect_eq "flakes after it: exit 0" 0 "$frc"
[ "$frss" -lt "$MAX_FLAKES_RSS_KB" ] && pass "flakes after it: max RSS ${frss} kB < ${MAX_FLAKES_RSS_KB} kB" \
  || fail "flakes after it: max RSS ${frss} kB"

# 2. Output past the 16 MiB cap: every report says what the live parse saw.
set +e
"$VIGIL" run --tests "$T" -t vol:big.sh --db "$TMP/b.db" --color never \
  --json "$TMP/big.json" --junit "$TMP/big.xml" --ktap "$TMP/big.ktap" > "$TMP/big.out" 2>&1
rc=$?
set -e
expect_eq "big run: exit 1" 1 "$rc"
expect_eq "big run: output was capped" True "$(json_get "$TMP/big.json" "d['tests'][0]['attempts'][0]['output_bytes'] > 16 * 1024 * 1024")"
want="before=PASS middle=SKIP after=FAIL last=PASS"
expect_eq "big run: JSON subtests" "$want" \
  "$(json_get "$TMP/big.json" "' '.join(s['name'] + '=' + s['status'] for s in d['tests'][0]['attempts'][0]['subtests'])")"
expect_eq "big run: store subtests" "$want" \
  "$("$PY" -c "import sqlite3,sys; print(' '.join(p + '=' + s for p, s in sqlite3.connect(sys.argv[1]).execute('SELECT path, status FROM subtests ORDER BY id')))" "$TMP/b.db")"
expect_eq "big run: JUnit testcases" "before= middle=SKIPPED after=FAIL last=" \
  "$("$PY" -c "
import sys, xml.etree.ElementTree as E
out = []
for c in E.parse(sys.argv[1]).getroot().iter('testcase'):
    st = 'FAIL' if c.find('failure') is not None else 'ERROR' if c.find('error') is not None else 'SKIPPED' if c.find('skipped') is not None else ''
    out.append(c.get('name') + '=' + st)
print(' '.join(out))" "$TMP/big.xml")"
expect_eq "big run: JUnit has no phantom CRASH" 0 "$(grep -c 'CRASH' "$TMP/big.xml" || true)"
set +e
"$VIGIL" parse --format json "$TMP/big.ktap" > "$TMP/big.reparse.json"
set -e
expect_eq "big run: KTAP report parses to the same subtests" "$want" \
  "$(json_get "$TMP/big.reparse.json" "' '.join(s['name'] + '=' + s['status'] for s in d['tests'][0]['subtests'])")"
expect_eq "big run: KTAP report parses to the same status" FAIL "$(json_get "$TMP/big.reparse.json" "d['status']")"
expect_eq "big run: KTAP report has no crashed test" 0 "$(json_get "$TMP/big.reparse.json" "d['counts']['crashed']")"

# 3. Nesting to the depth limit (64 levels), tab-indented and with `# Subtest:`
# headers: parse -> --format ktap -> parse gives the same tree.
nest() {  # nest UNIT HEADERS DEPTH
  "$PY" - "$@" <<'EOF'
import sys
unit = {"tab": "\t", "two": "  "}[sys.argv[1]]
headers, depth = sys.argv[2] == "1", int(sys.argv[3])
out, tails = ["KTAP version 1", "1..1"], []
for level in range(1, depth + 1):
    if level < depth:
        out.append(unit * level + "KTAP version 1")
        if headers:
            out.append(unit * level + "# Subtest: t%d" % level)
        out.append(unit * level + "1..1")
    tails.append(unit * (level - 1) + "ok 1 t%d" % level)
print("\n".join(out + tails[::-1]))
EOF
}
depth_of() { json_get "$1" "(lambda f: f(f, d['tests'][0]))(lambda f, t: 1 + (f(f, t['subtests'][0]) if t['subtests'] else 0))"; }
for form in "tab 0" "tab 1" "two 1"; do
  set -- $form
  nest "$1" "$2" 64 > "$TMP/deep.ktap"
  set +e
  "$VIGIL" parse --format json "$TMP/deep.ktap" > "$TMP/deep1.json"; rc1=$?
  "$VIGIL" parse --format ktap "$TMP/deep.ktap" > "$TMP/deep2.ktap"
  "$VIGIL" parse --format json "$TMP/deep2.ktap" > "$TMP/deep2.json"; rc2=$?
  set -e
  expect_eq "64 levels ($form): parses as PASS" "0 PASS 64 0" \
    "$rc1 $(json_get "$TMP/deep1.json" "d['status']") $(depth_of "$TMP/deep1.json") $(json_get "$TMP/deep1.json" "len(d['errors'])")"
  expect_eq "64 levels ($form): its KTAP report parses back the same" "0 PASS 64 0" \
    "$rc2 $(json_get "$TMP/deep2.json" "d['status']") $(depth_of "$TMP/deep2.json") $(json_get "$TMP/deep2.json" "len(d['errors'])")"
done
nest tab 1 70 > "$TMP/deeper.ktap"
set +e
"$VIGIL" parse --format json "$TMP/deeper.ktap" > "$TMP/deeper.json"
set -e
expect_eq "70 levels: the limit is said" True \
  "$(json_get "$TMP/deeper.json" "any('nesting deeper than 64' in e['message'] for e in d['errors'])")"

finish
