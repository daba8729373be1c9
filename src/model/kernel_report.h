// A kernel report as vigil records it: its type, syzbot-style title, guilty
// function, frames, text and fingerprint. console::Detector makes them; the
// process runner (a VM's console), the store and the reports carry them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::model {

enum class ReportType : uint8_t {
  kPanic,
  kOops,
  kBug,
  kWarning,
  kNullDeref,
  kPageFault,
  kGpf,
  kSoftLockup,
  kHardLockup,
  kHungTask,
  kRcuStall,
  kWorkqueueLockup,
  kRefcount,
  kListCorruption,
  kAtomicSleep,
  kKasan,
  kKfence,
  kKcsan,
  kKmsan,
  kUbsan,
  kKmemleak,
  kLockdep,
  kSlabCorruption,
  kStackProtector,
  kDivideError,
  kInvalidOpcode,
  kDoubleFault,
  kNetdevRefcnt,
  kOther,
};

// "panic", "null_deref", ...: the names used in JSON and the store.
std::string_view TypeName(ReportType type);

struct Frame {
  std::string function;  // as printed, e.g. "tcp_sendmsg_locked.isra.0"
  std::string module;    // "" for vmlinux
  uint64_t offset = 0;
  uint64_t size = 0;
  bool reliable = true;  // false for "? func+0x.." frames
  std::string raw;       // "func+0x12/0x40 [mod]" (ParseFrame with keep_raw)
};

struct KernelReport {
  ReportType type = ReportType::kOther;
  std::string title;        // "WARNING in tcp_sendmsg", "kernel panic: ..."
  std::string guilty;       // the first frame that is not generic; may be ""
  bool fatal = false;       // the kernel died of it (panic)
  uint64_t start_line = 0;  // 1-based input lines
  uint64_t end_line = 0;
  std::vector<Frame> frames;  // every frame of the report, in order (capped)
  std::string text;           // the report's kernel lines, prefixes stripped (capped)
  std::string fingerprint;    // 16 hex digits of title + normalised top frames
  bool complete = false;
};

}  // namespace vigil::model
