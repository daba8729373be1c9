#!/usr/bin/env bash
# Progress off a terminal (a CI log): a line when a test starts and
# "[still running]" lines while it runs, before its result; -v streams each
# test's output prefixed with its name, whole lines even with -j 2, made safe
# for a terminal.
source "$(dirname "$0")/lib.sh"

T="$TMP/tree"
mkdir -p "$T/coll"
printf 'coll:wait.sh\ncoll:a.sh\ncoll:b.sh\ncoll:nap.sh\n' > "$T/kselftest-list.txt"
printf 'timeout=300\n' > "$T/coll/settings"
export PROGRESS_DIR="$TMP"

# Runs until the script below says go (at most 250 s, then fails).
cat > "$T/coll/wait.sh" <<'EOF'
#!/bin/sh
echo "waiting for go"
i=0
while [ ! -e "$PROGRESS_DIR/go" ]; do
  sleep 0.1; i=$((i + 1)); [ $i -lt 2500 ] || exit 1
done
echo "went"
EOF
# a.sh and b.sh wait for each other, then print 5000 long lines each (in
# pipe-sized pieces that cut lines anywhere) at the same time.
for n in a b; do
  other=$([ $n = a ] && echo b || echo a)
  cat > "$T/coll/$n.sh" <<EOF
#!/bin/sh
touch "\$PROGRESS_DIR/started-$n"
i=0
while [ ! -e "\$PROGRESS_DIR/started-$other" ]; do
  sleep 0.1; i=\$((i + 1)); [ \$i -lt 600 ] || exit 1
done
printf 'esc \033[2J end\r\n'
yes "\$(printf '$n%.0s' \$(seq 300))" | head -n 5000
EOF
done
printf '#!/bin/sh\nsleep 2\n' > "$T/coll/nap.sh"
chmod +x "$T"/coll/*.sh

# 1. Piped to a file: [start], then [still running], then the result.
"$VIGIL" run --tests "$T" -t coll:wait.sh --db "$TMP/p.db" --progress-interval 1 --color never > "$TMP/out" 2>&1 &
pid=$!
for _ in $(seq 1200); do
  grep -q '^\[still running\] coll:wait.sh' "$TMP/out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
touch "$TMP/go"
set +e
wait "$pid"
rc=$?
set -e
cat "$TMP/out"
expect_eq "wait.sh passes" 0 "$rc"
line_of() { grep -n -m1 "$1" "$TMP/out" | cut -d: -f1; }
start=$(line_of '^\[start\] coll:wait.sh (timeout 300s)$')
still=$(line_of '^\[still running\] coll:wait.sh ([0-9]*s, timeout 300s)$')
result=$(line_of '^\[PASS\] coll:wait.sh ')
if [ -n "$start" ] && [ -n "$still" ] && [ -n "$result" ] && [ "$start" -lt "$still" ] && [ "$still" -lt "$result" ]; then
  pass "start line, then still running, then the result (lines $start, $still, $result)"
else
  fail "order of start/still running/result: [$start] [$still] [$result]"
fi
expect_eq "without -v the test's output is not printed" 0 "$(grep -c 'waiting for go' "$TMP/out" || true)"

# --progress-interval 0: a start line but no still-running lines.
"$VIGIL" run --tests "$T" -t coll:nap.sh --db "$TMP/p.db" --progress-interval 0 --color never > "$TMP/nap" 2>&1
expect_eq "interval 0: start line" 1 "$(grep -c '^\[start\] coll:nap.sh' "$TMP/nap")"
expect_eq "interval 0: no still-running line" 0 "$(grep -c 'still running' "$TMP/nap" || true)"

# 2. -v with -j 2: both tests' lines, prefixed, each whole.
"$VIGIL" run --tests "$T" -t coll:a.sh -t coll:b.sh -j 2 -v --db "$TMP/p.db" --color never > "$TMP/v" 2>&1
for n in a b; do
  full="coll:$n.sh: $(printf "$n%.0s" $(seq 300))"
  expect_eq "-v: 5000 whole lines of $n.sh" 5000 "$(grep -c -x -F "$full" "$TMP/v")"
  expect_eq "-v: every line with $n.sh's text is one of them" 5000 "$(grep -c "$n$n$n$n" "$TMP/v")"
  expect_eq "-v: escape sequence and CR made safe" "coll:$n.sh: esc �[2J end" "$(grep "^coll:$n.sh: esc" "$TMP/v")"
done
expect_eq "-v: no raw escape reaches the log" 0 "$(grep -c $'\033' "$TMP/v" || true)"
expect_eq "-v: both results" 2 "$(grep -c '^\[PASS\] coll:[ab].sh' "$TMP/v")"
finish
