#!/usr/bin/env bash
# Cancelling `vigil run` as CI systems do (SIGTERM, SIGINT, a second signal):
# vigil stops starting tests, terminates the running ones with everything
# they started (a daemon that left their session, network namespaces they
# named under --netns), records them as interrupted, finishes the run and
# its reports, says how to resume, and exits 128 + the signal; --resume then
# completes the run. A run whose vigil is alive is not resumed beside it.
source "$(dirname "$0")/lib.sh"
set -m  # background jobs get SIGINT like foreground ones (not ignored)

MARK="vigilcancel$$"
export CANCEL_STATE="$TMP/state"
mkdir -p "$CANCEL_STATE"
T="$TMP/tests"
mkdir -p "$T/cancel"
printf 'cancel:quick.sh\ncancel:daemon.sh\ncancel:long.sh\ncancel:later.sh\n' > "$T/kselftest-list.txt"
# Each test passes at once once $CANCEL_STATE/done exists (the resumed run).
cat > "$T/cancel/quick.sh" <<'SH'
#!/bin/bash
echo "ok quick"
SH
# A daemon that leaves the test's session, a namespace the test names and
# does not get to clean up (it ignores SIGTERM and is killed), and a long wait.
cat > "$T/cancel/daemon.sh" <<SH
#!/bin/bash
[ -e "\$CANCEL_STATE/done" ] && exit 0
trap '' TERM
setsid bash -c 'exec -a $MARK-daemon sleep 1000' < /dev/null > /dev/null 2>&1 &
ip netns add $MARK-ns
echo "daemon and namespace started"
touch "\$CANCEL_STATE/daemon.started"
exec -a $MARK-daemon-test sleep 1000
SH
cat > "$T/cancel/long.sh" <<SH
#!/bin/bash
[ -e "\$CANCEL_STATE/done" ] && exit 0
echo "long test started"
touch "\$CANCEL_STATE/long.started"
exec -a $MARK-long sleep 1000
SH
cat > "$T/cancel/later.sh" <<SH
#!/bin/bash
touch "\$CANCEL_STATE/later.ran"
echo later
SH
chmod +x "$T"/cancel/*.sh

# wait_for FILE...: up to 120 s for each to exist.
wait_for() {
  for f in "$@"; do
    for _ in $(seq 1200); do [ -e "$f" ] && break; sleep 0.1; done
    [ -e "$f" ] || { fail "$f never appeared"; return 1; }
  done
}
# leftovers: processes whose command line has the marker (after up to 5 s).
leftovers() {
  for _ in $(seq 50); do pgrep -f "$MARK" > /dev/null || break; sleep 0.1; done
  pgrep -af "$MARK" || true
}
CG=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
cgroups_of() { [ -n "$CG" ] && ls -d "$CG"/vigil-"$1"-* 2>/dev/null || true; }
sql() { "$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('\n'.join('|'.join('' if v is None else str(v) for v in r) for r in c.execute(sys.argv[2])))" "$@"; }

# --- SIGTERM during a --netns run with a daemonising test --------------------
db="$TMP/term.db"
"$VIGIL" run --tests "$T" --db "$db" -j2 --netns --color never --json "$TMP/term.json" --junit "$TMP/term.xml" \
  > "$TMP/term.out" 2> "$TMP/term.err" &
pid=$!
wait_for "$CANCEL_STATE/daemon.started" "$CANCEL_STATE/long.started"
expect_eq "the daemon runs before the signal" 1 "$(pgrep -fc "$MARK-daemon 1000" || true)"
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_eq "SIGTERM: vigil exits 143" 143 "$rc"
expect_eq "SIGTERM: no process of the tests is left" "" "$(leftovers)"
expect_eq "SIGTERM: no cgroup of that vigil is left" "" "$(cgroups_of "$pid")"
expect_eq "SIGTERM: no namespace is left" "" "$(ip netns list 2>/dev/null | grep "$MARK" || true)"
expect_eq "SIGTERM: the later test never started" "no" "$([ -e "$CANCEL_STATE/later.ran" ] && echo yes || echo no)"
expect_eq "SIGTERM: the run is finished as INTERRUPTED, without an owner" "INTERRUPTED|" \
  "$(sql "$db" "select status, owner from runs where id = 1")"
expect_eq "SIGTERM: running tests recorded interrupted, the finished one not" \
  "cancel:daemon.sh|ERROR|1 cancel:long.sh|ERROR|1 cancel:quick.sh|PASS|0" \
  "$(sql "$db" "select t.path, a.status, a.interrupted from attempts a join tests t on a.test_id = t.id order by t.path" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "SIGTERM: the JSON report is written and says so" "INTERRUPTED 2 1" \
  "$(json_get "$TMP/term.json" "d['status'], d['interrupted']['tests'], d['interrupted']['not_started']" | tr -d "(),'")"
expect_eq "SIGTERM: JUnit marks the interrupted tests" 2 "$(grep -c 'interrupted (vigil was stopped)' "$TMP/term.xml" || true)"
if grep -q "vigil run --resume 1 --db $db" "$TMP/term.out"; then pass "SIGTERM: prints how to resume"; else
  fail "SIGTERM: no resume hint in: $(cat "$TMP/term.out")"; fi
if grep -q "SIGTERM: stopping" "$TMP/term.err"; then pass "SIGTERM: says it is stopping"; else
  fail "SIGTERM: stderr: $(cat "$TMP/term.err")"; fi

touch "$CANCEL_STATE/done"
set +e
"$VIGIL" run --resume last --db "$db" --netns --color never --json "$TMP/resumed.json" > "$TMP/resume.out" 2>&1
rc=$?
set -e
expect_eq "--resume completes the cancelled run" 0 "$rc"
expect_eq "--resume: every test once, none interrupted, the run PASS" "4 0 PASS" \
  "$(sql "$db" "select count(*), sum(a.interrupted), (select status from runs where id = 1) from attempts a" | tr '|' ' ')"
expect_eq "--resume: the JSON reports the four tests" "4 PASS" \
  "$(json_get "$TMP/resumed.json" "len(d['tests']), d['status']" | tr -d "(),'")"
rm -f "$CANCEL_STATE"/*

# --- SIGINT -> 130 ----------------------------------------------------------
db="$TMP/int.db"
"$VIGIL" run --tests "$T" -t cancel:long.sh --db "$db" --color never > "$TMP/int.out" 2>&1 &
pid=$!
wait_for "$CANCEL_STATE/long.started"
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_eq "SIGINT: vigil exits 130" 130 "$rc"
expect_eq "SIGINT: no process of the tests is left" "" "$(leftovers)"
expect_eq "SIGINT: the test is recorded interrupted" "1" "$(sql "$db" "select interrupted from attempts")"
rm -f "$CANCEL_STATE"/*

# --- SIGHUP -> 129; under nohup (SIGHUP ignored) it stays ignored ------------
db="$TMP/hup.db"
"$VIGIL" run --tests "$T" -t cancel:long.sh --db "$db" --color never > "$TMP/hup.out" 2>&1 &
pid=$!
wait_for "$CANCEL_STATE/long.started"
kill -HUP "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_eq "SIGHUP: vigil exits 129" 129 "$rc"
rm -f "$CANCEL_STATE"/*
db="$TMP/nohup.db"
(trap '' HUP; exec "$VIGIL" run --tests "$T" -t cancel:long.sh --db "$db" --color never) > "$TMP/nohup.out" 2>&1 &
pid=$!
wait_for "$CANCEL_STATE/long.started"
kill -HUP "$pid"
# The run goes on: a resume is still refused as live.
set +e; "$VIGIL" run --resume last --db "$db" --color never > "$TMP/nohup-refused.out" 2>&1; rc=$?; set -e
expect_eq "nohup: SIGHUP ignored, the run goes on" "2 yes" \
  "$rc $(kill -0 "$pid" 2> /dev/null && echo yes || echo no)"
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_eq "nohup: SIGTERM still stops it (143)" 143 "$rc"
rm -f "$CANCEL_STATE"/*

# --- a second signal kills at once -------------------------------------------
# daemon.sh ignores SIGTERM: after the first signal vigil would wait out the
# grace; the second one kills it, and vigil exits without reports.
db="$TMP/twice.db"
"$VIGIL" run --tests "$T" -t cancel:daemon.sh --db "$db" --netns --color never --json "$TMP/twice.json" \
  > "$TMP/twice.out" 2> "$TMP/twice.err" &
pid=$!
wait_for "$CANCEL_STATE/daemon.started"
kill -TERM "$pid"
for _ in $(seq 1200); do grep -q "stopping" "$TMP/twice.err" && break; sleep 0.1; done
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_eq "second signal: vigil exits 143" 143 "$rc"
if grep -q "killing the running tests" "$TMP/twice.err"; then pass "second signal: says it kills"; else
  fail "second signal: stderr: $(cat "$TMP/twice.err")"; fi
expect_eq "second signal: no report written" "no" "$([ -e "$TMP/twice.json" ] && echo yes || echo no)"
expect_eq "second signal: no process of the tests is left" "" "$(leftovers)"
expect_eq "second signal: no cgroup of that vigil is left" "" "$(cgroups_of "$pid")"
expect_eq "second signal: no namespace is left" "" "$(ip netns list 2>/dev/null | grep "$MARK" || true)"
expect_eq "second signal: the run stays unfinished, its test interrupted" "|1" \
  "$(sql "$db" "select r.status, a.interrupted from runs r, attempts a")"
touch "$CANCEL_STATE/done"
set +e; "$VIGIL" run --resume last --db "$db" --color never > "$TMP/twice-resume.out" 2>&1; rc=$?; set -e
expect_eq "second signal: --resume completes the run" "0 PASS" "$rc $(sql "$db" "select status from runs")"
rm -f "$CANCEL_STATE"/*

# --- resuming a run whose vigil is still running is refused ------------------
db="$TMP/live.db"
"$VIGIL" run --tests "$T" -t cancel:long.sh --db "$db" --color never > "$TMP/live.out" 2>&1 &
pid=$!
wait_for "$CANCEL_STATE/long.started"
set +e
"$VIGIL" run --resume last --db "$db" --color never > "$TMP/refused.out" 2>&1
rc=$?
set -e
expect_eq "resume of a live run: refused as a usage error" 2 "$rc"
if grep -q "run 1 is still running (vigil pid $pid)" "$TMP/refused.out"; then pass "resume of a live run: says why"; else
  fail "resume of a live run: $(cat "$TMP/refused.out")"; fi
expect_eq "resume of a live run: it started nothing (one run, no attempt yet)" "1 0" \
  "$(sql "$db" "select (select count(*) from runs), (select count(*) from attempts)" | tr '|' ' ')"
kill -TERM "$pid"
set +e; wait "$pid"; set -e
touch "$CANCEL_STATE/done"
set +e; "$VIGIL" run --resume last --db "$db" --color never > "$TMP/live-resume.out" 2>&1; rc=$?; set -e
expect_eq "once its vigil is gone the run resumes" 0 "$rc"
rm -f "$CANCEL_STATE"/*

# A vigil killed with -9 leaves an owner that is gone: the run resumes.
db="$TMP/nine.db"
"$VIGIL" run --tests "$T" -t cancel:long.sh --db "$db" --color never > "$TMP/nine.out" 2>&1 &
pid=$!
wait_for "$CANCEL_STATE/long.started"
kill -KILL "$pid"
set +e; wait "$pid" 2> /dev/null; set -e
touch "$CANCEL_STATE/done"
set +e; "$VIGIL" run --resume last --db "$db" --color never > "$TMP/nine-resume.out" 2>&1; rc=$?; set -e
expect_eq "a run whose vigil was killed -9 resumes" 0 "$rc"
expect_eq "what the killed vigil left running, the next one ended" "" "$(leftovers)"
rm -f "$CANCEL_STATE"/*

# --- vigil bisect: SIGTERM stops the probe, the bisection stays resumable -----
R="$TMP/repo"
mkdir -p "$R"
git -C "$R" init -q -b main
git -C "$R" config user.email ci@example.org
git -C "$R" config user.name ci
for i in $(seq 1 8); do
  echo "$i" > "$R/state"
  git -C "$R" add -A
  git -C "$R" commit -q -m "commit $i"
done
GOOD=$(git -C "$R" rev-list --max-parents=0 HEAD); BAD=$(git -C "$R" rev-parse HEAD)
# The probe: hangs (with a marker) until $CANCEL_STATE/done exists, then
# fails from state 5 on.
cat > "$TMP/probe.sh" <<SH
#!/bin/bash
if [ ! -e "\$CANCEL_STATE/done" ]; then
  touch "\$CANCEL_STATE/probe.started"
  exec -a $MARK-probe sleep 1000
fi
[ "\$(cat state)" -lt 5 ]
SH
chmod +x "$TMP/probe.sh"
(cd "$R" && exec "$VIGIL" bisect run --good "$GOOD" --bad "$BAD" -- "$TMP/probe.sh") > "$TMP/bisect.out" 2> "$TMP/bisect.err" &
pid=$!
wait_for "$CANCEL_STATE/probe.started"
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_eq "bisect: SIGTERM exits 143" 143 "$rc"
expect_eq "bisect: the probe is gone" "" "$(leftovers)"
if grep -q "run the same command again to resume" "$TMP/bisect.err"; then pass "bisect: says how to resume"; else
  fail "bisect: stderr: $(cat "$TMP/bisect.err")"; fi
expect_eq "bisect: still in progress, the stopped probe not recorded" "running 0" \
  "$(sql "$R/.git/vigil-bisect.db" "select status, (select count(*) from bisect_runs) from bisections" | tr '|' ' ')"
touch "$CANCEL_STATE/done"
set +e
(cd "$R" && "$VIGIL" bisect run --good "$GOOD" --bad "$BAD" --json -- "$TMP/probe.sh") > "$TMP/bisect2.json" 2> "$TMP/bisect2.err"
rc=$?
set -e
expect_eq "bisect: run again, it resumes and finds the culprit" "0 commit 5" \
  "$rc $(json_get "$TMP/bisect2.json" "d['culprit']['subject']")"
rm -f "$CANCEL_STATE"/*

finish
