#include "sys/file_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

namespace vigil::sys {
namespace {

TEST(FileLock, OneHolderAtATimeAndTheOtherIsToldWho) {
  char dir[] = "/tmp/vigil-lock-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/loop.lock";
  auto first = FileLock::TryAcquire(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // Another process is turned away, told the holder's pid.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto second = FileLock::TryAcquire(path);
    bool named = !second.ok() && second.status().message().find("process " + std::to_string(getppid())) != std::string::npos;
    _exit(named ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Released with the object: taken again.
  first->reset();
  auto again = FileLock::TryAcquire(path);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(FileLock::TryAcquire(std::string(dir) + "/no/such/dir/lock").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::sys
