#!/usr/bin/env bash
# README's bisection cost table: `vigil bisect simulate` at N = 1024 for a
# build costing 5 and 20 runs and p in {0.25, 0.5, 1.0}: vigil's mean runs,
# builds and cost (runs + build cost x builds) next to naive bisection that
# repeats each step up to k times (k the smallest reaching vigil's accuracy).
# With --keep-builds, going back to a commit built before is no build, as in
# `vigil bisect run --build-tree`.
#   bench/bisect_cost_table.sh [BUILD_DIR_OR_BINARY] [TRIALS] [SEED] [--keep-builds]
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${1:-build}
[ -d "$VIGIL" ] && VIGIL=$VIGIL/vigil
T=${2:-1000}
SEED=${3:-1}
KEEP=()
[ "${4:-}" = --keep-builds ] && KEEP=(--keep-builds)
row='
import json, sys
d = json.load(sys.stdin); n = d["naive"]
print("| %g | %.2f | %d | %.1f | %.1f | %.1f | %.1f%% | %d | %.1f | %.1f | %.1f%% | %.2f |" % (
    d["build_cost"], d["p"], d["trials"], d["mean_runs"], d["mean_builds"], d["mean_cost"], 100 * d["accuracy"],
    n["repeats"], n["mean_runs"], n["mean_cost"], 100 * n["accuracy"], d["cost_ratio"]))'
printf '| build cost | p | trials | vigil runs | vigil builds | vigil cost | vigil accuracy | naive k | naive runs | naive cost | naive accuracy | cost ratio |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for bc in 5 20; do
  for p in 0.25 0.5 1.0; do
    "$VIGIL" bisect simulate --commits 1024 --p "$p" --build-cost "$bc" --trials "$T" --seed "$SEED" "${KEEP[@]}" --json | python3 -c "$row"
  done
done
