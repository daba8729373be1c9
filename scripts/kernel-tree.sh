#!/usr/bin/env bash
# A whole kernel tree to build, from Debian's linux-source-6.12: extracted
# into DIR (default /var/tmp/vigil-kernel/linux) as a git repository whose
# one commit, tagged vigil-base on branch vigil, is the tarball; a tree made
# before is reset to it (local changes, other branches and tags dropped; files that
# git ignores and .vigil-* build directories kept, so builds stay
# incremental and ccache stays warm). Prints the tree's path.
# Used by the kernel-build e2e tests and benchmarks.
set -euo pipefail

TARBALL=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
DEST=${1:-/var/tmp/vigil-kernel/linux}

if [ ! -f "$TARBALL" ]; then
  echo "kernel-tree: $TARBALL not found (apt-get install linux-source-6.12)" >&2
  exit 1
fi
stamp="extracted-$(stat -c %s-%Y "$TARBALL")"
export GIT_AUTHOR_NAME=vigil GIT_AUTHOR_EMAIL=vigil@localhost GIT_COMMITTER_NAME=vigil \
  GIT_COMMITTER_EMAIL=vigil@localhost GIT_AUTHOR_DATE="2025-01-01T00:00:00Z" \
  GIT_COMMITTER_DATE="2025-01-01T00:00:00Z"
if [ "$(cat "$DEST/.git/vigil-stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$DEST"
  mkdir -p "$DEST"
  tar -xJf "$TARBALL" -C "$DEST" --strip-components=1
  # Debian's tree ignores everything at its top level (its packaging's
  # .gitignore): the tree is tracked as upstream tracks it.
  sed -i -e '\|^/\*$|d' -e '\|^!/debian/$|d' "$DEST/.gitignore"
  git -C "$DEST" init -q -b vigil
  printf '.vigil-*\n' >> "$DEST/.git/info/exclude"
  git -C "$DEST" add -A
  git -C "$DEST" commit -q -m "linux-source-6.12 ($(basename "$TARBALL"))"
  git -C "$DEST" tag vigil-base
  echo "$stamp" > "$DEST/.git/vigil-stamp"
else
  git -C "$DEST" checkout -q -f -B vigil refs/tags/vigil-base
  git -C "$DEST" clean -q -f -d
  git -C "$DEST" for-each-ref --format='%(refname:short)' refs/heads | { grep -vx vigil || true; } |
    xargs -r git -C "$DEST" branch -q -D
  git -C "$DEST" for-each-ref --format='%(refname:short)' refs/tags | { grep -vx vigil-base || true; } |
    xargs -r git -C "$DEST" tag -d >/dev/null
  git -C "$DEST" worktree prune
fi
cd "$DEST" && pwd
