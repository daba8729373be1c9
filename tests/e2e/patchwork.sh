# The patch loop's servers for the e2e tests that need them, sourced after
# lib.sh: a real Patchwork (../shared/patchwork, v3.1.3 on Debian's Django;
# the test is skipped, exit 77, without it) and a real SMTP server (Debian's
# aiosmtpd, delivering to the Maildir $MAILDIR), both on loopback. Sets
# PW_SERVER, PW_DIR, PW_URL, $TMP/token (the API token, mode 600),
# SMTP_PORT and MAILDIR; the caller's EXIT trap calls stop_servers.

PW_SERVER=${VIGIL_PATCHWORK:-$VIGIL_SRC/../shared/patchwork/pw-server}
PW_DIR=$TMP/pw
MAILDIR=$TMP/mail
stop_servers() {
  bash "$PW_SERVER" stop "$PW_DIR" >/dev/null 2>&1 || true
  [ -n "${SMTP_PID:-}" ] && kill "$SMTP_PID" 2>/dev/null || true
}
if [ ! -f "$PW_SERVER" ]; then
  echo "SKIP: no Patchwork server at $PW_SERVER (../shared/patchwork from the project's root)"
  exit 77
fi
"$PY" -c 'import django, rest_framework, django_filters, aiosmtpd' 2>/dev/null || {
  echo "FAIL: python3-django, python3-djangorestframework, python3-django-filters and python3-aiosmtpd are needed"
  exit 1
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PW_PORT=$(free_port)
SMTP_PORT=$(free_port)

bash "$PW_SERVER" start "$PW_DIR" "$PW_PORT" > "$TMP/pw.env"
PW_URL=$(sed -n 's/^url=//p' "$TMP/pw.env")
sed -n 's/^token=//p' "$TMP/pw.env" > "$TMP/token"
chmod 600 "$TMP/token"
mkdir -p "$MAILDIR"/{cur,new,tmp}
"$PY" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR" > "$TMP/smtp.log" 2>&1 &
SMTP_PID=$!

# checks_of NAME: for each patch of "series NAME", a line: the number of
# pending checks, the number of final ones, then the final ones by context
# ("context state: description", joined by " | ").
checks_of() {
  "$PY" - "$PW_URL" "$1" <<'EOT'
import json, sys, urllib.request
url, name = sys.argv[1], sys.argv[2]
def get(u):
    with urllib.request.urlopen(u) as r:
        return json.load(r)
for s in get(url + "/api/1.2/series/?per_page=100"):
    if s["name"] != "series " + name:
        continue
    for p in s["patches"]:
        cs = get(url + "/api/1.2/patches/%d/checks/" % p["id"])
        pend = sum(1 for c in cs if c["state"] == "pending")
        final = sorted([c for c in cs if c["state"] != "pending"], key=lambda c: c["context"])
        print(pend, len(final), " | ".join("%s %s: %s" % (c["context"], c["state"], c["description"]) for c in final))
EOT
}

# The e-mails the SMTP server received.
mails() { ls "$MAILDIR"/new 2>/dev/null | wc -l; }
