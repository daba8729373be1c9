#!/usr/bin/env bash
# The tables of README's bisection section: `vigil bisect simulate` for
# p in {0.1, 0.25, 0.5, 1.0} x N in {64, 1024, 16384}, next to naive bisection
# repeated k times per step (k chosen for the same accuracy) and the oracle
# (a policy that knows the culprit, stopped by the same rule); then N = 1024,
# p = 0.25 with H earlier runs at the bad end known (--history).
#   bench/bisect_table.sh [BUILD_DIR] [TRIALS] [TRIALS_FOR_16384]
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${1:-build}/vigil
T=${2:-200}
T_BIG=${3:-50}
row='
import json, sys
d = json.load(sys.stdin); n = d["naive"]; o = d["oracle"]
print("| %d | %.2f | %d | %d | %.1f%% | %.1f | %.0f | %.1f | %d | %.1f%% | %.1f | %.0f | %.1f |" % (
    d["commits"], d["p"], d["history"], d["trials"], 100 * d["accuracy"], d["mean_runs"], d["p90_runs"],
    d["mean_builds"], n["repeats"], 100 * n["accuracy"], n["mean_runs"], n["p90_runs"], o["mean_runs"]))'
header() {
  printf '| N | p | history | trials | accuracy | mean runs | p90 runs | mean builds | naive k | naive accuracy | naive mean runs | naive p90 runs | oracle mean runs |\n'
  printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
}
header
for n in 64 1024 16384; do
  for p in 0.1 0.25 0.5 1.0; do
    t=$T
    [ "$n" -ge 16384 ] && t=$T_BIG
    "$VIGIL" bisect simulate --commits "$n" --p "$p" --trials "$t" --json | python3 -c "$row"
  done
done
echo
header
for h in 0 20 50 100; do
  "$VIGIL" bisect simulate --commits 1024 --p 0.25 --history "$h" --trials "$T" --json | python3 -c "$row"
done
