#!/usr/bin/env bash
# The real MPTCP suite of linux-source-6.12, run R times (default 3) each way,
# alternating so that machine noise hits both alike:
#   - the kernel's run_kselftest.sh -c net/mptcp (serial, as CIs run it today)
#   - vigil run -j2 --netns with the shipped vigil.toml
# Prints every run's wall time and failures, the means and the ratio.
# Target: vigil <= 0.6x the serial wall time, with no more failures.
#
#   bench/mptcp_suite.sh [BUILD_DIR] [R]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
R=${2:-3}
VIGIL=$(realpath "$BUILD/vigil")
kst=$(bash scripts/build-mptcp-selftests.sh "$BUILD/kselftest")
work=$(mktemp -d /tmp/vigil-mptcp-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
declare -a ks_t vs_t ks_f vs_f
for r in $(seq 1 "$R"); do
  t0=$(now)
  (cd "$kst" && ./run_kselftest.sh -c net/mptcp > "$work/ks$r.log" 2>&1) || true
  t1=$(now)
  "$VIGIL" run --tests "$kst" -c net/mptcp -j 2 --netns --db "$work/vigil.db" \
    --color never --json "$work/vs$r.json" > "$work/vs$r.log" 2>&1 || true
  t2=$(now)
  ks_t[r]=$(echo "$t1 - $t0" | bc -l)
  vs_t[r]=$(echo "$t2 - $t1" | bc -l)
  # Top-level results only: run_kselftest.sh prints them unindented.
  ks_f[r]=$(grep -c '^not ok ' "$work/ks$r.log" || true)
  vs_f[r]=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(1 for t in d["tests"] if t["status"] not in ("PASS", "SKIP", "XFAIL", "FLAKY")))
' "$work/vs$r.json")
  printf 'run %d: run_kselftest.sh %7.1f s, %d failed | vigil -j2 %7.1f s, %d failed\n' \
    "$r" "${ks_t[r]}" "${ks_f[r]}" "${vs_t[r]}" "${vs_f[r]}"
  grep '^not ok ' "$work/ks$r.log" | sed 's/^/    run_kselftest.sh: /' || true
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for t in d["tests"]:
    if t["status"] not in ("PASS", "SKIP", "XFAIL"):
        print("    vigil: %s %s (%.1f s)" % (t["status"], t["path"], t["duration_ms"] / 1000))
' "$work/vs$r.json"
done
mean() { local s=0; for v in "$@"; do s=$(echo "$s + $v" | bc -l); done; echo "$s / $#" | bc -l; }
ks_mean=$(mean "${ks_t[@]}")
vs_mean=$(mean "${vs_t[@]}")
printf '%-44s %8.1f s  failures per run: %s\n' "run_kselftest.sh -c net/mptcp (serial)" "$ks_mean" "${ks_f[*]}"
printf '%-44s %8.1f s  failures per run: %s\n' "vigil run -j2 --netns (shipped vigil.toml)" "$vs_mean" "${vs_f[*]}"
printf 'ratio: vigil wall time = %.2fx run_kselftest.sh (target <= 0.6x)\n' "$(echo "$vs_mean / $ks_mean" | bc -l)"
