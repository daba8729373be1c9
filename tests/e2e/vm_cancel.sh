#!/usr/bin/env bash
# Cancelling a VM run (Debian's 6.12 cloud kernel under TCG, fetched as
# tests/e2e/vm.sh fetches it): SIGTERM to `vigil run --kernel` while a test
# runs in the guest ends QEMU and virtiofsd, records the test interrupted,
# exits 143; `--resume` boots the same kernel and completes the run.
source "$(dirname "$0")/lib.sh"
set -m  # background jobs get signals as foreground ones
k612=$(bash "$VIGIL_SRC/scripts/console-corpus.sh" --fetch-kernel --line 6.12 | tail -n 1)
rel=$(basename "$(dirname "$k612")")
T="$TMP/tests"
mkdir -p "$T/vmc"
echo "vmc:hang.sh" > "$T/kselftest-list.txt"
# Hangs until the host creates vmc/done (the test tree is shared live);
# says it started on the kernel's console.
cat > "$T/vmc/hang.sh" <<'SH'
#!/bin/sh
[ -e ./done ] && exit 0
echo "vigil-vm-cancel-started" > /dev/kmsg
sleep 1000
SH
chmod +x "$T/vmc/hang.sh"
VM="$TMP/vm"
db="$TMP/vm.db"
"$VIGIL" run --tests "$T" --kernel "$k612/boot/vmlinuz-$rel" --modules "$k612/lib/modules/$rel" --accel tcg \
  --vm-dir "$VM" --db "$db" --color never --json "$TMP/vm.json" > "$TMP/vm.out" 2>&1 &
pid=$!
for _ in $(seq 1800); do grep -qs vigil-vm-cancel-started "$VM/console.log" && break; sleep 0.1; done
if grep -qs vigil-vm-cancel-started "$VM/console.log"; then pass "the test runs in the guest"; else
  fail "the test never started: $(tail -5 "$TMP/vm.out")"; fi
expect_eq "QEMU and virtiofsd run before the signal" 2 "$(pgrep -fc -- "$VM/" || true)"
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_eq "SIGTERM: vigil exits 143" 143 "$rc"
for _ in $(seq 50); do pgrep -f -- "$VM/" > /dev/null || break; sleep 0.1; done
expect_eq "SIGTERM: QEMU and virtiofsd are gone" "" "$(pgrep -af -- "$VM/" || true)"
expect_eq "SIGTERM: the test is recorded interrupted, the run INTERRUPTED" "ERROR 1 INTERRUPTED" \
  "$("$PY" -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(*c.execute('select a.status, a.interrupted, r.status from attempts a, runs r').fetchone())" "$db")"
expect_eq "SIGTERM: the JSON report says so" "INTERRUPTED" "$(json_get "$TMP/vm.json" "d['status']")"
touch "$T/vmc/done"
set +e
"$VIGIL" run --resume last --db "$db" --vm-dir "$VM-2" --color never > "$TMP/vm-resume.out" 2>&1
rc=$?
set -e
expect_eq "--resume completes the run in a VM" 0 "$rc"
if grep -q "ran in a VM: resuming with --kernel" "$TMP/vm-resume.out"; then pass "--resume boots the same kernel"; else
  fail "--resume: $(cat "$TMP/vm-resume.out")"; fi
finish
