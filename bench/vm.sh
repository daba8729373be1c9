#!/usr/bin/env bash
# VM runner benchmarks on Debian's 6.12 cloud kernel under TCG, in one run:
#  1. Panic -> QEMU gone: N runs (default 10) of a test that panics the kernel
#     (echo c > /proc/sysrq-trigger); vigil reports, for each, the time from
#     the panic's first line read off the console to QEMU reaped. Median and
#     max; target <= 200 ms.
#  2. Boot overhead: time from `vigil run --kernel` starting to its first test
#     starting, against a bare QEMU boot of the same kernel with a minimal
#     busybox initramfs (time to its init's first line), 3 runs each, median;
#     target <= 1.5x.
#
#   bench/vm.sh [BUILD_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-10}
VIGIL=$(realpath "$BUILD/vigil")
root=$(bash scripts/console-corpus.sh --fetch-kernel --line 6.12 | tail -n 1)
rel=$(basename "$(dirname "$root")")
kernel="$root/boot/vmlinuz-$rel"
modules="$root/lib/modules/$rel"
work=$(mktemp -d /tmp/vigil-vm-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# 1. Panic -> QEMU gone.
mkdir -p "$work/p/coll"
printf '#!/bin/sh\necho c > /proc/sysrq-trigger\nsleep 30\n' > "$work/p/coll/panic.sh"
chmod +x "$work/p/coll/panic.sh"
echo "coll:panic.sh" > "$work/p/kselftest-list.txt"
: > "$work/panic-ms"
for i in $(seq 1 "$N"); do
  "$VIGIL" run --tests "$work/p" --kernel "$kernel" --modules "$modules" --accel tcg --db "$work/p.db" \
    --color never > "$work/p.out" 2>&1 || true
  sed -n 's/^vm: fatal kernel report: QEMU gone \([0-9]*\) ms.*/\1/p' "$work/p.out" >> "$work/panic-ms"
done
got=$(wc -l < "$work/panic-ms")
printf 'panic -> QEMU gone (%d of %d runs): median %s ms, max %s ms (target <= 200 ms)\n' "$got" "$N" \
  "$(median < "$work/panic-ms")" "$(sort -n "$work/panic-ms" | tail -n 1)"

# 2. Boot overhead.
mkdir -p "$work/ir/bin" && cp /bin/busybox "$work/ir/bin/"
printf '#!/bin/busybox sh\n/bin/busybox echo bare-init-ready\n/bin/busybox poweroff -f\n' > "$work/ir/init"
chmod +x "$work/ir/init"
(cd "$work/ir" && find . | cpio -o -H newc --quiet > "$work/bare.cpio")
echo "coll:true.sh" > "$work/t.list"
mkdir -p "$work/t/coll" && printf '#!/bin/sh\ntrue\n' > "$work/t/coll/true.sh" && chmod +x "$work/t/coll/true.sh"
cp "$work/t.list" "$work/t/kselftest-list.txt"
now() { date +%s.%N; }
# first_line CMD... : seconds until a line matching $PATTERN appears on stdout
first_line() {
  local start t
  start=$(now)
  t=$("$@" 2>&1 | while IFS= read -r line; do
        if [[ $line == *"$PATTERN"* ]]; then now; fi
      done | head -n 1) || true
  echo "$t - $start" | bc -l
}
: > "$work/bare"; : > "$work/vigil"
for i in 1 2 3; do
  PATTERN=bare-init-ready first_line timeout 120 qemu-system-x86_64 -accel tcg -m 2G -smp 2 -display none \
    -no-reboot -serial stdio -monitor none -nic none -kernel "$kernel" -initrd "$work/bare.cpio" \
    -append "console=ttyS0 panic=-1" >> "$work/bare"
  PATTERN=" tests from " first_line "$VIGIL" run --tests "$work/t" --kernel "$kernel" --modules "$modules" --accel tcg \
    --db "$work/t.db" --color never >> "$work/vigil"
done
b=$(median < "$work/bare"); v=$(median < "$work/vigil")
printf 'bare QEMU boot to init (busybox initramfs): median %.2f s\n' "$b"
printf 'vigil run --kernel to its first test:      median %.2f s\n' "$v"
printf 'ratio: vigil boot = %.2fx a bare boot (target <= 1.5x)\n' "$(echo "$v / $b" | bc -l)"
