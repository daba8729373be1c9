#!/usr/bin/env bash
# vigil build against plain make, on Debian's linux-source-6.12
# (scripts/kernel-tree.sh): the MPTCP-ready build (BASE, defconfig by
# default, + vigil's VM fragment + net/mptcp's config) in the same
# conditions (same tree, same ccache, same fixed build identity, same -j),
# plain make doing what vigil build does (olddefconfig, all,
# modules_install, headers, kselftest-install):
#   (1) a cold build with an empty ccache, a no-change rebuild, and a
#       one-line change in net/mptcp/protocol.c: vigil / make for each;
#   (2) a cold build in a fresh output directory with a warm ccache against
#       the cold one without (vigil's own: the same command);
#   (3) with RUN_SUITE=1, the whole MPTCP suite in the VM on the kernel just
#       built: wall time and results.
#   [WARM=1] [CHANGE=FILE] [KEEP=DIR] [STEPS="cold incr fresh"] [RUN_SUITE=1]
#     bench/kbuild.sh [BUILD_DIR_OR_BINARY] [BASE] [COLLECTION]
# With WARM=1, (1)'s cold builds and (2) are left out: the first builds fill
# the (machine's) ccache and only the no-change and one-line ratios are
# printed (minutes instead of hours).
# KEEP=DIR keeps the ccache, the store, the timings and both output
# directories (in the tree) so the steps can run in separate invocations:
# STEPS=cold first, then STEPS="incr fresh" with the same KEEP; a cold build
# already timed there is not built again (an interrupted one is). SAME_DIR=1
# times make's incremental builds in vigil's output directory (and leaves
# make's cold build out).
# The one-line change is a real code change (a comment would be a ccache hit
# through the preprocessed source), a different one for vigil and make so
# neither finds the other's object in the cache.
# Each kernel build takes the machine for minutes (a defconfig build about an
# hour on 2 cores); nothing else should run meanwhile. Prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${1:-build}
[ -d "$VIGIL" ] && VIGIL=$(realpath "$VIGIL/vigil")
BASE=${2:-defconfig}
COLL=${3:-net/mptcp}
# The file of the one-line change: one the configuration builds.
CHANGE=${CHANGE:-net/mptcp/protocol.c}
TREE=$(bash scripts/kernel-tree.sh "${VIGIL_KERNEL_TREE:-/var/tmp/vigil-kernel/linux}")
if [ -n "${KEEP:-}" ]; then
  W=$KEEP
  mkdir -p "$W"
  CLEANUP=:
else
  W=$(mktemp -d /var/tmp/vigil-kbuild-bench.XXXXXX)
  CLEANUP='rm -rf "$W"; rm -rf "$TREE"/.vigil-bench-*'
fi
trap 'eval "$CLEANUP"' EXIT
STEPS=${STEPS:-cold incr fresh}
# The binary measured stays the same while the steps run
cp "$VIGIL" "$W/vigil.bin.new" && mv "$W/vigil.bin.new" "$W/vigil.bin"
VIGIL=$W/vigil.bin
has() { [[ " $STEPS " == *" $1 "* ]]; }
# A ccache of its own, emptied for the cold builds (WARM=1: the machine's).
[ "${WARM:-0}" = 1 ] || export CCACHE_DIR=$W/ccache
export KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC" KBUILD_BUILD_USER=vigil KBUILD_BUILD_HOST=vigil
export KBUILD_BUILD_VERSION=1 LC_ALL=C CCACHE_BASEDIR=/ CCACHE_NOHASHDIR=1
J=$(nproc)

now() { date +%s.%N; }
secs() { python3 -c "print('%.1f' % ($2 - $1))"; }
ratio() { python3 -c "print('%.3f' % ($1 / $2))"; }

vigil_build() {  # OUT
  "$VIGIL" build --tree "$TREE" --base-config "$BASE" -c "$COLL" --output "$1" -j "$J" --db "$W/vigil.db" \
    > "$W/vigil.out" 2>&1 || { tail -n 30 "$W/vigil.out"; exit 1; }
}
# What vigil build runs, by hand: the config vigil settled (its .config) is
# given to make, so both build the same kernel.
make_build() {  # OUT CONFIG
  local out=$1
  mkdir -p "$out"
  [ -n "${2:-}" ] && cp "$2" "$out/.config"
  local m=(make -s -C "$TREE" "O=$out" "CC=ccache gcc" "HOSTCC=ccache gcc" -j "$J")
  "${m[@]}" olddefconfig > /dev/null
  "${m[@]}" all > /dev/null 2>&1
  "${m[@]}" "INSTALL_MOD_PATH=$out/staging" modules_install > /dev/null
  "${m[@]}" headers > /dev/null
  "${m[@]}" TARGETS="$COLL" "INSTALL_PATH=$out/kselftest_install" kselftest-install > /dev/null 2>&1
}
timed() {  # NAME COMMAND...
  local t0 t1
  t0=$(now)
  "${@:2}"
  t1=$(now)
  eval "$1=$(secs "$t0" "$t1")"
  echo "$1=${!1}" >> "$W/times"
}
# Timings of earlier invocations (KEEP)
[ -f "$W/times" ] && . "$W/times"

VO=$TREE/.vigil-bench-vigil
MO=$TREE/.vigil-bench-make
echo "tree $TREE, base $BASE + vm + $COLL, -j$J, $(gcc --version | head -n 1)"

# (1) cold: each with an empty cache
if [ "${WARM:-0}" = 1 ]; then
  vigil_build "$VO"
  make_build "$MO" "$VO/.config"
elif has cold; then
  # With KEEP, a cold build measured by an earlier invocation is not redone.
  if [ -z "${v_cold:-}" ]; then
    rm -rf "$VO"
    ccache -C > /dev/null
    timed v_cold vigil_build "$VO"
  fi
  # SAME_DIR=1: make's own output directory is not used, nor built.
  if [ -z "${m_cold:-}" ] && [ "${SAME_DIR:-0}" != 1 ]; then
    rm -rf "$MO"
    ccache -C > /dev/null
    timed m_cold make_build "$MO" "$VO/.config"
  fi
  if [ -n "${m_cold:-}" ]; then
    echo "cold build:        vigil ${v_cold}s  make ${m_cold}s  ratio $(ratio "$v_cold" "$m_cold")"
  else
    echo "cold build:        vigil ${v_cold}s"
  fi
fi
if [ "${WARM:-0}" = 1 ] || has incr; then
  # SAME_DIR=1: make rebuilds vigil's output directory, taking turns with
  # vigil (each from the state the other left, the same for both), for when
  # make's own cold build is not there.
  [ "${SAME_DIR:-0}" = 1 ] && MO=$VO
  # Both directories are first brought up to date with the tree as it is
  # (an earlier invocation may have left them built with a changed line),
  # untimed; then REPS rounds, vigil and make taking turns, of a no-change
  # rebuild and of a one-line change (a different line each round and each
  # side, so every one recompiles the file); the median of each is compared.
  cp "$TREE/$CHANGE" "$W/change.orig"
  CLEANUP="cp '$W/change.orig' '$TREE/$CHANGE'; $CLEANUP"
  vigil_build "$VO"
  make_build "$MO"
  REPS=${REPS:-3}
  for r in $(seq "$REPS"); do
    timed "v_none_$r" vigil_build "$VO"
    timed "m_none_$r" make_build "$MO"
    echo "static int __maybe_unused vigil_bench_$$_${r}_v;" >> "$TREE/$CHANGE"
    timed "v_one_$r" vigil_build "$VO"
    cp "$W/change.orig" "$TREE/$CHANGE"
    echo "static int __maybe_unused vigil_bench_$$_${r}_m;" >> "$TREE/$CHANGE"
    timed "m_one_$r" make_build "$MO"
    cp "$W/change.orig" "$TREE/$CHANGE"
    # Back to the tree as it is, untimed, for the next round's no-change
    vigil_build "$VO"
    make_build "$MO"
  done
  median() {  # PREFIX: the median of PREFIX_1..PREFIX_REPS
    local v=() r
    for r in $(seq "$REPS"); do v+=("$(eval echo "\${${1}_$r}")"); done
    python3 -c "import statistics,sys; print('%.1f' % statistics.median(map(float, sys.argv[1:])))" "${v[@]}"
  }
  all() { local r o=""; for r in $(seq "$REPS"); do o+=" $(eval echo "\${${1}_$r}")"; done; echo "${o# }"; }
  v_none=$(median v_none) m_none=$(median m_none) v_one=$(median v_one) m_one=$(median m_one)
  echo "no-change rebuild ($REPS rounds, median): vigil ${v_none}s [$(all v_none)]  make ${m_none}s [$(all m_none)]  ratio $(ratio "$v_none" "$m_none")"
  echo "one-line change in $CHANGE ($REPS rounds, median): vigil ${v_one}s [$(all v_one)]  make ${m_one}s [$(all m_one)]  ratio $(ratio "$v_one" "$m_one")"
fi

# (2) a fresh output directory, warm ccache, against (1)'s cold build
if [ "${WARM:-0}" != 1 ] && has fresh; then
  rm -rf "$VO"
  timed v_warm vigil_build "$VO"
  echo "fresh directory, warm ccache: ${v_warm}s, cold ${v_cold}s: ratio $(ratio "$v_warm" "$v_cold")"
  grep '^build' "$W/vigil.out"
fi

# (3) the MPTCP suite on that kernel
if [ "${RUN_SUITE:-0}" = 1 ]; then
  t0=$(now)
  set +e
  "$VIGIL" run --kernel "$VO/arch/x86/boot/bzImage" --modules "$(ls -d "$VO"/.vigil/staging/lib/modules/*)" \
    --tests "$VO/kselftest_install" -c net/mptcp --db "$W/vigil.db" --color never > "$W/suite.out" 2>&1
  set -e
  t1=$(now)
  echo "MPTCP suite in the VM: $(secs "$t0" "$t1")s"
  tail -n 3 "$W/suite.out"
fi
