#!/usr/bin/env bash
# Generates tests/console/corpus: raw serial console logs of Debian's cloud
# kernels (the newest 6.1 and 6.12 packages) booted under QEMU (TCG) with a
# busybox initramfs that loads tests/console/module/vigil_crash.ko to
# trigger one real fault per scenario, plus negative scenarios (clean boot,
# sysrq backtraces, crash look-alike text from user space) and a KTAP stream
# interleaved with a WARNING. Each log gets a .expect sidecar.
#
# Usage: bash scripts/console-corpus.sh [--force] [--line 6.1|6.12] [SCENARIO...]
#   --force   regenerate logs that already exist for the same kernel
#   --line    only this kernel line (default: both)
#   SCENARIO  only these scenarios (default: all)
#        bash scripts/console-corpus.sh --release LINE
#   prints the newest kernel release of LINE (image and headers available)
#        bash scripts/console-corpus.sh --module-only [--line LINE]
#   builds vigil_crash.ko (with debug info) only, prints its path
#        bash scripts/console-corpus.sh --fetch-kernel [--line LINE]
#   fetches the kernel package only (with modules.dep), prints its root
#   (ROOT/boot/vmlinuz-RELEASE, ROOT/lib/modules/RELEASE)
#
# Idempotent: packages are installed only when missing; kernels, modules
# and initramfs images are cached under build/; a line whose corpus was
# made with the newest kernel and is complete is left as it is.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CORPUS=$ROOT/tests/console/corpus
MODSRC=$ROOT/tests/console/module
CACHE=$ROOT/build
QEMU_TIMEOUT=${QEMU_TIMEOUT:-120}

# name|kernel command line extras|type|title|fatal|count|log must match (ERE)[|config]
# Titles follow syzbot's convention (a NULL dereference is "unable to handle"
# on every kernel, so titles match across kernel lines); the check pattern is the report's first
# line as the kernel prints it. Count "slub" is the number of SLUB reports in
# the log: after the double free, 6.1 may report the slab's wrong object
# count when something else is freed into the same slab, or may not.
# A scenario with a config option (CONFIG_KFENCE) is skipped on a kernel
# built without it.
SCENARIOS=(
  "clean|||||0|"
  "sysrq|||||0|sysrq: Show Blocked State"
  "lookalike|||||0|^Kernel panic - not syncing: just text"
  "warn||warning|WARNING in vigil_crash_warn|no|1|WARNING: CPU: [0-9]+ PID: [0-9]+ at .*vigil_crash_warn"
  "bug||bug|kernel BUG in vigil_crash_bug|no|1|kernel BUG at .*vigil_crash\\.c:[0-9]+!"
  "null||null_deref|BUG: unable to handle kernel NULL pointer dereference in vigil_crash_null|no|1|BUG: kernel NULL pointer dereference, address: 0+[0-9a-f]+"
  "gpf||gpf|general protection fault in vigil_crash_gpf|no|1|general protection fault, probably for non-canonical address 0xdead000000000100"
  "divide||divide_error|divide error in vigil_crash_divide|no|1|divide error: 0000"
  "softlockup|watchdog_thresh=2|soft_lockup|BUG: soft lockup in vigil_crash_softlockup|no|1|watchdog: BUG: soft lockup - CPU#[0-9]+ stuck for [0-9]+s! \\[vigil_lockup"
  "hungtask||hung_task|INFO: task hung in vigil_crash_hungtask|no|1|INFO: task insmod:[0-9]+ blocked for more than [0-9]+ seconds"
  "rcustall|rcupdate.rcu_cpu_stall_timeout=3|rcu_stall|INFO: rcu detected stall in corrupted|no|1|rcu: INFO: rcu_preempt (self-)?detected stall"
  "refcount||refcount|WARNING: refcount bug in vigil_crash_init|no|1|refcount_t: underflow; use-after-free"
  "listcorrupt||list_corruption|BUG: corrupted list in vigil_crash_listcorrupt|no|1|list_del corruption"
  "atomicsleep||atomic_sleep|BUG: scheduling while atomic in vigil_crash_atomicsleep|no|1|BUG: scheduling while atomic: insmod/"
  "panic||panic|kernel panic: vigil_crash: requested panic|yes|1|Kernel panic - not syncing: vigil_crash: requested panic"
  "softirq||null_deref|BUG: unable to handle kernel NULL pointer dereference in vigil_crash_timer_fn|yes|1|BUG: kernel NULL pointer dereference, address: 0+[0-9a-f]+"
  "doublefree|slub_debug=FZPU|slab_corruption|BUG: Object already free|no|slub|BUG kmalloc-64 \\(.*\\): Object already free"
  "ktap-crash||warning|WARNING in vigil_crash_warn|no|1|WARNING: CPU: [0-9]+ PID: [0-9]+ at .*vigil_crash_warn"
  "pagefault||page_fault|BUG: unable to handle kernel paging request in vigil_crash_pagefault|no|1|BUG: unable to handle page fault for address: ffff[0-9a-f]+"
  "invalidop||invalid_opcode|invalid opcode in vigil_crash_invalidop|no|1|invalid opcode: 0000"
  "stackprotector||stack_protector|kernel panic: stack is corrupted in vigil_crash_stackprotector|yes|1|Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: vigil_crash_stackprotector"
  "panicwarn|panic_on_warn=1|warning|WARNING in vigil_crash_warn|yes|1|WARNING: CPU: [0-9]+ PID: [0-9]+ at .*vigil_crash_warn"
  "oopspanic|oops=panic|null_deref|BUG: unable to handle kernel NULL pointer dereference in vigil_crash_null|yes|1|BUG: kernel NULL pointer dereference, address: 0+[0-9a-f]+"
  "netdevrefcnt||netdev_refcnt|unregister_netdevice: waiting for DEV to become free|no|1|unregister_netdevice: waiting for vigil0 to become free\\. Usage count = [0-9]+"
  "kfence|kfence.sample_interval=1|kfence|KFENCE: use-after-free read in vigil_crash_kfence|no|1|BUG: KFENCE: use-after-free read in vigil_crash_kfence|CONFIG_KFENCE"
)

log() { echo "console-corpus: $*" >&2; }
die() { log "$*"; exit 1; }

force=0
module_only=0
fetch_only=0
print_release=
lines=()
only=()
while [ $# -gt 0 ]; do
  case $1 in
    --force) force=1 ;;
    --module-only) module_only=1 ;;
    --fetch-kernel) fetch_only=1 ;;
    --release) [ $# -ge 2 ] || die "--release needs 6.1 or 6.12"; print_release=$2; shift ;;
    --line) [ $# -ge 2 ] || die "--line needs 6.1 or 6.12"; lines+=("$2"); shift ;;
    -h|--help) sed -n '2,26s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) only+=("$1") ;;
  esac
  shift
done
[ ${#lines[@]} -gt 0 ] || lines=(6.1 6.12)

# One instance at a time: kernels, modules and images are shared under build/.
mkdir -p "$CACHE"
exec 9>"$CACHE/.console-corpus.lock"
flock 9

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

updated=0
apt_update() {
  if [ $updated -eq 0 ]; then
    apt-get update -qq
    updated=1
  fi
}

apt_install() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (run as root)"
  log "installing ${missing[*]}"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Newest RELEASE of a line whose -unsigned image and headers both exist,
# e.g. 6.1.0-56-cloud-amd64 or 6.12.117+deb12-cloud-amd64.
newest_release() {
  local line=$1 re names r
  case $line in
    6.1) re='^linux-image-(6\.1\.0-[0-9]+-cloud-amd64)-unsigned$' ;;
    6.12) re='^linux-image-(6\.12\.[0-9]+\+deb12-cloud-amd64)-unsigned$' ;;
    *) die "unknown kernel line $line" ;;
  esac
  names=$(apt-cache pkgnames "linux-image-$line." | grep -E "$re" || true)
  if [ -z "$names" ]; then
    apt_update
    names=$(apt-cache pkgnames "linux-image-$line." | grep -E "$re" || true)
  fi
  while read -r r; do
    if [ -n "$(candidate "linux-headers-$r")" ] &&
       [ "$(candidate "linux-headers-$r")" = "$(candidate "linux-image-$r-unsigned")" ]; then
      echo "$r"
      return 0
    fi
  done < <(sed -E "s/$re/\\1/" <<<"$names" | sort -rV)
  die "no Debian cloud kernel of the $line line with headers found"
}

candidate() {
  apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)' || true
}

# Extracts the kernel image package into build/kernels/RELEASE.
fetch_kernel() {
  local r=$1 dir=$CACHE/kernels/$1 pkg=linux-image-$1-unsigned
  if [ -f "$dir/root/boot/vmlinuz-$r" ]; then
    [ -f "$dir/root/lib/modules/$r/modules.dep" ] || depmod -b "$dir/root" "$r"
    return 0
  fi
  log "fetching $pkg"
  rm -rf "$dir"
  mkdir -p "$dir/root"
  (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
  dpkg -x "$dir"/"${pkg}"_*.deb "$dir/root"
  rm -f "$dir"/*.deb
  [ -f "$dir/root/boot/vmlinuz-$r" ] || die "$pkg has no vmlinuz-$r"
  # modules.dep, so that modprobe works in a VM booting this kernel.
  depmod -b "$dir/root" "$r"
}

# Whether RELEASE's kernel config sets OPTION (=y or =m).
has_config() {
  local r=$1 option=$2
  fetch_kernel "$r"
  grep -qE "^$option=[ym]\$" "$CACHE/kernels/$r/root/boot/config-$r"
}

# Builds vigil_crash.ko for RELEASE into build/console-module/RELEASE.
build_module() {
  local r=$1 dir=$CACHE/console-module/$1 kdir=/usr/src/linux-headers-$1
  [ -d "$kdir" ] || die "$kdir missing"
  mkdir -p "$dir"
  if [ -f "$dir/vigil_crash.ko" ] &&
     cmp -s "$MODSRC/vigil_crash.c" "$dir/vigil_crash.c" &&
     cmp -s "$MODSRC/Makefile" "$dir/Makefile"; then
    return 0
  fi
  log "building vigil_crash.ko for $r"
  cp "$MODSRC/vigil_crash.c" "$MODSRC/Makefile" "$dir/"
  rm -f "$dir/vigil_crash.ko"
  if ! nice -n 10 make -s -C "$kdir" M="$dir" modules >"$dir/build.log" 2>&1; then
    cat "$dir/build.log" >&2
    die "module build failed for $r"
  fi
  [ "$(readelf -S "$dir/vigil_crash.ko" | grep -c '\.debug_line')" -gt 0 ] ||
    die "$dir/vigil_crash.ko has no .debug_line"
}

# The init of the initramfs: runs the scenario named by vigil.scenario= on
# the kernel command line, then powers off (unless the kernel died first).
write_init() {
  cat >"$1" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
scenario=
delay=0
for arg in $(cat /proc/cmdline); do
  case $arg in
    vigil.scenario=*) scenario=${arg#vigil.scenario=} ;;
    vigil.ktap_delay=*) delay=${arg#vigil.ktap_delay=} ;;
  esac
done
crash() { insmod /vigil_crash.ko trigger="$1" </dev/null & }
case $scenario in
  clean)
    sleep 1 ;;
  sysrq)
    for key in l w t; do echo $key >/proc/sysrq-trigger; sleep 1; done ;;
  lookalike)
    {
      echo "WARNING: CPU: 0 PID: 1 at fake.c:1 fake+0x0/0x10"
      echo "BUG: this is only text"
      echo "Kernel panic - not syncing: just text"
      echo "INFO: lockdep is turned off."
    } >/dev/console
    sleep 1 ;;
  ktap-crash)
    echo "KTAP version 1"
    echo "1..3"
    echo "ok 1 first"
    crash warn
    usleep "$delay"
    echo "ok 2 second"
    echo "not ok 3 third"
    wait
    sleep 1 ;;
  hungtask)
    echo 5 >/proc/sys/kernel/hung_task_timeout_secs
    echo 1 >/proc/sys/kernel/hung_task_warnings
    crash hungtask
    sleep 20 ;;
  softlockup)
    echo 0 >/proc/sys/kernel/softlockup_panic
    crash softlockup
    sleep 12 ;;
  rcustall)
    crash rcustall
    sleep 12 ;;
  panic|softirq|stackprotector)
    crash "$scenario"
    sleep 10 ;;
  panicwarn)
    crash warn
    sleep 10 ;;
  oopspanic)
    crash null
    sleep 10 ;;
  netdevrefcnt)
    # The complaint comes every 10 s: power off after the first one.
    crash netdevrefcnt
    i=0
    while [ $i -lt 40 ] && ! dmesg | grep -q 'waiting for vigil0 to become free'; do
      sleep 1
      i=$((i + 1))
    done ;;
  kfence)
    crash kfence
    wait
    sleep 1 ;;
  *)
    crash "$scenario"
    sleep 4 ;;
esac
poweroff -f
EOF
  chmod 755 "$1"
}

# Builds build/console-initramfs/RELEASE.cpio.gz: busybox, /init, the module.
build_initramfs() {
  local r=$1 out=$CACHE/console-initramfs/$1.cpio.gz stage
  stage=$CACHE/console-initramfs/$1.d
  rm -rf "$stage"
  mkdir -p "$stage"/{bin,dev,proc,sys,tmp}
  cp /bin/busybox "$stage/bin/busybox"
  for app in $(/bin/busybox --list); do
    [ "$app" = busybox ] || ln -s busybox "$stage/bin/$app"
  done
  write_init "$stage/init"
  cp "$CACHE/console-module/$r/vigil_crash.ko" "$stage/"
  (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$out"
  rm -rf "$stage"
  echo "$out"
}

# Boots RELEASE with SCENARIO; the serial console goes to LOG as is.
boot() {
  local r=$1 scenario=$2 extra=$3 initrd=$4 out=$5 rc=0
  local vmlinuz=$CACHE/kernels/$r/root/boot/vmlinuz-$r
  timeout "$QEMU_TIMEOUT" nice -n 10 qemu-system-x86_64 -accel tcg -m 512 -smp 2 \
    -nographic -no-reboot -nic none \
    -kernel "$vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 kfence.sample_interval=0 vigil.scenario=$scenario${extra:+ $extra}" \
    </dev/null >"$out" 2>"$out.stderr" || rc=$?
  if [ $rc -ne 0 ]; then
    cat "$out.stderr" >&2
    rm -f "$out.stderr"
    return $rc
  fi
  rm -f "$out.stderr"
}

field() { cut -d'|' -f"$2" <<<"$1"; }

# Checks LOG against the scenario's expectations; prints what is wrong.
check_log() {
  local spec=$1 logf=$2 scenario fatal pattern died=no
  scenario=$(field "$spec" 1)
  fatal=$(field "$spec" 5)
  pattern=$(field "$spec" 7)
  grep -q 'reboot: Power down' "$logf" || grep -qE '\] Kernel panic - not syncing' "$logf" ||
    { echo "the boot did not end (no power-off, no panic)"; return; }
  if [ -n "$pattern" ] && ! grep -qE "$pattern" "$logf"; then
    echo "no line matches /$pattern/"
  fi
  if grep -qE '\] Kernel panic - not syncing' "$logf"; then died=yes; fi
  if [ -n "$fatal" ] && [ "$died" != "$fatal" ]; then
    echo "fatal: expected $fatal, the kernel died: $died"
  fi
  if [ -z "$fatal" ] && [ $died = yes ]; then echo "the kernel died"; fi
  case $scenario in
    clean|sysrq|lookalike)
      if grep -qE '\] (WARNING:|BUG:|INFO: task|Oops|general protection|watchdog: BUG|rcu: INFO)' "$logf"; then
        echo "a kernel report in a negative scenario"
      fi ;;
    netdevrefcnt)
      n=$(grep -c 'unregister_netdevice: waiting for' "$logf" || true)
      [ "$n" = 1 ] || echo "$n unregister_netdevice complaints, not 1" ;;
    ktap-crash)
      # "ok 2 second" must fall inside the report, between its first line
      # and the end of its trace.
      awk '/WARNING: CPU: .*vigil_crash_warn/ {w=NR} /end trace/ && w && !e {e=NR}
           /^ok 2 second/ {o=NR} END {exit !(w && e && o > w && o < e)}' "$logf" ||
        echo "ok 2 is not inside the report" ;;
  esac
}

write_expect() {
  local spec=$1 logf=$2 f=$3 count
  count=$(field "$spec" 6)
  if [ "$count" = slub ]; then
    count=$(grep -cE '\] BUG [^ ]+ \(.*\): ' "$logf")
  fi
  {
    if [ "$count" = 0 ]; then
      echo "count: 0"
    else
      echo "type: $(field "$spec" 3)"
      echo "title: $(field "$spec" 4)"
      echo "fatal: $(field "$spec" 5)"
      echo "count: $count"
    fi
  } >"$f"
}

selected() {
  [ ${#only[@]} -eq 0 ] && return 0
  local s
  for s in "${only[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

if [ -n "$print_release" ]; then
  newest_release "$print_release"
  exit 0
fi
if [ $fetch_only -eq 1 ]; then
  for line in "${lines[@]}"; do
    release=$(newest_release "$line")
    fetch_kernel "$release"
    echo "$CACHE/kernels/$release/root"
  done
  exit 0
fi
if [ $module_only -eq 1 ]; then
  for line in "${lines[@]}"; do
    release=$(newest_release "$line")
    apt_install "linux-headers-$release"
    build_module "$release"
    echo "$CACHE/console-module/$release/vigil_crash.ko"
  done
  exit 0
fi

apt_install qemu-system-x86 busybox-static cpio

failed=0
for line in "${lines[@]}"; do
  release=$(newest_release "$line")
  pkgver=$(candidate "linux-image-$release-unsigned")
  dir=$CORPUS/$line
  mkdir -p "$dir"
  kernel_id="uname -r: $release
package: linux-image-$release-unsigned $pkgver"
  same_kernel=0
  [ -f "$dir/KERNEL" ] && [ "$(cat "$dir/KERNEL")" = "$kernel_id" ] && same_kernel=1

  todo=()
  for spec in "${SCENARIOS[@]}"; do
    s=$(field "$spec" 1)
    selected "$s" || continue
    if [ $force -eq 1 ] || [ $same_kernel -eq 0 ] ||
       [ ! -f "$dir/$s.log" ] || [ ! -f "$dir/$s.expect" ]; then
      need=$(field "$spec" 8)
      if [ -n "$need" ] && ! has_config "$release" "$need"; then
        log "$line: $s skipped ($need is not set in $release)"
        continue
      fi
      todo+=("$spec")
    fi
  done
  if [ ${#todo[@]} -eq 0 ]; then
    log "$line: up to date ($release)"
    continue
  fi

  apt_install "linux-headers-$release"
  fetch_kernel "$release"
  build_module "$release"
  initrd=$(build_initramfs "$release")
  if [ $same_kernel -eq 0 ]; then
    # A new kernel: the old logs are of another kernel.
    rm -f "$dir"/*.log "$dir"/*.expect
    echo "$kernel_id" >"$dir/KERNEL"
  fi

  for spec in "${todo[@]}"; do
    s=$(field "$spec" 1)
    extra=$(field "$spec" 2)
    delays=(0)
    # How long (us) user space waits after starting insmod before it writes
    # "ok 2": it must land inside the report, which depends on the speed.
    [ "$s" = ktap-crash ] && delays=(30000 40000 20000 50000 10000 60000)
    for delay in "${delays[@]}"; do
      args=$extra
      [ "$s" = ktap-crash ] && args="vigil.ktap_delay=$delay"
      log "$line: $s"
      rc=0
      boot "$release" "$s" "$args" "$initrd" "$dir/$s.log.new" || rc=$?
      if [ $rc -ne 0 ]; then
        problems="qemu exited with $rc"
      else
        problems=$(check_log "$spec" "$dir/$s.log.new")
      fi
      [ -z "$problems" ] && break
      log "$line: $s: $problems"
    done
    if [ -n "$problems" ]; then
      failed=1
      mv "$dir/$s.log.new" "$dir/$s.log.rejected"
      continue
    fi
    mv "$dir/$s.log.new" "$dir/$s.log"
    rm -f "$dir/$s.log.rejected"
    write_expect "$spec" "$dir/$s.log" "$dir/$s.expect"
  done
  rm -f "$initrd"
done

if [ $failed -ne 0 ]; then
  die "some scenarios did not behave as expected (see *.log.rejected)"
fi
