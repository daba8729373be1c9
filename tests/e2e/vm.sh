#!/usr/bin/env bash
# vigil run --kernel on Debian's cloud kernels under TCG (fetched with
# apt-get download into build/kernels by scripts/console-corpus.sh):
#  (a) MPTCP selftests of linux-source-6.12 pass on the 6.12 kernel;
#  (b) the same new selftests on the old 6.1 kernel finish, each verdict
#      reported, nothing hung;
#  (c) a test that panics the kernel is CRASH with the panic's title, the VM
#      boots again and the next test passes;
#  (d) a test that makes the kernel WARN (the crash module of tests/console)
#      fails with the report attached;
#  (e) a test that goes silent is a hang: TIMEOUT with the sysrq w/t dump,
#      the keys sent on the serial line.
source "$(dirname "$0")/lib.sh"
k612=$(bash "$VIGIL_SRC/scripts/console-corpus.sh" --fetch-kernel --line 6.12 | tail -n 1)
k61=$(bash "$VIGIL_SRC/scripts/console-corpus.sh" --fetch-kernel --line 6.1 | tail -n 1)
ko=$(bash "$VIGIL_SRC/scripts/console-corpus.sh" --module-only --line 6.1 | tail -n 1)
kst=$(bash "$VIGIL_SRC/scripts/build-mptcp-selftests.sh" "$VIGIL_BUILD/kselftest")
vm_args() {  # ROOT
  local rel
  rel=$(basename "$(dirname "$1")")
  echo "--kernel $1/boot/vmlinuz-$rel --modules $1/lib/modules/$rel --accel auto"
}

# (a) and (b)
for k in "$k612" "$k61"; do
  rel=$(basename "$(dirname "$k")")
  set +e
  # shellcheck disable=SC2046
  "$VIGIL" run --tests "$kst" -t net/mptcp:pm_netlink.sh $(vm_args "$k") --db "$TMP/mptcp.db" \
    --json "$TMP/mptcp-$rel.json" --color never > "$TMP/mptcp-$rel.out" 2>&1
  rc=$?
  set -e
  got=$(json_get "$TMP/mptcp-$rel.json" 'd["tests"][0]["status"] + " " + str(len(d["tests"][0]["subtests"]))')
  kernel=$(sqlite3 "$TMP/mptcp.db" "select e.kernel_release || ' ' || e.where_run || ' ' || e.accel from runs r join environments e on r.environment_id = e.id order by r.id desc limit 1")
  expect_eq "$rel: the run's environment is the VM's kernel" "$rel vm tcg" "$kernel"
  case $rel in
    6.12*) expect_eq "(a) pm_netlink.sh passes on $rel, with its subtests" "0 PASS" "$rc ${got%% *}"
           [ "${got##* }" -ge 10 ] && pass "(a) subtests reported: ${got##* }" || fail "(a) subtests: $got" ;;
    *) case ${got%% *} in
         PASS|FAIL|SKIP) pass "(b) pm_netlink.sh on $rel finished: $got (exit $rc)" ;;
         *) fail "(b) pm_netlink.sh on $rel: $got" ;;
       esac
       grep -q "TIMEOUT\|CRASH" "$TMP/mptcp-$rel.json" && fail "(b) something hung or crashed on $rel" || pass "(b) nothing hung on $rel" ;;
  esac
done

# (c), (d), (e) on the 6.1 kernel (its headers build the crash module).
mkdir -p "$TMP/t/coll"
cat > "$TMP/t/coll/panic.sh" <<'SH'
#!/bin/sh
echo "panicking the kernel"
echo c > /proc/sysrq-trigger
sleep 30
SH
cat > "$TMP/t/coll/after.sh" <<'SH'
#!/bin/sh
echo "alive on $(uname -r)"
SH
cat > "$TMP/t/coll/warn.sh" <<SH
#!/bin/sh
insmod $ko trigger=warn
echo "insmod returned \$?"
SH
cat > "$TMP/t/coll/silent.sh" <<'SH'
#!/bin/sh
echo "going silent"
sleep 600
SH
chmod +x "$TMP"/t/coll/*.sh
printf 'coll:panic.sh\ncoll:after.sh\ncoll:warn.sh\ncoll:silent.sh\ncoll:after.sh\n' | sort -u > /dev/null
printf 'coll:panic.sh\ncoll:after.sh\ncoll:warn.sh\ncoll:silent.sh\n' > "$TMP/t/kselftest-list.txt"
set +e
# shellcheck disable=SC2046
"$VIGIL" run --tests "$TMP/t" $(vm_args "$k61") --hang-timeout 10 --db "$TMP/t.db" --json "$TMP/t.json" \
  --color never > "$TMP/t.out" 2>&1
rc=$?
set -e
expect_eq "run with a crash exits 1" 1 "$rc"
expect_eq "(c) panic: CRASH" CRASH "$(json_get "$TMP/t.json" '[t["status"] for t in d["tests"] if t["path"]=="coll:panic.sh"][0]')"
expect_eq "(c) panic: title and fatal" "kernel panic: sysrq triggered crash True" \
  "$(json_get "$TMP/t.json" '[" ".join([t["crashes"][0]["title"], str(t["crashes"][0]["fatal"])]) for t in d["tests"] if t["path"]=="coll:panic.sh"][0]')"
expect_eq "(c) the next test passes in a fresh VM" PASS "$(json_get "$TMP/t.json" '[t["status"] for t in d["tests"] if t["path"]=="coll:after.sh"][0]')"
expect_eq "(d) WARNING: the test fails with the report" "FAIL WARNING in vigil_crash_warn warning False" \
  "$(json_get "$TMP/t.json" '[" ".join([t["status"], t["crashes"][0]["title"], t["crashes"][0]["type"], str(t["crashes"][0]["fatal"])]) for t in d["tests"] if t["path"]=="coll:warn.sh"][0]')"
expect_eq "(e) silence: TIMEOUT" TIMEOUT "$(json_get "$TMP/t.json" '[t["status"] for t in d["tests"] if t["path"]=="coll:silent.sh"][0]')"
out=$(sqlite3 "$TMP/t.db" "select l.output from logs l join attempts a on a.id = l.attempt_id join tests t on t.id = a.test_id where t.path = 'coll:silent.sh'")
grep -q "sysrq: Show Blocked State" <<< "$out" && pass "(e) the sysrq w dump is kept" || fail "(e) no sysrq w dump"
grep -q "sysrq w and t asked for its tasks on the serial line" <<< "$out" && pass "(e) the keys went on the serial line" ||
  fail "(e) sysrq: $(grep 'sysrq w and t' <<< "$out")"
grep -q "task:.*state:" <<< "$out" && pass "(e) the task dump is kept" || fail "(e) no task dump"
log=$(json_get "$TMP/t.json" 'd["console_log"]')
[ -s "$log" ] && grep -q "sysrq triggered crash" "$log" && pass "console log kept whole: $log" || fail "console log $log"
expect_eq "store: crashes by fingerprint" 2 "$(sqlite3 "$TMP/t.db" 'select count(distinct fingerprint) from crashes')"
# --on-crash stop: what follows a crash is not run, and the run says so.
printf 'coll:panic.sh\ncoll:after.sh\n' > "$TMP/t/kselftest-list.txt"
set +e
# shellcheck disable=SC2046
"$VIGIL" run --tests "$TMP/t" $(vm_args "$k61") --on-crash stop --db "$TMP/stop.db" \
  --json "$TMP/stop.json" --color never > "$TMP/stop.out" 2>&1
rc=$?
set -e
expect_eq "--on-crash stop: exit 1, only the crashed test" "1 coll:panic.sh CRASH" \
  "$rc $(json_get "$TMP/stop.json" '" ".join(t["path"] + " " + t["status"] for t in d["tests"])')"
grep -q "1 test(s) not run" "$TMP/stop.out" && pass "--on-crash stop says what was not run" || fail "$(cat "$TMP/stop.out")"
# --resume without --kernel boots what the run booted and runs the rest.
set +e
"$VIGIL" run --resume last --db "$TMP/stop.db" --json "$TMP/resume.json" --color never > "$TMP/resume.out" 2>&1
rc=$?
set -e
grep -q "ran in a VM: resuming with --kernel $k61" "$TMP/resume.out" && pass "--resume boots the run's kernel" \
  || fail "resume: $(head -n 3 "$TMP/resume.out")"
expect_eq "--resume in the VM: the rest ran there" "coll:after.sh PASS vm" \
  "$(json_get "$TMP/resume.json" '" ".join(t["path"] + " " + t["status"] for t in d["tests"] if t["path"] == "coll:after.sh")') $("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select e.where_run from runs r join environments e on e.id=r.environment_id').fetchone()[0])" "$TMP/stop.db")"

# An environment variable that is not UTF-8 reaches the test in the VM byte
# for byte, and the run is recorded (it once aborted vigil before booting).
mkdir -p "$TMP/envt/coll"
cat > "$TMP/envt/coll/env.sh" <<'SH'
#!/bin/sh
printf '%s' "$VIGIL_E2E_BYTES" | od -An -tx1
SH
chmod +x "$TMP/envt/coll/env.sh"
echo coll:env.sh > "$TMP/envt/kselftest-list.txt"
set +e
# shellcheck disable=SC2046
VIGIL_E2E_BYTES=$'a\xff\xfeb' "$VIGIL" run --tests "$TMP/envt" $(vm_args "$k61") --db "$TMP/env.db" \
  --json "$TMP/env.json" --color never > "$TMP/env.out" 2>&1
rc=$?
set -e
expect_eq "a non-UTF-8 environment variable in a VM run: recorded PASS" "0 PASS" \
  "$rc $(json_get "$TMP/env.json" 'd["tests"][0]["status"]')"
out=$(sqlite3 "$TMP/env.db" "select l.output from logs l join attempts a on a.id = l.attempt_id")
grep -q "61 ff fe 62" <<< "$out" && pass "the test saw the variable's bytes" || fail "env in the VM: $out"

# A kernel image QEMU cannot boot: the boot is retried, then QEMU's own words.
echo "not a kernel" > "$TMP/bad.img"
set +e
"$VIGIL" run --tests "$TMP/t" --kernel "$TMP/bad.img" --accel tcg --db "$TMP/bad.db" > "$TMP/bad.out" 2>&1
rc=$?
set -e
expect_eq "unbootable image: exit 2" 2 "$rc"
grep -q "qemu said: .*" "$TMP/bad.out" && pass "QEMU's error is reported: $(grep -m1 -A1 'qemu said' "$TMP/bad.out" | tail -n 1)" \
  || fail "no QEMU error: $(tail -n 5 "$TMP/bad.out")"
expect_eq "unbootable image: 3 boots tried" 3 "$(grep -c '^vm: boot [0-9] failed' "$TMP/bad.out")"

# Nothing left behind.
pgrep -f "qemu-system-x86_64.*$TMP" > /dev/null && fail "a QEMU survived" || pass "no QEMU left"
finish
