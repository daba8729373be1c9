#!/usr/bin/env bash
# Extracts the parts of Debian's linux-source-6.12 that vigil's tests,
# benchmarks and demo read (kunit_tool and its corpus, the kselftest runner,
# the MPTCP selftests, ktap.rst) into DEST (default build/linux-src).
# Cached: a second call with the same tarball does nothing.
# Prints the path of the extracted tree.
set -euo pipefail

TARBALL=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
DEST=${1:-build/linux-src}

if [ ! -f "$TARBALL" ]; then
  echo "linux-source: $TARBALL not found (apt-get install linux-source-6.12)" >&2
  exit 1
fi

top=$(basename "$TARBALL" .tar.xz)
stamp="$DEST/.extracted-$(stat -c %s-%Y "$TARBALL")"
if [ ! -f "$stamp" ]; then
  rm -rf "$DEST"
  mkdir -p "$DEST"
  tar -xJf "$TARBALL" -C "$DEST" --strip-components=1 \
    --wildcards \
    "$top/tools/testing/kunit/*" \
    "$top/tools/testing/selftests/kselftest/*" \
    "$top/tools/testing/selftests/run_kselftest.sh" \
    "$top/tools/testing/selftests/net/mptcp/*" \
    "$top/tools/testing/selftests/net/lib.sh" \
    "$top/Documentation/dev-tools/ktap.rst"
  touch "$stamp"
fi
cd "$DEST" && pwd
