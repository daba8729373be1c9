#!/usr/bin/env bash
# The table of README's bisection section: `vigil bisect simulate` for
# p in {0.1, 0.25, 0.5, 1.0} x N in {64, 1024, 16384}, next to naive bisection
# repeated k times per step (k chosen for the same accuracy).
#   bench/bisect_table.sh [BUILD_DIR] [TRIALS] [TRIALS_FOR_16384]
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${1:-build}/vigil
T=${2:-200}
T_BIG=${3:-50}
printf '| N | p | trials | accuracy | mean runs | p90 runs | mean builds | naive k | naive accuracy | naive mean runs | naive p90 runs |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for n in 64 1024 16384; do
  for p in 0.1 0.25 0.5 1.0; do
    t=$T
    [ "$n" -ge 16384 ] && t=$T_BIG
    "$VIGIL" bisect simulate --commits "$n" --p "$p" --trials "$t" --json | python3 -c '
import json, sys
d = json.load(sys.stdin); v = d; n = d["naive"]
print("| %d | %.2f | %d | %.1f%% | %.1f | %.0f | %.1f | %d | %.1f%% | %.1f | %.0f |" % (
    d["commits"], d["p"], d["trials"], 100 * v["accuracy"], v["mean_runs"], v["p90_runs"], v["mean_builds"],
    n["repeats"], 100 * n["accuracy"], n["mean_runs"], n["p90_runs"]))'
  done
done
