#!/usr/bin/env bash
# The full MPTCP suite of linux-source-6.12 inside a VM booting Debian's 6.12
# cloud kernel (TCG unless KVM works), run by `vigil run --kernel` with -j
# inside the guest and the shipped vigil.toml. Prints the wall time and every
# top-level test's result (and the subtests that failed), from vigil's JSON.
#
#   bench/vm_mptcp_suite.sh [BUILD_DIR] [JOBS] [CPUS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
JOBS=${2:-2}
CPUS=${3:-2}
VIGIL=$(realpath "$BUILD/vigil")
kst=$(bash scripts/build-mptcp-selftests.sh "$BUILD/kselftest")
root=$(bash scripts/console-corpus.sh --fetch-kernel --line 6.12 | tail -n 1)
rel=$(basename "$(dirname "$root")")
work=$(mktemp -d /tmp/vigil-vm-suite.XXXXXX)
echo "kernel: $rel; guest: $CPUS vCPUs, -j $JOBS; work: $work"
t0=$(date +%s.%N)
"$VIGIL" run --tests "$kst" -c net/mptcp -j "$JOBS" --cpus "$CPUS" --memory 4G \
  --kernel "$root/boot/vmlinuz-$rel" --modules "$root/lib/modules/$rel" \
  --db "$work/vigil.db" --color never --json "$work/run.json" > "$work/run.log" 2>&1 || true
t1=$(date +%s.%N)
printf 'wall time: %.1f s\n' "$(echo "$t1 - $t0" | bc -l)"
grep -h '^vm: ' "$work/run.log" || true
python3 - "$work/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
by = {}
for t in d["tests"]:
    by.setdefault(t["status"], 0)
    by[t["status"]] += 1
    print("  %-8s %-40s %7.1f s" % (t["status"], t["path"], t["duration_ms"] / 1000))
    for c in t.get("crashes", []):
        print("      kernel report: %s%s" % (c["title"], " (fatal)" if c["fatal"] else ""))
    for s in t.get("subtests", []):
        if s["status"] not in ("PASS", "SKIP", "XFAIL"):
            print("      %-8s %s" % (s["status"], s["name"]))
print("totals:", ", ".join(f"{k} {v}" for k, v in sorted(by.items())))
PY
