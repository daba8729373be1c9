// Running code from strangers (a patch series' build and the programs it
// compiles) confined: as an unprivileged user, without network, with the
// whole file system read-only but for the directories it must write, and
// with the files it must not read (a token) masked. bubblewrap does the
// confining, inside a user namespace owned by that user, where the program
// is "root" of namespaces of its own (a selftest can still make network
// namespaces) and nobody outside.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::sys {

struct SandboxSpec {
  std::vector<std::string> writable;  // bound read-write at the same path
  std::vector<std::string> masked;    // files (or directories) that read as empty
  uid_t uid = 65534;                  // nobody
  gid_t gid = 65534;                  // nogroup
};

// The argv prefix that runs a program under `spec`: setpriv to the user,
// then bwrap; the program's own argv follows. The working directory is kept
// when it is visible inside.
std::vector<std::string> SandboxPrefix(const SandboxSpec& spec);

// Whether the sandbox user can get to `dir`: it and every directory above
// it that exists searchable by that user. When not, `blocker` names the
// first directory in the way.
bool ReachableBySandbox(const std::string& dir, const SandboxSpec& spec, std::string* blocker = nullptr);

// Whether sandboxing works on this machine: setpriv and bwrap found, user
// namespaces allowed, a program run under `spec` cannot reach the network
// and can write its directories. An error says what is missing and how to
// get it.
Status CheckSandbox(const SandboxSpec& spec);

// Hands `path` (recursively) to the sandbox user, so the confined program
// can write it.
Status GiveToSandbox(const std::string& path, const SandboxSpec& spec);

// While one is alive, the calling thread's own file accesses are checked as
// the user uid:gid with no supplementary groups (setfsuid, setfsgid and a
// per-thread setgroups), and what it creates belongs to that user. For
// what vigil, as root, does in a directory the sandbox writes (a build's
// output): a symlink planted there leads only where that user could go
// anyway. Programs it starts run with their own credentials again
// (execve resets the file-system ids). Threads that were there are not
// affected; threads it starts meanwhile inherit the identity, for good.
class FsIdentity {
 public:
  FsIdentity() = default;
  ~FsIdentity();
  FsIdentity(const FsIdentity&) = delete;
  FsIdentity& operator=(const FsIdentity&) = delete;
  // Takes on uid:gid; an error when the kernel did not (not root).
  Status Enter(uid_t uid, gid_t gid);
  bool active() const { return active_; }

 private:
  bool active_ = false;
  uid_t old_uid_ = 0;
  gid_t old_gid_ = 0;
  std::vector<gid_t> old_groups_;
};

}  // namespace vigil::sys
