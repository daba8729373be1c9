#!/usr/bin/env bash
# The judgement layer on real runs: a fixture tree with a randomly failing
# test (a fixed random sequence, so the truth is known), a test that
# regresses at run 13, a broken test covered by a known issue, and a test
# that loses a tool (passed -> skipped), run 20 times through `vigil run`
# into one store; then vigil flakes, history, compare and verdict, and a run
# of a subset compared with (and judged against) the full run before it.
source "$(dirname "$0")/lib.sh"
T="$TMP/tree"
mkdir -p "$T/coll"
export JUDGE_STATE="$TMP/state"
mkdir -p "$JUDGE_STATE"
# Each invocation of rand.sh (first attempts and retries) takes the next
# outcome: 1 = the subtest fails. 30% failures, seeded.
awk 'BEGIN { srand(7); for (i = 0; i < 200; i++) print (rand() < 0.3) ? 1 : 0 }' > "$JUDGE_STATE/seq"
cat > "$T/coll/rand.sh" <<'SH'
#!/bin/sh
n=$(cat "$JUDGE_STATE/rand.n" 2>/dev/null || echo 0)
echo $((n + 1)) > "$JUDGE_STATE/rand.n"
bad=$(sed -n "$((n + 1))p" "$JUDGE_STATE/seq")
echo "TAP version 13"
echo "1..3"
echo "ok 1 connect"
if [ "$bad" = 1 ]; then echo "not ok 2 transfer"; else echo "ok 2 transfer"; fi
echo "ok 3 close"
[ "$bad" = 1 ] && exit 1
exit 0
SH
cat > "$T/coll/later.sh" <<'SH'
#!/bin/sh
run=$(cat "$JUDGE_STATE/run")
echo "TAP version 13"
echo "1..2"
echo "ok 1 setup"
if [ "$run" -ge 13 ]; then echo "not ok 2 endpoint"; exit 1; fi
echo "ok 2 endpoint"
SH
cat > "$T/coll/broken.sh" <<'SH'
#!/bin/sh
echo "TAP version 13"
echo "1..2"
echo "ok 1 basic"
echo "not ok 2 link failure"
exit 1
SH
cat > "$T/coll/tool.sh" <<'SH'
#!/bin/sh
if [ -e "$JUDGE_STATE/no-tool" ]; then echo "tool.sh: line 2: frobnicate: command not found"; exit 4; fi
echo ok
SH
printf '#!/bin/sh\necho fine\n' > "$T/coll/pass.sh"
chmod +x "$T/coll/"*.sh
printf 'coll:rand.sh\ncoll:later.sh\ncoll:broken.sh\ncoll:tool.sh\ncoll:pass.sh\n' > "$T/kselftest-list.txt"
DB="$TMP/j.db"
V() { "$VIGIL" "$@"; }

for i in $(seq 1 20); do
  echo "$i" > "$JUDGE_STATE/run"
  [ "$i" -eq 20 ] && touch "$JUDGE_STATE/no-tool"
  set +e
  V run --tests "$T" --db "$DB" --retries 1 --color never > "$TMP/run$i.out" 2>&1
  set -e
done
expect_eq "20 runs stored" 20 "$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from runs').fetchone()[0])" "$DB")"

# What the seeded sequence says about coll:rand.sh:transfer, run by run: a
# run's first attempt fails -> a retry; failed twice = FAIL, else FLAKY.
truth=$("$PY" - "$JUDGE_STATE/seq" <<'PY'
import sys
seq = [int(x) for x in open(sys.argv[1])]
i = 0; out = []
for run in range(20):
    a = seq[i]; i += 1
    if a:
        b = seq[i]; i += 1
        out.append('F' if b else 'f')
    else:
        out.append('.')
print(''.join(out))
PY
)
echo "rand.sh:transfer per the seed: $truth"

# flakes
set +e
V flakes --db "$DB" --json > "$TMP/flakes.json"
rc=$?
V flakes --db "$DB" > "$TMP/flakes.txt"
set -e
cat "$TMP/flakes.txt"
expect_eq "flakes: exit 0" 0 "$rc"
cls() { json_get "$TMP/flakes.json" "[e['class'] for e in d['entries'] if e['test']=='$1' and e['subtest']==$2][0]"; }
field() { json_get "$TMP/flakes.json" "[e['$3'] for e in d['entries'] if e['test']=='$1' and e['subtest']==$2][0]"; }
expect_eq "format_version" 1 "$(json_get "$TMP/flakes.json" "d['format_version']")"
expect_eq "rand.sh:transfer is flaky" flaky "$(cls coll:rand.sh "'transfer'")"
expect_eq "rand.sh is flaky" flaky "$(cls coll:rand.sh None)"
expect_eq "rand.sh:transfer failures = the seed's" "$(tr -cd F <<< "$truth" | wc -c)" "$(field coll:rand.sh "'transfer'" failures)"
expect_eq "rand.sh:transfer retry flakes = the seed's" "$(tr -cd f <<< "$truth" | wc -c)" "$(field coll:rand.sh "'transfer'" retry_flakes)"
expect_eq "rand.sh:connect is stable" stable "$(cls coll:rand.sh "'connect'")"
expect_eq "later.sh is regressed, not flaky" regressed "$(cls coll:later.sh None)"
expect_eq "later.sh:endpoint regressed since run 13" 13 "$(field coll:later.sh "'endpoint'" since_run)"
expect_eq "broken.sh is broken" broken "$(cls coll:broken.sh None)"
expect_eq "pass.sh is stable" stable "$(cls coll:pass.sh None)"
expect_eq "rand.sh:transfer quarantined" True "$(field coll:rand.sh "'transfer'" quarantined)"
expect_eq "later.sh never quarantined" False "$(field coll:later.sh None quarantined)"
expect_eq "text lists the quarantine" 1 "$(grep -c '^  coll:rand.sh:transfer .*failure rate' "$TMP/flakes.txt" || true)"
# By default the text lists what needs attention; the rest is one line.
expect_eq "flakes text: the stable ones counted in one line" 1 "$(grep -c '^6 stable: --all lists them$' "$TMP/flakes.txt" || true)"
expect_eq "flakes text: pass.sh not listed" 0 "$(grep -c 'coll:pass.sh' "$TMP/flakes.txt" || true)"
expect_eq "flakes text: 6 entries and the quarantine" 13 "$(wc -l < "$TMP/flakes.txt")"
expect_eq "flakes --all: pass.sh listed" 1 "$(V flakes --db "$DB" --all | grep -c '^stable .* coll:pass.sh$' || true)"
expect_eq "--env filter: nothing in a VM" 0 "$(V flakes --db "$DB" --env vm --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')"

# history
V history coll:later.sh:endpoint --db "$DB" > "$TMP/hist.txt"
expect_eq "history sequence" "............FFFFFFFF" "$(sed -n 2p "$TMP/hist.txt" | cut -d' ' -f1)"
expect_eq "history --json: 20 results" 20 "$(V history coll:later.sh:endpoint --db "$DB" --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))')"
expect_eq "history of rand.sh:transfer = the seed's" "$truth" "$(V history coll:rand.sh:transfer --db "$DB" | sed -n 2p | cut -d' ' -f1)"

# compare
V compare 12 13 --db "$DB" --json > "$TMP/cmp.json"
expect_eq "compare: later.sh a new failure" True "$(json_get "$TMP/cmp.json" "'coll:later.sh' in d['new_failures'] and 'coll:later.sh:endpoint' in d['new_failures']")"
V compare 19 20 --db "$DB" --json > "$TMP/cmp2.json"
expect_eq "compare: tool.sh pass -> skip" "['coll:tool.sh']" "$(json_get "$TMP/cmp2.json" "d['pass_to_skip']")"
expect_eq "compare: same environment" "{}" "$(json_get "$TMP/cmp2.json" "d['environment']")"

# verdict of the last run, no baseline, no known issues: later.sh and
# broken.sh count; rand.sh's failure (if any) is quarantined.
set +e
V verdict last --db "$DB" > "$TMP/v1.txt"; rc=$?
set -e
cat "$TMP/v1.txt"
expect_eq "verdict: Unstable exits 1" 1 "$rc"
expect_eq "conclusion" "Unstable: 2 failed test(s): coll:later.sh, coll:broken.sh" \
  "$(tail -1 "$TMP/v1.txt" | sed 's/ (.*//')"

# A known issue beside the tests covers broken.sh's subtest.
cat > "$T/known-issues.toml" <<'TOML'
[[issue]]
match = "coll:broken.sh:link*"
reason = "no netem on these hosts"
link = "https://example.org/issues/1"
[[issue]]
match = "coll:gone.sh"
reason = "matches nothing"
TOML
set +e
V verdict last --db "$DB" --json > "$TMP/v2.json"; rc=$?
set -e
expect_eq "known issue: still Unstable for later.sh" 1 "$rc"
expect_eq "broken.sh's subtest is KNOWN" "coll:broken.sh:link failure" "$(json_get "$TMP/v2.json" "d['known'][0]['path']")"
expect_eq "known detail has the link" True "$(json_get "$TMP/v2.json" "'example.org/issues/1' in d['known'][0]['detail']")"
expect_eq "stale entry warned" True "$(json_get "$TMP/v2.json" "any('coll:gone.sh' in w and 'stale' in w for w in d['warnings'])")"
expect_eq "environment issue of tool.sh warned" True "$(json_get "$TMP/v2.json" "any('frobnicate' in w for w in d['warnings'])")"

# Against the previous run, only regressions count: later.sh failed there
# too; tool.sh passed there and is skipped now.
set +e
V verdict 20 --baseline auto --db "$DB" --json > "$TMP/v3.json"; rc=$?
set -e
expect_eq "baseline auto = run 19" 19 "$(json_get "$TMP/v3.json" "d['baseline']")"
expect_eq "baseline: later.sh pre-existing" True "$(json_get "$TMP/v3.json" "any(i['path'].startswith('coll:later.sh') for i in d['preexisting'])")"
expect_eq "baseline: tool.sh skipped by accident" "coll:tool.sh" "$(json_get "$TMP/v3.json" "d['skipped_by_accident'][0]['path']")"
expect_eq "baseline: Unstable for the skip" "Unstable: 1 skipped by accident: coll:tool.sh" \
  "$(json_get "$TMP/v3.json" "d['conclusion'].split(' (')[0]")"
set +e
V verdict 19 --baseline 18 --db "$DB" > "$TMP/v4.txt"; rc=$?
set -e
expect_eq "run 19 against 18: exit 0 unless rand.sh regressed" 0 "$rc"
tail -1 "$TMP/v4.txt"

# vigil run judges itself with --baseline / known issues: later.sh is now
# known too, so the run is a Success and exits 0.
cat >> "$T/known-issues.toml" <<'TOML'
[[issue]]
match = "coll:later.sh*"
reason = "endpoint regression, fix pending"
TOML
rm -f "$JUDGE_STATE/no-tool"
echo 21 > "$JUDGE_STATE/run"
echo 0 > "$JUDGE_STATE/rand.n"  # the seed's first outcome: pass
set +e
V run --tests "$T" --db "$DB" --retries 1 --color never --json "$TMP/r21.json" --markdown "$TMP/r21.md" --junit "$TMP/r21.xml" > "$TMP/r21.out" 2>&1; rc=$?
set -e
tail -8 "$TMP/r21.out"
expect_eq "run with known issues: exit 0" 0 "$rc"
expect_eq "run JSON carries the verdict" Success "$(json_get "$TMP/r21.json" "d['verdict']['verdict']")"
expect_eq "Markdown: the conclusion" 1 "$(grep -c '^\*\*Success\\: 5 test\\(s\\)\\, no new failure' "$TMP/r21.md" || true)"
expect_eq "JUnit: the known failure says KNOWN" 1 "$(grep -c 'message="FAIL: KNOWN: no netem on these hosts' "$TMP/r21.xml" || true)"
expect_eq "Markdown: KNOWN lists broken.sh with its link" 1 "$(grep -c '`coll:broken.sh:link failure`.*example\\\.org\\/issues\\/1' "$TMP/r21.md" || true)"
expect_eq "run summary prints the conclusion" 1 "$(grep -c '^Success: 5 test(s), no new failure (2 known' "$TMP/r21.out" || true)"

# A run of a subset (run 22: two of the five tests) against the full run
# before it: compared on the tests both ran, the others counted in one line;
# --baseline auto (verdict and compare) finds the full run for it.
echo 22 > "$JUDGE_STATE/run"
set +e
V run --tests "$T" --db "$DB" -t coll:later.sh -t coll:pass.sh --color never > "$TMP/r22.out" 2>&1
V compare 21 22 --db "$DB" > "$TMP/cmp3.txt"; rc=$?
set -e
cat "$TMP/cmp3.txt"
expect_eq "compare subset: exit 0" 0 "$rc"
expect_eq "compare subset: nothing disappeared" 0 "$(grep -c 'disappeared' "$TMP/cmp3.txt" || true)"
expect_eq "compare subset: one line for the rest" 1 "$(grep -c '^not compared: 3 test(s) only in run 21, 0 only in run 22: --all compares them$' "$TMP/cmp3.txt" || true)"
expect_eq "compare subset: no differences in the tests both ran" 1 "$(grep -c '^no differences in the tests both ran$' "$TMP/cmp3.txt" || true)"
expect_eq "compare --all: the others disappeared" 1 "$(V compare 21 22 --all --db "$DB" | grep -c '^disappeared (8):' || true)"
expect_eq "compare --json: only_in_a" "['coll:rand.sh', 'coll:broken.sh', 'coll:tool.sh']" "$(V compare 21 22 --db "$DB" --json > "$TMP/cmp3.json"; json_get "$TMP/cmp3.json" "d['only_in_a']")"
expect_eq "compare auto 22: the full run 21" 21 "$(V compare auto 22 --db "$DB" --json > "$TMP/cmp4.json"; json_get "$TMP/cmp4.json" "d['run_a']")"
set +e
V verdict 22 --baseline auto --db "$DB" --json > "$TMP/v5.json"
set -e
expect_eq "verdict of the subset: baseline auto = run 21" 21 "$(json_get "$TMP/v5.json" "d['baseline']")"
set +e
V compare auto 1 --db "$DB" > /dev/null 2> "$TMP/err"; rc=$?
set -e
expect_eq "compare auto without an earlier run: exit 2" 2 "$rc"
expect_eq "compare auto without an earlier run: says so" 1 "$(grep -c 'no baseline for run 1' "$TMP/err")"

# Bad input.
set +e
V verdict --db "$TMP/none.db" > /dev/null 2>"$TMP/err"; rc=$?
expect_eq "missing store: exit 2" 2 "$rc"
expect_eq "missing store: no file created" no "$([ -e "$TMP/none.db" ] && echo yes || echo no)"
V compare 1 999 --db "$DB" > /dev/null 2>"$TMP/err"; rc=$?
expect_eq "unknown run: exit 2" 2 "$rc"
expect_eq "unknown run: says so" 1 "$(grep -c 'no run 999' "$TMP/err")"
V history nocolon --db "$DB" > /dev/null 2>&1; rc=$?
expect_eq "history needs COLLECTION:TEST" 2 "$rc"
printf '[[issue]]\nmatch = "x"\n' > "$TMP/bad.toml"
V run --tests "$T" --db "$DB" --known-issues "$TMP/bad.toml" > /dev/null 2>"$TMP/err"; rc=$?
expect_eq "bad known-issues file: exit 2" 2 "$rc"
expect_eq "bad known-issues file: file:line" 1 "$(grep -c 'bad.toml:1: \[\[issue\]\] needs a reason' "$TMP/err")"
set -e
expect_eq "the bad file started no run" 22 "$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from runs').fetchone()[0])" "$DB")"
finish
