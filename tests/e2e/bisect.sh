#!/usr/bin/env bash
# vigil bisect run on a generated git repository of 220 commits where a test
# fails with probability 0.3 from commit 137 on (a seeded random sequence, so
# the run is reproducible); --fix; untestable commits (exit 125) around the
# culprit; abort on exit >= 128 and resume; the user's checkout untouched; a
# command or vigil test that cannot start is an error; piped output is not
# held back.
source "$(dirname "$0")/lib.sh"
# new_repo DIR: an empty repository (branch main) that can commit.
new_repo() {
  mkdir -p "$1"
  git -C "$1" init -q -b main
  git -C "$1" config user.email ci@example.org
  git -C "$1" config user.name ci
}
R="$TMP/repo"
new_repo "$R"
# Commit i writes state = i; the bug is there from 137 on (and, for --fix,
# gone again from 190 on: the 'fixed' file).
for i in $(seq 1 220); do
  echo "$i" > "$R/state"
  [ "$i" -ge 137 ] && echo bug > "$R/bug"
  [ "$i" -ge 190 ] && echo fixed > "$R/fixed"
  git -C "$R" add -A
  git -C "$R" commit -q -m "commit $i"
done
hash_of() { git -C "$R" log --format='%H %s' | awk -v s="commit $1" '$0 ~ " "s"$" {print $1}'; }
GOOD=$(hash_of 1); BAD=$(hash_of 180); X=$(hash_of 137); Y=$(hash_of 190); NEW=$(hash_of 220)
head_before=$(git -C "$R" rev-parse HEAD)
# The test: each invocation takes the next number of a seeded sequence and
# fails with probability 0.3 where the bug is. 125 where 'untestable' lists
# the commit's state; exit 130 at invocation ABORT_AT.
cat > "$TMP/t.sh" <<'SH'
#!/bin/sh
n=$(cat "$SEQ_STATE" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$SEQ_STATE"
[ -n "$ABORT_AT" ] && [ "$n" -ge "$ABORT_AT" ] && exit 130
s=$(cat state)
[ -n "$UNTESTABLE" ] && echo " $UNTESTABLE " | grep -q " $s " && exit 125
r=$(awk -v n="$n" -v seed="$SEED" 'BEGIN { srand(seed * 100003 + n); print rand() }')
if [ -e bug ] && [ ! -e fixed ] && awk -v r="$r" 'BEGIN { exit !(r < 0.3) }'; then
  echo "flaky failure at state $s"; exit 1
fi
exit 0
SH
chmod +x "$TMP/t.sh"
export SEQ_STATE="$TMP/seq"
cd "$R"

# 1. Find the culprit.
export SEED=1
set +e
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --confidence 0.999 --json -- "$TMP/t.sh" > "$TMP/b1.json" 2> "$TMP/b1.err"
rc=$?
set -e
cat "$TMP/b1.err"
expect_eq "bisect: exit 0" 0 "$rc"
expect_eq "culprit = commit 137" "$X" "$(json_get "$TMP/b1.json" "d['culprit']['hash']")"
expect_eq "culprit subject" "commit 137" "$(json_get "$TMP/b1.json" "d['culprit']['subject']")"
expect_eq "posterior >= 0.999" True "$(json_get "$TMP/b1.json" "d['posterior'] >= 0.999")"
expect_eq "evidence: failures at the culprit" True "$(json_get "$TMP/b1.json" "d['evidence']['culprit']['failures'] > 0")"
expect_eq "evidence: parent ran and passed" True "$(json_get "$TMP/b1.json" "d['evidence']['parent']['runs'] > 0 and d['evidence']['parent']['failures'] == 0")"
expect_eq "format_version" 1 "$(json_get "$TMP/b1.json" "d['format_version']")"
echo "runs $(json_get "$TMP/b1.json" "d['runs']"), builds $(json_get "$TMP/b1.json" "d['builds']")"
expect_eq "checkout untouched" "$head_before" "$(git -C "$R" rev-parse HEAD)"
expect_eq "working tree clean" "" "$(git -C "$R" status --porcelain)"
expect_eq "worktree removed" 1 "$(git -C "$R" worktree list | wc -l)"
"$VIGIL" bisect status > "$TMP/status.txt"
expect_eq "status shows the result" 1 "$(grep -c "first bad commit: $X commit 137" "$TMP/status.txt")"
expect_eq "log lists every run" "$(json_get "$TMP/b1.json" "d['runs']")" "$("$VIGIL" bisect log | grep -c -E ' (pass|fail) ')"

# 2. --fix: failing from 137, fixed from 190: between 150 (failing, older)
# and 220 (fixed, newer) the first fixed commit is 190.
export SEED=2
set +e
"$VIGIL" bisect run --fix --bad "$(hash_of 150)" --good "$NEW" --confidence 0.999 --json -- "$TMP/t.sh" > "$TMP/b2.json" 2> "$TMP/b2.err"
rc=$?
set -e
cat "$TMP/b2.err"
expect_eq "fix: exit 0" 0 "$rc"
expect_eq "first fixed commit = 190" "$Y" "$(json_get "$TMP/b2.json" "d['culprit']['hash']")"

# 3. Untestable commits 136 and 137 around the culprit: the answer is the
# range 136..138, which holds the culprit and blames no skipped commit alone.
export SEED=3 UNTESTABLE="136 137"
set +e
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --confidence 0.999 --json -- "$TMP/t.sh" > "$TMP/b3.json" 2> "$TMP/b3.err"
rc=$?
set -e
unset UNTESTABLE
expect_eq "skips: exit 0" 0 "$rc"
expect_eq "skips: no single culprit" None "$(json_get "$TMP/b3.json" "d['culprit']")"
expect_eq "skips: range 136..138" "commit 136,commit 137,commit 138" "$(json_get "$TMP/b3.json" "','.join(c['subject'] for c in d['range'])")"

# 4. Abort on exit >= 128, then resume from the store.
export SEED=4 ABORT_AT=$(( $(cat "$SEQ_STATE") + 15 ))
set +e
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --confidence 0.999 -- "$TMP/t.sh" > "$TMP/b4.out" 2> "$TMP/b4.err"
rc=$?
set -e
unset ABORT_AT
expect_eq "abort: exit 2" 2 "$rc"
expect_eq "abort: says why" 1 "$(grep -c 'exited 130 (>= 128: abort)' "$TMP/b4.err")"
expect_eq "abort: still in progress" 1 "$("$VIGIL" bisect status | grep -c ': running ')"
set +e
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --confidence 0.999 --json -- "$TMP/t.sh" > "$TMP/b5.json" 2> "$TMP/b5.err"
rc=$?
set -e
expect_eq "resume: exit 0" 0 "$rc"
expect_eq "resume: 14 runs were kept" 1 "$(grep -c 'resuming bisection .* (14 run(s) recorded)' "$TMP/b5.json" "$TMP/b5.err" | awk -F: '{s+=$2} END {print s}')"
expect_eq "resume: culprit = commit 137" "$X" "$(json_get "$TMP/b5.json" "d['culprit']['hash']")"

# 5. --vigil-test: the repository holds a kselftest tree; only the named
# subtest's failure counts (another subtest fails everywhere and must not
# mislead the search).
V2="$TMP/repo2"
new_repo "$V2"
mkdir -p "$V2/tree/coll"
echo "coll:t.sh" > "$V2/tree/kselftest-list.txt"
for i in $(seq 1 40); do
  cond=0
  [ "$i" -ge 23 ] && cond=1
  # From step 24 to 38 the test gives up before any result: untestable,
  # never a pass, or the search would put the culprit at step 39.
  early=0
  [ "$i" -ge 24 ] && [ "$i" -le 38 ] && early=1
  cat > "$V2/tree/coll/t.sh" <<SH
#!/bin/sh
echo "TAP version 13"
if [ $early = 1 ]; then echo "# cannot set up: giving up"; exit 1; fi
echo "1..3"
echo "ok 1 setup"
echo "not ok 2 unrelated # always failing"
if [ $cond = 1 ]; then echo "not ok 3 target"; exit 1; fi
echo "ok 3 target"
exit 1
SH
  chmod +x "$V2/tree/coll/t.sh"
  echo "$i" > "$V2/step"
  git -C "$V2" add -A
  git -C "$V2" commit -q -m "step $i"
done
cd "$V2"
G2=$(git log --format='%H %s' | awk '$0 ~ / step 1$/ {print $1}')
B2=$(git rev-parse HEAD)
X2=$(git log --format='%H %s' | awk '$0 ~ / step 23$/ {print $1}')
set +e
"$VIGIL" bisect run --good "$G2" --bad "$B2" --vigil-test coll:t.sh:target --tests tree --json > "$TMP/b6.json" 2> "$TMP/b6.err"
rc=$?
set -e
cat "$TMP/b6.err" | tail -3
expect_eq "vigil-test: exit 0" 0 "$rc"
expect_eq "vigil-test: culprit = step 23" "$X2" "$(json_get "$TMP/b6.json" "d['culprit']['hash']")"
expect_eq "vigil-test: checkout untouched" "" "$(git status --porcelain)"
# The reproduce line runs that vigil test at the culprit, as printed (in a
# clone: it checks out).
expect_eq "vigil-test: reproduce line" "git checkout ${X2:0:12} && vigil run --tests tree -t coll:t.sh" \
  "$(json_get "$TMP/b6.json" "d['reproduce']")"
git clone -q "$V2" "$TMP/repro"
set +e
(cd "$TMP/repro" && vigil() { "$VIGIL" "$@" --db "$TMP/repro.db" --color never; } &&
  eval "$(json_get "$TMP/b6.json" "d['reproduce']")") > "$TMP/repro.out" 2>&1
rc=$?
set -e
expect_eq "vigil-test: the reproduce line runs the test (it fails: exit 1)" 1 "$rc"
expect_eq "vigil-test: ... where it failed" 1 "$(grep -c '^\[FAIL\] coll:t.sh (exit 1)' "$TMP/repro.out")"
# A test or subtest that is not in the tree is an error before any search
# (it used to skip every commit and stop "confident after 0 runs").
set +e
"$VIGIL" bisect run --good "$G2" --bad "$B2" --vigil-test coll:nope.sh --tests tree > "$TMP/v1.out" 2> "$TMP/v1.err"
rc=$?
set -e
expect_eq "vigil-test missing: exit 2" 2 "$rc"
expect_eq "vigil-test missing: says the test is not there" 1 "$(grep -c "cannot start at the good end ${G2:0:12}: vigil run did not run coll:nope.sh .*no such test" "$TMP/v1.err")"
expect_eq "vigil-test missing: no verdict printed" 0 "$(grep -c 'stopped:\|first bad commit' "$TMP/v1.out")"
expect_eq "vigil-test missing: recorded as an error" 1 "$("$VIGIL" bisect status | grep -c ': error ')"
set +e
"$VIGIL" bisect run --good "$G2" --bad "$B2" --vigil-test coll:t.sh:targte --tests tree > "$TMP/v2.out" 2> "$TMP/v2.err"
rc=$?
set -e
expect_eq "subtest missing: exit 2" 2 "$rc"
expect_eq "subtest missing: names what the test has" 1 "$(grep -c "at the bad end ${B2:0:12}: coll:t.sh (FAIL) has no subtest 'targte' (it has: setup, unrelated, target)" "$TMP/v2.err")"
# A vigil.toml beside the tests gives the test a retry, and from step 7 on
# it fails every first attempt and passes its retry (FLAKY). Each probe's
# failure counts: before, FLAKY was a pass and the bad end "passed".
V3="$TMP/repo3"
new_repo "$V3"
mkdir -p "$V3/tree/coll"
echo "coll:f.sh" > "$V3/tree/kselftest-list.txt"
printf '[[test]]\nmatch = "coll:f.sh"\nretries = 1\n' > "$V3/tree/vigil.toml"
for i in $(seq 1 12); do
  cond=0
  [ "$i" -ge 7 ] && cond=1
  cat > "$V3/tree/coll/f.sh" <<SH
#!/bin/sh
flip="$TMP/flip"
if [ $cond = 1 ] && [ ! -e "\$flip" ]; then touch "\$flip"; exit 1; fi
rm -f "\$flip"
exit 0
SH
  chmod +x "$V3/tree/coll/f.sh"
  echo "$i" > "$V3/step"
  git -C "$V3" add -A
  git -C "$V3" commit -q -m "flip $i"
done
cd "$V3"
G3=$(git log --format='%H %s' | awk '$0 ~ / flip 1$/ {print $1}')
X3=$(git log --format='%H %s' | awk '$0 ~ / flip 7$/ {print $1}')
set +e
"$VIGIL" bisect run --good "$G3" --bad HEAD --vigil-test coll:f.sh --tests tree --json > "$TMP/b8.json" 2> "$TMP/b8.err"
rc=$?
set -e
tail -3 "$TMP/b8.err"
expect_eq "retried failure: exit 0" 0 "$rc"
expect_eq "retried failure: culprit = flip 7" "$X3" "$(json_get "$TMP/b8.json" "d['culprit']['hash']")"
cd "$R"

# 6. What CI already knows: the test failed 9 times in 30 runs at the bad end
# (--bad-history): evidence from the start, not counted as runs of the search.
export SEED=6
set +e
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --bad-history 9/30 --confidence 0.999 --json -- "$TMP/t.sh" > "$TMP/b7.json" 2> "$TMP/b7.err"
rc=$?
set -e
tail -2 "$TMP/b7.err"
expect_eq "bad-history: exit 0" 0 "$rc"
expect_eq "bad-history: culprit = commit 137" "$X" "$(json_get "$TMP/b7.json" "d['culprit']['hash']")"
expect_eq "bad-history: runs are the search's own" "$(json_get "$TMP/b7.json" "d['runs']")" "$("$VIGIL" bisect log | grep -c -E ' (pass|fail) ')"
echo "with --bad-history 9/30: runs $(json_get "$TMP/b7.json" "d['runs']")"

# 7. Merges: the side branch s1..s30 forks from main's m20 and is merged
# after m30; the bug comes with s17. The first-parent line names the merge,
# then vigil bisects what it merged and finds s17; --first-parent stops at
# the merge. A failure that needs both sides (A from m25, B from s10) is the
# merge's own.
M="$TMP/merges"
new_repo "$M"
mc() { echo "$1" > "$M/state.$2"; git -C "$M" add -A; git -C "$M" commit -q -m "$1"; }
for i in $(seq 1 20); do mc "m$i" main; done
git -C "$M" checkout -q -b side
for i in $(seq 1 30); do
  [ "$i" -eq 17 ] && echo bug > "$M/bug"
  [ "$i" -eq 10 ] && echo B > "$M/B"
  mc "s$i" side
done
git -C "$M" checkout -q main
for i in $(seq 21 30); do
  [ "$i" -eq 25 ] && echo A > "$M/A"
  mc "m$i" main
done
git -C "$M" merge -q --no-ff -m "merge side" side
for i in $(seq 31 40); do mc "m$i" main; done
mhash() { git -C "$M" log --all --format='%H %s' | awk -v s="$1" '$2 == s {print $1}'; }
MERGE=$(git -C "$M" log --format='%H %s' | awk '$2 == "merge" {print $1}')
cat > "$TMP/tm.sh" <<'SH'
#!/bin/sh
n=$(cat "$SEQ_STATE" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$SEQ_STATE"
r=$(awk -v n="$n" -v seed="$SEED" 'BEGIN { srand(seed * 100003 + n); print rand() }')
if { [ -n "$BOTH" ] && [ -e A ] && [ -e B ]; } || { [ -z "$BOTH" ] && [ -e bug ]; }; then
  awk -v r="$r" 'BEGIN { exit !(r < 0.3) }' && { echo "flaky failure"; exit 1; }
fi
exit 0
SH
chmod +x "$TMP/tm.sh"
cd "$M"
export SEED=7
set +e
"$VIGIL" bisect run --good "$(mhash m1)" --bad "$(mhash m40)" --confidence 0.999 --json -- "$TMP/tm.sh" > "$TMP/m1.json" 2> "$TMP/m1.err"
rc=$?
set -e
tail -2 "$TMP/m1.err"
expect_eq "merges: exit 0" 0 "$rc"
expect_eq "merges: the merge on the first-parent line" "$MERGE" "$(json_get "$TMP/m1.json" "d['merges'][0]['hash']")"
expect_eq "merges: culprit = s17 on the merged branch" "$(mhash s17)" "$(json_get "$TMP/m1.json" "d['culprit']['hash']")"
expect_eq "merges: says it descended" 1 "$(grep -c "is merge ${MERGE:0:12} merge side.*bisecting the 30 commit(s) it merged" "$TMP/m1.err")"
expect_eq "merges: every run logged" "$(json_get "$TMP/m1.json" "d['runs']")" "$("$VIGIL" bisect log | grep -c -E ' (pass|fail) ')"
export SEED=8
set +e
"$VIGIL" bisect run --first-parent --good "$(mhash m1)" --bad "$(mhash m40)" --confidence 0.999 --json -- "$TMP/tm.sh" > "$TMP/m2.json" 2> /dev/null
rc=$?
set -e
expect_eq "first-parent: exit 0" 0 "$rc"
expect_eq "first-parent: culprit = the merge" "$MERGE" "$(json_get "$TMP/m2.json" "d['culprit']['hash']")"
expect_eq "first-parent: no descent" 0 "$(json_get "$TMP/m2.json" "len(d['merges'])")"
export SEED=9 BOTH=1
set +e
"$VIGIL" bisect run --good "$(mhash m1)" --bad "$(mhash m40)" --confidence 0.999 --json -- "$TMP/tm.sh" > "$TMP/m3.json" 2> "$TMP/m3.err"
rc=$?
set -e
unset BOTH
expect_eq "both sides: exit 0" 0 "$rc"
expect_eq "both sides: descended into the merge" "$MERGE" "$(json_get "$TMP/m3.json" "d['merges'][0]['hash']")"
expect_eq "both sides: the culprit is the merge itself" "$MERGE" "$(json_get "$TMP/m3.json" "d['culprit']['hash']")"
cd "$R"

# 8. A test command that cannot start is an error, not a verdict (exit 127
# everywhere used to conclude "the good end shows the failure too" with
# posterior 1.000 and exit 0).
for cmd in "$TMP/no-such-test.sh" "sh -c no-such-command"; do
  set +e
  # shellcheck disable=SC2086
  "$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --db "$TMP/nocmd.db" -- $cmd > "$TMP/n.out" 2> "$TMP/n.err"
  rc=$?
  set -e
  expect_eq "cannot start ($cmd): exit 2" 2 "$rc"
  expect_eq "cannot start ($cmd): says why" 1 "$(grep -c "cannot start at the good end ${GOOD:0:12}: .* exited 127 (command not found): .*no-such-" "$TMP/n.err")"
  expect_eq "cannot start ($cmd): no verdict" 0 "$(grep -c 'stopped:\|good end shows' "$TMP/n.out")"
  expect_eq "cannot start ($cmd): no run recorded" 0 "$("$VIGIL" bisect log --db "$TMP/nocmd.db" | wc -l)"
done

# A test that fails at the good end too is an answer, not a culprit: exit 1.
set +e
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --db "$TMP/always.db" -- sh -c 'exit 1' > "$TMP/a.out" 2> "$TMP/a.err"
rc=$?
set -e
expect_eq "fails everywhere: exit 1" 1 "$rc"
expect_eq "fails everywhere: the good end fails too" 1 "$(grep -c '^the good end shows the failure too' "$TMP/a.out")"
expect_eq "fails everywhere: the good end ran first" 1 "$(grep -c "^  good end ${GOOD:0:12}: the test runs there (fail)" "$TMP/a.out")"

# 9. Piped, the progress comes line by line as it happens: the first line is
# read while the test at the good end still waits for the reader to open
# its gate (with block buffering it would wait for the 300 s guard).
cat > "$TMP/gated.sh" <<'SH'
#!/bin/sh
i=0
while [ ! -e "$GATE" ]; do
  i=$((i + 1))
  [ "$i" -ge 3000 ] && { touch "$GATE.timed-out" "$GATE"; }
  sleep 0.1
done
exit 0
SH
chmod +x "$TMP/gated.sh"
export GATE="$TMP/gate"
"$VIGIL" bisect run --good "$GOOD" --bad "$(hash_of 3)" --db "$TMP/gate.db" -- "$TMP/gated.sh" 2>&1 |
  { IFS= read -r first; echo "$first" > "$TMP/first"; touch "$GATE"; cat > "$TMP/rest"; } || true
expect_eq "piped: the first line came while the test ran" "no" "$([ -e "$GATE.timed-out" ] && echo yes || echo no)"
expect_eq "piped: it is the bisection's first line" 1 "$(grep -c '^bisection [0-9]*: 2 commit(s)' "$TMP/first")"
expect_eq "piped: the rest followed" 1 "$(grep -c '^stopped:' "$TMP/rest")"
unset GATE

# 10. A build command: its time against the test's is the build cost.
set +e
"$VIGIL" bisect run --good "$(hash_of 133)" --bad "$(hash_of 141)" --db "$TMP/built.db" --build "sleep 0.3" \
  --json -- sh -c 'test ! -e bug' > "$TMP/built.json" 2> "$TMP/built.err"; rc=$?
set -e
expect_eq "build: exit 0" 0 "$rc"
expect_eq "build: culprit = commit 137" "$X" "$(json_get "$TMP/built.json" "d['culprit']['hash']")"
expect_eq "build: the cost was measured" True "$(json_get "$TMP/built.json" "d['build_cost_measured']")"
expect_eq "build: builds of ~0.3 s measured" True "$(json_get "$TMP/built.json" "d['measured']['build_ms'] >= 250 and d['measured']['builds'] >= 2")"
# The measured times are printed to the millisecond, and a run of `test` takes
# one or two: the cost must lie between what the rounded figures allow.
expect_eq "build: cost = build over run" True "$(json_get "$TMP/built.json" "(lambda b, r, c: (b - 0.5) / max(1, r + 0.5) * 0.95 - 1 <= c <= (b + 0.5) / max(1, r - 0.5) * 1.05 + 1)(d['measured']['build_ms'], d['measured']['run_ms'], d['build_cost'])")"
expect_eq "build: status shows the cost" 1 "$("$VIGIL" bisect status --db "$TMP/built.db" | grep -c '^build cost: .* runs, measured: a build')"

# 11. --build-tree: a vigil test booted on the kernel built at each commit;
# its options are checked before anything starts.
set +e
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --build-tree -- "$TMP/t.sh" > /dev/null 2> "$TMP/bt1"; rc=$?
expect_eq "build-tree without --vigil-test: exit 2" 2 "$rc"
expect_eq "build-tree without --vigil-test: says so" 1 "$(grep -c 'build-tree boots each built kernel.*--vigil-test' "$TMP/bt1")"
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --build-tree --vigil-test demo:t.sh --kernel bzImage > /dev/null 2> "$TMP/bt2"; rc=$?
expect_eq "build-tree with --kernel: exit 2" 2 "$rc"
expect_eq "build-tree with --kernel: says so" 1 "$(grep -c 'not with --build, --kernel or --tests' "$TMP/bt2")"
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --variant debug -- "$TMP/t.sh" > /dev/null 2> "$TMP/bt3"; rc=$?
expect_eq "build options without --build-tree: exit 2" 2 "$rc"
expect_eq "build options without --build-tree: says so" 1 "$(grep -c 'go with --build-tree' "$TMP/bt3")"
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --db "$TMP/bt.db" --build-tree --vigil-test demo:t.sh > /dev/null 2> "$TMP/bt4"; rc=$?
expect_eq "build-tree outside a kernel tree: exit 2" 2 "$rc"
expect_eq "build-tree outside a kernel tree: says so" 1 "$(grep -c 'is not a kernel source tree' "$TMP/bt4")"
expect_eq "build-tree outside a kernel tree: nothing started" no "$([ -e "$TMP/bt.db" ] && echo yes || echo no)"
set -e

# 12. Bad input; reset.
set +e
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --bad-history 5/3 -- "$TMP/t.sh" > /dev/null 2> "$TMP/e4"; rc=$?
expect_eq "bad-history 5/3: exit 2" 2 "$rc"
expect_eq "bad-history 5/3: says so" 1 "$(grep -c 'bad-history wants F/N' "$TMP/e4")"
"$VIGIL" bisect run --good "$BAD" --bad "$GOOD" -- "$TMP/t.sh" > /dev/null 2> "$TMP/e1"; rc=$?
expect_eq "reversed ends: exit 2" 2 "$rc"
expect_eq "reversed ends: says so" 1 "$(grep -c 'must be an ancestor' "$TMP/e1")"
"$VIGIL" bisect run --good nope --bad "$BAD" -- "$TMP/t.sh" > /dev/null 2> "$TMP/e2"; rc=$?
expect_eq "unknown rev: exit 2" 2 "$rc"
"$VIGIL" bisect run --good "$GOOD" --bad "$BAD" > /dev/null 2> "$TMP/e3"; rc=$?
expect_eq "no command: exit 2" 2 "$rc"
set -e
expect_eq "reset with nothing in progress" 1 "$("$VIGIL" bisect reset | grep -c 'no bisection in progress')"
cd /
finish
