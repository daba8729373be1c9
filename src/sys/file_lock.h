// An exclusive lock on a file (flock), held while the object lives: one
// process at a time works where it guards. The holder's pid is written in
// the file, so the one turned away can be told who holds it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/status.h"

namespace vigil::sys {

class FileLock {
 public:
  // Takes the lock without waiting. InvalidArgument naming the holder's pid
  // when another process holds it; IOError when the file cannot be opened.
  static Result<std::unique_ptr<FileLock>> TryAcquire(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace vigil::sys
