#!/usr/bin/env bash
# vigil scan on the recorded console corpus (tests/console/corpus/<kernel
# line>/*.log, made on real Debian cloud kernels by scripts/console-corpus.sh):
# every log's reports must match its .expect sidecar (count, and for the first
# report type, title and fatal). Then the same logs through standard input,
# concatenated, and the exit codes.
source "$(dirname "$0")/lib.sh"
corpus="$VIGIL_SRC/tests/console/corpus"
n=0
for expect in "$corpus"/*/*.expect; do
  log=${expect%.expect}.log
  name=$(basename "$(dirname "$log")")/$(basename "$log" .log)
  n=$((n + 1))
  set +e
  "$VIGIL" scan --json "$log" > "$TMP/scan.json"
  rc=$?
  set -e
  want_count=$(sed -n 's/^count: *//p' "$expect")
  got_count=$(json_get "$TMP/scan.json" 'len(d["reports"])')
  expect_eq "$name: report count" "$want_count" "$got_count"
  if [ "$want_count" = 0 ]; then
    expect_eq "$name: exit code without reports" 0 "$rc"
    continue
  fi
  expect_eq "$name: exit code with reports" 1 "$rc"
  expect_eq "$name: type" "$(sed -n 's/^type: *//p' "$expect")" "$(json_get "$TMP/scan.json" 'd["reports"][0]["type"]')"
  expect_eq "$name: title" "$(sed -n 's/^title: *//p' "$expect")" "$(json_get "$TMP/scan.json" 'd["reports"][0]["title"]')"
  want_fatal=$(sed -n 's/^fatal: *//p' "$expect")
  got_fatal=$(json_get "$TMP/scan.json" '"yes" if d["reports"][0]["fatal"] else "no"')
  expect_eq "$name: fatal" "$want_fatal" "$got_fatal"
  # The span is real lines of the log, and the report text holds its first line.
  # (read in this shell: a pipe into a block would count its results in a subshell)
  read -r s e frames < <(json_get "$TMP/scan.json" \
    'd["reports"][0]["start_line"], d["reports"][0]["end_line"], len(d["reports"][0]["frames"])')
  total=$(wc -l < "$log")
  # A refcount wait ("unregister_netdevice: waiting for lo to become free") is
  # one line without a call trace; every other report has frames.
  min_frames=1
  [ "$(sed -n 's/^type: *//p' "$expect")" = netdev_refcnt ] && min_frames=0
  if [ "$s" -ge 1 ] && [ "$s" -le "$e" ] && [ "$e" -le "$total" ] && [ "$frames" -ge "$min_frames" ]; then
    pass "$name: span $s-$e of $total lines, $frames frames"
  else fail "$name: span $s-$e of $total lines, $frames frames"; fi
done
if [ "$n" -lt 15 ]; then fail "corpus: only $n logs with a sidecar"; else pass "corpus: $n logs"; fi

# All logs at once through stdin: the sum of the counts, same titles.
want_total=0
for expect in "$corpus"/*/*.expect; do want_total=$((want_total + $(sed -n 's/^count: *//p' "$expect"))); done
cat "$corpus"/*/*.log | "$VIGIL" scan --json - > "$TMP/all.json" || true
expect_eq "all logs through stdin: report count" "$want_total" "$(json_get "$TMP/all.json" 'len(d["reports"])')"

# Text output and exit codes.
set +e
"$VIGIL" scan --color never "$corpus/6.1/warn.log" > "$TMP/warn.txt"; rc=$?
"$VIGIL" scan /nonexistent.log 2> "$TMP/err.txt"; rc_missing=$?
"$VIGIL" scan "$corpus" 2> /dev/null; rc_dir=$?
set -e
expect_eq "scan text: exit 1 with a report" 1 "$rc"
grep -q '^WARNING in vigil_crash_warn$' "$TMP/warn.txt" && pass "scan text: title line" || fail "scan text: title line"
grep -q '^1 kernel report(s), 0 fatal, in ' "$TMP/warn.txt" && pass "scan text: summary" || fail "scan text: summary"
expect_eq "scan: missing file exits 2" 2 "$rc_missing"
expect_eq "scan: a directory exits 2" 2 "$rc_dir"
grep -q 'cannot open /nonexistent.log' "$TMP/err.txt" && pass "scan: says why" || fail "scan: says why"
finish
