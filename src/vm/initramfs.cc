#include "vm/initramfs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "base/hash.h"
#include "base/kernel_modules.h"
#include "sys/process.h"

namespace vigil::vm {
namespace {

namespace fs = std::filesystem;

// The init: PID 1 of the VM, busybox sh. Everything it needs comes from the
// kernel command line: vigil.bin (vigil on the host's root), vigil.rootfs
// (virtiofs or 9p), vigil.modules (the kernel's modules, on the host's root).
constexpr const char* kInit = R"INIT(#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1"=*) echo "${w#*=}" ;; esac; done; }
# The accelerator probe only needs to get this far.
[ "$(arg vigil.probe)" = 1 ] && { echo vigil-probe-ok; poweroff -f; }
for m in $(cat /modules.order); do
  insmod "/lib/vigil-modules/$m" 2>/dev/null || echo "vigil-init: cannot load $m"
done
R=/newroot
if [ "$(arg vigil.rootfs)" = 9p ]; then
  mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose vigilroot $R
else
  mount -t virtiofs -o ro vigilroot $R
fi || { echo "vigil-init: cannot mount the host's root"; poweroff -f; }
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
# What the guest needs from the host (vigil itself, the test tree, the
# modules) stays visible at its own path, even under a tmpfs below.
n=0
for k in $(arg vigil.keep | tr , ' '); do
  n=$((n + 1)); mkdir -p /keep/$n && mount --bind "$R$k" /keep/$n
done
for d in /tmp /run /var/tmp /root /var/log; do [ -d "$R$d" ] && mount -t tmpfs tmpfs "$R$d"; done
n=0
for k in $(arg vigil.keep | tr , ' '); do
  n=$((n + 1)); mkdir -p "$R$k" 2>/dev/null; mount --move /keep/$n "$R$k"
done
# /etc writable (tests add hosts, rules): a tmpfs overlay when overlayfs is there.
mount -t tmpfs tmpfs /run && mkdir -p /run/etc-up /run/etc-work &&
  mount -t overlay overlay -o lowerdir=$R/etc,upperdir=/run/etc-up,workdir=/run/etc-work $R/etc 2>/dev/null
mods=$(arg vigil.modules)
if [ -n "$mods" ] && [ -d "$R$mods" ]; then
  mount -t tmpfs tmpfs $R/lib/modules && mkdir -p "$R/lib/modules/$(uname -r)" &&
    mount --bind "$R$mods" "$R/lib/modules/$(uname -r)"
fi
# The kernel loads modules on demand from its own root (this initramfs): hand
# the request to the host's modprobe, over the shared root.
printf '#!/bin/sh\nexec chroot /newroot /sbin/modprobe "$@"\n' > /bin/vigil-modprobe
chmod +x /bin/vigil-modprobe
echo /bin/vigil-modprobe > /proc/sys/kernel/modprobe
hostname vigil-vm
ip link set lo up 2>/dev/null
port=
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = vigil ] && port=/dev/${p##*/}
done
[ -n "$port" ] || { echo "vigil-init: no vigil port"; poweroff -f; }
echo "vigil-init: starting $(arg vigil.bin) on $port"
chroot $R "$(arg vigil.bin)" guest --port "$port" --path "$(arg vigil.path | tr , :)"
echo "vigil-init: guest exited with $?"
sync
poweroff -f
)INIT";

Result<std::string> ReadModule(const std::string& path) {
  auto ends = [&](const char* ext) {
    size_t n = strlen(ext);
    return path.size() > n && path.compare(path.size() - n, n, ext) == 0;
  };
  // Decompressed here: busybox's insmod hands the bytes to the kernel as they are.
  if (ends(".xz")) return sys::CommandOutput({"xz", "-dc", path});
  if (ends(".zst")) return sys::CommandOutput({"zstd", "-dc", path});
  if (ends(".gz")) return sys::CommandOutput({"gzip", "-dc", path});
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot read {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}


}  // namespace

void CpioWriter::Entry(const std::string& name, unsigned mode, const std::string& data) {
  std::string n = name;
  out_ += fmt::format("070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
                      ino_++, mode, 0, 0, 1, 0, data.size(), 0, 0, 0, 0, n.size() + 1, 0);
  out_ += n;
  out_.push_back('\0');
  while (out_.size() % 4) out_.push_back('\0');
  out_ += data;
  while (out_.size() % 4) out_.push_back('\0');
}

void CpioWriter::AddDirectory(const std::string& name, unsigned mode) { Entry(name, S_IFDIR | mode, ""); }
void CpioWriter::AddFile(const std::string& name, const std::string& data, unsigned mode) {
  Entry(name, S_IFREG | mode, data);
}
void CpioWriter::AddSymlink(const std::string& name, const std::string& target) {
  Entry(name, S_IFLNK | 0777, target);
}
std::string CpioWriter::Finish() {
  ino_ = 0;
  Entry("TRAILER!!!", 0, "");
  return std::move(out_);
}

std::string KernelReleaseOf(const std::string& kernel_image) {
  // bzImage: the setup header has a pointer (at 0x20e) to the version
  // string, relative to 0x200: "6.12.117+deb12-cloud-amd64 (debian-kernel@...".
  std::ifstream in(kernel_image, std::ios::binary);
  char head[0x400];
  if (!in.read(head, sizeof head)) return "";
  if (std::memcmp(head + 0x202, "HdrS", 4) != 0) return "";
  unsigned off = static_cast<unsigned char>(head[0x20e]) | (static_cast<unsigned char>(head[0x20f]) << 8);
  if (off == 0) return "";
  in.seekg(off + 0x200);
  char ver[256] = {0};
  in.read(ver, sizeof ver - 1);
  std::string s(ver, strnlen(ver, sizeof ver - 1));
  return s.substr(0, s.find(' '));
}

Result<Initramfs> BuildInitramfs(const InitramfsSpec& spec) {
  Initramfs out;
  // Index the module tree: name -> file; built-in modules need no loading.
  std::map<std::string, std::string> files;
  std::set<std::string> builtin;
  if (!spec.modules_dir.empty()) {
    files = IndexModules(spec.modules_dir);
    builtin = BuiltinModules(spec.modules_dir);
  }
  // Dependencies first (modinfo reads compressed modules too).
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::function<Status(const std::string&)> add = [&](const std::string& name) -> Status {
    std::string n = KernelModuleName(name);
    if (n.empty() || seen.count(n)) return Status::OK();
    seen.insert(n);
    if (builtin.count(n)) return Status::OK();
    auto f = files.find(n);
    if (f == files.end()) {
      out.notes.push_back(fmt::format("module {} is neither built in nor in {}", n, spec.modules_dir));
      return Status::OK();
    }
    auto deps = sys::CommandOutput({"modinfo", "-F", "depends", f->second});
    if (!deps.ok()) return deps.status();
    std::string d = *deps;
    for (char& c : d)
      if (c == ',' || c == '\n') c = ' ';
    std::istringstream words(d);
    for (std::string w; words >> w;) {
      Status s = add(w);
      if (!s.ok()) return s;
    }
    order.push_back(n);
    return Status::OK();
  };
  if (!spec.modules_dir.empty()) {
    for (const auto& m : spec.modules) {
      Status s = add(m);
      if (!s.ok()) return s;
    }
  }
  // Cache key: the init, busybox and every module file (path, size, mtime).
  struct stat st {};
  if (stat(spec.busybox.c_str(), &st) != 0)
    return Status::NotFound(fmt::format("{} not found (install busybox-static)", spec.busybox));
  uint64_t key = Fnv1a(kInit);
  key = Fnv1a(fmt::format("{}|{}|{}", spec.busybox, st.st_size, st.st_mtime), key);
  for (const auto& n : order) {
    struct stat ms {};
    stat(files[n].c_str(), &ms);
    key = Fnv1a(fmt::format("{}|{}|{}", files[n], ms.st_size, ms.st_mtime), key);
  }
  out.modules = order;
  std::error_code ec;
  fs::create_directories(spec.cache_dir, ec);
  out.path = fmt::format("{}/initramfs-{:016x}.cpio", spec.cache_dir, key);
  if (access(out.path.c_str(), R_OK) == 0) {
    out.cached = true;
    return out;
  }
  CpioWriter cpio;
  for (const char* d : {"bin", "dev", "proc", "sys", "newroot", "run", "tmp", "lib", "lib/vigil-modules"})
    cpio.AddDirectory(d);
  cpio.AddFile("bin/busybox", ReadText(spec.busybox), 0755);
  cpio.AddFile("init", kInit, 0755);
  std::string list;
  for (size_t i = 0; i < order.size(); ++i) {
    auto data = ReadModule(files[order[i]]);
    if (!data.ok()) return data.status();
    std::string name = fmt::format("{:02}-{}.ko", i, order[i]);
    cpio.AddFile("lib/vigil-modules/" + name, *data);
    list += name + "\n";
  }
  cpio.AddFile("modules.order", list);
  std::string image = cpio.Finish();
  std::string tmp = out.path + fmt::format(".tmp{}", getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    f.write(image.data(), static_cast<std::streamsize>(image.size()));
    if (!f) return Status::IOError(fmt::format("cannot write {}", tmp));
  }
  if (rename(tmp.c_str(), out.path.c_str()) != 0) return Status::IOError(fmt::format("cannot write {}", out.path));
  return out;
}

}  // namespace vigil::vm
