// A Vcs over an in-memory history, for tests: commits are added with their
// parents, worktrees and checkouts are only remembered (nothing is made on
// disk, so adding a worktree that is there already replaces it).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/vcs.h"

namespace vigil::engine {

class FakeVcs final : public Vcs {
 public:
  explicit FakeVcs(std::string top = "/repo") : top_(std::move(top)) {}

  // Adds a commit named `hash` (its subject too) on top of `parents`.
  void Add(const std::string& hash, std::vector<std::string> parents);
  // Whether `ancestor` is `commit` or reachable from it.
  bool Reaches(const std::string& commit, const std::string& ancestor) const;

  const std::string& Top() const override { return top_; }
  Result<std::string> CommonDir() override { return top_ + "/.git"; }
  Result<std::string> ResolveCommit(const std::string& rev) override;
  bool IsAncestor(const std::string& older, const std::string& newer) override {
    return Reaches(newer, older);
  }
  Result<std::vector<Commit>> FirstParentLine(const std::string& old_end,
                                              const std::string& new_end) override;
  Result<std::vector<std::string>> Parents(const std::string& commit) override;
  std::string Subject(const std::string& commit) override { return parents_.count(commit) ? commit : ""; }
  Status AddWorktree(const std::string& path, const std::string& commit) override;
  Status Checkout(const std::string& worktree, const std::string& commit) override;
  Status RemoveWorktree(const std::string& path) override;

  // What each worktree has checked out; removed worktrees are gone.
  const std::map<std::string, std::string>& worktrees() const { return worktrees_; }
  int checkouts() const { return checkouts_; }

 private:
  std::string top_;
  std::map<std::string, std::vector<std::string>> parents_;
  std::map<std::string, std::string> worktrees_;
  int checkouts_ = 0;
};

}  // namespace vigil::engine
