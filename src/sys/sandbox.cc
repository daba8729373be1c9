#include "sys/sandbox.h"

#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "sys/process.h"

namespace vigil::sys {

namespace {

bool OnPath(const std::string& name) {
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find(':', i);
    if (j == std::string::npos) j = p.size();
    std::string dir = p.substr(i, j - i);
    if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    i = j + 1;
  }
  return false;
}

}  // namespace

bool ReachableBySandbox(const std::string& dir, const SandboxSpec& spec, std::string* blocker) {
  std::filesystem::path p = std::filesystem::absolute(dir).lexically_normal();
  for (;; p = p.parent_path()) {
    struct stat st {};
    if (stat(p.c_str(), &st) == 0) {
      bool searchable = (st.st_mode & S_IXOTH) || (st.st_uid == spec.uid && (st.st_mode & S_IXUSR)) ||
                        (st.st_gid == spec.gid && (st.st_mode & S_IXGRP));
      if (!searchable) {
        if (blocker) *blocker = p.string();
        return false;
      }
    }
    if (p == p.root_path() || p.empty()) return true;
  }
}

std::vector<std::string> SandboxPrefix(const SandboxSpec& spec) {
  std::vector<std::string> argv = {
      "setpriv", fmt::format("--reuid={}", spec.uid), fmt::format("--regid={}", spec.gid), "--clear-groups",
      "--inh-caps=-all", "--",
      // A user namespace of the unprivileged user, where the program is root
      // of its own namespaces; no network (a namespace with only lo), its own
      // PIDs, IPC and UTS; it dies with vigil's side.
      "bwrap", "--unshare-all", "--die-with-parent", "--uid", "0", "--gid", "0", "--cap-add", "ALL",
      "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run",
      "--tmpfs", "/dev/shm"};
  for (const auto& w : spec.writable) {
    argv.insert(argv.end(), {"--bind", w, w});
  }
  for (const auto& m : spec.masked) {
    // What it cannot get to needs no mask (and bwrap, as that user, could
    // not put one there); under /tmp it sees its own empty /tmp anyway.
    std::string dir = std::filesystem::absolute(m).lexically_normal().parent_path().string();
    if (!std::filesystem::exists(dir) || !ReachableBySandbox(dir, spec) || m.rfind("/tmp/", 0) == 0) continue;
    std::error_code ec;
    if (std::filesystem::is_directory(m, ec)) {
      argv.insert(argv.end(), {"--tmpfs", m});
    } else {
      argv.insert(argv.end(), {"--ro-bind", "/dev/null", m});
    }
  }
  argv.push_back("--");
  return argv;
}

Status CheckSandbox(const SandboxSpec& spec) {
  for (const char* tool : {"setpriv", "bwrap"}) {
    if (!OnPath(tool)) {
      return Status::InvalidArgument(fmt::format(
          "sandbox: {} not found (apt-get install {})", tool, std::string(tool) == "bwrap" ? "bubblewrap" : "util-linux"));
    }
  }
  std::vector<std::string> argv = SandboxPrefix(spec);
  // No route out, and the file system read-only outside the writable paths.
  argv.insert(argv.end(), {"/bin/sh", "-c",
                           "if ip route get 192.0.2.1 >/dev/null 2>&1; then echo 'network reachable'; exit 3; fi; "
                           "if touch /vigil-sandbox-probe 2>/dev/null; then echo 'root file system writable'; exit 4; fi; "
                           "exit 0"});
  auto out = CommandOutput(argv, std::chrono::milliseconds(30000), 1 << 16);
  if (!out.ok()) {
    return Status::InvalidArgument(
        fmt::format("sandbox: cannot confine a program here (bubblewrap in a user namespace of uid {}): {}", spec.uid,
                    out.status().message()));
  }
  return Status::OK();
}

Status GiveToSandbox(const std::string& path, const SandboxSpec& spec) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto own = [&](const fs::path& p) -> Status {
    if (lchown(p.c_str(), spec.uid, spec.gid) != 0) {
      return Status::IOError(fmt::format("cannot hand {} to the sandbox user: {}", p.string(), strerror(errno)));
    }
    return Status::OK();
  };
  if (Status s = own(path); !s.ok()) return s;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (Status s = own(it->path()); !s.ok()) return s;
  }
  if (ec) return Status::IOError(fmt::format("cannot hand {} to the sandbox user: {}", path, ec.message()));
  return Status::OK();
}

namespace {

// The raw system calls: glibc's setgroups() changes every thread's groups.
long ThreadSetGroups(const std::vector<gid_t>& groups) {
  return syscall(SYS_setgroups, groups.size(), groups.empty() ? nullptr : groups.data());
}

}  // namespace

Status FsIdentity::Enter(uid_t uid, gid_t gid) {
  if (active_) return Status::InvalidArgument("file-system identity taken on twice");
  int n = getgroups(0, nullptr);
  if (n < 0) return Status::IOError(fmt::format("getgroups: {}", strerror(errno)));
  old_groups_.resize(static_cast<size_t>(n));
  if (n > 0 && getgroups(n, old_groups_.data()) < 0) return Status::IOError(fmt::format("getgroups: {}", strerror(errno)));
  // Groups first: dropping them needs CAP_SETGID, which the change of fsuid
  // does not take away, but keep the order that works in any case.
  if (ThreadSetGroups({}) != 0) {
    return Status::InvalidArgument(fmt::format("cannot drop the supplementary groups: {}", strerror(errno)));
  }
  old_gid_ = static_cast<gid_t>(setfsgid(gid));
  old_uid_ = static_cast<uid_t>(setfsuid(uid));
  active_ = true;
  // setfsuid() says only what it was before: asking again says what it is.
  if (static_cast<uid_t>(setfsuid(uid)) != uid || static_cast<gid_t>(setfsgid(gid)) != gid) {
    return Status::InvalidArgument(fmt::format("cannot take on uid {} gid {} for file access (not root?)", uid, gid));
  }
  return Status::OK();
}

FsIdentity::~FsIdentity() {
  if (!active_) return;
  setfsuid(old_uid_);
  setfsgid(old_gid_);
  ThreadSetGroups(old_groups_);
}

}  // namespace vigil::sys
