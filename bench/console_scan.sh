#!/usr/bin/env bash
# Console scan throughput. Builds a console log of >= SIZE_MB (default 128)
# from the recorded real consoles of tests/console/corpus (boots with a crash,
# clean boots, sysrq dumps), then measures in one run:
#   grep -F -c -f START_MARKERS   (finds marker lines only)
#   a Python `re` scanner with the same markers (finds marker lines only)
#   vigil scan --json             (finds, delimits, classifies, titles every report)
# each 3 times (median), and prints MB/s and the ratios. Targets: vigil >= 1/3 of grep's
# throughput and >= 20x Python's. Then a 1 GiB log that is one single line
# through `vigil scan -`: peak RSS must stay under 64 MB.
#
#   bench/console_scan.sh [BUILD_DIR] [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SIZE_MB=${2:-128}
VIGIL=$(realpath "$BUILD/vigil")
work=$(mktemp -d /tmp/vigil-scan-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

logs=(tests/console/corpus/*/*.log)
log="$work/console.log"
: > "$log"
# Each copy at its own time (its printk seconds moved on by 100000 a copy):
# the same lines at the same time would be one report shown again (a replay
# of the kernel's log), which vigil reads once.
copy=0
while [ "$(stat -c %s "$log")" -lt $((SIZE_MB << 20)) ]; do
  cat "${logs[@]}" | perl -pe 's/\[( *)(\d+)\.(\d+)\]/"[$1".($2 + '"$copy"' * 100000).".$3]"/ge' >> "$log"
  copy=$((copy + 1))
done
bytes=$(stat -c %s "$log")
lines=$(wc -l < "$log")

cat > "$work/markers" <<'M'
------------[ cut here ]------------
WARNING: CPU:
WARNING: at 
WARNING: possible circular locking
WARNING: possible recursive locking
WARNING: inconsistent lock state
WARNING: suspicious RCU usage
BUG: 
BUG kmalloc-
Kernel panic - not syncing
kernel BUG at 
general protection fault
Oops: 
divide error: 
invalid opcode: 
PANIC: double fault
INFO: task 
INFO: rcu_
INFO: trying to register non-static key
refcount_t: 
list_add corruption
list_del corruption
UBSAN: 
unregister_netdevice: waiting for
unreferenced object 0x
Watchdog detected hard LOCKUP
---[ end trace
---[ end Kernel panic
M
cat > "$work/scan.py" <<'PY'
import re, sys
markers = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
pattern = re.compile("|".join(re.escape(m) for m in markers))
n = 0
with open(sys.argv[2], "rb") as f:
    for raw in f:
        line = raw.decode("utf-8", "replace")
        if pattern.search(line):
            n += 1
print(n)
PY

now() { date +%s.%N; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
cat "$log" > /dev/null  # page cache
# Each tool 3 times, alternating; the median is reported.
gs=(); ps=(); vs=()
for r in 1 2 3; do
  t0=$(now); grep_count=$(LC_ALL=C grep -F -c -f "$work/markers" "$log"); t1=$(now)
  py_count=$(python3 "$work/scan.py" "$work/markers" "$log"); t2=$(now)
  "$VIGIL" scan --json "$log" > "$work/vigil.json" || true; t3=$(now)
  gs+=("$(echo "$t1 - $t0" | bc -l)"); ps+=("$(echo "$t2 - $t1" | bc -l)"); vs+=("$(echo "$t3 - $t2" | bc -l)")
done
g=$(median3 "${gs[@]}"); p=$(median3 "${ps[@]}"); v=$(median3 "${vs[@]}")
reports=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["reports"]))' "$work/vigil.json")
mb=$(echo "$bytes / 1048576" | bc -l)
printf 'input: %.0f MiB, %d lines of real consoles\n' "$mb" "$lines"
printf '%-42s %7.3f s %8.1f MiB/s  (%d marker lines)\n' "grep -F -c -f START_MARKERS" "$g" "$(echo "$mb / $g" | bc -l)" "$grep_count"
printf '%-42s %7.3f s %8.1f MiB/s  (%d marker lines)\n' "python3 re scanner, same markers" "$p" "$(echo "$mb / $p" | bc -l)" "$py_count"
printf '%-42s %7.3f s %8.1f MiB/s  (%d reports, classified)\n' "vigil scan --json" "$v" "$(echo "$mb / $v" | bc -l)" "$reports"
printf 'ratio: vigil throughput = %.2fx grep (target >= 0.33), %.1fx python (target >= 20)\n' \
  "$(echo "$g / $v" | bc -l)" "$(echo "$p / $v" | bc -l)"

# 1 GiB on one line, through a pipe.
rss=$( { head -c $((1 << 30)) /dev/zero | tr '\0' 'A' | /usr/bin/time -f '%M' "$VIGIL" scan - > /dev/null; } 2>&1 | tail -n 1)
printf '1 GiB single-line log through a pipe: peak RSS %.1f MiB (target < 64 MiB)\n' "$(echo "$rss / 1024" | bc -l)"
