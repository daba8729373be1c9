// What a bisection needs from version control: commits, their parents and
// subjects, the first-parent line between two ends, and worktrees to check
// commits out in without touching the user's checkout. Git in production
// (git_vcs.h), a fake in tests (fake_vcs.h).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::engine {

struct Commit {
  std::string hash;  // full
  std::string subject;
};

class Vcs {
 public:
  virtual ~Vcs() = default;

  // The repository's top directory.
  virtual const std::string& Top() const = 0;
  // The directory shared by all worktrees of the repository (absolute).
  virtual Result<std::string> CommonDir() = 0;
  // The full hash of the commit `rev` names; an error when it names none.
  virtual Result<std::string> ResolveCommit(const std::string& rev) = 0;
  // Whether `older` is `newer` or one of its ancestors.
  virtual bool IsAncestor(const std::string& older, const std::string& newer) = 0;
  // The first-parent line from `new_end` back to (without) what `old_end`
  // reaches, oldest first.
  virtual Result<std::vector<Commit>> FirstParentLine(const std::string& old_end,
                                                      const std::string& new_end) = 0;
  // The parents of `commit`, first parent first (none for a root commit).
  virtual Result<std::vector<std::string>> Parents(const std::string& commit) = 0;
  // The subject line of `commit`; "" when it cannot be read.
  virtual std::string Subject(const std::string& commit) = 0;

  // A new worktree at `path`, detached at `commit`.
  virtual Status AddWorktree(const std::string& path, const std::string& commit) = 0;
  // Checks `commit` out (detached, local changes discarded) in `worktree`.
  virtual Status Checkout(const std::string& worktree, const std::string& commit) = 0;
  // Removes the worktree at `path`, local changes included.
  virtual Status RemoveWorktree(const std::string& path) = 0;
};

}  // namespace vigil::engine
