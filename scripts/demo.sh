#!/usr/bin/env bash
# The main job: build the MPTCP selftests of Debian's linux-source-6.12 into
# an installed kselftest tree, run them with vigil on this host (each test in
# a network namespace of its own, two at a time under the shipped
# vigil.toml), and say where the results went. Then read the real kselftest
# and KUnit output shipped with the same package, as `vigil parse` does.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=$(realpath "${1:-build/vigil}")
out=$(realpath -m build/demo)
mkdir -p "$out"

echo "==== building the MPTCP selftests of linux-source-6.12 (cached in build/kselftest)"
kst=$(bash scripts/build-mptcp-selftests.sh build/kselftest)
# VIGIL_DEMO_SELECT narrows the selection (the demo's own test uses it).
read -r -a select <<< "${VIGIL_DEMO_SELECT:--c net/mptcp}"
echo "==== vigil run --tests $kst ${select[*]} -j 2 --netns"
set +e
"$VIGIL" run --tests "$kst" "${select[@]}" -j 2 --netns --db "$out/vigil.db" \
  --json "$out/mptcp.json" --junit "$out/mptcp.junit.xml" --ktap "$out/mptcp.ktap" \
  --markdown "$out/mptcp.md"
rc=$?
set -e
cat <<MSG

vigil run exited $rc (0 all passed or skipped, 1 failures or timeouts).
  results store  $out/vigil.db   (sqlite3 $out/vigil.db 'select * from runs')
  JSON           $out/mptcp.json
  JUnit          $out/mptcp.junit.xml
  KTAP           $out/mptcp.ktap  (vigil parse $out/mptcp.ktap)
  Markdown       $out/mptcp.md
Tests that need what this kernel lacks (netem, for one) say so in their
output: see the failures above and "environment:" lines.
MSG
echo
echo "==== vigil verdict last --baseline auto (against the previous demo run, if any)"
"$VIGIL" verdict last --baseline auto --db "$out/vigil.db" || true
echo
echo "==== vigil flakes (every demo run so far)"
"$VIGIL" flakes --db "$out/vigil.db" || true

src=$(bash scripts/linux-source.sh build/linux-src)
data="$src/tools/testing/kunit/test_data"
echo
echo "==== vigil parse: the kselftest and KUnit logs of linux-source-6.12, one line each"
for f in "$data"/*.log; do
  summary=$("$VIGIL" parse --quiet --color never "$f" 2>/dev/null | tail -n 1 || true)
  printf '%-48s %s\n' "$(basename "$f")" "$summary"
done
echo
echo "==== vigil parse $data/test_is_test_passed-kselftest.log"
"$VIGIL" parse --no-logs "$data/test_is_test_passed-kselftest.log" || true
