#!/usr/bin/env bash
# Runs split across machines, here as processes: 4 shards writing at once
# into one PostgreSQL store and, apart, into 4 SQLite files joined by
# `vigil merge` give the group one run whose results and verdict are those
# of the same tests run unsplit; a shard killed with -9 is resumed by its
# own command; two groups at once don't mix. The shipped GitHub Actions
# workflow and Kubernetes Jobs parse, and their commands are the ones run
# here (taken from the files themselves).
source "$(dirname "$0")/lib.sh"

# A kselftest tree: 16 tests of different lengths, one failing (with a
# failing subtest), one skipped, one with subtests, one slow.
T="$TMP/ksft"
mkdir -p "$T/sel"
: > "$T/kselftest-list.txt"
for i in $(seq -w 1 16); do
  f="$T/sel/t$i.sh"
  case $i in
    05) body='printf "TAP version 13\n1..2\nok 1 first\nnot ok 2 second\n"; exit 1' ;;
    09) body='exit 4' ;;
    12) body='printf "TAP version 13\n1..3\nok 1 a\nok 2 b\nok 3 c # SKIP no c\n"' ;;
    16) body='sleep 2' ;;
    *) body="sleep 0.$(( (10#$i * 37) % 9 + 1 ))" ;;
  esac
  printf '#!/bin/sh\n%s\n' "$body" > "$f"
  chmod +x "$f"
  echo "sel:t$i.sh" >> "$T/kselftest-list.txt"
done
summary() {  # FILE: each test's path, final status, subtests and attempts, then the run's status
  "$PY" - "$1" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for t in d["tests"]:
    print(t["path"], t["status"], [(s["name"], s["status"]) for s in t["subtests"]], len(t["attempts"]))
print("run", d["status"])
PYEOF
}
verdict() {  # DB RUN
  "$VIGIL" verdict "$2" --db "$1" --json > "$TMP/v.json" || true
  json_get "$TMP/v.json" "d['verdict'] + ': ' + d['conclusion']"
}

set +e
"$VIGIL" run --tests "$T" --db "$TMP/single.db" --color never --json "$TMP/single.json" > "$TMP/single.out" 2>&1
single_rc=$?
set -e
expect_eq "the unsplit run fails (t05)" 1 "$single_rc"
summary "$TMP/single.json" > "$TMP/single.sum"
single_verdict=$(verdict "$TMP/single.db" 1)

# --- PostgreSQL: 4 shards at once into one store --------------------------
# (Beside $TMP, which only root may enter: the server runs as postgres.)
PGDIR=/tmp/vigil-e2e-shards-pg-$$
set +e
PG=$(bash "$VIGIL_SRC/scripts/pg-test-server.sh" start "$PGDIR")
pg_rc=$?
set -e
if [ "$pg_rc" = 0 ]; then
  trap 'bash "$VIGIL_SRC/scripts/pg-test-server.sh" stop "$PGDIR" > /dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
  pids=()
  for i in 1 2 3 4; do
    "$VIGIL" run --tests "$T" --db "$PG" --shard "$i/4" --run-group pg-1 --color never --json "$TMP/pg-$i.json" \
      > "$TMP/pg-$i.out" 2>&1 &
    pids+=($!)
  done
  last=0
  for i in 1 2 3 4; do
    set +e
    wait "${pids[$((i - 1))]}"
    rc=$?
    set -e
    if grep -q "was the last of run group pg-1" "$TMP/pg-$i.out"; then last=$i; last_rc=$rc; fi
    [ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "shard $i exited $rc: $(tail -n 3 "$TMP/pg-$i.out")"
  done
  [ "$last" != 0 ] && pass "one shard was the last and reported the whole run" || fail "no shard reported the whole run"
  if [ "$last" != 0 ]; then
    expect_eq "the last shard exits as the whole run" "$single_rc" "$last_rc"
    summary "$TMP/pg-$last.json" > "$TMP/pg.sum"
    expect_eq "the last shard's report is the unsplit run's" "$(cat "$TMP/single.sum")" "$(cat "$TMP/pg.sum")"
  fi
  "$VIGIL" group wait pg-1 --db "$PG" --timeout 30 --poll 0.2 --json "$TMP/pg-wait.json" --color never > /dev/null || true
  summary "$TMP/pg-wait.json" > "$TMP/pg-wait.sum"
  expect_eq "vigil group wait reports the unsplit run's results" "$(cat "$TMP/single.sum")" "$(cat "$TMP/pg-wait.sum")"
  expect_eq "the group's verdict is the unsplit run's" "$single_verdict" "$(verdict "$PG" group:pg-1)"
  "$VIGIL" group show pg-1 --db "$PG" --json > "$TMP/show.json"
  expect_eq "4 shards finished, every test in one" "finished finished finished finished 16" \
    "$(json_get "$TMP/show.json" "' '.join(s['state'] for s in d['shards']) + ' ' + str(sum(s['tests'] for s in d['shards']))")"
  # --list --shard shows each shard's part of the group's split, as run.
  listed=""
  for i in 1 2 3 4; do
    "$VIGIL" run --tests "$T" --db "$PG" --list --shard "$i/4" --run-group pg-1 --json "$TMP/list-$i.json" > /dev/null
    listed="$listed $(json_get "$TMP/list-$i.json" "str(len(d['tests'])) + ':' + d['shard']['split']")"
  done
  expect_eq "vigil run --list --shard lists what each shard ran" \
    "$(json_get "$TMP/show.json" "' '.join(str(s['tests']) + ':stored' for s in d['shards'])")" "${listed# }"
  # Two groups at once, 8 processes: neither sees the other's results.
  pids=()
  for g in pg-2 pg-3; do
    for i in 1 2 3 4; do
      "$VIGIL" run --tests "$T" --db "$PG" --shard "$i/4" --run-group "$g" --color never > "$TMP/$g-$i.out" 2>&1 &
      pids+=($!)
    done
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  for g in pg-2 pg-3; do
    "$VIGIL" group wait "$g" --db "$PG" --timeout 30 --poll 0.2 --json "$TMP/$g.json" --color never > /dev/null || true
    summary "$TMP/$g.json" > "$TMP/$g.sum"
    expect_eq "group $g run beside another has the unsplit run's results" "$(cat "$TMP/single.sum")" "$(cat "$TMP/$g.sum")"
  done
  expect_eq "two groups are two runs" "different" \
    "$([ "$(json_get "$TMP/pg-2.json" "d['run_id']")" != "$(json_get "$TMP/pg-3.json" "d['run_id']")" ] && echo different)"

  # A shard killed with -9 while its tests run, then its command again.
  cmd=("$VIGIL" run --tests "$T" --db "$PG" --shard 1/2 --run-group pg-kill --color never)
  "${cmd[@]}" > "$TMP/kill-1.out" 2>&1 &
  pid=$!
  sleep 2.5
  kill -9 "$pid"
  wait "$pid" 2> /dev/null || true
  "$VIGIL" group show pg-kill --db "$PG" --json > "$TMP/kill-show.json"
  expect_eq "the killed shard is seen as died" "died" "$(json_get "$TMP/kill-show.json" "d['shards'][0]['state']")"
  set +e
  "${cmd[@]}" > "$TMP/kill-2.out" 2>&1
  "$VIGIL" run --tests "$T" --db "$PG" --shard 2/2 --run-group pg-kill --color never --json "$TMP/kill.json" \
    > "$TMP/kill-3.out" 2>&1
  rc=$?
  set -e
  expect_eq "the resumed group exits as the unsplit run" "$single_rc" "$rc"
  summary "$TMP/kill.json" > "$TMP/kill.sum"
  expect_eq "the killed and resumed group has the unsplit run's results, each test once" \
    "$(cat "$TMP/single.sum")" "$(cat "$TMP/kill.sum")"
  grep -q "done before" "$TMP/kill-2.out" && pass "the shard's command resumed it" ||
    fail "the shard's command did not resume it: $(head -n 3 "$TMP/kill-2.out")"
elif [ "$pg_rc" = 77 ]; then
  echo "skip: the PostgreSQL part (no PostgreSQL: scripts/install-deps.sh installs it)"
else
  fail "the PostgreSQL server did not start"
fi

# --- SQLite: a file per shard, merged (the GitHub Actions workflow) --------
WF="$VIGIL_SRC/examples/github-actions-shards.yml"
"$PY" - "$WF" "$TMP/wf" <<'PYEOF'
import os, sys, yaml
wf = yaml.safe_load(open(sys.argv[1]))
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
shard = wf["jobs"]["shard"]
assert shard["strategy"]["matrix"]["shard"] == [1, 2, 3, 4], shard["strategy"]
steps = {s.get("name"): s for s in shard["steps"]}
report = {s.get("name"): s for s in wf["jobs"]["report"]["steps"]}
assert wf["jobs"]["report"]["needs"] == "shard"
assert steps["Upload the shard's store"]["with"]["path"] == "shard.db"
assert report["Download the shards' stores"]["with"]["path"] == "shards"
open(os.path.join(out, "shard.sh"), "w").write(steps["Tests"]["run"])
open(os.path.join(out, "report.sh"), "w").write(report["Merge and report"]["run"])
PYEOF
expect_eq "the workflow parses and has its shard and report steps" "yes" "$([ -s "$TMP/wf/shard.sh" ] && [ -s "$TMP/wf/report.sh" ] && echo yes)"
mkdir -p "$TMP/gh/bin" "$TMP/gh/report/shards"
ln -s "$VIGIL" "$TMP/gh/bin/vigil"
cp "$TMP/single.db" "$TMP/gh/report/history.db"  # the cache: the history the split follows
pids=()
for i in 1 2 3 4; do
  mkdir -p "$TMP/gh/shard-$i"
  cp "$TMP/single.db" "$TMP/gh/shard-$i/history.db"
  sed "s/\${{ matrix.shard }}/$i/g" "$TMP/wf/shard.sh" > "$TMP/gh/shard-$i/step.sh"
  (cd "$TMP/gh/shard-$i" && PATH="$TMP/gh/bin:$PATH" KSFT="$T" VIGIL_GROUP=gh-1 bash -e step.sh > out 2>&1) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
for i in 1 2 3 4; do
  mkdir -p "$TMP/gh/report/shards/vigil-shard-$i"
  cp "$TMP/gh/shard-$i/shard.db" "$TMP/gh/report/shards/vigil-shard-$i/"
done
set +e
(cd "$TMP/gh/report" && PATH="$TMP/gh/bin:$PATH" VIGIL_GROUP=gh-1 GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TMP/gh/summary.md" \
  bash -e "$TMP/wf/report.sh" > out 2>&1)
rc=$?
set -e
expect_eq "the workflow's report step exits as the unsplit run" "$single_rc" "$rc"
grep -q "every shard is in" "$TMP/gh/report/out" && pass "vigil merge joined the 4 shards" || fail "merge: $(head "$TMP/gh/report/out")"
grep -q "^::error" "$TMP/gh/report/out" && pass "annotations for the failure" || fail "no ::error annotation"
grep -q "t05" "$TMP/gh/summary.md" && pass "the job summary names the failure" || fail "job summary: $(head -c 300 "$TMP/gh/summary.md")"
expect_eq "JUnit written" "yes" "$([ -s "$TMP/gh/report/junit.xml" ] && echo yes)"
"$VIGIL" group wait gh-1 --db "$TMP/gh/report/history.db" --timeout 5 --json "$TMP/gh.json" --color never > /dev/null || true
summary "$TMP/gh.json" > "$TMP/gh.sum"
expect_eq "the merged group has the unsplit run's results" "$(cat "$TMP/single.sum")" "$(cat "$TMP/gh.sum")"
expect_eq "the merged group's verdict is the unsplit run's" "$single_verdict" "$(verdict "$TMP/gh/report/history.db" group:gh-1)"
expect_eq "the history is in the merged store once: 2 runs" "2" \
  "$(sqlite3 "$TMP/gh/report/history.db" "select count(*) from runs")"
# Merging the same files again changes nothing.
(cd "$TMP/gh/report" && "$VIGIL" merge history.db shards/*/shard.db > again 2>&1)
expect_eq "merging again adds nothing" "2 16" \
  "$(sqlite3 "$TMP/gh/report/history.db" "select count(*) from runs; select count(*) from tests where run_id = 2" | tr '\n' ' ' | sed 's/ $//')"

# --- The Kubernetes Jobs: an Indexed Job of 4 shards, a report Job ---------
"$PY" - "$VIGIL_SRC/examples/kubernetes-shards.yaml" "$TMP/k8s" <<'PYEOF'
import os, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
shards, report = docs
assert shards["kind"] == "Job" and shards["spec"]["completionMode"] == "Indexed"
assert shards["spec"]["completions"] == 4 and shards["spec"]["parallelism"] == 4
c = shards["spec"]["template"]["spec"]["containers"][0]
assert c["command"] == ["/bin/sh", "-c"]
open(os.path.join(out, "shard.sh"), "w").write(c["args"][0])
group = [e["value"] for e in c["env"] if e["name"] == "VIGIL_GROUP"][0]
r = report["spec"]["template"]["spec"]["containers"][0]
assert [e["value"] for e in r["env"] if e["name"] == "VIGIL_GROUP"][0] == group
open(os.path.join(out, "report.sh"), "w").write(r["args"][0])
PYEOF
expect_eq "the Kubernetes Jobs parse" "yes" "$([ -s "$TMP/k8s/shard.sh" ] && [ -s "$TMP/k8s/report.sh" ] && echo yes)"
if [ "$pg_rc" = 0 ]; then
  pids=()
  for idx in 0 1 2 3; do
    PATH="$TMP/gh/bin:$PATH" JOB_COMPLETION_INDEX=$idx VIGIL_DB="$PG" VIGIL_GROUP=selftests-1 KSFT="$T" \
      sh -c "$(cat "$TMP/k8s/shard.sh")" > "$TMP/k8s/out-$idx" 2>&1 &
    pids+=($!)
  done
  set +e
  PATH="$TMP/gh/bin:$PATH" VIGIL_DB="$PG" VIGIL_GROUP=selftests-1 sh -c "$(cat "$TMP/k8s/report.sh")" > "$TMP/k8s/report.out" 2>&1
  rc=$?
  set -e
  for p in "${pids[@]}"; do wait "$p" || true; done
  expect_eq "the Kubernetes report Job exits as the unsplit run" "$single_rc" "$rc"
  "$VIGIL" group show selftests-1 --db "$PG" --json > "$TMP/k8s.json"
  expect_eq "the Indexed Job's 4 pods ran the 4 shards" "finished finished finished finished" \
    "$(json_get "$TMP/k8s.json" "' '.join(s['state'] for s in d['shards'])")"
fi
finish
