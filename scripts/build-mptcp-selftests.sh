#!/usr/bin/env bash
# Builds and installs the MPTCP selftests of Debian's linux-source-6.12 (the
# C helpers mptcp_connect, pm_nl_ctl, mptcp_sockopt, mptcp_inq, mptcp_diag,
# the shell tests and the net/ helpers they source) into an installed
# kselftest tree with kselftest-list.txt, under DEST (default
# build/kselftest). Cached: nothing is redone when DEST is complete.
# Prints DEST.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=$(realpath -m "${1:-build/kselftest}")
TARBALL=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
# One build at a time (tests and the demo may ask for it together).
mkdir -p "$(dirname "$DEST")"
exec 9>"$DEST.lock"
flock 9
stamp="$DEST/.built-$(stat -c %s-%Y "$TARBALL")"
if [ ! -f "$stamp" ]; then
  work=$(mktemp -d /tmp/vigil-kst.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  echo "build-mptcp-selftests: extracting $(basename "$TARBALL")" >&2
  tar -xJf "$TARBALL" -C "$work"
  ksrc=$(echo "$work"/linux-source-*)
  echo "build-mptcp-selftests: installing the kernel headers and building net/mptcp" >&2
  make -s -C "$ksrc" headers >/dev/null
  rm -rf "$DEST"
  make -s -C "$ksrc/tools/testing/selftests" TARGETS=net/mptcp install INSTALL_PATH="$DEST" >/dev/null
  touch "$stamp"
fi
# The scheduling config follows the repository's, built or not.
cp scripts/mptcp.vigil.toml "$DEST/vigil.toml"
echo "$DEST"
