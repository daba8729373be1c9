#include "engine/fake_vcs.h"

#include <algorithm>

namespace vigil::engine {

void FakeVcs::Add(const std::string& hash, std::vector<std::string> parents) {
  parents_[hash] = std::move(parents);
}

bool FakeVcs::Reaches(const std::string& commit, const std::string& ancestor) const {
  std::vector<std::string> todo = {commit};
  std::set<std::string> seen;
  while (!todo.empty()) {
    std::string c = todo.back();
    todo.pop_back();
    if (c == ancestor) return true;
    if (!seen.insert(c).second) continue;
    auto it = parents_.find(c);
    if (it != parents_.end()) todo.insert(todo.end(), it->second.begin(), it->second.end());
  }
  return false;
}

Result<std::string> FakeVcs::ResolveCommit(const std::string& rev) {
  if (!parents_.count(rev)) return Status::NotFound("unknown revision " + rev);
  return rev;
}

Result<std::vector<Commit>> FakeVcs::FirstParentLine(const std::string& old_end, const std::string& new_end) {
  std::vector<Commit> line;
  for (std::string c = new_end; !c.empty() && !Reaches(old_end, c);) {
    auto it = parents_.find(c);
    if (it == parents_.end()) return Status::NotFound("unknown revision " + c);
    line.push_back({c, c});
    c = it->second.empty() ? "" : it->second.front();
  }
  std::reverse(line.begin(), line.end());
  return line;
}

Result<std::vector<std::string>> FakeVcs::Parents(const std::string& commit) {
  auto it = parents_.find(commit);
  if (it == parents_.end()) return Status::NotFound("unknown revision " + commit);
  return it->second;
}

Status FakeVcs::AddWorktree(const std::string& path, const std::string& commit) {
  worktrees_[path] = commit;
  return Status::OK();
}

Status FakeVcs::Checkout(const std::string& worktree, const std::string& commit) {
  auto it = worktrees_.find(worktree);
  if (it == worktrees_.end()) return Status::NotFound(worktree + " is not a worktree");
  if (!parents_.count(commit)) return Status::NotFound("unknown revision " + commit);
  it->second = commit;
  ++checkouts_;
  return Status::OK();
}

Status FakeVcs::RemoveWorktree(const std::string& path) {
  if (!worktrees_.erase(path)) return Status::NotFound(path + " is not a worktree");
  return Status::OK();
}

}  // namespace vigil::engine
