#!/usr/bin/env bash
# Installs, with apt-get only, every Debian package vigil needs to build,
# test and run its demo. Idempotent: packages already present are skipped,
# and nothing is fetched when everything is installed.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config ccache
  # libraries
  libcli11-dev libfmt-dev nlohmann-json3-dev libsqlite3-dev libtomlplusplus-dev libre2-dev
  # tests, benchmarks, fuzzing
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  python3 xz-utils git bc time bsdutils
  # a CommonMark renderer: the Markdown summary is checked for raw HTML
  cmark
  # the MPTCP selftests and the kselftest installer (golden files, demo)
  rsync iproute2 iputils-ping iptables nftables ethtool socat tcpdump
  # real reference material: kselftests, kunit_tool and its corpus, ktap.rst
  linux-source-6.12
  # the console crash corpus: QEMU (TCG) boots of Debian cloud kernels with a
  # busybox initramfs (scripts/console-corpus.sh installs the kernel headers)
  qemu-system-x86 busybox-static cpio kmod
)

# Kernel headers of the newest Debian cloud kernel of the 6.1 line: the crash
# module of tests/console is built against them (vigil decode's tests).
if release=$(bash "$(dirname "$0")/console-corpus.sh" --release 6.1 2>/dev/null); then
  PACKAGES+=("linux-headers-$release")
else
  echo "install-deps: no linux-headers package of a 6.1 cloud kernel found (apt-get update?)" >&2
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them) and retry" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
