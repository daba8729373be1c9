#!/usr/bin/env bash
# The `vigil parse` command line: exit codes, input sources, formats, colors,
# streaming, and hostile input.
source "$(dirname "$0")/lib.sh"

run() { set +e; "$@" > "$TMP/out" 2> "$TMP/err"; rc=$?; set -e; }

printf 'KTAP version 1\n1..2\nok 1 a\nok 2 b # SKIP x\n' > "$TMP/pass.ktap"
printf 'KTAP version 1\n1..2\nok 1 a\nnot ok 2 b\n' > "$TMP/fail.ktap"
printf 'KTAP version 1\n1..3\n  KTAP version 1\n  1..2\n  ok 1 a\n' > "$TMP/trunc.ktap"

run "$VIGIL" parse "$TMP/pass.ktap"
expect_eq "passing log exits 0" 0 "$rc"
run "$VIGIL" parse "$TMP/fail.ktap"
expect_eq "failing log exits 1" 1 "$rc"
grep -q "Failures (1):" "$TMP/out" && pass "failures listed" || fail "no failure summary"
run "$VIGIL" parse "$TMP/trunc.ktap"
expect_eq "truncated log exits 1" 1 "$rc"
grep -q "CRASH" "$TMP/out" && pass "truncated shows CRASH" || fail "no CRASH in truncated output"
run "$VIGIL" parse "$TMP/does-not-exist"
expect_eq "missing file exits 2" 2 "$rc"
grep -q "cannot open" "$TMP/err" && pass "missing file explained" || fail "no error message"
run "$VIGIL" parse --format yaml "$TMP/pass.ktap"
expect_eq "bad format exits 2" 2 "$rc"
run "$VIGIL" parse "$VIGIL_BUILD"
expect_eq "directory input exits 2" 2 "$rc"
run "$VIGIL" frobnicate
expect_eq "unknown subcommand exits 2" 2 "$rc"
run "$VIGIL" parse --help
expect_eq "--help exits 0" 0 "$rc"
grep -q "Exit status" "$TMP/out" && pass "--help explains exit status" || fail "--help lacks exit status"

# Standard input, both as "-" and by default.
set +e
"$VIGIL" parse - < "$TMP/fail.ktap" > "$TMP/out"; rc1=$?
"$VIGIL" parse < "$TMP/pass.ktap" > "$TMP/out"; rc2=$?
set -e
expect_eq "stdin via -" 1 "$rc1"
expect_eq "stdin by default" 0 "$rc2"

# JSON is valid and versioned; JUnit is well-formed XML.
run "$VIGIL" parse --format json "$TMP/fail.ktap"
cp "$TMP/out" "$TMP/fail.json"
expect_eq "json format_version" 1 "$(json_get "$TMP/fail.json" "d['format_version']")"
expect_eq "json status" FAIL "$(json_get "$TMP/fail.json" "d['status']")"
run "$VIGIL" parse --format junit "$TMP/fail.ktap"
"$PY" -c "import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); assert r.tag=='testsuites' and r.get('failures')=='1', r.attrib" "$TMP/out" \
  && pass "junit well-formed" || fail "junit not well-formed"

# No KTAP at all.
printf 'just some\nboot noise\n' > "$TMP/none.log"
run "$VIGIL" parse --format json "$TMP/none.log"
expect_eq "no KTAP exits 1" 1 "$rc"
cp "$TMP/out" "$TMP/none.json"
expect_eq "no KTAP status" NO_KTAP "$(json_get "$TMP/none.json" "d['status']")"

# Colors: never on a pipe, NO_COLOR wins over auto, --color always forces.
run "$VIGIL" parse "$TMP/fail.ktap"
grep -q $'\033\[' "$TMP/out" && fail "colors on a pipe" || pass "no colors on a pipe"
run "$VIGIL" parse --color always "$TMP/fail.ktap"
grep -q $'\033\[31m' "$TMP/out" && pass "--color always" || fail "--color always gave no colors"
set +e
NO_COLOR=1 script -qec "$VIGIL parse $TMP/fail.ktap" /dev/null > "$TMP/tty" 2>&1
set -e
grep -q $'\033\[31m' "$TMP/tty" && fail "NO_COLOR ignored on a TTY" || pass "NO_COLOR honoured on a TTY"
set +e
script -qec "$VIGIL parse $TMP/fail.ktap" /dev/null > "$TMP/tty" 2>&1
set -e
grep -q $'\033\[31m' "$TMP/tty" && pass "colors on a TTY" || fail "no colors on a TTY"

# Streaming prints children before parents and the same summary.
run "$VIGIL" parse --stream "$TMP/fail.ktap"
expect_eq "stream exit" 1 "$rc"
expect_eq "stream lines" "[PASS] a|[FAIL] b" "$(grep '^\[' "$TMP/out" | head -2 | paste -sd'|')"
run "$VIGIL" parse --stream --format json "$TMP/fail.ktap"
expect_eq "stream+json rejected" 2 "$rc"

# Hostile input: binary garbage, NUL bytes, a 10 MB line.
head -c 2000000 /dev/urandom > "$TMP/garbage"
run "$VIGIL" parse "$TMP/garbage"
[ "$rc" -le 1 ] && pass "garbage does not crash" || fail "garbage exit $rc"
{ printf 'KTAP version 1\n1..1\nok 1 '; head -c 10000000 /dev/zero | tr '\0' x; printf '\n'; } > "$TMP/long"
run "$VIGIL" parse --format json "$TMP/long"
cp "$TMP/out" "$TMP/long.json"
expect_eq "long line still parsed" PASS "$(json_get "$TMP/long.json" "d['status']")"
expect_eq "long line reported" True "$(json_get "$TMP/long.json" "any('truncated' in e['message'] for e in d['errors'])")"

# Normalised KTAP parses back to the same verdict.
run "$VIGIL" parse --format ktap "$TMP/trunc.ktap"
cp "$TMP/out" "$TMP/norm.ktap"
run "$VIGIL" parse --format json "$TMP/norm.ktap"
cp "$TMP/out" "$TMP/norm.json"
expect_eq "ktap round trip status" CRASH "$(json_get "$TMP/norm.json" "d['status']")"

# libcurl, libpq and cpp-httplib come with vigil-net.so, loaded on first use:
# vigil itself does not load them, and without the module beside it, what
# needs none of them works and what needs one says what is missing.
libs=$(ldd "$VIGIL")
if grep -Eq 'libcurl|libpq|httplib' <<< "$libs"; then fail "vigil links a network library: $libs"; else pass "vigil links no network library"; fi
mkdir "$TMP/alone"
cp "$VIGIL" "$TMP/alone/vigil"
run "$TMP/alone/vigil" parse --format json "$TMP/fail.ktap"
expect_eq "parse needs no module" 1 "$rc"
expect_eq "parse without the module" FAIL "$(json_get "$TMP/out" "d['status']")"
run "$TMP/alone/vigil" flakes --db 'postgresql:///vigil?host=/nonexistent'
expect_eq "a PostgreSQL store without the module exits 2" 2 "$rc"
grep -q "cannot load vigil's network module $TMP/alone/vigil-net.so" "$TMP/err" && pass "the missing module is named" ||
  fail "no word of the module: $(cat "$TMP/err")"
run "$TMP/alone/vigil" serve --db "$TMP/none.db" --listen 127.0.0.1:0
expect_eq "serve without the module exits 2" 2 "$rc"
grep -q "vigil-net.so" "$TMP/err" && pass "serve names the module" || fail "serve: $(cat "$TMP/err")"
finish
