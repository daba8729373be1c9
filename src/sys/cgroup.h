// A cgroup v2 directory per test, so that everything a test started —
// daemons that left its process group and session included — can be found
// and killed. Used when the cgroup v2 hierarchy is mounted and writable;
// otherwise the runner falls back to the test's process group.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

namespace vigil::sys {

class TestCgroup {
 public:
  // Creates a cgroup named `name` under this process's own cgroup v2 directory.
  // Returns null, with the reason in `*why`, when cgroup v2 is not usable.
  static std::unique_ptr<TestCgroup> Create(const std::string& name, std::string* why);
  ~TestCgroup();  // kills what is left and removes the directory
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  // Kills and removes cgroups named "vigil-PID-..." whose vigil process PID
  // is gone (a vigil killed with -9 leaves its running test behind). Returns
  // how many processes were killed.
  static int CleanStale();

  // Why tests cannot be put in cgroups here ("" when they can): a cgroup is
  // created, a child process moved into it, and both removed.
  static std::string Unusable();

  const std::string& path() const { return path_; }
  // An O_WRONLY descriptor of cgroup.procs: a forked child writes "0" to it to
  // join before it execs. Owned by this object.
  int procs_fd() const { return procs_fd_; }
  // Kills every process in the cgroup and waits (up to about a second) until
  // it is empty. Returns the number of processes that were still there.
  int KillAll();
  // Processes currently in the cgroup.
  int CountProcesses() const;

 private:
  explicit TestCgroup(std::string path, int procs_fd) : path_(std::move(path)), procs_fd_(procs_fd) {}
  std::string path_;
  int procs_fd_ = -1;
};

}  // namespace vigil::sys
