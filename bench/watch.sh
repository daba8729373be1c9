#!/usr/bin/env bash
# The patch loop's own cost, on a real Patchwork (../shared/patchwork) and a
# real SMTP server (aiosmtpd), with a host-only pipeline of one trivial test:
#   (1) latency: a series lands on Patchwork; `vigil watch --once` runs until
#       its checks are posted and its e-mail sent. vigil's overhead = that wall
#       time - the tests' own (their attempts' durations in the store, the
#       sandbox's start included);
#       the tree's baseline is tested by an earlier series first. Target < 2 s.
#   (2) throughput: N series (200 by default) queued on Patchwork, one
#       `vigil watch --once` handles them all: series per second.
#   bench/watch.sh [BUILD_DIR_OR_BINARY] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${1:-build}
[ -d "$VIGIL" ] && VIGIL=$(realpath "$VIGIL/vigil")
N=${2:-200}
PW_SERVER=${VIGIL_PATCHWORK:-$PWD/../shared/patchwork/pw-server}
[ -f "$PW_SERVER" ] || { echo "no Patchwork server at $PW_SERVER" >&2; exit 2; }
W=$(mktemp -d /var/tmp/vigil-watch-bench.XXXXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PW_PORT=$(port)
SMTP_PORT=$(port)
trap 'bash "$PW_SERVER" stop "$W/pw" >/dev/null 2>&1 || true; kill $SMTP_PID 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
bash "$PW_SERVER" start "$W/pw" "$PW_PORT" > "$W/pw.env"
PW_URL=$(sed -n 's/^url=//p' "$W/pw.env")
sed -n 's/^token=//p' "$W/pw.env" > "$W/token"
mkdir -p "$W"/mail/{cur,new,tmp}
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$W/mail" > /dev/null 2>&1 &
SMTP_PID=$!

R=$W/repo
mkdir -p "$R/selftests/c"
git -C "$R" init -q -b main
git -C "$R" config user.email b@example.org
git -C "$R" config user.name Bench
echo "c:ok.sh" > "$R/selftests/kselftest-list.txt"
printf '#!/bin/sh\necho "TAP version 13"\necho "1..1"\necho "ok 1 trivial"\n' > "$R/selftests/c/ok.sh"
chmod +x "$R/selftests/c/ok.sh"
echo start > "$R/counter"
git -C "$R" add -A && git -C "$R" commit -qm base
cat > "$W/pipeline.toml" <<EOT
[[tree]]
name = "main"
branch = "main"
[run]
tests = "selftests"
[email]
smtp = "smtp://127.0.0.1:$SMTP_PORT"
from = "Vigil CI <ci@example.org>"
EOT
git clone -q "$R" "$W/scratch"
# land K: one single-patch series (no cover letter), numbered K
land() {
  git -C "$W/scratch" checkout -q -B "s$1" origin/main
  echo "$1" > "$W/scratch/counter"
  git -C "$W/scratch" -c user.email=s@example.org -c user.name=Sub commit -qam "counter: $1"
  git -C "$W/scratch" format-patch -q --thread --stdout -1 | bash "$PW_SERVER" inject-mbox "$W/pw"
}
watch() { "$VIGIL" watch --patchwork "$PW_URL" --project test --token-file "$W/token" --repo "$R" \
  --pipeline "$W/pipeline.toml" --db "$W/vigil.db" --once > "$W/watch.out" 2>&1; }
now() { date +%s.%N; }

# (1) latency, after a first series has tested the base
land 0
watch
land 1
t0=$(now); watch; t1=$(now)
run_s=$(sqlite3 "$W/vigil.db" "SELECT SUM(a.duration_ms) / 1000.0 FROM attempts a JOIN tests t ON a.test_id = t.id
  WHERE t.run_id = (SELECT MAX(id) FROM runs)")
python3 -c "w=$t1-$t0; r=$run_s; print('latency: watch --once %.2fs, of which the test %.2fs: vigil overhead %.2fs (target < 2 s)' % (w, r, w - r))"

# (2) throughput
t0=$(now)
for k in $(seq 2 $((N + 1))); do land "$k"; done
t1=$(now)
echo "landed $N series on Patchwork in $(python3 -c "print('%.0f' % ($t1 - $t0))")s"
t0=$(now); watch; t1=$(now)
done=$(sqlite3 "$W/vigil.db" "SELECT COUNT(*) FROM series WHERE state = 'done'")
python3 -c "w=$t1-$t0; n=$done-2; print('throughput: %d series in %.1fs: %.2f series/s (%.2fs each)' % (n, w, n / w, w / n))"
