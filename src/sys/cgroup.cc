#include "sys/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace vigil::sys {
namespace {

// Mount point of the cgroup v2 hierarchy, or "".
std::string Cgroup2Mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return dir;
  }
  return "";
}

// This process's path inside the v2 hierarchy ("0::/path").
std::string OwnCgroup2Path() {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

bool WriteFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

}  // namespace

int TestCgroup::CleanStale() {
  std::string mount = Cgroup2Mount();
  if (mount.empty()) return 0;
  std::string own = OwnCgroup2Path();
  std::string parent = mount + (own == "/" ? "" : own);
  int killed = 0;
  DIR* dir = opendir(parent.c_str());
  if (!dir) return 0;
  while (dirent* e = readdir(dir)) {
    int pid = 0;
    if (sscanf(e->d_name, "vigil-%d-", &pid) != 1 || pid <= 0) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;  // its vigil is alive
    std::string path = parent + "/" + e->d_name;
    int fd = open((path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    TestCgroup stale(path, fd);  // the destructor kills and removes it
    killed += stale.CountProcesses();
  }
  closedir(dir);
  return killed;
}

std::string TestCgroup::Unusable() {
  std::string why;
  std::unique_ptr<TestCgroup> cg = Create(fmt::format("vigil-{}-probe", getpid()), &why);
  if (!cg) return why;
  pid_t pid = fork();
  if (pid < 0) return fmt::format("fork: {}", std::strerror(errno));
  if (pid == 0) _exit(write(cg->procs_fd(), "0", 1) == 1 ? 0 : (errno & 0x7f));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fmt::format("cannot move a process into {}: {}", cg->path(),
                       WIFEXITED(status) ? std::strerror(WEXITSTATUS(status)) : "the probe died");
  }
  return "";
}

std::unique_ptr<TestCgroup> TestCgroup::Create(const std::string& name, std::string* why) {
  std::string mount = Cgroup2Mount();
  if (mount.empty()) {
    *why = "no cgroup v2 hierarchy mounted";
    return nullptr;
  }
  std::string own = OwnCgroup2Path();
  std::string path = mount + (own == "/" ? "" : own) + "/" + name;
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    *why = fmt::format("cannot create {}: {}", path, std::strerror(errno));
    return nullptr;
  }
  int fd = open((path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = fmt::format("cannot open {}/cgroup.procs: {}", path, std::strerror(errno));
    rmdir(path.c_str());
    return nullptr;
  }
  return std::unique_ptr<TestCgroup>(new TestCgroup(path, fd));
}

TestCgroup::~TestCgroup() {
  KillAll();
  if (procs_fd_ >= 0) close(procs_fd_);
  rmdir(path_.c_str());
}

int TestCgroup::CountProcesses() const {
  std::ifstream f(path_ + "/cgroup.procs");
  int n = 0;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty()) ++n;
  }
  return n;
}

int TestCgroup::KillAll() {
  int found = CountProcesses();
  if (found == 0) return 0;
  if (!WriteFile(path_ + "/cgroup.kill", "1")) {
    // Kernels before 5.14 have no cgroup.kill: signal each process.
    std::ifstream f(path_ + "/cgroup.procs");
    pid_t pid;
    while (f >> pid) kill(pid, SIGKILL);
  }
  for (int i = 0; i < 100 && CountProcesses() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return found;
}

}  // namespace vigil::sys
