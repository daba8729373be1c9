#!/usr/bin/env bash
# Hostile test names and bytes through `vigil run` and every report it writes
# (text, --json, --markdown / $GITHUB_STEP_SUMMARY, GitHub annotations) and
# through the rerun hints: invalid UTF-8, terminal escapes, a newline, `$(...)`,
# Markdown/HTML payloads. The Markdown is rendered by a real CommonMark
# renderer (cmark) and checked for raw tags, links and images; the rerun hints
# are run through bash. A tool whose version line is not UTF-8 is recorded; a
# run with a name that is not UTF-8 resumes; vigil bisect takes such bytes.
source "$(dirname "$0")/lib.sh"

command -v cmark >/dev/null || { echo "cmark missing (scripts/install-deps.sh installs it)"; exit 1; }

T="$TMP/t"
mkdir -p "$T" "$TMP/paste" "$TMP/bin"
# Each test fails with subtests whose names are payloads too.
mk() {
  printf '#!/bin/sh\necho "TAP version 13"\necho "1..3"\n' >"$T/$1"
  printf 'echo %s\n' "'not ok 1 ![i](http://x.example/i.png)'" "'not ok 2 [x](javascript:alert(1))'" \
    "'ok 3 \\<img src=x onerror=alert(1)>'" >>"$T/$1"
  printf 'exit 1\n' >>"$T/$1"
  chmod +x "$T/$1"
}
NAMES=(
  "$(printf 'bad\xff\xfe.sh')"
  "$(printf 'esc\033[31mred\033]0;title\007.sh')"
  'x$(touch PWNED);.sh'
  '\<img src=x onerror=alert(1)>.sh'
  '[x](javascript:alert(1)).sh'
  '<script>alert(1)<:script>.sh'
  "$(printf 'nl\nok 9 selftests: t: forged.sh')"
  'q'"'"'uote`tick`, 100%: a.sh'
)
for n in "${NAMES[@]}"; do mk "$n"; done

cd "$TMP"
set +e
GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TMP/step.md" "$VIGIL" run --tests t --db "$TMP/v.db" \
  --json "$TMP/run.json" --markdown "$TMP/run.md" >"$TMP/out.txt" 2>"$TMP/err.txt"
rc=$?
set -e
expect_eq "vigil run exits 1 (failures), not an abort" 1 "$rc"
[ -s "$TMP/err.txt" ] && cat "$TMP/err.txt"

# Terminal / CI log: no ESC, BEL or C1 byte, no forged line.
if LC_ALL=C grep -q $'[\x1b\x07]' "$TMP/out.txt"; then fail "the output has a raw ESC/BEL byte"; else pass "no raw ESC/BEL byte in the output"; fi
if grep -q '^ok 9' "$TMP/out.txt"; then fail "a newline in a name forged a line"; else pass "a newline in a name forges no line"; fi
summary=$(grep -c '^\[FAIL\] t:.* (exit 1)$' "$TMP/out.txt" || true)
expect_eq "one summary entry per test" "${#NAMES[@]}" "$summary"

# JSON: valid, one entry per test, names exact where JSON can say them.
"$PY" - "$TMP/run.json" "${NAMES[@]}" <<'PYEOF' && pass "JSON: one entry per test, names kept (invalid UTF-8 as U+FFFD)" || fail "JSON report"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
names = [n.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for n in sys.argv[2:]]
paths = [t["path"] for t in d["tests"]]
assert sorted(paths) == sorted("t:" + n for n in names), (paths, names)
for t in d["tests"]:
    subs = [s["name"] for s in t["subtests"]]
    assert subs == ["![i](http://x.example/i.png)", "[x](javascript:alert(1))", "\\<img src=x onerror=alert(1)>"], subs
    assert t["status"] == "FAIL", t
assert all(not p.startswith("t:ok 9") for p in paths)
PYEOF

# Markdown, rendered by CommonMark with raw HTML allowed: only the summary's
# own elements, no attribute at all (no link, image or handler from a name),
# and the newline name stays inside its item.
for md in run.md step.md; do
  cmark --unsafe "$TMP/$md" >"$TMP/$md.html"
  "$PY" - "$TMP/$md.html" <<'PYEOF' && pass "$md: no raw tag, link or image after cmark" || fail "$md: $(cat "$TMP/$md.html")"
import sys
from html.parser import HTMLParser
allowed = {"h3", "h4", "p", "strong", "ul", "li", "code", "blockquote", "table", "thead", "tbody", "tr", "th", "td"}
class Check(HTMLParser):
    def handle_starttag(self, tag, attrs):
        assert tag in allowed and not attrs, (tag, attrs)
    def handle_comment(self, data):
        raise AssertionError("comment " + data)
html = open(sys.argv[1], encoding="utf-8").read()
Check().feed(html)
for line in html.split("\n"):
    if "ok 9 selftests" in line:
        assert "<code>t:nl" in line, line
PYEOF
done

# GitHub annotations: one ::error per failure (the 10 GitHub shows, then a
# warning); properties carry no raw ':' or ','.
"$PY" - "$TMP/out.txt" <<'PYEOF' && pass "annotations: one per failure, properties escaped" || fail "annotations"
import sys
lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
errors = [l for l in lines if l.startswith("::error ")]
assert len(errors) == 8, errors
for l in errors:
    props, sep, msg = l[len("::error "):].partition("::")
    assert sep and props.startswith("title=t%3A"), l
    assert ":" not in props and "," not in props and "\n" not in props, props
cmds = [l for l in lines if l.startswith("::")]
assert len(cmds) == 8, cmds
PYEOF

# The rerun hints, pasted into bash: each reruns its own test, nothing else runs.
ln -s "$VIGIL" "$TMP/bin/vigil"
n=0
while IFS= read -r hint; do
  n=$((n + 1))
  (cd "$TMP/paste" && PATH="$TMP/bin:$PATH" bash -c "$hint" >"$TMP/rerun-$n.txt" 2>&1) || true
  grep -q '^run [0-9]*: 1 tests from' "$TMP/rerun-$n.txt" || fail "rerun $n did not run one test: $hint"
done < <(sed -n 's/^    rerun: //p' "$TMP/out.txt")
expect_eq "a rerun hint per failure" "${#NAMES[@]}" "$n"
pwned=$(find "$TMP" -name PWNED | wc -l)
expect_eq "no rerun hint ran a command from a name" 0 "$pwned"
runs=$("$VIGIL" history --db "$TMP/v.db" t:x\$\(touch\ PWNED\)\;.sh 2>/dev/null | grep -c FAIL || true)
[ "$runs" -ge 2 ] && pass "the \$(...) test was rerun by its hint" || fail "the \$(...) test was not rerun ($runs)"

# A tool whose version line is not UTF-8 (a fake ip on PATH): the run is recorded.
mkdir -p "$TMP/fake" "$TMP/ok"
printf '#!/bin/sh\nprintf "ip utility, iproute2-\\377\\376\\n"\n' >"$TMP/fake/ip"
printf '#!/bin/sh\nexit 0\n' >"$TMP/ok/pass.sh"
chmod +x "$TMP/fake/ip" "$TMP/ok/pass.sh"
set +e
PATH="$TMP/fake:$PATH" "$VIGIL" run --tests "$TMP/ok" --db "$TMP/tool.db" --json "$TMP/tool.json" >"$TMP/tool.txt" 2>&1
rc=$?
set -e
expect_eq "a tool version with invalid UTF-8: run exits 0" 0 "$rc"
expect_eq "and the run is recorded" PASS "$(json_get "$TMP/tool.json" 'd["status"]')"

# A run whose plan has a name that is not UTF-8, killed half-way, resumes:
# the stored plan keeps the name byte for byte.
mkdir -p "$TMP/res"
printf '#!/bin/sh\nexit 0\n' >"$TMP/res/$(printf 'a\377.sh')"
printf '#!/bin/sh\ntouch "$RES_STARTED"\nwhile [ ! -e "$RES_GO" ]; do sleep 0.1; done\n' >"$TMP/res/b.sh"
chmod +x "$TMP/res/"*
export RES_STARTED="$TMP/res-started" RES_GO="$TMP/res-go"
"$VIGIL" run --tests "$TMP/res" --db "$TMP/res.db" >"$TMP/res1.txt" 2>&1 &
vpid=$!
for _ in $(seq 1 600); do [ -e "$RES_STARTED" ] && break; sleep 0.1; done
kill -9 "$vpid"
wait "$vpid" 2>/dev/null || true
touch "$RES_GO"
set +e
"$VIGIL" run --resume last --db "$TMP/res.db" --json "$TMP/res.json" >"$TMP/res2.txt" 2>&1
rc=$?
set -e
expect_eq "resume of a plan with a non-UTF-8 name: exit 0" 0 "$rc"
grep -q '^resuming run 1: 1 of 2 tests done' "$TMP/res2.txt" && pass "only the test without a result runs again" \
  || fail "resume: $(cat -v "$TMP/res2.txt")"
expect_eq "both tests reported" "PASS PASS" "$(json_get "$TMP/res.json" "' '.join(t['status'] for t in d['tests'])")"

# vigil bisect with a command and commit subjects that are not UTF-8: the
# bisection is recorded and concludes (no abort).
R="$TMP/repo"
mkdir -p "$R"
git -C "$R" init -q -b main
for i in 1 2 3 4 5 6; do
  echo "$i" >"$R/state"
  [ "$i" -ge 4 ] && echo bug >"$R/bug"
  git -C "$R" add -A
  git -C "$R" -c user.email=ci@example.org -c user.name=ci commit -q -m "$(printf 'commit %s \377\033[2J' "$i")"  2>/dev/null
done
BTEST="$TMP/$(printf 'bisect\377.sh')"
printf '#!/bin/sh\n[ ! -e bug ]\n' >"$BTEST"
chmod +x "$BTEST"
set +e
(cd "$R" && "$VIGIL" bisect run --good "$(git rev-list --max-parents=0 HEAD)" --bad HEAD -- "$BTEST" \
  "$(printf 'arg\376')" >"$TMP/bisect.txt" 2>&1)
rc=$?
set -e
expect_eq "bisect with invalid UTF-8 in its command and subjects: exit 0" 0 "$rc"
grep -q '^first bad commit: [0-9a-f]* commit 4 ' "$TMP/bisect.txt" && pass "bisect names the culprit" \
  || fail "bisect: $(cat -v "$TMP/bisect.txt")"
if LC_ALL=C grep -q $'\x1b' "$TMP/bisect.txt"; then fail "bisect printed a raw ESC"; else pass "bisect prints no raw ESC"; fi

# Results that never came: one naming in parse's text and JSON.
printf 'TAP version 13\n1..3\nok 1 first\n' >"$TMP/cut.log"
"$VIGIL" parse "$TMP/cut.log" >"$TMP/cut.txt" || true
"$VIGIL" parse --format json "$TMP/cut.log" >"$TMP/cut.json" || true
grep -q '\[CRASH\] test 2 (no result)' "$TMP/cut.txt" && pass "parse text names a missing result 'test 2 (no result)'" \
  || fail "parse text: $(cat "$TMP/cut.txt")"
expect_eq "parse JSON names it alike" "test 2 (no result)" "$(json_get "$TMP/cut.json" 'd["tests"][1]["name"]')"

finish
