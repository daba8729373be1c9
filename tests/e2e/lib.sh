# Shared helpers for vigil's end-to-end tests. Source it; it expects VIGIL
# (the binary), VIGIL_SRC (the repository) and VIGIL_BUILD (the build dir),
# which CTest sets.
set -euo pipefail

: "${VIGIL:?VIGIL must point at the vigil binary}"
: "${VIGIL_SRC:?}"
: "${VIGIL_BUILD:?}"

PY=/usr/bin/python3
E2E_FAILS=0
E2E_PASSES=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass() { E2E_PASSES=$((E2E_PASSES + 1)); echo "ok: $*"; }
fail() { E2E_FAILS=$((E2E_FAILS + 1)); echo "FAIL: $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}

# Extracted kernel source (kunit_tool, selftests) from linux-source-6.12.
linux_src() { bash "$VIGIL_SRC/scripts/linux-source.sh" "$VIGIL_BUILD/linux-src"; }

# jq-like field access with python: json_get FILE EXPR (python expression on d)
json_get() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

finish() {
  echo "$E2E_PASSES passed, $E2E_FAILS failed"
  [ "$E2E_FAILS" -eq 0 ]
}
