#!/usr/bin/env bash
# KTAP parse throughput, measured in one run against two anchors on the same
# file: kunit_tool's parser from linux-source-6.12 (the reference
# implementation) and `wc -l` (the cost of just reading the lines).
# Then streams a 1 GB log through `vigil parse --stream` and reports its peak
# RSS. Prints the figures and the ratios.
#
#   bench/ktap_throughput.sh [BUILD_DIR] [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SIZE_MB=${2:-100}
VIGIL=$BUILD/vigil
src=$(bash scripts/linux-source.sh "$BUILD/linux-src")
kunit="$src/tools/testing/kunit"
work=$(mktemp -d /tmp/vigil-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Real logs without console prefixes: kunit_tool's corpus and the MPTCP
# selftests as the kselftest runner printed them.
inputs=()
for f in "$kunit"/test_data/*.log tests/golden/*.log; do
  if head -c 200 "$f" | grep -q '^\(KTAP\|TAP\) version'; then inputs+=("$f"); fi
done
big="$work/big.ktap"
/usr/bin/python3 bench/make_big_log.py "$big" "$SIZE_MB" "${inputs[@]}"
bytes=$(stat -c %s "$big")
lines=$(wc -l < "$big")
echo "input: $big, $((bytes / 1048576)) MiB, $lines lines, built from ${#inputs[@]} real logs"

cat "$big" > /dev/null  # warm the page cache
now() { date +%s.%N; }
t0=$(now); wc -l "$big" > /dev/null; t1=$(now)
wc_s=$(echo "$t1 - $t0" | bc -l)
t0=$(now); "$VIGIL" parse --format json "$big" > /dev/null || true; t1=$(now)
vigil_s=$(echo "$t1 - $t0" | bc -l)
t0=$(now); "$VIGIL" parse --stream "$big" > /dev/null || true; t1=$(now)
stream_s=$(echo "$t1 - $t0" | bc -l)
kunit_s=$(/usr/bin/python3 tests/e2e/kunit_reference.py --time "$kunit" "$big" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')

mb=$(echo "$bytes / 1048576" | bc -l)
printf '%-34s %9s %10s\n' "" "seconds" "MiB/s"
printf '%-34s %9.3f %10.1f\n' "wc -l" "$wc_s" "$(echo "$mb / $wc_s" | bc -l)"
printf '%-34s %9.3f %10.1f\n' "vigil parse --format json" "$vigil_s" "$(echo "$mb / $vigil_s" | bc -l)"
printf '%-34s %9.3f %10.1f\n' "vigil parse --stream" "$stream_s" "$(echo "$mb / $stream_s" | bc -l)"
printf '%-34s %9.3f %10.1f\n' "kunit_tool parse_run_tests" "$kunit_s" "$(echo "$mb / $kunit_s" | bc -l)"
printf 'ratio: vigil (json) is %.0fx faster than kunit_tool\n' "$(echo "$kunit_s / $vigil_s" | bc -l)"
printf 'ratio: vigil (json) takes %.1fx the time of wc -l\n' "$(echo "$vigil_s / $wc_s" | bc -l)"

# 1 GiB streamed through a pipe: peak RSS must stay under 64 MiB.
reps=$(( (1024 * 1048576 + bytes - 1) / bytes ))
/usr/bin/time -f '%M' -o "$work/rss" bash -c \
  "for i in \$(seq $reps); do cat '$big'; done | '$VIGIL' parse --stream > /dev/null" || true
rss_kb=$(tail -1 "$work/rss")
echo "stream: $((reps * bytes / 1048576)) MiB through vigil parse --stream, peak RSS $((rss_kb / 1024)) MiB (limit 64 MiB)"
