#!/usr/bin/env bash
# vigil export kcidb: a real run as KCIDB v5.3 JSON (required fields, id and
# path patterns, statuses), the same ids on a second export, and --submit
# POSTing it with the token as a Bearer header to a loopback HTTP server
# that records the request (and one that refuses it: exit 1).
source "$(dirname "$0")/lib.sh"
T="$TMP/ksft"
mkdir -p "$T/net/mptcp"
printf '#!/bin/sh\nprintf "TAP version 13\\n1..2\\nok 1 first case\\nnot ok 2 second: case\\n"\nexit 1\n' > "$T/net/mptcp/join.sh"
printf '#!/bin/sh\nexit 0\n' > "$T/net/mptcp/diag.sh"
printf '#!/bin/sh\nexit 4\n' > "$T/net/mptcp/skip.sh"
chmod +x "$T"/net/mptcp/*.sh
printf 'net/mptcp:join.sh\nnet/mptcp:diag.sh\nnet/mptcp:skip.sh\n' > "$T/kselftest-list.txt"
"$VIGIL" run --tests "$T" --db "$TMP/v.db" --color never > /dev/null 2>&1 || true

"$VIGIL" export kcidb last --origin vigil_e2e --db "$TMP/v.db" -o "$TMP/k1.json"
"$VIGIL" export kcidb 1 --origin vigil_e2e --db "$TMP/v.db" > "$TMP/k2.json"
expect_eq "two exports are the same" "$(cat "$TMP/k1.json")" "$(cat "$TMP/k2.json")"
checked=$("$PY" - "$TMP/k1.json" <<'PYEOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
ID = re.compile(r"^[a-z0-9_]+:[^\x00]*$")
PATH = re.compile(r"^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$")
assert d["version"] == {"major": 5, "minor": 3}, d["version"]
for kind, req in (("checkouts", ["id", "origin"]), ("builds", ["id", "origin", "checkout_id"]),
                  ("tests", ["id", "origin", "build_id"])):
    for o in d[kind]:
        for r in req:
            assert r in o, (kind, r)
        assert ID.match(o["id"]) and o["id"].startswith("vigil_e2e:"), o["id"]
        assert o.get("status", "PASS") in ("FAIL", "ERROR", "MISS", "PASS", "DONE", "SKIP")
tests = {t["path"]: t["status"] for t in d["tests"]}
for p in tests:
    assert PATH.match(p), p
print(tests["kselftest.net_mptcp.join_sh"], tests["kselftest.net_mptcp.join_sh.first_case"],
      tests["kselftest.net_mptcp.join_sh.second__case"], tests["kselftest.net_mptcp.diag_sh"],
      tests["kselftest.net_mptcp.skip_sh"], len(d["tests"]))
PYEOF
)
expect_eq "the tests, subtests and statuses as KCIDB has them" "FAIL PASS FAIL PASS SKIP 5" "$checked"
set +e
"$VIGIL" export kcidb last --origin Not-Valid --db "$TMP/v.db" > /dev/null 2> "$TMP/err"
rc=$?
set -e
expect_eq "an origin outside [a-z0-9_]+ is a usage error" 2 "$rc"

# A loopback server that records each request and answers with the status
# given in the file "status".
cat > "$TMP/server.py" <<'PYEOF'
import http.server, json, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        json.dump({"path": self.path, "auth": self.headers.get("Authorization"),
                   "type": self.headers.get("Content-Type"), "body": body.decode()},
                  open(d + "/request.json", "w"))
        code = int(open(d + "/status").read())
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'{"message": "thanks"}' if code < 300 else b'{"error": "bad report"}')
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(d + "/port", "w").write(str(s.server_port))
s.serve_forever()
PYEOF
echo 200 > "$TMP/status"
"$PY" "$TMP/server.py" "$TMP" &
server=$!
trap 'kill $server 2> /dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
port=$(cat "$TMP/port")
printf 's3cr3t-token\n' > "$TMP/token"
"$VIGIL" export kcidb last --origin vigil_e2e --db "$TMP/v.db" --submit "http://127.0.0.1:$port/submit" \
  --token-file "$TMP/token" > "$TMP/submit.out" 2>&1
expect_eq "the report is POSTed with the token as a Bearer header" "/submit|Bearer s3cr3t-token|application/json" \
  "$(json_get "$TMP/request.json" "d['path'] + '|' + d['auth'] + '|' + d['type']")"
expect_eq "the body is the report" "$(cat "$TMP/k1.json")" "$(json_get "$TMP/request.json" "d['body']")"
grep -q "s3cr3t" "$TMP/submit.out" && fail "the token was printed" || pass "the token is never printed"
echo 400 > "$TMP/status"
set +e
"$VIGIL" export kcidb last --origin vigil_e2e --db "$TMP/v.db" --submit "http://127.0.0.1:$port/submit" \
  --token-file "$TMP/token" > "$TMP/refused.out" 2>&1
rc=$?
set -e
expect_eq "a refused submission exits 1" 1 "$rc"
grep -q "HTTP 400" "$TMP/refused.out" && pass "and says so" || fail "refusal: $(cat "$TMP/refused.out")"
finish
