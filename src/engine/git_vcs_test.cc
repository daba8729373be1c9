#include "engine/git_vcs.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace vigil::engine {
namespace {

namespace fs = std::filesystem;

TEST(GitVcs, WhatGitSaysOnItsStandardErrorIsNotTakenForItsAnswer) {
  if (system("command -v git >/dev/null") != 0) GTEST_SKIP() << "no git";
  fs::path dir = fs::temp_directory_path() / fmt::format("vigil-git-vcs-test-{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string git = fmt::format("git -C '{}' -c user.email=t@example.org -c user.name=t ", dir.string());
  ASSERT_EQ(system((git + "init -q && " + git + "commit -q --allow-empty -m one && " + git +
                    "commit -q --allow-empty -m two")
                       .c_str()),
            0);
  // A grafts file makes git print hints on every command.
  std::ofstream(dir / ".git/info/grafts") << "";
  auto vcs = GitVcs::Open(dir.string());
  ASSERT_TRUE(vcs.ok()) << vcs.status().ToString();
  auto head = (*vcs)->ResolveCommit("HEAD");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size(), 40u) << *head;
  EXPECT_EQ(head->find_first_not_of("0123456789abcdef"), std::string::npos) << *head;
  auto first = (*vcs)->ResolveCommit("HEAD~1");
  ASSERT_TRUE(first.ok());
  auto line = (*vcs)->FirstParentLine(*first, *head);
  ASSERT_TRUE(line.ok());
  ASSERT_EQ(line->size(), 1u);
  EXPECT_EQ((*line)[0].subject, "two");
  // An error still says what git said.
  auto bad = (*vcs)->ResolveCommit("no-such-rev");
  EXPECT_FALSE(bad.ok());
  // A directory without .git of its own is no worktree to check out in.
  fs::create_directories(dir / "sub");
  auto co = (*vcs)->Checkout((dir / "sub").string(), *first);
  EXPECT_FALSE(co.ok());
  auto still = (*vcs)->ResolveCommit("HEAD");  // the repository above is untouched
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still.value(), head.value());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::engine
