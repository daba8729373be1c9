#!/usr/bin/env bash
# vigil serve and vigil export html in a real browser (headless Chromium
# through chromium-driver and Selenium): a store filled by real vigil runs
# (pass, a failing subtest, a flaky test, a known issue, hostile names and
# logs, a VM run whose kernel WARNs twice from the crash module of
# tests/console), every page loaded and checked (the failing subtest after
# expanding, the flaky cell of the matrix, the crash title and count), no
# console error, no payload run, a screenshot of each page in
# build/e2e-artifacts/serve/. Then what a browser does not show: error
# statuses, the security headers, methods refused, the store never written,
# a running run's page as the run goes.
source "$(dirname "$0")/lib.sh"

for x in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$x" ] || { echo "$x missing (scripts/install-deps.sh installs chromium and chromium-driver)"; exit 1; }
done
"$PY" -c "import selenium" || { echo "python3-selenium missing (scripts/install-deps.sh)"; exit 1; }

SHOTS="$VIGIL_BUILD/e2e-artifacts/serve"
rm -rf "$SHOTS"
mkdir -p "$SHOTS"
DB="$TMP/v.db"
T="$TMP/coll"  # a directory of executables: the collection "coll"
mkdir -p "$T"
export VIGIL_E2E_STATE="$TMP/state"
mkdir -p "$VIGIL_E2E_STATE"

cat > "$T/pass.sh" <<'SH'
#!/bin/sh
echo "TAP version 13"; echo "1..2"; echo "ok 1 first"; echo "ok 2 second"
SH
# Passes until the state says break: then its second subtest fails.
cat > "$T/sub.sh" <<'SH'
#!/bin/sh
echo "TAP version 13"; echo "1..2"; echo "ok 1 first_sub"
if [ -f "$VIGIL_E2E_STATE/break" ]; then echo "not ok 2 second_sub"; exit 1; fi
echo "ok 2 second_sub"
SH
# Fails, then passes on the retry.
cat > "$T/flaky.sh" <<'SH'
#!/bin/sh
if [ -f "$VIGIL_E2E_STATE/flaky" ]; then rm "$VIGIL_E2E_STATE/flaky"; echo "ok this time"; exit 0; fi
touch "$VIGIL_E2E_STATE/flaky"; echo "failed this time"; exit 1
SH
cat > "$T/known.sh" <<'SH'
#!/bin/sh
echo "no netem here"; exit 1
SH
XSS_NAME='<img src=x onerror="document.title='"'"'pwned'"'"'">.sh'
cat > "$T/$XSS_NAME" <<'SH'
#!/bin/sh
echo "TAP version 13"; echo "1..2"
echo "not ok 1 <img src=x onerror=document.title='pwned';window.pwned=1>"
echo "ok 2 </script><script>window.pwned=1</script>"
echo "</script><script>document.title='pwned'</script>"
printf '\033[31mred\033[0m <b onmouseover=alert(1)>x</b>\n'
exit 1
SH
chmod +x "$T"/*.sh "$T/$XSS_NAME"
cat > "$T/known-issues.toml" <<'TOML'
[[issue]]
match = "coll:known.sh"
reason = "no netem on these hosts"
link = "https://example.org/issues/1"
TOML

run() { "$VIGIL" run --tests "$T" --db "$DB" --retries 1 --color never "$@" > "$TMP/run.out" 2>&1 || true; }
run                        # run 1: sub.sh passes
touch "$VIGIL_E2E_STATE/break"
run                        # run 2: sub.sh:second_sub fails (new), flaky.sh FLAKY
expect_eq "two host runs recorded" 2 "$(sqlite3 "$DB" 'select count(*) from runs')"

# A VM run whose kernel WARNs from the crash module, twice (two VMs).
k61=$(bash "$VIGIL_SRC/scripts/console-corpus.sh" --fetch-kernel --line 6.1 | tail -n 1)
ko=$(bash "$VIGIL_SRC/scripts/console-corpus.sh" --module-only --line 6.1 | tail -n 1)
rel=$(basename "$(dirname "$k61")")
mkdir -p "$TMP/kern"
cat > "$TMP/kern/warn.sh" <<SH
#!/bin/sh
insmod $ko trigger=warn
echo "insmod returned \$?"
SH
chmod +x "$TMP/kern/warn.sh"
for _ in 1 2; do
  "$VIGIL" run --tests "$TMP/kern" --kernel "$k61/boot/vmlinuz-$rel" --modules "$k61/lib/modules/$rel" --accel auto \
    --db "$DB" --color never > "$TMP/vm.out" 2>&1 || true
done
crash_title=$(sqlite3 "$DB" "select title from crashes limit 1")
expect_eq "the VM runs recorded the WARNING twice" "2 WARNING in vigil_crash_warn" \
  "$(sqlite3 "$DB" 'select count(*) from crashes') $crash_title"
last=$(sqlite3 "$DB" 'select max(id) from runs')

# Serve on a free loopback port.
"$VIGIL" serve --db "$DB" --listen 127.0.0.1:0 > "$TMP/serve.out" 2> "$TMP/serve.err" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do grep -q 'http://' "$TMP/serve.err" && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$TMP/serve.err" | head -n 1)
[ -n "$URL" ] && pass "vigil serve listens on loopback: $URL" || { fail "vigil serve did not start: $(cat "$TMP/serve.err")"; finish; }

cat > "$TMP/expect.json" <<JSON
{"runs": [1, 2, 3, 4], "failing_run": 2, "failing_test": "coll:sub.sh", "failing_subtest": "second_sub",
 "xss_run": 2, "xss_name": "coll:$(printf '%s' "$XSS_NAME" | sed 's/"/\\"/g')",
 "flaky_run": 2, "flaky_test": "coll:flaky.sh",
 "crash_title": "$crash_title", "crash_count": 2, "compare": [1, 2]}
JSON
if "$PY" "$VIGIL_SRC/tests/e2e/serve_browser.py" "$URL" "$TMP/expect.json" "$SHOTS" > "$TMP/browser.out" 2>&1; then
  pass "the browser's checks of vigil serve ($(grep -c '^ok:' "$TMP/browser.out") passed)"
else
  cat "$TMP/browser.out"
  fail "the browser's checks of vigil serve"
fi

# What a browser does not show.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "unknown run: 404" 404 "$(code "$URL/runs/999999")"
expect_eq "a run that is not a number: 404" 404 "$(code "$URL/runs/%ff%fe")"
expect_eq "a huge page number: 404" 404 "$(code "$URL/runs?page=99999999999999")"
expect_eq "page 0: 400" 400 "$(code "$URL/runs?page=0")"
expect_eq "a test without a collection: 400" 400 "$(code "$URL/tests?path=x")"
expect_eq "no way out of /static: 404" 404 "$(code --path-as-is "$URL/static/../../etc/passwd")"
expect_eq "a URL of 20 KB is refused" 414 "$(code "$URL/runs?x=$(head -c 20000 /dev/zero | tr '\0' a)")"
expect_eq "POST is refused: 405" 405 "$(code -X POST -d x=1 "$URL/runs/1")"
expect_eq "one byte range is served" "206 100" \
  "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -r 0-99 "$URL/static/vigil.js")"
ranges=$(printf '0-,%.0s' $(seq 500))
expect_eq "several byte ranges are refused: 416, not a copy of the page each" "416" \
  "$(code -r "${ranges%,}" "$URL/static/vigil.js")"
expect_eq "an unknown API page: a JSON error" "no run 999999" \
  "$(curl -s "$URL/api/v1/runs/999999" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["error"])')"
headers=$(curl -s -D - -o /dev/null "$URL/runs/2")
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'" <<<"$headers" \
  && pass "a Content-Security-Policy forbids inline script and style" || fail "CSP: $headers"
grep -qi '^x-content-type-options: nosniff' <<<"$headers" && pass "nosniff" || fail "nosniff: $headers"
expect_eq "the API has the page's data: run 2's tests" 5 \
  "$(curl -s "$URL/api/v1/runs/2" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["tests"]))')"

# A run in progress shows on its page, then finishes there; serve sees it
# through its read-only connection while vigil run writes.
mkdir -p "$TMP/slow"
printf '#!/bin/sh\necho fast\n' > "$TMP/slow/a.sh"
printf '#!/bin/sh\nwhile [ ! -f "$VIGIL_E2E_STATE/go" ]; do sleep 0.2; done\necho slow\n' > "$TMP/slow/b.sh"
chmod +x "$TMP/slow/"*.sh
"$VIGIL" run --tests "$TMP/slow" --db "$DB" --color never > "$TMP/slow.out" 2>&1 &
RUN=$!
live=$((last + 1))
for _ in $(seq 100); do
  curl -s "$URL/api/v1/runs/$live" | grep -q '"done":1' && break
  sleep 0.2
done
page=$(curl -s "$URL/runs/$live")
grep -q 'Running: 1 of 2 planned tests have a result' <<<"$page" && pass "a running run's page shows its progress" \
  || fail "running page: $(grep -o 'Running[^<]*' <<<"$page")"
grep -q 'data-refresh="5"' <<<"$page" && pass "and refreshes itself" || fail "no data-refresh on a running run"
touch "$VIGIL_E2E_STATE/go"
wait $RUN || true
expect_eq "then it shows the finished run" PASS \
  "$(curl -s "$URL/api/v1/runs/$live" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])')"

kill $SERVE
wait $SERVE 2>/dev/null || true
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' > /dev/null
"$VIGIL" serve --db "$DB" --listen 127.0.0.1:0 2> "$TMP/serve2.err" &
SERVE=$!
for _ in $(seq 100); do grep -q 'http://' "$TMP/serve2.err" && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$TMP/serve2.err" | head -n 1)
sum_before=$(sha256sum "$DB" | cut -d' ' -f1)
for p in / /runs/2 /flakes /crashes "/tests?path=coll%3Asub.sh" "/compare?a=1&b=2"; do curl -s -o /dev/null "$URL$p"; done
kill $SERVE
wait $SERVE 2>/dev/null || true
expect_eq "serving never writes the store" "$sum_before" "$(sha256sum "$DB" | cut -d' ' -f1)"
set +e
"$VIGIL" serve --db "$TMP/none.db" --listen 127.0.0.1:0 2> "$TMP/none.err"; rc=$?
set -e
expect_eq "a store that does not exist: exit 2, not created" "2 no" "$rc $([ -e "$TMP/none.db" ] && echo yes || echo no)"
set +e
"$VIGIL" serve --db "$DB" --listen 127.0.0.1:99999 2> "$TMP/port.err"; rc=$?
set -e
expect_eq "a port beyond 65535: exit 2" 2 "$rc"

# The static export, in the same browser, from files.
"$VIGIL" export html "$TMP/site" --db "$DB" > "$TMP/export.out"
grep -q "files" "$TMP/export.out" && pass "export: $(cat "$TMP/export.out")" || fail "export: $(cat "$TMP/export.out")"
if "$PY" "$VIGIL_SRC/tests/e2e/serve_browser.py" "file://$TMP/site" "$TMP/expect.json" "$SHOTS" \
  > "$TMP/browser2.out" 2>&1; then
  pass "the browser's checks of the export ($(grep -c '^ok:' "$TMP/browser2.out") passed)"
else
  cat "$TMP/browser2.out"
  fail "the browser's checks of the export"
fi
echo "screenshots: $SHOTS"
finish
