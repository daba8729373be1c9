#!/usr/bin/env bash
# Scheduling classes from vigil.toml beside the tests: with -j 3, the three
# tests of a max_parallel = 1 class never overlap, the serial test runs alone,
# and unconstrained tests do run side by side.
source "$(dirname "$0")/lib.sh"
FX="$VIGIL_SRC/tests/fixtures/classes"
export VIGIL_E2E_TIMES="$TMP/times"
mkdir -p "$VIGIL_E2E_TIMES"
set +e
"$VIGIL" run --tests "$FX" -j 3 --db "$TMP/c.db" --color never > "$TMP/out" 2>&1
rc=$?
set -e
expect_eq "all pass" 0 "$rc"
verdict=$("$PY" - "$VIGIL_E2E_TIMES" <<'PYEOF'
import os, sys
d = sys.argv[1]
iv = {}
for name in os.listdir(d):
    start, end = [float(x) for x in open(os.path.join(d, name)).read().split()]
    iv[name] = (start, end)
def overlap(a, b):
    return iv[a][0] < iv[b][1] and iv[b][0] < iv[a][1]
shared = [n for n in iv if n.startswith("shared_")]
problems = []
for i, a in enumerate(shared):
    for b in shared[i + 1:]:
        if overlap(a, b): problems.append(f"{a} overlaps {b}")
for other in iv:
    if other != "alone_only" and overlap("alone_only", other): problems.append(f"alone_only overlaps {other}")
ran_together = any(overlap(a, b) for a in iv for b in iv if a < b)
print("ok" if len(iv) == 6 and not problems and ran_together else f"{len(iv)} {problems} together={ran_together}")
PYEOF
)
expect_eq "class limits, serial test alone, parallelism elsewhere" ok "$verdict"

# On a terminal: a live status line (done/total, failures, ETA, what runs).
script -qec "'$VIGIL' run --tests '$FX' -j 3 --db '$TMP/tty.db'" /dev/null > "$TMP/tty" 2>&1 || true
grep -q $'\r\033\[K\[[0-9]/6\] 0 failed' "$TMP/tty" && pass "status line on a TTY" || fail "no status line"
grep -q "running: .*shared:" "$TMP/tty" && pass "status line names running tests" || fail "status line lacks running tests"
grep -q $'\033\[K' "$TMP/out" && fail "status line off a TTY" || pass "no status line off a TTY"

# Shards: a long test split by vigil.toml into parts that run side by side as
# tests of their own, each with its arguments (as mptcp_join.sh's groups).
mkdir -p "$TMP/sh/coll" "$TMP/shtimes"
cat > "$TMP/sh/coll/long.sh" <<SHEOF
#!/bin/sh
n=\$(echo "\$*" | tr ' -' '_')
date +%s.%N > "$TMP/shtimes/\$n.start"
sleep 1
date +%s.%N > "$TMP/shtimes/\$n.end"
[ "\$1" = "-x" ] && exit 1
exit 0
SHEOF
chmod +x "$TMP/sh/coll/long.sh"
echo "coll:long.sh" > "$TMP/sh/kselftest-list.txt"
printf '[[test]]\nmatch = "coll:long.sh"\nshards = ["-a -b", "-c", "-x"]\n' > "$TMP/sh/vigil.toml"
set +e
"$VIGIL" run --tests "$TMP/sh" -j 3 --db "$TMP/sh.db" --json "$TMP/sh.json" --color never > "$TMP/sh.out" 2>&1
rc=$?
set -e
expect_eq "shards: one failing shard fails the run" 1 "$rc"
expect_eq "shards: three tests" "coll:long.sh#1 PASS|coll:long.sh#2 PASS|coll:long.sh#3 FAIL" \
  "$(json_get "$TMP/sh.json" '"|".join(t["path"] + " " + t["status"] for t in d["tests"])')"
expect_eq "shards: each ran with its arguments" "_a__b _c _x" "$(cd "$TMP/shtimes" && ls *.start | sed 's/.start$//' | sort | xargs)"
overlap=$("$PY" - "$TMP/shtimes" <<'PYEOF'
import os, sys
d = sys.argv[1]
iv = [(float(open(os.path.join(d, n)).read()), float(open(os.path.join(d, n[:-6] + ".end")).read()))
      for n in os.listdir(d) if n.endswith(".start")]
print("yes" if any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(iv) for b in iv[i + 1:]) else "no")
PYEOF
)
expect_eq "shards ran side by side" yes "$overlap"
# The rerun command of a failed shard names it: -t TEST#N runs just that shard.
grep -q -- "-t coll:long.sh#3" "$TMP/sh.out" && pass "shards: rerun command names the shard" || fail "shards: rerun command"
set +e
"$VIGIL" run --tests "$TMP/sh" -t 'coll:long.sh#2' --db "$TMP/sh2.db" --json "$TMP/sh2.json" --color never > /dev/null 2>&1
rc=$?
"$VIGIL" run --tests "$TMP/sh" -t 'coll:long.sh#7' --db "$TMP/sh2.db" > "$TMP/sh7.out" 2>&1
rc7=$?
set -e
expect_eq "shards: -t TEST#2 runs that shard only" "0 coll:long.sh#2" "$rc $(json_get "$TMP/sh2.json" '" ".join(t["path"] for t in d["tests"])')"
expect_eq "shards: an unknown shard is a usage error" 2 "$rc7"

# A bad vigil.toml is a usage error that says where.
printf '[[class]]\nmatch = "x"\nmax_parallel = "two"\n' > "$TMP/bad.toml"
set +e
"$VIGIL" run --tests "$FX" --config "$TMP/bad.toml" --db "$TMP/c.db" > "$TMP/bad" 2>&1
rc=$?
set -e
expect_eq "bad config exit" 2 "$rc"
grep -q "bad.toml:3: max_parallel must be a positive integer" "$TMP/bad" && pass "bad config explained" || fail "$(cat "$TMP/bad")"
finish
