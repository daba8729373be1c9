#!/usr/bin/env bash
# Crash titles against syzkaller's own Linux report corpus (real consoles of
# syzbot's fuzzing of many kernels, each with the title syzkaller gives it):
# tests/console/syzkaller_titles.py runs `vigil scan --json` over every file
# and fails below the targets: on the reports syzkaller does not mark
# corrupted >= 98 % detected and >= 95 % titled as syzkaller (TITLE or an
# ALT), no report on the logs without one, >= 90 % of the corrupted ones
# detected. It prints the table of misses by kind.
# Needs ../shared/syzkaller-report from the project's root (or
# VIGIL_SYZKALLER_REPORT): skipped without it.
source "$(dirname "$0")/lib.sh"
CORPUS=${VIGIL_SYZKALLER_REPORT:-$VIGIL_SRC/../shared/syzkaller-report}/linux
if [ ! -d "$CORPUS" ]; then
  echo "SKIP: no syzkaller report corpus at $CORPUS (../shared/syzkaller-report from the project's root)"
  exit 77
fi
set +e
python3 "$VIGIL_SRC/tests/console/syzkaller_titles.py" "$VIGIL" "$CORPUS" --check > "$TMP/out" 2>&1
rc=$?
set -e
cat "$TMP/out"
expect_eq "syzkaller corpus: targets met" 0 "$rc"
if grep -q "titled as syzkaller" "$TMP/out"; then pass "syzkaller corpus: figures printed"; else fail "syzkaller corpus: no figures"; fi
finish
