#!/usr/bin/env bash
# KTAP parse throughput, measured in one run against two anchors on the same
# file: kunit_tool's parser from linux-source-6.12 (the reference
# implementation; its parse_run_tests() alone is timed, in-process) and
# `wc -l` (the cost of just reading the lines). vigil is timed end to end as
# a user runs it (process start, reading the file, parsing, the summary):
#   streaming  vigil parse --quiet --stream FILE  (every test's verdict and the
#              counts, subtrees released as they finish: vigil's engine mode)
#   tree       vigil parse --quiet FILE           (every test kept with its
#              log, as for a whole-tree report, the summary and failures printed;
#              batches of top-level tests are dropped once summarised)
#   json, junit, text  vigil parse --format F FILE  (every test written out,
#              to /dev/null: the whole-tree reports users run. JSON keeps the
#              whole tree; JUnit and text are formatted from batches of
#              top-level tests on a second thread while the parse runs)
# kunit_tool's figure is the median of KUNIT_RUNS runs (~20 s each; one run
# alone moved by a quarter between runs on a shared machine); each vigil and
# wc figure is the median of RUNS runs before and after each of them.
# Then 1 GiB is streamed through a pipe into `vigil parse --quiet --stream`
# and its peak RSS is reported.
#
#   bench/ktap_throughput.sh [BUILD_DIR] [SIZE_MB] [RUNS] [KUNIT_RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SIZE_MB=${2:-100}
RUNS=${3:-7}
KUNIT_RUNS=${4:-3}
VIGIL=$BUILD/vigil
PY=/usr/bin/python3
src=$(bash scripts/linux-source.sh "$BUILD/linux-src")
kunit="$src/tools/testing/kunit"
work=$(mktemp -d /tmp/vigil-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Real logs without console prefixes: kunit_tool's corpus and the MPTCP
# selftests as the kselftest runner printed them.
inputs=()
for f in "$kunit"/test_data/*.log tests/golden/*.log; do
  if grep -q '^\(KTAP\|TAP\) version' <(head -c 200 "$f"); then inputs+=("$f"); fi
done
big="$work/big.ktap"
$PY bench/make_big_log.py "$big" "$SIZE_MB" "${inputs[@]}"
bytes=$(stat -c %s "$big")
lines=$(wc -l < "$big")
echo "input: $((bytes / 1048576)) MiB, $lines lines, nested copies of ${#inputs[@]} real logs"
echo "machine: $(nproc) cores; kunit_tool: median of $KUNIT_RUNS runs; vigil and wc: median of $((RUNS * (KUNIT_RUNS + 1))) runs, $RUNS before and after each kunit_tool run"

# sample NAME CMD...: runs CMD RUNS times (output discarded) and appends each
# time (ns) to the file of NAME.
sample() {
  local name=$1
  shift
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" > /dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo "$(( t1 - t0 ))" >> "$work/$name"
  done
}
median() { sort -g "$1" | awk '{a[NR]=$1} END {printf "%.4f\n", a[int((NR+1)/2)]/'"${2:-1e9}"'}'; }

# The machine's speed moves from minute to minute, so the fast tools are
# sampled before and after every kunit_tool run: all medians cover the same
# minutes.
cat "$big" > /dev/null  # warm the page cache
sample_fast() {
  sample wc wc -l "$big"
  sample stream "$VIGIL" parse --quiet --stream "$big"
  sample tree "$VIGIL" parse --quiet "$big"
  sample json "$VIGIL" parse --format json "$big"
  sample junit "$VIGIL" parse --format junit "$big"
  sample text "$VIGIL" parse "$big"
}
sample_fast
for _ in $(seq "$KUNIT_RUNS"); do
  $PY tests/e2e/kunit_reference.py --time "$kunit" "$big" |
    $PY -c 'import json,sys; print(json.load(sys.stdin)["seconds"])' >> "$work/kunit"
  sample_fast
done
wc_s=$(median "$work/wc")
stream_s=$(median "$work/stream")
tree_s=$(median "$work/tree")
json_s=$(median "$work/json")
junit_s=$(median "$work/junit")
text_s=$(median "$work/text")
kunit_s=$(median "$work/kunit" 1)

mb=$(echo "$bytes / 1048576" | bc -l)
row() { printf '%-42s %9.3f %10.1f\n' "$1" "$2" "$(echo "$mb / $2" | bc -l)"; }
echo "kunit_tool runs: $(tr '\n' ' ' < "$work/kunit")s"
printf '%-42s %9s %10s\n' "" "seconds" "MiB/s"
row "wc -l" "$wc_s"
row "vigil parse --quiet --stream (streaming)" "$stream_s"
row "vigil parse --quiet (every test built)" "$tree_s"
row "vigil parse --format json (whole tree)" "$json_s"
row "vigil parse --format junit (whole tree)" "$junit_s"
row "vigil parse (text: the whole tree printed)" "$text_s"
row "kunit_tool parse_run_tests (whole tree)" "$kunit_s"
printf 'ratio: vigil streaming is %.0fx faster than kunit_tool\n' "$(echo "$kunit_s / $stream_s" | bc -l)"
printf 'ratio: vigil --quiet, every test built, is %.0fx faster than kunit_tool\n' "$(echo "$kunit_s / $tree_s" | bc -l)"
for f in json junit text; do
  eval "t=\$${f}_s"
  printf 'ratio: vigil --format %s is %.0fx faster than kunit_tool, %.2fx the streaming time\n' "$f" \
    "$(echo "$kunit_s / $t" | bc -l)" "$(echo "$t / $stream_s" | bc -l)"
done
printf 'ratio: vigil streaming takes %.1fx the time of wc -l\n' "$(echo "$stream_s / $wc_s" | bc -l)"

# Peak RSS of the whole-tree reports against the input's size.
for f in json junit text; do
  /usr/bin/time -f '%M' -o "$work/rss-$f" "$VIGIL" parse --format "$f" "$big" > /dev/null 2>&1 || true
  rss_kb=$(tail -1 "$work/rss-$f")
  printf 'peak RSS: vigil parse --format %s: %d MiB, %.2fx the input (target <= 2)\n' "$f" "$((rss_kb / 1024))" \
    "$(echo "$rss_kb * 1024 / $bytes" | bc -l)"
done

# 1 GiB through a pipe: peak RSS must stay under 64 MiB.
reps=$(( (1024 * 1048576 + bytes - 1) / bytes ))
/usr/bin/time -f '%M %e' -o "$work/rss" bash -c \
  "for i in \$(seq $reps); do cat '$big'; done | '$VIGIL' parse --quiet --stream > /dev/null" || true
read -r rss_kb secs < <(tail -1 "$work/rss")
echo "stream: $((reps * bytes / 1048576)) MiB piped through vigil parse --quiet --stream in ${secs}s, peak RSS $((rss_kb / 1024)) MiB (limit 64 MiB)"

# What the memory a whole tree holds costs here, first touched: a floor
# under json and junit that moves with the machine, not with vigil.
$PY bench/fresh_memory.py "$((bytes / 1048576))" 5
