// Vcs on a git repository, through the git command (sys::CommandOutput).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/vcs.h"

namespace vigil::engine {

class GitVcs final : public Vcs {
 public:
  // The repository that holds `dir`; git's words when there is none.
  static Result<std::unique_ptr<GitVcs>> Open(const std::string& dir);

  const std::string& Top() const override { return top_; }
  Result<std::string> CommonDir() override;
  Result<std::string> ResolveCommit(const std::string& rev) override;
  bool IsAncestor(const std::string& older, const std::string& newer) override;
  Result<std::vector<Commit>> FirstParentLine(const std::string& old_end,
                                              const std::string& new_end) override;
  Result<std::vector<std::string>> Parents(const std::string& commit) override;
  std::string Subject(const std::string& commit) override;
  Status AddWorktree(const std::string& path, const std::string& commit) override;
  Status Checkout(const std::string& worktree, const std::string& commit) override;
  Status RemoveWorktree(const std::string& path) override;

 private:
  explicit GitVcs(std::string top) : top_(std::move(top)) {}
  std::string top_;
};

}  // namespace vigil::engine
