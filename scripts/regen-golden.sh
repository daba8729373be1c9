#!/usr/bin/env bash
# Regenerates the kselftest golden files in tests/golden/ from a real run:
# builds the MPTCP selftests of linux-source-6.12, installs them with the
# kselftest installer, runs them through the kernel's own kselftest runner
# (run_kselftest.sh) on this host, and records what the runner printed plus
# vigil's reading of it. Needs root (network namespaces) and the packages of
# scripts/install-deps.sh plus the test tools (iproute2, rsync).
#
#   scripts/regen-golden.sh [BUILD_DIR]
#   scripts/regen-golden.sh --outputs-only [BUILD_DIR]   re-render the outputs
#                                                        from the recorded logs
#
# Golden sets:
#   mptcp_pm_netlink   pm_netlink.sh, all subtests pass
#   mptcp_join_timeout mptcp_join.sh cut by a 10 s runner timeout mid-way
set -euo pipefail
cd "$(dirname "$0")/.."
OUTPUTS_ONLY=0
if [ "${1:-}" = "--outputs-only" ]; then
  OUTPUTS_ONLY=1
  shift
fi
BUILD=${1:-build}
VIGIL=$BUILD/vigil

render() {  # NAME
  for fmt in json text junit ktap; do
    "$VIGIL" parse --format "$fmt" --color never "tests/golden/$1.log" > "tests/golden/$1.$fmt" || true
  done
}

if [ "$OUTPUTS_ONLY" = 1 ]; then
  for log in tests/golden/*.log; do render "$(basename "$log" .log)"; done
  exit 0
fi
work=$(mktemp -d /tmp/vigil-golden.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "regen-golden: extracting the kernel source"
tar -xJf /usr/src/linux-source-6.12.tar.xz -C "$work"
ksrc="$work/linux-source-6.12"
echo "regen-golden: building the MPTCP selftests"
make -s -C "$ksrc" headers >/dev/null
make -s -C "$ksrc/tools/testing/selftests" TARGETS=net/mptcp install INSTALL_PATH="$work/kst" >/dev/null

run() {  # NAME RUNNER-ARGS...
  local name=$1
  shift
  echo "regen-golden: running $*"
  # One pipe for everything, as a CI log would capture it.
  (cd "$work/kst" && ./run_kselftest.sh "$@" 2>&1 | cat) > "tests/golden/$name.log"
  render "$name"
}

run mptcp_pm_netlink -t net/mptcp:pm_netlink.sh
run mptcp_join_timeout -o 10 -t net/mptcp:mptcp_join.sh
echo "regen-golden: done"
ls -l tests/golden
