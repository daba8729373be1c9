#!/usr/bin/env bash
# The patch loop with a pipeline that builds a kernel: series delivered to a
# real Patchwork (../shared/patchwork) against Debian's linux-source-6.12
# (scripts/kernel-tree.sh), built by `vigil watch --once` as the sandbox
# user (tinyconfig, vigil's VM fragment, the `size` collection) in two
# variants (normal, and "timed" from a variants file: CONFIG_PRINTK_TIME=y),
# booted under TCG and tested, each checked against the base commit's own
# build and run of that variant:
#  (a) a harmless change: vigil-build-* success, vigil-test-* success;
#  (b) a new warning: vigil-build-* warning naming it (the base has none);
#  (c) a syntax error: vigil-build-* fail with the compiler's words,
#      vigil-test-* "Not tested", the error in the e-mail;
#  and the build ran as the sandbox user, incrementally, in the tree's own
#  checkout, and the runs booted what was built.
# The work directory (the tree's checkout, its build directory, the
# sandbox's ccache) persists under /var/tmp/vigil-kernel, so only the first
# run on a machine compiles a whole kernel.
source "$(dirname "$0")/lib.sh"

if [ ! -f "${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}" ] || ! command -v qemu-system-x86_64 > /dev/null; then
  echo "SKIP: needs linux-source-6.12 and qemu-system-x86 (scripts/install-deps.sh)"
  exit 77
fi
cleanup() {
  stop_servers
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
source "$(dirname "$0")/patchwork.sh"

TREE=$(bash "$VIGIL_SRC/scripts/kernel-tree.sh" "${VIGIL_KERNEL_TREE:-/var/tmp/vigil-kernel/linux}")
WORK=${VIGIL_WATCH_WORK:-$(dirname "$TREE")/watch}
mkdir -p "$WORK"

cat > "$TMP/pipeline.toml" <<EOT
[[tree]]
name = "linux"
branch = "vigil"

[build]
base_config = "tinyconfig"
variants = ["normal", "timed"]
variants_file = "variants.toml"

[run]
collections = ["size"]
memory = "1536M"

[checks]
target_url = "http://ci.example.org/runs/{run}"

[email]
smtp = "smtp://127.0.0.1:$SMTP_PORT"
from = "Vigil CI <ci@example.org>"
cc = ["test@example.org"]
EOT

cat > "$TMP/variants.toml" <<EOT
[variant.timed]
set = ["CONFIG_PRINTK_TIME=y"]
EOT

# series NAME TEXT [probe]: one commit on vigil-base appending TEXT to
# kernel/sys.c (made with git's plumbing: no second checkout of the tree),
# mailed to Patchwork as a thread with its cover letter. With "probe", the
# commit also adds a selftest to the size collection that fails if it can
# read the host's /etc/shadow from inside the VM: what a stranger's test
# would try.
export GIT_AUTHOR_NAME="Sub Mitter" GIT_AUTHOR_EMAIL=sub@example.org GIT_COMMITTER_NAME="Sub Mitter" \
  GIT_COMMITTER_EMAIL=sub@example.org
# git names a cover letter <cover.SECONDS.git.EMAIL>: two series made in the
# same second would share it, and Patchwork drops the second as a duplicate.
# Each series' cover letter gets its own.
series() {
  local name=$1 text=$2 blob tree commit
  git -C "$TREE" show vigil-base:kernel/sys.c > "$TMP/sys.c"
  printf '%s\n' "$text" >> "$TMP/sys.c"
  blob=$(git -C "$TREE" hash-object -w "$TMP/sys.c")
  GIT_INDEX_FILE=$TMP/index git -C "$TREE" read-tree vigil-base
  GIT_INDEX_FILE=$TMP/index git -C "$TREE" update-index --cacheinfo "100644,$blob,kernel/sys.c"
  if [ "${3:-}" = probe ]; then
    printf '#!/bin/sh\n# Reads a file only root can read on the host, through the VM'"'"'s share.\nif head -c 1 /etc/shadow > /dev/null 2>&1; then echo "read the host'"'"'s /etc/shadow"; exit 1; fi\necho "the host'"'"'s /etc/shadow cannot be read"\n' > "$TMP/probe.sh"
    git -C "$TREE" show vigil-base:tools/testing/selftests/size/Makefile |
      sed 's|^include ../lib.mk|TEST_PROGS := read_shadow.sh\n&|' > "$TMP/size.mk"
    GIT_INDEX_FILE=$TMP/index git -C "$TREE" update-index --add --cacheinfo \
      "100755,$(git -C "$TREE" hash-object -w "$TMP/probe.sh"),tools/testing/selftests/size/read_shadow.sh"
    GIT_INDEX_FILE=$TMP/index git -C "$TREE" update-index --cacheinfo \
      "100644,$(git -C "$TREE" hash-object -w "$TMP/size.mk"),tools/testing/selftests/size/Makefile"
  fi
  tree=$(GIT_INDEX_FILE=$TMP/index git -C "$TREE" write-tree)
  commit=$(git -C "$TREE" commit-tree "$tree" -p vigil-base -m "sys: $name")
  LAST_COMMIT=$commit
  git -C "$TREE" format-patch -q --thread --cover-letter --stdout --subject-prefix="PATCH linux" \
    "vigil-base..$commit" | sed -e "s/<cover\./<cover.$name./" -e "s/\*\*\* SUBJECT HERE \*\*\*/series $name/" | bash "$PW_SERVER" inject-mbox "$PW_DIR"
}
series good '/* vigil e2e: a harmless change */' probe
series warns 'static int vigil_watch_unused(void) { return 0; }'
WARNS_COMMIT=$LAST_COMMIT
series broken 'int vigil_watch_broken = ;'

DB=$TMP/vigil.db
set +e
"$VIGIL" watch --patchwork "$PW_URL" --project test --token-file "$TMP/token" --repo "$TREE" \
  --pipeline "$TMP/pipeline.toml" --db "$DB" --work-dir "$WORK" --once --since all > "$TMP/w.out" 2>&1
rc=$?
set -e
cat "$TMP/w.out"
expect_eq "watch --once: exit 0" 0 "$rc"

for s in good warns broken; do checks_of "$s" > "$TMP/c.$s"; echo "$s: $(cat "$TMP/c.$s")"; done
# Each line: pending-count final-count, then the final checks by context.
B='Built: [0-9]+ warnings?'
W="Built: 1 new warning: kernel/sys.c:[0-9]+:[0-9]+: warning: .vigil_watch_unused. defined but not used \\[-Wunused-function\\]"
E="Build failed: 1 error: kernel/sys.c:[0-9]+:[0-9]+: error: [^|]*"
if grep -Eq "^4 4 vigil-build-normal success: $B, none new \| vigil-build-timed success: $B, none new \| vigil-test-normal success: Success: [0-9]+ (sub)?tests? passed \| vigil-test-timed success: Success: [0-9]+ (sub)?tests? passed$" "$TMP/c.good"; then
  pass "(a) harmless change: built and tested in both variants, success in every context (a pending check each first)"
else
  fail "(a) $(cat "$TMP/c.good")"
fi
if grep -Eq "^4 4 vigil-build-normal warning: $W \| vigil-build-timed warning: $W \| vigil-test-normal success: .* \| vigil-test-timed success: " "$TMP/c.warns"; then
  pass "(b) a new warning: vigil-build-* warning naming it, the tests still pass"
else
  fail "(b) $(cat "$TMP/c.warns")"
fi
if grep -Eq "^4 4 vigil-build-normal fail: $E \| vigil-build-timed fail: $E \| vigil-test-normal warning: Not tested: the build failed \| vigil-test-timed warning: Not tested: the build failed$" "$TMP/c.broken"; then
  pass "(c) a syntax error: vigil-build-* fail with the compiler's words, not tested"
else
  fail "(c) $(cat "$TMP/c.broken")"
fi

q() { sqlite3 "$DB" "$1"; }
expect_eq "builds: the base and the three series, in both variants" "normal 4|timed 4" \
  "$(q "select variant || ' ' || count(*) from builds group by variant order by variant" | paste -sd'|')"
expect_eq "runs: the base and the two series that built, each booting its own build" "6|6" \
  "$(q 'select count(*), count(distinct build_id) from runs where build_id is not null')"
expect_eq "the timed variant's kernel has CONFIG_PRINTK_TIME, the normal one not" "y|" \
  "$(grep -h '^CONFIG_PRINTK_TIME=' "$WORK/tree-linux/.vigil-build-timed/.config" | cut -d= -f2)|$(grep -h '^CONFIG_PRINTK_TIME=' "$WORK/tree-linux/.vigil-build-normal/.config" | cut -d= -f2)"
expect_eq "every build in the tree's own checkout" "$WORK/tree-linux" "$(q 'select distinct tree from builds')"
steps=$(q "select steps from builds where id = 3 and variant = 'normal'")
if [ "$steps" -gt 0 ] && [ "$steps" -lt 100 ]; then pass "a series' build is incremental ($steps steps after the base's)"; else fail "series build steps: $steps"; fi
expect_eq "(a) the series' own test ran in both variants' VMs, and could not read the host's /etc/shadow" "PASS|PASS" \
  "$(q "select a.status from attempts a join tests t on t.id = a.test_id where t.path = 'size:read_shadow.sh'" | paste -sd'|')"
expect_eq "the build ran as the sandbox user" nobody "$(stat -c %U "$WORK/tree-linux/.vigil-build-normal/vmlinux")"
expect_eq "the bases were built and tested first, once" "testing the base of linux" \
  "$(grep -m1 -o -e 'testing the base of linux' -e 'series [0-9]*: testing' "$TMP/w.out")"
expect_eq "the runs booted the kernel built in the checkout, on a 9p root, with the pipeline's memory" \
  "6 $WORK/tree-linux/.vigil-build-normal/arch/x86/boot/bzImage $WORK/tree-linux/.vigil-build-timed/arch/x86/boot/bzImage 9p 1536M" \
  "$(q 'select vm_json from runs' | "$PY" -c 'import json,sys
v=[json.loads(l) for l in sys.stdin]
print(len(v), " ".join(sorted(set(x["kernel"] for x in v))), " ".join(sorted(set(x["rootfs"] for x in v))),
      " ".join(sorted(set(x["memory"] for x in v))))')"

expect_eq "one e-mail per series" 3 "$(mails)"
if grep -l 'series broken' "$MAILDIR"/new/* | xargs grep -q 'kernel/sys.c:[0-9]*:[0-9]*: error:' &&
   grep -l 'series broken' "$MAILDIR"/new/* | xargs grep -q '^vigil-build-timed: fail: Build failed'; then
  pass "(c) the e-mail has the build's conclusion and the compiler's error"
else
  fail "(c) the e-mail: $(grep -l 'series broken' "$MAILDIR"/new/* | xargs cat)"
fi
"$VIGIL" series --db "$DB" > "$TMP/series.out"
grep -q 'fail: normal: Build failed' "$TMP/series.out" && pass "vigil series shows the build failure" || fail "$(cat "$TMP/series.out")"

# vigil test-branch: the same pipeline on a git range (its own checkout,
# tree-branch, built from the sandbox's warm ccache): a warning, exit 0.
# The reused checkout's .git is first replaced by one of a stranger's making
# (as a series' sandboxed build could write it), naming a git directory
# whose config runs a command: vigil writes the link again before it runs
# git there, so the command never runs.
if [ -e "$WORK/tree-branch/.git" ]; then
  git init -q --bare "$TMP/evil"
  git -C "$TMP/evil" config core.bare false
  git -C "$TMP/evil" config core.fsmonitor "touch $TMP/pwned; false"
  printf 'gitdir: %s\n' "$TMP/evil" > "$WORK/tree-branch/.git"
  # And a .config in the source tree, ignored by git, as a series' build
  # could leave it: a kernel build with O= refuses such a tree.
  echo "CONFIG_VIGIL_LEFT_BEHIND=y" > "$WORK/tree-branch/.config"
  tampered=1
fi
set +e
"$VIGIL" test-branch --repo "$TREE" --base vigil-base --head "$WARNS_COMMIT" --pipeline "$TMP/pipeline.toml" \
  --db "$DB" --work-dir "$WORK" > "$TMP/tb.out" 2>&1
rc=$?
set -e
cat "$TMP/tb.out"
expect_eq "test-branch vigil-base..warns: exit 0 (a warning)" 0 "$rc"
grep -Eq "^series [0-9]+: done: warning: normal: Built: 1 new warning: kernel/sys.c:[0-9]+:[0-9]+: warning: .vigil_watch_unused" "$TMP/tb.out" &&
  pass "test-branch: the new warning, against the base's build" || fail "test-branch: $(tail -3 "$TMP/tb.out")"
expect_eq "test-branch: built in its own checkout, in both variants" 2 \
  "$(q "select count(*) from builds where tree = '$WORK/tree-branch' and status = 'built' and commit_hash = '$WARNS_COMMIT'")"
if [ -n "${tampered:-}" ]; then
  [ ! -e "$TMP/pwned" ] && pass "a .git of a stranger's making in the checkout: nothing of its config ran as root" ||
    fail "the stranger's git config ran"
  [ ! -e "$WORK/tree-branch/.config" ] && pass "a file git ignores, left in the checkout, was cleaned away" ||
    fail "the .config left in the checkout is still there"
else
  echo "note: tree-branch was made by this run; the .git tampering is checked on the next run"
fi

finish
