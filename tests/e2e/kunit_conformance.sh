#!/usr/bin/env bash
# Conformance with kunit_tool: for every log in kunit_tool's own test_data
# corpus (from linux-source-6.12), `vigil parse --format json` must agree with
# kunit_tool's parser, run from the same package, on the overall status and
# on the passed/failed/crashed/skipped/errors counts.
#
# Deliberate difference: vigil follows the kselftest runner's `# ` prefix into
# a test's own KTAP, so it counts the subtests kunit_tool does not see. For
# those logs (listed in DEEPER) the top level must agree: the same overall
# status and the same status for every top-level test.
source "$(dirname "$0")/lib.sh"

DEEPER="test_is_test_passed-kselftest.log"

src=$(linux_src)
kunit="$src/tools/testing/kunit"
logs=("$kunit"/test_data/*.log)
[ ${#logs[@]} -ge 20 ] || { fail "kunit corpus has only ${#logs[@]} logs"; finish; exit 1; }

for log in "${logs[@]}"; do
  name=$(basename "$log")
  "$PY" "$VIGIL_SRC/tests/e2e/kunit_reference.py" "$kunit" "$log" > "$TMP/ref.json"
  set +e
  "$VIGIL" parse --format json "$log" > "$TMP/vigil.json"
  rc=$?
  set -e
  [ $rc -le 1 ] || fail "$name: vigil parse exited $rc"
  verdict=$("$PY" - "$TMP/ref.json" "$TMP/vigil.json" "$DEEPER" "$name" <<'PYEOF'
import json, sys
ref = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
deeper = sys.argv[4] in sys.argv[3].split()
keys = ['passed', 'failed', 'crashed', 'skipped', 'errors']
mine = {k: got['counts'][k] for k in keys}
tops = [t['status'] for t in got['tests']]
if ref['status'] != got['status']:
    print(f"status kunit={ref['status']} vigil={got['status']}")
elif deeper:
    if ref['tests'] != tops:
        print(f"top-level statuses kunit={ref['tests']} vigil={tops}")
    elif sum(mine.values()) <= sum(ref['counts'].values()):
        print(f"expected vigil to see deeper than kunit: kunit={ref['counts']} vigil={mine}")
    else:
        print("same")
elif ref['counts'] != mine:
    print(f"counts kunit={ref['counts']} vigil={mine}")
else:
    print("same")
PYEOF
)
  expect_eq "$name agrees with kunit_tool" "same" "$verdict"
done
finish
