#!/usr/bin/env bash
# What vigil is given, checked before it is trusted: `vigil run --list`,
# errors that name the problem (--db, --modules, --accel kvm, an unknown
# command, a compressed console, --resume with options it ignores, settings
# keys, a listed test missing from disk), --env-clear/--env-keep, parse
# --quiet/--json, duplicate list lines and timeouts out of range.
source "$(dirname "$0")/lib.sh"

# has WHAT FILE TEXT: FILE contains TEXT (fixed string).
has() { if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1: no [$3] in: $(head -c 600 "$2")"; fi; }
# sql DB QUERY: the rows, one value per line (logs' outputs as text).
sql() {
  "$PY" -c 'import sqlite3,sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    v = row[0]
    print(v.decode(errors="replace") if isinstance(v, bytes) else v)' "$1" "$2"
}
# code WHAT EXPECTED -- CMD...: CMD exits EXPECTED; its stdout+stderr in $TMP/o.
code() {
  local what=$1 want=$2
  shift 3
  set +e
  "$@" > "$TMP/o" 2>&1
  local rc=$?
  set -e
  expect_eq "$what: exit status" "$want" "$rc"
}

# A kselftest tree: c:a.sh listed twice with a whitespace-only line between,
# c:env.sh printing its environment, c:gone.sh listed but missing, d:slow.sh.
K="$TMP/kst"
mkdir -p "$K/c" "$K/d"
printf 'c:a.sh\n   \nc:env.sh\nc:a.sh\nc:gone.sh\nd:quick.sh\n' > "$K/kselftest-list.txt"
printf '#!/bin/sh\necho a ran >> "%s/a.count"\n' "$TMP" > "$K/c/a.sh"
printf '#!/bin/sh\nenv\n' > "$K/c/env.sh"
printf '#!/bin/sh\necho quick\n' > "$K/d/quick.sh"
chmod +x "$K"/c/*.sh "$K"/d/*.sh
printf 'timeout=120\ntimout=30\n' > "$K/c/settings"
cat > "$K/vigil.toml" <<'TOML'
[[class]]
match = "c:*"
max_parallel = 1

[[class]]
match = "d:*"
serial = true

[[test]]
match = "c:env.sh"
retries = 2
shards = ["-x", "-y z"]
TOML

# --list: the plan in order, with timeouts, retries, classes, shards; nothing run.
code "--list" 0 -- "$VIGIL" run --tests "$K" --list --db "$TMP/list.db"
cat "$TMP/o"
has "--list shows a's timeout and class" "$TMP/o" "c:a.sh      timeout 120s  class c:* (max 1)"
has "--list shows a shard with its retries and args" "$TMP/o" "c:env.sh#2  timeout 120s  retries 2  class c:* (max 1)  args -y z"
has "--list shows a serial test" "$TMP/o" "d:quick.sh  timeout 45s  serial"
has "--list marks a missing test" "$TMP/o" "c:gone.sh   timeout 120s  class c:* (max 1)  NOT FOUND"
has "--list counts" "$TMP/o" "5 tests from $K (config $K/vigil.toml); nothing was run"
has "--list warns of the duplicate once" "$TMP/o" "kselftest-list.txt:1: c:a.sh is listed again on line 4; it runs once"
has "--list reports the unknown settings key with file:line" "$TMP/o" "$K/c/settings:2: unknown setting 'timout', ignored"
expect_eq "--list runs nothing" "no" "$([ -e "$TMP/a.count" ] && echo yes || echo no)"
expect_eq "--list records nothing" "no" "$([ -e "$TMP/list.db" ] && echo yes || echo no)"
expect_eq "--list order" "c:a.sh c:env.sh#1 c:env.sh#2 c:gone.sh d:quick.sh" \
  "$(grep -o '^[a-z]:[a-z.#0-9]*' "$TMP/o" | tr '\n' ' ' | sed 's/ $//')"
code "--list -t and --slowdown" 0 -- "$VIGIL" run --tests "$K" --list -t c:env.sh#1 --slowdown 2
has "--list -t picks one shard, stretched" "$TMP/o" "c:env.sh#1  timeout 120s (x2 = 240s)  retries 2"
expect_eq "--list -t lists one" 1 "$(grep -c '^c:' "$TMP/o")"
code "--list --json" 0 -- "$VIGIL" run --tests "$K" --list --json "$TMP/plan.json" -c d
expect_eq "--list --json tests" "d:quick.sh 45 True" \
  "$(json_get "$TMP/plan.json" "' '.join(f\"{t['path']} {t['timeout_s']} {t['serial']}\" for t in d['tests'])")"

# A duplicated list line runs once and the run ends cleanly; the missing
# test is recorded as not found.
code "run with a duplicate line" 1 -- "$VIGIL" run --tests "$K" --db "$TMP/run.db" --json "$TMP/run.json" -c c
cat "$TMP/o"
expect_eq "a duplicated test ran once" 1 "$(wc -l < "$TMP/a.count")"
has "duplicate warned" "$TMP/o" "c:a.sh is listed again on line 4; it runs once"
expect_eq "warned once" 1 "$(grep -c 'listed again' "$TMP/o")"
if grep -q UNIQUE "$TMP/o"; then fail "a UNIQUE error was printed"; else pass "no UNIQUE error"; fi
expect_eq "the duplicated test is recorded once" 1 \
  "$(sql "$TMP/run.db" "select count(*) from tests where path = 'c:a.sh'")"
expect_eq "missing test is ERROR" ERROR "$(json_get "$TMP/run.json" "[t['status'] for t in d['tests'] if t['path']=='c:gone.sh'][0]")"
has "missing test says not found" "$TMP/o" "$K/c/gone.sh: not found (listed, but missing from the test tree)"

# --resume with options it does not use says which.
code "--resume with -t and --tests" 1 -- "$VIGIL" run --db "$TMP/run.db" --resume last --tests "$K" -t c:a.sh
has "--resume names what it ignores" "$TMP/o" "--resume last: ignoring --tests, -t/--test: a resumed run runs the rest of its own plan"

# --env-clear / --env-keep: a test printing `env` sees only the basics and what is kept.
code "--env-clear" 0 -- env VIGIL_E2E_SECRET=s3cret VIGIL_E2E_KEEP=kept LC_ALL=C \
  "$VIGIL" run --tests "$K" --db "$TMP/env.db" -t c:env.sh#1 --env-clear --json "$TMP/env1.json"
sql "$TMP/env.db" "select output from logs" > "$TMP/env1"
has "--env-clear keeps PATH" "$TMP/env1" "PATH="
has "--env-clear keeps LC_ALL" "$TMP/env1" "LC_ALL=C"
if grep -q VIGIL_E2E "$TMP/env1"; then fail "--env-clear leaked a variable"; else pass "--env-clear drops the rest"; fi
code "--env-keep" 0 -- env VIGIL_E2E_SECRET=s3cret VIGIL_E2E_KEEP=kept \
  "$VIGIL" run --tests "$K" --db "$TMP/env2.db" -t c:env.sh#1 --env-keep 'VIGIL_E2E_K*,NOPE'
sql "$TMP/env2.db" "select output from logs" > "$TMP/env2"
has "--env-keep keeps what it names" "$TMP/env2" "VIGIL_E2E_KEEP=kept"
if grep -q s3cret "$TMP/env2"; then fail "--env-keep leaked the secret"; else pass "--env-keep drops the rest"; fi
code "default environment" 0 -- env VIGIL_E2E_SECRET=s3cret \
  "$VIGIL" run --tests "$K" --db "$TMP/env3.db" -t c:env.sh#1
sql "$TMP/env3.db" "select output from logs" > "$TMP/env3"
has "by default tests inherit vigil's environment (stored verbatim)" "$TMP/env3" "VIGIL_E2E_SECRET=s3cret"

# Timeouts out of range are refused with file:line, before anything runs.
T="$TMP/t"
mkdir -p "$T/c"
printf 'c:quick.sh\n' > "$T/kselftest-list.txt"
printf '#!/bin/sh\necho quick\n' > "$T/c/quick.sh"
chmod +x "$T/c/quick.sh"
printf '# slow\ntimeout=9999999999\n' > "$T/c/settings"
code "settings timeout=9999999999" 2 -- "$VIGIL" run --tests "$T" --db "$TMP/t.db"
has "settings timeout names file:line and the range" "$TMP/o" \
  "$T/c/settings:2: timeout must be whole seconds from 0 (none) to 604800 (7 days), not 9999999999"
printf 'timeout=abc\n' > "$T/c/settings"
code "settings timeout=abc" 2 -- "$VIGIL" run --tests "$T" --db "$TMP/t.db" --list
has "a malformed timeout names file:line" "$TMP/o" "$T/c/settings:1: timeout must be whole seconds"
rm "$T/c/settings"
for v in 4294967297 2147483648; do
  printf '[[test]]\nmatch = "c:*"\ntimeout = %s\n' "$v" > "$T/vigil.toml"
  code "vigil.toml timeout = $v" 2 -- "$VIGIL" run --tests "$T" --db "$TMP/t.db"
  has "vigil.toml timeout $v names file:line" "$TMP/o" "$T/vigil.toml:3"
  has "vigil.toml timeout $v says the range" "$TMP/o" "0 (none) to 604800 (7 days), not $v"
done
printf '[[test]]\nmatch = "c:*"\ntimeout = 604800\n' > "$T/vigil.toml"
code "the longest timeout, stretched, runs an instant test" 0 -- "$VIGIL" run --tests "$T" --db "$TMP/t.db" \
  --slowdown 1000 --json "$TMP/t.json"
expect_eq "instant test under the longest timeout" PASS "$(json_get "$TMP/t.json" "d['tests'][0]['status']")"

code "--hang-timeout out of range" 2 -- "$VIGIL" run --tests "$T" --list --hang-timeout 9999999999
has "--hang-timeout says the same range" "$TMP/o" "--hang-timeout: the timeout must be whole seconds from 0 (none) to 604800 (7 days)"

# --db on a path that cannot be a store names the path and the reason.
code "--db in a missing directory" 2 -- "$VIGIL" run --tests "$T" --db "$TMP/no/such/dir/v.db"
has "--db names path and reason" "$TMP/o" "cannot open the store $TMP/no/such/dir/v.db: $TMP/no/such/dir/: No such file or directory"
code "--db on a directory" 2 -- "$VIGIL" run --tests "$T" --db "$TMP"
has "--db on a directory says so" "$TMP/o" "cannot open the store $TMP: Is a directory"
code "--db under a file" 2 -- "$VIGIL" run --tests "$T" --db "$T/kselftest-list.txt/v.db"
has "--db under a file says so" "$TMP/o" "Not a directory"

# As a user who may not write there: a new store in a read-only directory,
# an existing read-only store (root writes everywhere, so only as root).
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  chmod 711 "$TMP"
  mkdir -p "$TMP/ro"
  "$VIGIL" run --tests "$T" --db "$TMP/ro/v.db" > /dev/null 2>&1 || true
  chmod -R a+rX "$TMP/ro" "$T"
  chmod 444 "$TMP/ro/v.db"
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  code "new store in a read-only directory" 2 -- as_nobody "$VIGIL" run --tests "$T" --db "$TMP/ro/new.db"
  has "read-only directory named with the reason" "$TMP/o" "cannot open the store $TMP/ro/new.db: $TMP/ro/: Permission denied"
  code "read-only store" 2 -- as_nobody "$VIGIL" run --tests "$T" --db "$TMP/ro/v.db"
  has "read-only store named with the reason" "$TMP/o" "$TMP/ro/v.db or its directory is not writable: Permission denied"
  chmod 777 "$TMP/ro"
  code "read-only store in a writable directory" 2 -- as_nobody "$VIGIL" run --tests "$T" --db "$TMP/ro/v.db"
  has "read-only store file named" "$TMP/o" "the store $TMP/ro/v.db is read-only"
  chmod 700 "$TMP"
fi

# --modules that is not there: said once, nothing booted.
printf 'not a kernel\n' > "$TMP/vmlinuz"
code "--modules missing" 2 -- "$VIGIL" run --tests "$T" --db "$TMP/vm.db" --kernel "$TMP/vmlinuz" --modules "$TMP/nomods"
has "--modules names the directory" "$TMP/o" "--modules $TMP/nomods: No such file or directory"
expect_eq "--modules error said once, in one line" 1 "$(wc -l < "$TMP/o")"
if grep -q booting "$TMP/o"; then fail "booted with a missing --modules"; else pass "nothing booted"; fi

# --accel kvm without a usable /dev/kvm fails before booting (where the
# device opens and answers as KVM the check passes; src/vm/vm_runner_test.cc
# covers a device that is not KVM).
if ! [ -e /dev/kvm ]; then
  code "--accel kvm without /dev/kvm" 2 -- "$VIGIL" run --tests "$T" --db "$TMP/vm.db" --kernel "$TMP/vmlinuz" --accel kvm
  has "--accel kvm names the device" "$TMP/o" "--accel kvm: cannot use KVM: /dev/kvm: No such file or directory"
  if grep -q booting "$TMP/o"; then fail "booted without KVM"; else pass "nothing booted without KVM"; fi
else
  echo "note: /dev/kvm exists here; the missing-device case is left to the unit tests"
fi

# An unknown subcommand says so.
code "unknown command" 2 -- "$VIGIL" frobnicate --x
has "unknown command named" "$TMP/o" "vigil: unknown command 'frobnicate'"

# vigil scan of a compressed console says so instead of reporting it clean.
printf '[    1.000000] ------------[ cut here ]------------\n[    1.000001] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2\n' > "$TMP/console.log"
gzip -c "$TMP/console.log" > "$TMP/console.log.gz"
xz -c "$TMP/console.log" > "$TMP/console.log.xz"
for z in gz xz; do
  code "scan of a .$z console" 2 -- "$VIGIL" scan "$TMP/console.log.$z"
  has "scan says the .$z file is compressed" "$TMP/o" "is $( [ $z = gz ] && echo gzip || echo xz)-compressed; decompress it first"
done
if command -v zstd > /dev/null; then
  zstd -q -c "$TMP/console.log" > "$TMP/console.log.zst"
  code "scan of a .zst console" 2 -- "$VIGIL" scan "$TMP/console.log.zst"
  has "scan says the .zst file is compressed" "$TMP/o" "is zstd-compressed"
fi
code "parse of a .gz log" 2 -- "$VIGIL" parse "$TMP/console.log.gz"
has "parse says the log is compressed" "$TMP/o" "vigil parse: $TMP/console.log.gz is gzip-compressed; decompress it first: zcat"
code "scan of a compressed pipe" 2 -- sh -c "'$VIGIL' scan - < '$TMP/console.log.gz'"
has "scan of a compressed pipe says so" "$TMP/o" "standard input is gzip-compressed"

# vigil parse --quiet prints the failures (as its help says), --json is --format json.
cat > "$TMP/k.log" <<'KTAP'
TAP version 13
1..3
ok 1 fine
    KTAP version 1
    1..2
    ok 1 good
    not ok 2 broken_sub
not ok 2 parent
not ok 3 lone
KTAP
for mode in "" "--stream"; do
  code "parse --quiet $mode" 1 -- "$VIGIL" parse --quiet $mode "$TMP/k.log"
  has "parse --quiet $mode lists a failing subtest" "$TMP/o" "[FAIL] parent > broken_sub"
  has "parse --quiet $mode lists a failing test" "$TMP/o" "[FAIL] lone"
  has "parse --quiet $mode counts" "$TMP/o" "Failures (2):"
  if grep -q '\[PASS\] fine' "$TMP/o"; then fail "parse --quiet $mode printed the tree"; else pass "parse --quiet $mode: no tree"; fi
done
# Many failures: the summary lists the first 1000 and counts the rest, the
# same in both modes; a long name above them is not copied into memory for
# each.
python3 - "$TMP/many.log" <<'PY'
import sys
name = "P" * 2000
with open(sys.argv[1], "w") as f:
    f.write("KTAP version 1\n1..20\n")
    for t in range(1, 21):
        f.write("    KTAP version 1\n    1..3000\n")
        for i in range(1, 3001):
            f.write(f"    not ok {i} sub{i}\n")
        f.write(f"not ok {t} {name}{t}\n")
PY
for mode in "" "--stream"; do
  code "parse --quiet $mode, 60000 failures" 1 -- "$VIGIL" parse --quiet $mode "$TMP/many.log"
  cp "$TMP/o" "$TMP/many$mode.out"
  has "parse --quiet $mode counts them all" "$TMP/o" "Failures (60000):"
  has "parse --quiet $mode says how many are not listed" "$TMP/o" "  ... 59000 more"
  expect_eq "parse --quiet $mode lists 1000" 1000 "$(grep -c '^  \[FAIL\] P' "$TMP/o")"
done
if cmp -s "$TMP/many.out" "$TMP/many--stream.out"; then pass "parse --quiet: the same summary with and without --stream"; else fail "parse --quiet: the summaries differ with --stream"; fi
/usr/bin/time -f '%M' -o "$TMP/many.rss" "$VIGIL" parse --quiet "$TMP/many.log" > /dev/null || true
peak=$(tail -1 "$TMP/many.rss")
if [ "$peak" -lt 65536 ]; then pass "parse --quiet of 60000 failures under long names: $peak KiB"; else fail "parse --quiet of 60000 failures took $peak KiB"; fi
code "parse --json" 1 -- "$VIGIL" parse --json "$TMP/k.log"
expect_eq "parse --json is the JSON report" "FAIL 3" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["status"], len(d["tests"]))' "$TMP/o")"
code "parse --json with another format" 2 -- "$VIGIL" parse --json --format junit "$TMP/k.log"
has "parse --json --format junit is refused" "$TMP/o" "--json is --format json"

finish
