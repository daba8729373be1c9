#include "engine/git_vcs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "base/text.h"
#include "sys/process.h"

namespace vigil::engine {
namespace {

// Runs git in `dir`; what it printed on its standard output without the
// trailing newlines, or an error with git's words. Its standard error
// (hints, warnings: "hint: ..." about grafts, an unreadable config) goes
// to a file of its own, read only for the error: it is never taken for a
// hash or a subject. A checkout of a kernel tree may take minutes.
Result<std::string> Git(const std::string& dir, const std::vector<std::string>& args) {
  char err_path[] = "/tmp/vigil-git-XXXXXX";
  int fd = mkstemp(err_path);
  if (fd < 0) return Status::IOError(fmt::format("cannot make a file for git's errors: {}", strerror(errno)));
  close(fd);
  std::vector<std::string> argv = {"sh", "-c", "err=$0; dir=$1; shift; exec git -C \"$dir\" \"$@\" 2>\"$err\"",
                                   err_path, dir};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = sys::CommandOutput(argv, std::chrono::minutes(15));
  std::string err;
  {
    std::ifstream f(err_path, std::ios::binary);
    char buf[512];
    f.read(buf, sizeof buf);
    err.assign(buf, static_cast<size_t>(f.gcount()));
  }
  unlink(err_path);
  if (!out.ok()) {
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return Status::InvalidArgument(err.empty() ? out.status().message() : "git: " + err);
  }
  std::string s = std::move(out.value());
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Status Done(const Result<std::string>& r) { return r.ok() ? Status::OK() : r.status(); }

}  // namespace

Result<std::unique_ptr<GitVcs>> GitVcs::Open(const std::string& dir) {
  auto top = Git(dir, {"rev-parse", "--show-toplevel"});
  if (!top.ok()) return top.status();
  return std::unique_ptr<GitVcs>(new GitVcs(std::move(top.value())));
}

Result<std::string> GitVcs::CommonDir() {
  auto dir = Git(top_, {"rev-parse", "--git-common-dir"});
  if (!dir.ok()) return dir.status();
  if (!dir->empty() && (*dir)[0] != '/') return top_ + "/" + dir.value();
  return dir;
}

Result<std::string> GitVcs::ResolveCommit(const std::string& rev) {
  return Git(top_, {"rev-parse", "--verify", "--quiet", rev + "^{commit}"});
}

bool GitVcs::IsAncestor(const std::string& older, const std::string& newer) {
  return Git(top_, {"merge-base", "--is-ancestor", older, newer}).ok();
}

Result<std::vector<Commit>> GitVcs::FirstParentLine(const std::string& old_end, const std::string& new_end) {
  auto list = Git(top_, {"rev-list", "--first-parent", "--reverse", "--format=%H %s", "--no-commit-header",
                         old_end + ".." + new_end});
  if (!list.ok()) return list.status();
  std::vector<Commit> line;
  ForEachLine(list.value(), [&](std::string_view l) {
    if (l.size() < 40) return;
    line.push_back({std::string(l.substr(0, 40)), std::string(l.size() > 41 ? l.substr(41) : "")});
  });
  return line;
}

Result<std::vector<std::string>> GitVcs::Parents(const std::string& commit) {
  auto out = Git(top_, {"rev-list", "--parents", "-n", "1", commit});
  if (!out.ok()) return out.status();
  // "COMMIT PARENT1 PARENT2 ..."
  std::vector<std::string> parents;
  std::string_view rest = out.value();
  bool first = true;
  while (true) {
    size_t sp = rest.find(' ');
    if (!first) parents.emplace_back(rest.substr(0, sp));
    first = false;
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  return parents;
}

std::string GitVcs::Subject(const std::string& commit) {
  auto s = Git(top_, {"log", "-1", "--format=%s", commit});
  return s.ok() ? s.value() : std::string();
}

Status GitVcs::AddWorktree(const std::string& path, const std::string& commit) {
  return Done(Git(top_, {"worktree", "add", "--detach", "--quiet", path, commit}));
}

Status GitVcs::Checkout(const std::string& worktree, const std::string& commit) {
  // Without .git of its own, git would work on the repository above it.
  struct stat st {};
  if (stat((worktree + "/.git").c_str(), &st) != 0) return Status::NotFound(worktree + " is not a git worktree");
  return Done(Git(worktree, {"checkout", "--quiet", "--force", "--detach", commit}));
}

Status GitVcs::RemoveWorktree(const std::string& path) {
  return Done(Git(top_, {"worktree", "remove", "--force", path}));
}

}  // namespace vigil::engine
