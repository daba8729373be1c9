#!/usr/bin/env bash
# The patch loop against a real Patchwork (../shared/patchwork, v3.1.3 on
# Debian's Django) and a real SMTP server (Debian's aiosmtpd, Maildir):
# series made with git format-patch --thread --cover-letter are delivered
# to Patchwork as the mailing list would, and `vigil watch --once` applies
# them to a small repository holding a kselftest tree, tests them sandboxed
# on the host against their tree's base, posts checks and replies by mail.
# Needs ../shared/patchwork from the project's root: skipped without it.
source "$(dirname "$0")/lib.sh"

ESCAPE=/var/tmp/vigil-e2e-watch-escape-$$
# Checkouts where the sandbox user can reach them ($TMP is private).
WORK=/var/tmp/vigil-e2e-watch-$$
cleanup() {
  stop_servers
  rm -f "$ESCAPE"
  rm -rf "$WORK" "$WORK-dry"
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
source "$(dirname "$0")/patchwork.sh"

# --- The repository: a kselftest tree whose check.sh reads lib/*.
REPO=$TMP/repo
mkdir -p "$REPO/selftests/c" "$REPO/lib"
git -C "$REPO" init -q -b main
git -C "$REPO" config user.email dev@example.org
git -C "$REPO" config user.name "Dev Eloper"
echo "c:check.sh" > "$REPO/selftests/kselftest-list.txt"
cat > "$REPO/selftests/c/check.sh" <<EOT
#!/bin/sh
lib=\$(dirname "\$0")/../../lib
echo "TAP version 13"
echo "1..3"
rc=0
n=0
for t in first second third; do
  n=\$((n + 1))
  if [ "\$(cat "\$lib/\$t")" = ok ]; then echo "ok \$n \$t"; else echo "not ok \$n \$t"; rc=1; fi
done
[ -e "\$lib/slow" ] && sleep 20
# What a test from a stranger must not be able to do:
touch $ESCAPE 2>/dev/null && echo "# wrote outside its checkout"
cat $TMP/token 2>/dev/null | sed 's/^/# token: /'
exit \$rc
EOT
chmod +x "$REPO/selftests/c/check.sh"
for t in first second third; do echo ok > "$REPO/lib/$t"; done
echo "notes" > "$REPO/lib/notes"
git -C "$REPO" add -A && git -C "$REPO" commit -qm "base"
git -C "$REPO" checkout -q -b net
echo bad > "$REPO/lib/third"          # net already fails third
echo "only on net" > "$REPO/lib/netonly"
git -C "$REPO" add -A && git -C "$REPO" commit -qm "net: third fails, netonly"
git -C "$REPO" checkout -q main

cat > "$TMP/pipeline.toml" <<EOT
[[tree]]
name = "net-next"
branch = "main"

[[tree]]
name = "net"
branch = "net"

[run]
tests = "selftests"
context = "vigil-test"

[checks]
target_url = "http://ci.example.org/runs/{run}"

[email]
smtp = "smtp://127.0.0.1:$SMTP_PORT"
from = "Vigil CI <ci@example.org>"
cc = ["test@example.org"]
EOT

# series NAME BASE PREFIX COMMANDS...: commits on a branch off BASE (one per
# command, run in the scratch clone), mailed to Patchwork as a thread.
SCRATCH=$TMP/scratch
git clone -q "$REPO" "$SCRATCH"
git -C "$SCRATCH" config user.email "sub@example.org"
git -C "$SCRATCH" config user.name "Sub Mitter"
# git names a cover letter <cover.SECONDS.git.EMAIL>: two series made in the
# same second would share it, and Patchwork drops the second as a duplicate.
# Each series' cover letter gets its own.
series() {
  local name=$1 base=$2 prefix=$3 from i=0
  shift 3
  git -C "$SCRATCH" checkout -q -B "s-$name" "origin/$base"
  from=$(git -C "$SCRATCH" rev-parse HEAD)
  for cmd in "$@"; do
    if [[ $cmd == UNSENT:* ]]; then  # a commit the series builds on but does not carry
      (cd "$SCRATCH" && eval "${cmd#UNSENT:}") && git -C "$SCRATCH" add -A && git -C "$SCRATCH" commit -qm unsent
      from=$(git -C "$SCRATCH" rev-parse HEAD)
      continue
    fi
    i=$((i + 1))
    (cd "$SCRATCH" && eval "$cmd") && git -C "$SCRATCH" add -A && git -C "$SCRATCH" commit -qm "$name: change $i"
  done
  git -C "$SCRATCH" format-patch -q --thread --cover-letter --stdout --subject-prefix="$prefix" "$from" |
    sed -e "s/<cover\./<cover.$name./" -e "s/\*\*\* SUBJECT HERE \*\*\*/series $name/" | bash "$PW_SERVER" inject-mbox "$PW_DIR"
}
pw_get() { curl -sf "$PW_URL$1"; }

series pass main "PATCH net-next" "echo one >> lib/notes" "echo two >> lib/notes"
series breaks main "PATCH net-next" "echo three >> lib/notes" "echo bad > lib/second"
series noapply main "PATCH" "UNSENT:echo x > lib/ghost" "echo y >> lib/ghost"
series tagged net "PATCH net" "echo more >> lib/netonly"
series firstfit net "PATCH" "echo again >> lib/netonly"

DB=$TMP/vigil.db
watch() { "$VIGIL" watch --patchwork "$PW_URL" --project test --token-file "$TMP/token" --repo "$REPO" \
  --pipeline "$TMP/pipeline.toml" --db "$DB" --work-dir "$WORK" --once --since all "$@"; }

set +e
watch > "$TMP/w1.out" 2>&1
rc=$?
set -e
cat "$TMP/w1.out"
expect_eq "watch --once: exit 0" 0 "$rc"

checks_of pass > "$TMP/c.pass"; checks_of breaks > "$TMP/c.breaks"; checks_of noapply > "$TMP/c.noapply"
checks_of tagged > "$TMP/c.tagged"; checks_of firstfit > "$TMP/c.firstfit"
cat "$TMP"/c.*
expect_eq "passing series: success on both patches, one pending and one final each" \
  "2" "$(grep -c '^1 1 vigil-test success: Success: 3 subtests passed$' "$TMP/c.pass")"
expect_eq "broken second patch: fail on both patches, naming the subtest" \
  "2" "$(grep -c '^1 1 vigil-test fail: Failed: 1 new failure: c:check.sh:second$' "$TMP/c.breaks")"
if grep -q '^1 1 vigil-test fail: Does not apply to net: .*ghost' "$TMP/c.noapply"; then
  pass "series that applies nowhere: fail with git's words"
else
  fail "series that applies nowhere: $(cat "$TMP/c.noapply")"
fi
expect_eq "tagged [PATCH net] on net, whose base fails third already: not blamed" \
  "1" "$(grep -c '^1 1 vigil-test success: Success: 2 subtests passed, 1 failing on the base as well$' "$TMP/c.tagged")"
expect_eq "untagged, applies only to net: tested there" \
  "1" "$(grep -c '^1 1 vigil-test success: Success: 2 subtests passed, 1 failing on the base as well$' "$TMP/c.firstfit")"
"$VIGIL" series --db "$DB" --json > "$TMP/series.json"
expect_eq "trees chosen: tag, first fit, default" "net net net-next net-next" \
  "$(json_get "$TMP/series.json" "' '.join(sorted(s['tree'] for s in d['series'] if s['tree']))")"
expect_eq "baselines: one run per base commit (2 trees) + 4 series runs" 6 \
  "$(sqlite3 "$DB" 'SELECT COUNT(*) FROM runs')"

# The sandbox: nothing written outside the checkout, the token unreadable.
if [ -e "$ESCAPE" ]; then fail "a test wrote $ESCAPE outside its checkout"; else pass "sandbox: no write outside the checkout"; fi
if sqlite3 "$DB" .dump | grep -qF "$(cat "$TMP/token")"; then fail "the token is in the store"; else pass "the token is not in the store (nor readable by tests)"; fi
if grep -qF "$(cat "$TMP/token")" "$TMP/w1.out"; then fail "the token was printed"; else pass "the token is never printed"; fi

# The e-mails: one per series, threaded under the cover letter.
expect_eq "one e-mail per series" 5 "$(mails)"
"$PY" - "$MAILDIR" "$PW_URL" > "$TMP/mails.txt" <<'EOT'
import email, json, mailbox, sys, urllib.request
box = mailbox.Maildir(sys.argv[1], factory=None)
covers = {}
with urllib.request.urlopen(sys.argv[2] + "/api/1.2/series/?per_page=100") as r:
    for s in json.load(r):
        covers[s["cover_letter"]["msgid"]] = s["name"]
for key in sorted(box.keys()):
    m = box[key]
    irt = m["In-Reply-To"]
    print("%s|%s|%s|%s|%s" % (covers.get(irt, "?"), m["Subject"], m["References"] == irt, m["To"], m["Cc"]))
    body = m.get_payload(decode=True).decode()
    if "second" in covers.get(irt, ""):
        pass
    if covers.get(irt) == "series breaks":
        print("BODY " + body.replace("\n", "\\n"))
EOT
cat "$TMP/mails.txt"
expect_eq "reply to the cover letter, Re: its subject, to the submitter, Cc the list" "series pass|Re: [PATCH net-next 0/2] series pass|True|Sub Mitter <sub@example.org>|test@example.org" \
  "$(grep '^series pass|' "$TMP/mails.txt")"
if grep '^BODY' "$TMP/mails.txt" | grep -q 'FAIL c:check.sh:second' && grep '^BODY' "$TMP/mails.txt" | grep -q 'vigil run --tests selftests -t c:check.sh'; then
  pass "the failing series' e-mail names the subtest and how to reproduce it"
else
  fail "the failing series' e-mail: $(grep '^BODY' "$TMP/mails.txt")"
fi

# Nothing new: a second --once posts and sends nothing.
watch > "$TMP/w2.out" 2>&1 || true
checks_of pass > "$TMP/c.pass2"
expect_eq "a second --once: no new check" "$(cat "$TMP/c.pass")" "$(cat "$TMP/c.pass2")"
expect_eq "a second --once: no new e-mail" 5 "$(mails)"

# kill -9 in the middle of a series' test; the restart finishes it with one
# pending and one final check per patch and one e-mail.
series slow main "PATCH net-next" "touch lib/slow"
# (vigil itself in the background, not a subshell: kill -9 must hit it)
"$VIGIL" watch --patchwork "$PW_URL" --project test --token-file "$TMP/token" --repo "$REPO" \
  --pipeline "$TMP/pipeline.toml" --db "$DB" --work-dir "$WORK" --once > "$TMP/w3.out" 2>&1 &
WPID=$!
for _ in $(seq 1 300); do
  grep -q "series .*: testing" "$TMP/w3.out" 2>/dev/null && [ "$(checks_of slow | cut -d' ' -f1)" = 1 ] && break
  sleep 0.2
done
sleep 2
kill -9 "$WPID"
wait "$WPID" 2>/dev/null || true
expect_eq "killed while testing: series left testing" "testing" \
  "$(sqlite3 "$DB" "SELECT state FROM series WHERE name = 'series slow'")"
watch > "$TMP/w4.out" 2>&1 || true
cat "$TMP/w4.out"
expect_eq "after the restart: one pending, one final check" "1 1 vigil-test success: Success: 3 subtests passed" \
  "$(checks_of slow)"
expect_eq "after the restart: one e-mail more" 6 "$(mails)"

# A bad token: a clear error, exit 2, nothing handled.
echo "0000000000000000000000000000000000000000" > "$TMP/bad-token"
series later main "PATCH net-next" "echo four >> lib/notes"
set +e
"$VIGIL" watch --patchwork "$PW_URL" --project test --token-file "$TMP/bad-token" --repo "$REPO" \
  --pipeline "$TMP/pipeline.toml" --db "$DB" --work-dir "$WORK" --once > "$TMP/w5.out" 2>&1
rc=$?
set -e
cat "$TMP/w5.out"
expect_eq "bad token: exit 2" 2 "$rc"
if grep -q "401\|403" "$TMP/w5.out" && ! grep -q 0000000000000000 "$TMP/w5.out"; then
  pass "bad token: the HTTP status said, the token not"
else
  fail "bad token message: $(cat "$TMP/w5.out")"
fi

# Patchwork down: retried, exit 1, nothing lost; once it is back the series is handled.
bash "$PW_SERVER" stop "$PW_DIR"
set +e
watch > "$TMP/w6.out" 2>&1
rc=$?
set -e
expect_eq "Patchwork down: exit 1" 1 "$rc"
grep -q "after [0-9]* attempts" "$TMP/w6.out" && pass "Patchwork down: retried" || fail "Patchwork down: $(cat "$TMP/w6.out")"
bash "$PW_SERVER" start "$PW_DIR" "$PW_PORT" > /dev/null
watch > "$TMP/w7.out" 2>&1 || true
expect_eq "Patchwork back: the queued series is handled" "1 1 vigil-test success: Success: 3 subtests passed" \
  "$(checks_of later)"
expect_eq "Patchwork back: its e-mail" 7 "$(mails)"

# --dry-run on a store of its own: every series tested, .eml files written,
# no check posted, nothing sent.
before=$(checks_of pass; checks_of later)
"$VIGIL" watch --patchwork "$PW_URL" --project test --repo "$REPO" --pipeline "$TMP/pipeline.toml" \
  --db "$TMP/dry.db" --work-dir "$WORK-dry" --once --since all --dry-run > "$TMP/w8.out" 2>&1 || true
expect_eq "dry run: no check posted" "$before" "$(checks_of pass; checks_of later)"
expect_eq "dry run: nothing sent" 7 "$(mails)"
expect_eq "dry run: one .eml per series" 7 "$(ls "$WORK-dry"/mail/*.eml 2>/dev/null | wc -l)"

# vigil series: what the store knows.
"$VIGIL" series --db "$DB" > "$TMP/series.txt"
cat "$TMP/series.txt"
grep -q "done .*pw .*series breaks" "$TMP/series.txt" && grep -q "on net-next: fail: Failed: 1 new failure: c:check.sh:second" "$TMP/series.txt" &&
  grep -q "checks: 4/4 posted, e-mail sent" "$TMP/series.txt" && pass "vigil series lists states, conclusions, checks, e-mail" ||
  fail "vigil series: $(cat "$TMP/series.txt")"

# vigil history: the tree's own runs; the series that broke c:check.sh:second
# is counted apart, and shown, marked, with --series.
"$VIGIL" history c:check.sh:second --db "$DB" > "$TMP/hist.txt"
"$VIGIL" history c:check.sh:second --db "$DB" --series > "$TMP/hist-series.txt"
cat "$TMP/hist.txt" "$TMP/hist-series.txt"
expect_eq "history: the tree's runs never failed second" "" "$(sed -n 2p "$TMP/hist.txt" | cut -d' ' -f1 | tr -d .)"
grep -q "^[0-9]* run(s) that tested a patch series .*--series lists them" "$TMP/hist.txt" &&
  pass "history counts the series' runs apart" || fail "history: no line for the series' runs"
sed -n 2p "$TMP/hist-series.txt" | cut -d' ' -f1 | grep -q F && grep -q "FAIL .* series [0-9]*$" "$TMP/hist-series.txt" &&
  pass "history --series: the breaking series' run, marked" || fail "history --series"

# vigil export kcidb series:ID: the checkout of the passing series is its
# base, with KCIDB's patchset hash of the patches Patchwork serves, as the
# schema says to make it (sha256sum *.patch | cut -c-64 | sha256sum).
pass_id=$(sqlite3 "$DB" "SELECT id FROM series WHERE name = 'series pass'")
"$VIGIL" export kcidb "series:$pass_id" --origin vigil_e2e --db "$DB" -o "$TMP/kcidb.json"
mkdir -p "$TMP/patches"
"$PY" - "$PW_URL" "$TMP/patches" <<'EOT'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/api/1.2/series/?per_page=100") as r:
    for s in json.load(r):
        if s["name"] == "series pass":
            for i, p in enumerate(s["patches"]):
                with urllib.request.urlopen(p["mbox"]) as m, open("%s/%02d.patch" % (sys.argv[2], i), "wb") as f:
                    f.write(m.read())
EOT
expected=$(cd "$TMP/patches" && sha256sum ./*.patch | cut -c-64 | sha256sum | cut -c-64)
expect_eq "kcidb: the series' patchset hash, over its $(ls "$TMP/patches" | wc -l) patches" "$expected" \
  "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkouts"][0].get("patchset_hash"))' "$TMP/kcidb.json")"
expect_eq "kcidb: the checkout is the series' base commit" "$(git -C "$REPO" rev-parse main)" \
  "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkouts"][0].get("git_commit_hash"))' "$TMP/kcidb.json")"

# vigil test-series: one series by hand (dry run: nothing posted or sent).
set +e
"$VIGIL" test-series --patchwork "$PW_URL" --project test --series 2 --repo "$REPO" --pipeline "$TMP/pipeline.toml" \
  --db "$TMP/by-hand.db" --work-dir "$WORK-dry" --dry-run > "$TMP/ts.out" 2>&1
rc=$?
set -e
cat "$TMP/ts.out"
expect_eq "test-series of the breaking series: exit 1" 1 "$rc"
grep -q "fail: Failed: 1 new failure: c:check.sh:second" "$TMP/ts.out" && pass "test-series: the conclusion" || fail "test-series: $(cat "$TMP/ts.out")"

# vigil test-branch: the same pipeline on a git range.
git -C "$REPO" checkout -q -b topic main
echo bad > "$REPO/lib/first"
git -C "$REPO" commit -qam "topic: break first"
git -C "$REPO" checkout -q main
set +e
"$VIGIL" test-branch --repo "$REPO" --base main --head topic --pipeline "$TMP/pipeline.toml" --db "$DB" \
  --work-dir "$WORK" > "$TMP/tb.out" 2>&1
rc=$?
set -e
cat "$TMP/tb.out"
expect_eq "test-branch main..topic: exit 1" 1 "$rc"
grep -q "fail: Failed: 1 new failure: c:check.sh:first" "$TMP/tb.out" && pass "test-branch: the new failure" || fail "test-branch: $(cat "$TMP/tb.out")"
expect_eq "test-branch: no e-mail for a branch" 7 "$(mails)"

# Two loops on one store: the second is turned away, naming the first.
flock -o "$DB.loop-lock" sleep 30 &
holder=$!
sleep 0.5
set +e
"$VIGIL" watch --patchwork "$PW_URL" --project test --token-file "$TMP/token" --repo "$REPO" \
  --pipeline "$TMP/pipeline.toml" --db "$DB" --work-dir "$WORK" --once > "$TMP/two.out" 2>&1
rc=$?
set -e
pkill -P "$holder" sleep 2>/dev/null || true
expect_eq "a second loop on the same store: exit 2" 2 "$rc"
grep -q "another vigil watch, test-series or test-branch works with this store" "$TMP/two.out" &&
  pass "and says why" || fail "second loop: $(cat "$TMP/two.out")"

# The dashboard shows what the loop recorded: the series, their checks, the
# runs they made (read-only, beside the store the loop wrote).
"$VIGIL" serve --db "$DB" --listen 127.0.0.1:0 2> "$TMP/serve.err" &
serve=$!
for _ in $(seq 100); do grep -q 'http://' "$TMP/serve.err" && break; sleep 0.1; done
SURL=$(grep -o 'http://[0-9.:]*' "$TMP/serve.err" | head -n 1)
breaks=$("$PY" -c 'import json,sys; print([s["id"] for s in json.load(open(sys.argv[1]))["series"] if s["name"] == "series breaks"][0])' "$TMP/series.json")
page=$(curl -s "$SURL/series/$breaks")
grep -q 'Failed: 1 new failure: c:check.sh:second' <<<"$page" && grep -q '<td>vigil-test</td>' <<<"$page" &&
  pass "vigil serve: the series page has its checks" || fail "series page: $page"
expect_eq "vigil serve: the series' runs are listed as theirs" True \
  "$(curl -s "$SURL/api/v1/runs?origin=series" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["total"] >= 2)')"
kill $serve
wait $serve 2>/dev/null || true

finish
