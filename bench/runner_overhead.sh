#!/usr/bin/env bash
# Runner overhead: N trivial tests (each `exit 0`) in one installed kselftest
# tree, run by the kernel's own run_kselftest.sh (from linux-source-6.12) and
# by `vigil run -j1` (which also records every result in its SQLite store and
# puts every test in a cgroup of its own). Prints both wall times and the
# ratio, measured in one run. Target: vigil >= 10x less wall time.
#
#   bench/runner_overhead.sh [BUILD_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-1000}
VIGIL=$(realpath "$BUILD/vigil")
src=$(bash scripts/linux-source.sh "$BUILD/linux-src")
work=$(mktemp -d /tmp/vigil-overhead.XXXXXX)
trap 'rm -rf "$work"' EXIT

tree="$work/kst"
mkdir -p "$tree/trivial" "$tree/kselftest"
cp "$src/tools/testing/selftests/run_kselftest.sh" "$tree/"
cp "$src"/tools/testing/selftests/kselftest/*.sh "$src"/tools/testing/selftests/kselftest/*.pl "$tree/kselftest/" 2>/dev/null || true
: > "$tree/kselftest-list.txt"
for i in $(seq -w 1 "$N"); do
  printf '#!/bin/sh\nexit 0\n' > "$tree/trivial/t$i.sh"
  chmod +x "$tree/trivial/t$i.sh"
  echo "trivial:t$i.sh" >> "$tree/kselftest-list.txt"
done

now() { date +%s.%N; }
t0=$(now)
(cd "$tree" && ./run_kselftest.sh > "$work/kselftest.log" 2>&1)
t1=$(now)
"$VIGIL" run --tests "$tree" -j 1 --db "$work/vigil.db" --color never > "$work/vigil.log" 2>&1
t2=$(now)
ks=$(echo "$t1 - $t0" | bc -l)
vs=$(echo "$t2 - $t1" | bc -l)
ok_ks=$(grep -c '^ok ' "$work/kselftest.log" || true)
ok_vs=$(grep -c '^\[PASS\] trivial:' "$work/vigil.log" || true)
printf 'tests: %d trivial tests (run_kselftest.sh: %d ok; vigil: %d PASS)\n' "$N" "$ok_ks" "$ok_vs"
printf '%-40s %8.2f s  (%.1f ms per test)\n' "run_kselftest.sh" "$ks" "$(echo "$ks * 1000 / $N" | bc -l)"
printf '%-40s %8.2f s  (%.1f ms per test)\n' "vigil run -j1 (store, cgroups)" "$vs" "$(echo "$vs * 1000 / $N" | bc -l)"
printf 'ratio: vigil takes %.1fx less wall time than run_kselftest.sh\n' "$(echo "$ks / $vs" | bc -l)"
