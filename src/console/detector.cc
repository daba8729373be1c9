#include "console/detector.h"

#include "base/hash.h"
#include "console/title.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace vigil::console {
namespace {

using std::string_view;

bool StartsWith(string_view s, string_view p) { return s.substr(0, p.size()) == p; }
bool Contains(string_view s, string_view p) { return s.find(p) != string_view::npos; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
unsigned HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}
bool IsSymbolChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '$';
}

string_view TrimLeft(string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}
string_view TrimRight(string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The seconds of a timestamp prefix ("<4>[    5.123456][  T97] " ->
// "5.123456"); what TimestampPrefix matched, so the brackets are there.
string_view StampSeconds(string_view stamp) {
  size_t open = stamp.find('[');
  if (open == string_view::npos) return stamp;
  size_t close = stamp.find(']', open);
  string_view secs = stamp.substr(open + 1, close == string_view::npos ? string_view::npos : close - open - 1);
  while (!secs.empty() && secs.front() == ' ') secs.remove_prefix(1);
  return secs;
}

// Length of a printk prefix at the start of `s`: an optional "<N>" level,
// a "[  123.456789]" timestamp, an optional "[  T123]"/"[ C1]" caller id
// (CONFIG_PRINTK_CALLER, with or without a space before it) and one space.
// 0 when `s` does not start with a timestamp.
size_t TimestampPrefix(string_view s) {
  if (s.size() < 4 || (s[0] != '[' && s[0] != '<')) return 0;
  // Fast path, the usual shape: "[" spaces digits "." 6 digits "] ".
  if (s[0] == '[' && s.size() >= 15) {
    const char* p = s.data();
    size_t n = s.size();
    size_t i = 1;
    while (i < n && p[i] == ' ') ++i;
    size_t d = i;
    while (i < n && IsDigit(p[i])) ++i;
    if (i > d && i + 8 < n && p[i] == '.' && IsDigit(p[i + 1]) && IsDigit(p[i + 6]) && p[i + 7] == ']' &&
        p[i + 8] == ' ' && IsDigit(p[i + 2]) && IsDigit(p[i + 3]) && IsDigit(p[i + 4]) && IsDigit(p[i + 5])) {
      size_t end = i + 8;
      if (end + 1 < n && p[end + 1] == '[') {
        // "[ts] [ T1] " caller id: the general path below handles it.
      } else {
        return end + 1;
      }
    }
  }
  size_t i = 0;
  if (s.size() >= 3 && s[0] == '<' && IsDigit(s[1])) {
    i = 1;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i >= s.size() || s[i] != '>') return 0;
    ++i;
  }
  if (i >= s.size() || s[i] != '[') return 0;
  ++i;
  while (i < s.size() && s[i] == ' ') ++i;
  size_t digits = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == digits || i >= s.size() || s[i] != '.') return 0;
  ++i;
  digits = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == digits || i >= s.size() || s[i] != ']') return 0;
  ++i;
  // Caller id.
  size_t j = i;
  if (j < s.size() && s[j] == ' ') ++j;
  if (j < s.size() && s[j] == '[') {
    size_t k = j + 1;
    while (k < s.size() && s[k] == ' ') ++k;
    if (k < s.size() && (s[k] == 'T' || s[k] == 'C')) {
      size_t d = ++k;
      while (k < s.size() && IsDigit(s[k])) ++k;
      if (k > d && k < s.size() && s[k] == ']') i = k + 1;
    }
  }
  if (i < s.size() && s[i] == ' ') ++i;
  return i;
}

// Finds a timestamp prefix after position 0 (a kernel line that starts in
// the middle of user-space output). npos when there is none.
size_t FindMidLineTimestamp(string_view s) {
  size_t pos = 1;
  while (pos < s.size()) {
    const void* p = memchr(s.data() + pos, '[', s.size() - pos);
    if (!p) return string_view::npos;
    pos = static_cast<const char*>(p) - s.data();
    size_t start = pos;
    if (start > 0 && s[start - 1] == '>' && start >= 3) {
      // "<4>[ ..." : include the level.
      size_t b = start - 2;
      while (b > 0 && IsDigit(s[b])) --b;
      if (s[b] == '<' && TimestampPrefix(s.substr(b))) return b;
    }
    if (TimestampPrefix(s.substr(start))) return start;
    pos = start + 1;
  }
  return string_view::npos;
}

// Where the first kernel line (its timestamp) starts in `s`, at its start
// or within it; npos if none does.
size_t KernelLineStart(string_view s) { return TimestampPrefix(s) ? 0 : FindMidLineTimestamp(s); }

// kSeparator: a line of '=' that opens and closes sanitizer reports.
enum class MarkerKind : uint8_t { kNone, kStart, kPanic, kCut, kEndTrace, kEndPanic, kSeparator };

bool IsSanitizer(ReportType t) {
  return t == ReportType::kKasan || t == ReportType::kKfence || t == ReportType::kKcsan ||
         t == ReportType::kKmsan || t == ReportType::kUbsan;
}

}  // namespace

struct Detector::Marker {
  MarkerKind kind = MarkerKind::kNone;
  ReportType type = ReportType::kOther;
  bool single_line = false;   // reports that are one line (no structure follows)
  bool only_continues = false;  // inside an open report never starts a new one
};

namespace {

using Marker = Detector::Marker;

Marker MakeStart(ReportType t, bool single_line = false, bool only_continues = false) {
  Marker m;
  m.kind = MarkerKind::kStart;
  m.type = t;
  m.single_line = single_line;
  m.only_continues = only_continues;
  return m;
}

// "WARNING: CPU: 0 PID: 1 at FILE:LINE f+0x..", "WARNING: at FILE:LINE f()",
// "WARNING: FILE:LINE at f+0x.., CPU#0: comm/1".
bool IsWarnSite(string_view rest) {
  if (StartsWith(rest, "CPU: ") || StartsWith(rest, "at ")) return true;
  // "WARNING: [cond] FILE:LINE at f+0x.., CPU#0: comm/1" (6.19).
  if (StartsWith(rest, "[")) {
    size_t close = rest.find("] ");
    if (close == string_view::npos) return false;
    rest = rest.substr(close + 2);
  }
  size_t colon = rest.find(':');
  size_t at = rest.find(" at ");
  if (colon == string_view::npos || at == string_view::npos || colon > at) return false;
  return colon + 1 < rest.size() && IsDigit(rest[colon + 1]) && rest.find(' ') == at;
}

Marker ClassifyBug(string_view m) {
  string_view r = m.substr(5);  // after "BUG: "
  if (StartsWith(r, "KASAN: ")) return MakeStart(ReportType::kKasan);
  if (StartsWith(r, "KFENCE: ")) return MakeStart(ReportType::kKfence);
  if (StartsWith(r, "KCSAN: ")) return MakeStart(ReportType::kKcsan);
  if (StartsWith(r, "KMSAN: ")) return MakeStart(ReportType::kKmsan);
  if (StartsWith(r, "kernel NULL pointer dereference") ||
      StartsWith(r, "unable to handle kernel NULL pointer dereference") ||
      StartsWith(r, "NULL pointer dereference"))
    return MakeStart(ReportType::kNullDeref);
  if (StartsWith(r, "unable to handle ")) return MakeStart(ReportType::kPageFault);
  if (StartsWith(r, "soft lockup")) return MakeStart(ReportType::kSoftLockup);
  if (StartsWith(r, "scheduling while atomic") || StartsWith(r, "sleeping function called from invalid context"))
    return MakeStart(ReportType::kAtomicSleep);
  if (StartsWith(r, "workqueue lockup")) return MakeStart(ReportType::kWorkqueueLockup);
  if (StartsWith(r, "memory leak")) return MakeStart(ReportType::kKmemleak);
  if (StartsWith(r, "bad unlock balance") || StartsWith(r, "held lock freed") ||
      StartsWith(r, "Invalid wait context") || StartsWith(r, "lock held when returning") ||
      Contains(r, "still has locks held"))
    return MakeStart(ReportType::kLockdep);
  if (StartsWith(r, "stack guard page was hit") || StartsWith(r, "Bad page") || StartsWith(r, "Bad rss-counter"))
    return MakeStart(ReportType::kOther, StartsWith(r, "Bad rss-counter"));
  return MakeStart(ReportType::kOther);
}

// SLUB: "BUG kmalloc-64 (Tainted: G O): Object already free".
bool IsSlabReport(string_view m) {
  string_view r = m.substr(4);
  size_t sp = r.find(" (");
  if (sp == string_view::npos || sp == 0) return false;
  for (char c : r.substr(0, sp))
    if (!(IsSymbolChar(c) || c == '-' || c == ':' || c == '(' || c == ')')) return false;
  string_view after = r.substr(sp + 2);
  return StartsWith(after, "Tainted") || StartsWith(after, "Not tainted");
}

// Classifies one kernel message. Fast: most lines are rejected by their
// first character.
Marker Classify(string_view m) {
  if (m.size() < 4) return {};
  switch (m[0]) {
    case 'W':
      if (StartsWith(m, "WARNING: ")) {
        string_view r = m.substr(9);
        if (StartsWith(r, "possible circular locking") || StartsWith(r, "possible recursive locking") ||
            StartsWith(r, "inconsistent lock state") || StartsWith(r, "suspicious RCU usage") ||
            StartsWith(r, "possible irq lock inversion") || StartsWith(r, "bad unlock balance") ||
            StartsWith(r, "held lock freed") || StartsWith(r, "lock held when returning") ||
            StartsWith(r, "Nested lock was not taken") || Contains(r, "-unsafe lock order detected") ||
            Contains(r, "still has locks held!"))
          return MakeStart(ReportType::kLockdep);
        if (IsWarnSite(r)) return MakeStart(ReportType::kWarning);
        if (StartsWith(r, "kernel stack ")) return MakeStart(ReportType::kOther);
        return {};
      }
      if (StartsWith(m, "Watchdog detected hard LOCKUP")) return MakeStart(ReportType::kHardLockup);
      return {};
    case 'B':
      if (StartsWith(m, "BUG: ")) return ClassifyBug(m);
      if (StartsWith(m, "BUG ") && IsSlabReport(m)) return MakeStart(ReportType::kSlabCorruption);
      // Only reached after the kernel has run (Detector::Line): a reboot.
      if (StartsWith(m, "Booting the kernel")) return MakeStart(ReportType::kOther, true);
      return {};
    case 'K':
      if (StartsWith(m, "Kernel panic - not syncing")) return Marker{MarkerKind::kPanic};
      if (StartsWith(m, "Kernel BUG ")) return MakeStart(ReportType::kBug);
      return {};
    case 'k':
      if (StartsWith(m, "kernel BUG at ")) return MakeStart(ReportType::kBug);
      // Old KASAN printed its hint without a newline before the fault.
      if (StartsWith(m, "kasan: GPF could be caused") && Contains(m, "general protection fault"))
        return MakeStart(ReportType::kGpf);
      if (StartsWith(m, "kmemleak: ") && Contains(m, "new suspected memory leak"))
        return MakeStart(ReportType::kKmemleak, true);
      return {};
    case 'g':
      if (StartsWith(m, "general protection fault")) {
        if (Contains(m, " error:") && Contains(m, " in ")) return {};  // user-space segfault line
        return MakeStart(ReportType::kGpf);
      }
      return {};
    case 'O':
      if (StartsWith(m, "Oops: ")) {
        string_view r = m.substr(6);
        if (StartsWith(r, "general protection fault")) return MakeStart(ReportType::kGpf);
        if (StartsWith(r, "divide error")) return MakeStart(ReportType::kDivideError);
        if (StartsWith(r, "invalid opcode")) return MakeStart(ReportType::kInvalidOpcode, false, true);
        if (StartsWith(r, "double fault")) return MakeStart(ReportType::kDoubleFault);
        if (Contains(r, "[#")) return MakeStart(ReportType::kOops, false, true);
      }
      return {};
    case 'I':
      if (StartsWith(m, "Internal error: ")) return MakeStart(ReportType::kOops, false, true);
      if (StartsWith(m, "INFO: ")) {
        string_view r = m.substr(6);
        if (StartsWith(r, "task ") && Contains(r, " blocked ") && Contains(r, " for more than "))
          return MakeStart(ReportType::kHungTask);
        if (StartsWith(r, "task ") && Contains(r, " can't die for more than ")) return MakeStart(ReportType::kHungTask);
        if (StartsWith(r, "rcu_") && Contains(r, "detected")) return MakeStart(ReportType::kRcuStall);
        if (StartsWith(r, "trying to register non-static key") || StartsWith(r, "possible circular locking") ||
            StartsWith(r, "possible recursive locking") || StartsWith(r, "inconsistent lock state") ||
            StartsWith(r, "suspicious RCU usage"))
          return MakeStart(ReportType::kLockdep);
      }
      return {};
    case 'r':
      if (StartsWith(m, "rcu: INFO: rcu_") && Contains(m, "detected")) return MakeStart(ReportType::kRcuStall);
      if (StartsWith(m, "refcount_t: ")) return MakeStart(ReportType::kRefcount);
      if (StartsWith(m, "rust_kernel: panicked")) return MakeStart(ReportType::kBug);
      return {};
    case 'l':
      if (StartsWith(m, "list_add corruption") || StartsWith(m, "list_del corruption") ||
          StartsWith(m, "list_add double add") || StartsWith(m, "list_replace corruption"))
        return MakeStart(ReportType::kListCorruption);
      return {};
    case 'U':
      if (StartsWith(m, "UBSAN: ")) return MakeStart(ReportType::kUbsan);
      // arm and arm64 faults.
      if (StartsWith(m, "Unable to handle kernel ")) {
        return MakeStart(Contains(m, "NULL pointer") ? ReportType::kNullDeref : ReportType::kPageFault);
      }
      if (StartsWith(m, "Unhandled fault: ")) return MakeStart(ReportType::kPageFault);
      return {};
    case 'A':
      if (StartsWith(m, "Alignment trap: ")) return MakeStart(ReportType::kOops, false, true);
      return {};
    case 'V':
      if (StartsWith(m, "VFS: Close: file count is 0") || StartsWith(m, "VFS: Busy inodes after unmount"))
        return MakeStart(ReportType::kOther, true);
      return {};
    case 't':
      if (StartsWith(m, "trusty: panic")) return MakeStart(ReportType::kPanic);
      return {};
    case '[':
      // Old lockdep banners: "[ BUG: bad unlock balance detected! ]".
      if (StartsWith(m, "[ BUG: ") || StartsWith(m, "[ INFO: ")) {
        Marker inner = Classify(m.substr(2));
        if (inner.kind == MarkerKind::kStart) return inner;
      }
      return {};
    case 'u':
      if (StartsWith(m, "unregister_netdevice: waiting for ")) return MakeStart(ReportType::kNetdevRefcnt, true, true);
      if (StartsWith(m, "unreferenced object 0x")) return MakeStart(ReportType::kKmemleak);
      return {};
    case 'd':
      if (StartsWith(m, "divide error: ") || StartsWith(m, "divide_error: ")) return MakeStart(ReportType::kDivideError);
      if (StartsWith(m, "double fault: ")) return MakeStart(ReportType::kDoubleFault);
      return {};
    case 'i':
      if (StartsWith(m, "invalid opcode: ")) return MakeStart(ReportType::kInvalidOpcode, false, true);
      return {};
    case 'P':
      if (StartsWith(m, "PANIC: double fault")) return MakeStart(ReportType::kDoubleFault, false, true);
      return {};
    case 'w':
      if (StartsWith(m, "watchdog: BUG: soft lockup")) return MakeStart(ReportType::kSoftLockup);
      if (StartsWith(m, "watchdog: Watchdog detected hard LOCKUP")) return MakeStart(ReportType::kHardLockup);
      return {};
    case 'N':
      if (StartsWith(m, "NMI watchdog: ") && Contains(m, "hard LOCKUP")) return MakeStart(ReportType::kHardLockup);
      if (StartsWith(m, "NMI watchdog: BUG: soft lockup")) return MakeStart(ReportType::kSoftLockup);
      return {};
    case 's':
      if (StartsWith(m, "stack segment: ")) return MakeStart(ReportType::kOops);
      if (StartsWith(m, "segment-related general protection fault")) return MakeStart(ReportType::kGpf);
      return {};
    case '=':
      if (m.size() >= 20 && m.find_first_not_of('=') == string_view::npos) return Marker{MarkerKind::kSeparator};
      return {};
    case '-':
      if (StartsWith(m, "------------[ cut here ]------------")) return Marker{MarkerKind::kCut};
      if (StartsWith(m, "---[ end trace")) return Marker{MarkerKind::kEndTrace};
      if (StartsWith(m, "---[ end Kernel panic")) return Marker{MarkerKind::kEndPanic};
      return {};
    default:
      return {};
  }
}

// Lines the kernel prints around every report: seeing one after a report
// line confirms it is the kernel's.
bool IsStructureLine(string_view m) {
  m = TrimLeft(m);
  static constexpr std::array<string_view, 31> kPrefixes = {
      "CPU: ", "Hardware name:", "Call Trace:", "Call trace:", "RIP: ", "pc : ", "Modules linked in:",
      "<TASK>", "<IRQ>", "---[ end", "Kernel Offset:", "#PF: ", "Oops: ", "Read of size", "Write of size",
      "task:", "Tainted: ", "Not tainted", "Workqueue:", "Showing busy workqueues", "backtrace",
      "comm \"", "Sending NMI", "NMI backtrace", "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\"",
      "preempt_count:", "in_atomic(): ", "kernel BUG at ", "Kernel panic", "invalid opcode:", "Backtrace:"};
  for (string_view p : kPrefixes)
    if (StartsWith(m, p)) return true;
  return StartsWith(m, "WARNING: CPU: ") || StartsWith(m, "rcu: ") || StartsWith(m, "Code: ") ||
         StartsWith(m, "INFO: lockdep is turned off") || StartsWith(m, "Slab 0x") || StartsWith(m, "Object 0x") ||
         StartsWith(m, "other info that might help") || StartsWith(m, "stack backtrace:");
}

// Lines that still belong to a report after its trace closed ("</TASK>")
// or after "---[ end trace": register dumps, the panic, more CPUs' traces.
bool IsReportLine(string_view m) {
  if (m.empty()) return false;
  if (m[0] == ' ' || m[0] == '\t') return true;
  // Only lines starting with these characters can continue a report.
  switch (m[0]) {
    case 'R': case 'C': case 'F': case 'D': case 'P': case 'n': case 'K': case '-': case 'S': case 'M':
    case '<': case 'N': case 'H': case 't': case 'r': case 'I': case 'p': case 'l': case 's': case 'x':
    case 'T': case 'w': case 'i': case '=': case '0': case '1': case '2': case '3': case '4': case '5':
    case '6': case '7': case '8': case '9':
      break;
    default:
      return false;
  }
  static constexpr std::array<string_view, 32> kPrefixes = {
      "RIP: ", "Code: ", "RSP: ", "RAX: ", "RDX: ", "RBP: ", "R10: ", "R13: ", "FS: ", "CS: ", "CR2: ",
      "DR0: ", "DR3: ", "PKRU: ", "note: ", "Kernel panic", "Kernel Offset:", "---[ end", "Rebooting in",
      "Fixing recursive fault", "Dumping ftrace", "Shutting down cpus", "Modules linked in:", "Call Trace:",
      "<TASK>", "<IRQ>", "NMI backtrace", "Sending NMI", "CPU: ", "Hardware name:", "Showing all locks",
      "Showing busy workqueues"};
  for (string_view p : kPrefixes)
    if (StartsWith(m, p)) return true;
  return StartsWith(m, "task:") || StartsWith(m, "rcu: ") || StartsWith(m, "INFO: lockdep is turned off") ||
         StartsWith(m, "pc : ") || StartsWith(m, "lr : ") || StartsWith(m, "sp : ") || StartsWith(m, "x2") ||
         StartsWith(m, "Tainted: ") || StartsWith(m, "pool ") || StartsWith(m, "workqueue ") ||
         StartsWith(m, "in-flight:") || StartsWith(m, "pending:") || StartsWith(m, "=====") ||
         Contains(m, " held by ");
}

std::string ReplaceAddresses(string_view s) {
  // Long hex numbers (addresses, exit codes) vary from run to run.
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool boundary = i == 0 || !IsSymbolChar(s[i - 1]);
    size_t j = i;
    if (boundary && s.substr(i, 2) == "0x") j += 2;
    size_t digits = j;
    while (j < s.size() && IsHex(s[j])) ++j;
    if (boundary && j - digits >= 6 && (j == s.size() || !IsSymbolChar(s[j]))) {
      out += "ADDR";
      i = j;
    } else {
      out += s[i++];
    }
  }
  return out;
}


// "... in f+0x12/0x40 ..." or "... at f+0x.." : the function before "+0x".
std::string FunctionBefore(string_view s, string_view after) {
  size_t pos = s.find(after);
  if (pos == string_view::npos) return "";
  string_view r = s.substr(pos + after.size());
  size_t n = 0;
  while (n < r.size() && IsSymbolChar(r[n])) ++n;
  if (n == 0 || (n < r.size() && r[n] != '+' && r[n] != ' ' && r[n] != '(' && r[n] != ',')) return "";
  return std::string(r.substr(0, n));
}

const RE2& GenericFrames() {
  // Frames that report, allocate, lock, copy or dispatch on behalf of the
  // code at fault.
  static const RE2 re(
      "__sanitizer|__asan|kasan|hwasan|__msan|kmsan|kcsan_|check_memory_region|check_heap_object|"
      "check_object|print_address_description|panic|invalid_op|report_bug|fixup_bug|print_report|"
      "print_usage_bug|do_error_trap|do_trap|handle_bug|exc_invalid_op|exc_divide_error|exc_page_fault|"
      "exc_general_protection|asm_exc_|asm_sysvec_|sysvec_|show_stack|dump_stack|walk_stack|dump_backtrace|"
      "warn_slowpath|warn_alloc|__warn|print_tainted|^get_taint$|^printk|vprintk|_printk|"
      "^alloc_pages|^__alloc_pages|^k?v?[mzc]alloc|krealloc|kmem_cache|allocate_slab|^slab_|^__slab_|"
      "^kv?free$|^__kfree|kfree_skb|memdup|strdup|strndup|^free_debug_processing|^__slab_free|"
      "debug_object|__might_fault|^might_fault|might_sleep|__might_resched|__might_sleep|"
      "lockdep|lock_acquire|lock_release|lock_class|mark_lock|_held_locks|raw_spin_rq|spin_lock|"
      "spin_trylock|spin_unlock|read_lock|read_unlock|write_lock|write_unlock|^down$|^down_read|^down_write|"
      "^down_trylock|^up_read|^up_write|^mutex_|^__mutex_|^rt_mutex_|osq_lock|osq_unlock|"
      "^atomic(64)?_(dec|inc|read|set|add|sub|fetch|xchg|cmpxchg|try)|^(set|clear|change|test)_bit|"
      "^__wake_up|^refcount_|^__refcount_|^kref_|ref_tracker|"
      "^mem(cpy|cmp|set|chr|move)|^__mem(cpy|set|move)|^str(cmp|ncmp|cpy|lcpy|ncpy|scpy|len|str|nlen|chr)|"
      "^v?s?n?printf|^scnprintf|kasprintf|^hex_dump|^print_hex_dump|"
      "copy_to_user|copy_from_user|copy_to_iter|copy_from_iter|^put_user|^get_user|"
      "^__list_|^list_add|^list_del|^list_replace|^list_move|^list_splice|^__list_del_entry|"
      "^rb_|^__rb_|_indirect_thunk_|^__x86_return_thunk|"
      "^__stack_chk_fail|^stack_trace_|^arch_stack_walk|"
      "^__schedule$|^schedule$|^preempt_schedule|^__cond_resched|"
      "^do_syscall_|^entry_SYSCALL|^ret_from_fork|^__do_softirq|^handle_softirqs|^irq_exit|"
      "^__sysvec_|^hrtimer_interrupt|^__hrtimer_run_queues|^watchdog_timer_fn|"
      "^do_(kernel|translation)_fault|^do_mem_abort|^el1_abort|^el1h_64_sync|^page_fault_oops|"
      "^kernelmode_fixup_or_oops|^__bad_area_nosemaphore|^bad_area_nosemaphore|^do_user_addr_fault|"
      "^oops_|^die$|^__die|^die_body|^do_int3|^ubsan_|^__ubsan_handle|^rcu_|^__rcu_|^print_cpu_stall|"
      "^check_cpu_stall|^__schedule_bug|^check_noncircular|^check_prev_add|^validate_chain|^print_circular_bug|"
      "^check_deadlock|^print_deadlock_bug|^mark_usage|^valid_state|^update_process_times|^tick_|^timekeeping_|^__might_",
      RE2::Quiet);
  return re;
}

// Frames a task blocks in, skipped when naming a hung task.
bool IsWaitFrame(string_view f) {
  static constexpr std::array<string_view, 14> kParts = {
      "sched", "_lock", "_slowlock", "down", "rwsem", "completion", "kthread", "wait", "synchronize",
      "context_switch", "__switch_to", "cancel_delayed_work", "rcu_barrier", "msleep"};
  for (string_view p : kParts)
    if (Contains(f, p)) return true;
  return false;
}


}  // namespace

std::string NormaliseFunction(std::string_view f) {
  // Compiler clones: "f.isra.0", "f.constprop.0", "f.part.0", "f.cold", "f.llvm.1234".
  size_t dot = f.find('.');
  if (dot != string_view::npos && dot > 0) f = f.substr(0, dot);
  // Syscall entry wrappers name the syscall.
  static constexpr std::array<string_view, 10> kPrefixes = {"__x64_sys_", "__ia32_sys_", "__arm64_sys_",
                                                            "__do_sys_", "__se_sys_", "__do_compat_sys_",
                                                            "__x64_compat_sys_", "__ia32_compat_sys_",
                                                            "__sys_", "ksys_"};
  for (string_view p : kPrefixes)
    if (StartsWith(f, p) && f.size() > p.size()) return std::string(f.substr(p.size()));
  return std::string(f);
}

bool IsGenericFrame(std::string_view function) {
  return RE2::PartialMatch(re2::StringPiece(function.data(), function.size()), GenericFrames());
}

bool ParseFrame(std::string_view line, Frame* frame, bool keep_raw) {
  string_view s = TrimLeft(line);
  // "RIP: 0010:f+0x..", "pc : f+0x..", "lr : f+0x..".
  if (StartsWith(s, "RIP: ")) {
    s.remove_prefix(5);
    size_t colon = s.find(':');
    if (colon != string_view::npos && colon <= 5) s.remove_prefix(colon + 1);
  } else if (StartsWith(s, "pc : ") || StartsWith(s, "lr : ")) {
    s.remove_prefix(5);
  }
  bool reliable = true;
  // "[<ffffffff81234567>] " address prefixes (old kernels, kmemleak): a
  // few at most, or a line of them would cost its length squared in
  // vigil decode, which tries every position of a line.
  for (int prefixes = 0; StartsWith(s, "[<"); ++prefixes) {
    size_t close = s.find(">]");
    if (close == string_view::npos || prefixes == 4) return false;
    s = TrimLeft(s.substr(close + 2));
  }
  if (StartsWith(s, "? ")) {
    reliable = false;
    s = TrimLeft(s.substr(2));
  }
  size_t n = 0;
  while (n < s.size() && IsSymbolChar(s[n])) ++n;
  if (n == 0 || n + 3 >= s.size() || s.substr(n, 3) != "+0x") return false;
  size_t i = n + 3;
  size_t od = i;
  uint64_t off = 0, size = 0;
  while (i < s.size() && IsHex(s[i]) && i - od < 16) off = off * 16 + HexValue(s[i++]);
  if (i == od) return false;
  if (i + 2 < s.size() && s[i] == '/' && s.substr(i + 1, 2) == "0x") {
    i += 3;
    size_t sd = i;
    while (i < s.size() && IsHex(s[i]) && i - sd < 16) size = size * 16 + HexValue(s[i++]);
  }
  size_t end = i;
  std::string module;
  string_view rest = s.substr(i);
  if (StartsWith(rest, " [")) {
    size_t close = rest.find(']');
    if (close != string_view::npos) {
      string_view mod = rest.substr(2, close - 2);
      mod = mod.substr(0, mod.find(' '));  // "[mod buildid]"
      bool ok = !mod.empty();
      for (char c : mod) ok = ok && (IsSymbolChar(c) || c == '-');
      if (ok) {
        module = std::string(mod);
        end = i + close + 1;
      }
    }
  }
  frame->function = std::string(s.substr(0, n));
  frame->module = std::move(module);
  frame->offset = off;
  frame->size = size;
  frame->reliable = reliable;
  if (keep_raw) {
    frame->raw = std::string(s.substr(0, end));
  } else {
    frame->raw.clear();
  }
  return true;
}

// Titles reports on a thread of its own: the detector hands it each kept
// report as it completes (the report stays where it is in reports_, which
// does not grow while titles are pending) and collects the titles at Finish().
class Detector::BackgroundTitler {
 public:
  BackgroundTitler() : thread_([this] { Run(); }) {}
  ~BackgroundTitler() { Close(); }
  void Add(size_t index, const std::string* text, bool cut) {
    std::lock_guard lock(mu_);
    jobs_.push_back({index, text, cut});
    // Woken once a batch is waiting: a wake-up per report costs more than
    // many titles.
    if (jobs_.size() >= kBatch) cv_.notify_all();
  }
  // Returns once every title asked for is made (the texts may move after).
  void Drain() {
    std::unique_lock lock(mu_);
    draining_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return jobs_.empty() && !busy_; });
  }
  // Waits for every title asked for; returns them by report index.
  std::vector<std::pair<size_t, TitleResult>> Collect() {
    Close();
    return std::move(done_);
  }

 private:
  static constexpr size_t kBatch = 16;
  struct Job {
    size_t index;
    const std::string* text;
    bool cut;
  };
  void Close() {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return closing_ || draining_ || jobs_.size() >= kBatch; });
      while (!jobs_.empty()) {
        Job job = jobs_.front();
        jobs_.pop_front();
        busy_ = true;
        lock.unlock();
        TitleResult r = TitleReport({*job.text, job.cut});
        lock.lock();
        busy_ = false;
        done_.emplace_back(job.index, std::move(r));
      }
      draining_ = false;
      cv_.notify_all();  // a Drain() may be waiting
      if (closing_) return;
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<std::pair<size_t, TitleResult>> done_;
  bool closing_ = false;
  bool draining_ = false;
  bool busy_ = false;
  std::thread thread_;  // last: started once the rest is built
};

Detector::Detector(DetectorOptions options) : options_(options) {}

Detector::~Detector() = default;

void Detector::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const char* nl = static_cast<const char*>(memchr(bytes.data(), '\n', bytes.size()));
    size_t len = nl ? static_cast<size_t>(nl - bytes.data()) : bytes.size();
    string_view piece = bytes.substr(0, len);
    size_t room = options_.max_line_bytes > partial_.size() ? options_.max_line_bytes - partial_.size() : 0;
    if (piece.size() > room) {
      // The line goes past the cap here. User space may have written more
      // than that without a newline before the kernel printed: a kernel
      // line that starts in what is cut starts a line of its own (its
      // report, a panic's first line, would be lost with the rest). The
      // last bytes cut are kept (cut_tail_), for a timestamp that comes in
      // two pieces.
      std::string seen = cut_tail_;
      seen.append(piece.substr(room));
      size_t at = KernelLineStart(seen);
      if (at != string_view::npos) {
        partial_.append(piece.substr(0, room));
        Line(partial_);
        partial_.clear();
        size_t carried = cut_tail_.size();
        cut_tail_.clear();
        if (at < carried) {
          // It started in the bytes kept from before: they begin the line.
          partial_.assign(seen, at, carried - at);
          bytes.remove_prefix(room);
        } else {
          bytes.remove_prefix(room + (at - carried));
        }
        continue;
      }
      cut_tail_ = seen.substr(seen.size() > kCutTail ? seen.size() - kCutTail : 0);
    }
    if (partial_.empty() && nl) {
      Line(piece.substr(0, std::min(piece.size(), options_.max_line_bytes)));
    } else {
      partial_.append(piece.substr(0, std::min(room, piece.size())));
      if (nl) {
        Line(partial_);
        partial_.clear();
      }
    }
    if (nl) cut_tail_.clear();
    if (!nl) break;
    bytes.remove_prefix(len + 1);
  }
}

void Detector::Line(std::string_view raw) {
  ++line_no_;
  while (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  while (!raw.empty() && raw.front() == '\r') raw.remove_prefix(1);
  size_t p = TimestampPrefix(raw);
  if (p) {
    // (Not in the middle of a line: a test printing the kernel's log after
    // "# " replays it, the kernel does not start again.)
    if (StartsWith(raw.substr(p), "Linux version ")) NewBoot();
    timestamps_ = true;
    if (!caller_ids_ && raw.substr(0, p).find("][") != string_view::npos) caller_ids_ = true;
    if (!caller_ids_ && raw.substr(0, p).find("] [") != string_view::npos) caller_ids_ = true;
    KernelLine(raw.substr(p), raw.substr(0, p));
    return;
  }
  if (timestamps_) {
    size_t mid = FindMidLineTimestamp(raw);
    if (mid == string_view::npos) {
      // The decompressor's last words after the kernel ran: it rebooted.
      if (StartsWith(raw, "Booting the kernel")) {
        NewBoot();
        KernelLine(raw);
        return;
      }
      UserLine(raw);
      return;
    }
    UserLine(raw.substr(0, mid));
    size_t stamp = TimestampPrefix(raw.substr(mid));
    KernelLine(raw.substr(mid + stamp), raw.substr(mid, stamp));
    return;
  }
  // The first timestamped line may follow text without a newline
  // ("syzkaller login: [   35.18] BUG: ...").
  if (size_t mid = FindMidLineTimestamp(raw); mid != string_view::npos) {
    timestamps_ = true;
    UserLine(raw.substr(0, mid));
    size_t stamp = TimestampPrefix(raw.substr(mid));
    KernelLine(raw.substr(mid + stamp), raw.substr(mid, stamp));
    return;
  }
  // A normal boot's decompressor: not a reboot.
  if (StartsWith(raw, "Booting the kernel")) {
    UserLine(raw);
    return;
  }
  // No timestamps on this console: a "<N>" level is the only prefix.
  if (raw.size() >= 3 && raw[0] == '<' && IsDigit(raw[1]) && raw[2] == '>') raw.remove_prefix(3);
  KernelLine(raw);
}

void Detector::UserLine(std::string_view) {
  // User-space output on the console: never part of a report, never the end
  // of one (KTAP and shell output interleave with the kernel's lines).
  if (cut_age_ >= 0 && ++cut_age_ > 8) cut_age_ = -1;
}

void Detector::KernelLine(std::string_view msg, std::string_view stamp) {
  msg = TrimRight(msg);
  Marker m = Classify(msg);
  if (!stamp.empty() && m.kind != MarkerKind::kNone && m.kind != MarkerKind::kSeparator &&
      m.kind != MarkerKind::kEndTrace) {
    // The same line with the same timestamp again: printed once by the
    // kernel, then shown again from its log buffer. Not read twice. The
    // time alone is compared: `dmesg` shows it without the console's caller
    // id or level, padded its own way.
    uint64_t key = Fnv1a(msg, Fnv1a(StampSeconds(stamp)));
    if (marks_.count(key)) return;
    if (marks_.size() >= kMaxMarks) marks_.clear();
    marks_.insert(key);
  }
  if (open_) {
    bool header = !seen_trace_ && report_lines_ < 16;
    if (in_tail_ || after_task_end_) {
      if (m.kind == MarkerKind::kPanic) {
        Append(msg);
        MarkFatal(msg);
        return;
      }
      if (m.kind == MarkerKind::kEndPanic) {
        Append(msg);
        MarkFatal(msg);
        Complete();
        return;
      }
      if (m.kind == MarkerKind::kSeparator) {
        Append(msg);
        if (IsSanitizer(open_report_.type)) Complete();
        return;
      }
      if (m.kind == MarkerKind::kEndTrace && !in_tail_) {
        Append(msg);
        in_tail_ = true;
        after_task_end_ = false;
        return;
      }
      if (m.kind == MarkerKind::kNone && IsReportLine(msg)) {
        if (after_task_end_ && (StartsWith(TrimLeft(msg), "<TASK>") || StartsWith(msg, "Call Trace:")))
          after_task_end_ = false;
        Append(msg);
        return;
      }
      Complete();
      // ... and this line is read afresh below.
    } else {
      switch (m.kind) {
        case MarkerKind::kStart:
          // SLUB prints the stack of its report through a WARNING in mm/slub.c.
          if ((header && m.type != start_type_) || m.only_continues ||
              (start_type_ == ReportType::kSlabCorruption && Contains(msg, "mm/slub.c"))) {
            Append(msg);
            return;
          }
          Complete();
          break;
        case MarkerKind::kPanic:
          Append(msg);
          MarkFatal(msg);
          return;
        case MarkerKind::kEndPanic:
          Append(msg);
          MarkFatal(msg);
          Complete();
          return;
        case MarkerKind::kEndTrace:
          Append(msg);
          in_tail_ = true;
          return;
        case MarkerKind::kSeparator:
          Append(msg);
          // The closing line of a sanitizer report.
          if (open_ && IsSanitizer(open_report_.type) && report_lines_ > 2) Complete();
          return;
        case MarkerKind::kCut:
          if (header || start_type_ == ReportType::kSlabCorruption) {
            Append(msg);
            return;
          }
          Complete();
          break;
        case MarkerKind::kNone:
          Append(msg);
          if (open_ && report_lines_ >= options_.max_report_lines) Complete();
          return;
      }
    }
  }
  // No report open.
  switch (m.kind) {
    case MarkerKind::kStart:
      Start(m, msg, cut_age_ >= 0 ? cut_line_ : line_no_, cut_age_ >= 0);
      break;
    case MarkerKind::kPanic: {
      Marker pm = MakeStart(ReportType::kPanic);
      if (Contains(msg, "stack-protector:")) pm.type = ReportType::kStackProtector;
      Start(pm, msg, cut_age_ >= 0 ? cut_line_ : line_no_, cut_age_ >= 0);
      MarkFatal(msg);
      break;
    }
    case MarkerKind::kSeparator:
    case MarkerKind::kCut:
      cut_line_ = line_no_;
      cut_age_ = 0;
      first_message_.clear();
      open_report_.text.clear();
      open_report_.text.append(msg).push_back('\n');
      return;
    default:
      if (cut_age_ >= 0) {
        if (++cut_age_ > 4) {
          cut_age_ = -1;
        } else if (open_report_.text.size() < 4096) {
          open_report_.text.append(msg).push_back('\n');  // WARN()'s own message
        }
      }
      return;
  }
}

void Detector::Start(const Marker& m, std::string_view msg, uint64_t start_line, bool from_cut) {
  std::string pre = from_cut ? std::move(open_report_.text) : std::string();
  open_report_ = Report{};
  open_report_.type = m.type;
  start_type_ = m.type;
  open_report_.start_line = start_line;
  open_report_.end_line = line_no_;
  open_report_.text = std::move(pre);
  open_report_.text.reserve(4096);
  open_ = true;
  confirmed_ = timestamps_ || m.single_line;
  unconfirmed_lines_ = 0;
  seen_trace_ = false;
  after_task_end_ = false;
  task_depth_ = 0;
  in_tail_ = false;
  report_lines_ = 0;
  rip_function_.clear();
  header_function_.clear();
  panic_message_.clear();
  first_message_ = std::string(msg);
  cut_age_ = -1;
  Report& r = open_report_;
  // A WARNING or BUG in the list or refcount helpers is that kind of report.
  if (m.type == ReportType::kWarning || m.type == ReportType::kBug) {
    if (Contains(msg, "lib/list_debug.c")) r.type = ReportType::kListCorruption;
    if (Contains(msg, "lib/refcount.c")) r.type = ReportType::kRefcount;
  }
  r.text.append(msg).push_back('\n');
  ++report_lines_;
  // Functions named on the first line.
  if (m.type == ReportType::kKasan || m.type == ReportType::kKfence || m.type == ReportType::kKmsan) {
    header_function_ = FunctionBefore(msg, " in ");
  }
  if (confirmed_ && listener_) listener_(Event::kStarted, r);
  if (m.single_line && confirmed_) Complete();  // nothing more belongs to it
}

void Detector::Confirm() {
  confirmed_ = true;
  if (!listener_) return;
  listener_(Event::kStarted, open_report_);
  if (open_report_.fatal) listener_(Event::kFatal, open_report_);
}

void Detector::Append(std::string_view msg) {
  Report& r = open_report_;
  ++report_lines_;
  r.end_line = line_no_;
  if (r.text.size() + msg.size() + 1 <= options_.max_report_bytes) r.text.append(msg).push_back('\n');
  string_view t = TrimLeft(msg);
  if (!confirmed_) {
    Frame frame;
    // A stack frame with offset and size ("  f+0x12/0x40") is the kernel's too.
    if (IsStructureLine(msg) || (t.find("+0x") != string_view::npos && t.find("/0x") != string_view::npos &&
                                 ParseFrame(t, &frame, /*keep_raw=*/false))) {
      Confirm();
    } else if (++unconfirmed_lines_ > 12) {
      open_ = false;  // text that looked like a report, without the kernel's structure
      open_report_ = Report{};
      return;
    }
  }
  if (!t.empty() && (t[0] == 'C' || t[0] == 'b') &&
      (StartsWith(t, "Call Trace:") || StartsWith(t, "Call trace:") || StartsWith(t, "backtrace")))
    seen_trace_ = true;
  if (!t.empty() && t[0] == '<') {
    if (StartsWith(t, "<TASK>")) {
      ++task_depth_;
      after_task_end_ = false;
      seen_trace_ = true;
    } else if (StartsWith(t, "</TASK>")) {
      if (task_depth_ > 0) --task_depth_;
      if (task_depth_ == 0) after_task_end_ = true;
    }
  }
  if (t.find("+0x") != string_view::npos) {
    Frame f;
    if (ParseFrame(t, &f, /*keep_raw=*/false)) {
      bool rip = StartsWith(t, "RIP: ") || StartsWith(t, "pc : ");
      if (rip) {
        // "RIP: 0033:" is user space.
        if (rip_function_.empty() && !StartsWith(t, "RIP: 0033:")) rip_function_ = f.function;
      } else if (!StartsWith(t, "lr : ")) {
        seen_trace_ = true;
        if (r.frames.size() < options_.max_frames) r.frames.push_back(std::move(f));
      }
    }
  }
}

void Detector::MarkFatal(std::string_view msg) {
  Report& r = open_report_;
  if (r.fatal) return;
  r.fatal = true;
  size_t colon = msg.find("not syncing");
  if (colon != string_view::npos) {
    string_view m = msg.substr(colon + 11);
    if (!m.empty() && m.front() == ':') m.remove_prefix(1);
    m = TrimLeft(m);
    if (StartsWith(m, "end Kernel panic")) m = {};
    while (!m.empty() && (m.back() == ']' || m.back() == '-' || m.back() == ' ')) m.remove_suffix(1);
    panic_message_ = std::string(m);
  }
  if (confirmed_ && listener_) listener_(Event::kFatal, r);
}

void Detector::Quiet() {
  if (open_) Complete();
}

void Detector::Finish() {
  if (!partial_.empty()) {
    std::string last = std::move(partial_);
    partial_.clear();
    Line(last);
  }
  if (open_) Complete();
  if (titler_) {
    for (auto& [index, syz] : titler_->Collect()) ApplyTitle(&reports_[index], std::move(syz));
    titler_.reset();
  }
}

void Detector::Complete() {
  open_ = false;
  in_tail_ = false;
  after_task_end_ = false;
  if (!confirmed_) {
    // Nothing of the kernel's report structure followed: with timestamps on
    // the console this does not happen; without, it is user-space text.
    open_report_ = Report{};
    return;
  }
  bool kept = reports_.size() < options_.max_reports;
  if (!kept && !listener_) {
    // Nobody will see it: counted, not finished (titling is most of that).
    open_report_ = Report{};
    ++dropped_reports_;
    return;
  }
  Report r = std::move(open_report_);
  open_report_ = Report{};
  Finalise(&r);
  // In the background the report is titled on the other thread (reports()
  // has its title after Finish()); a listener sees each report titled.
  bool background = options_.title_in_background && !listener_;
  if (!background) ApplyTitle(&r, TitleReport({r.text, !caller_ids_}));
  r.complete = true;
  if (listener_) listener_(Event::kCompleted, r);
  if (!kept) {
    ++dropped_reports_;
    return;
  }
  if (background) {
    if (!titler_) {
      reports_.reserve(std::min<size_t>(options_.max_reports, 1024));
      titler_ = std::make_unique<BackgroundTitler>();
    }
    // The titler reads the texts where they are: they may move only once
    // it has read them.
    if (reports_.size() == reports_.capacity()) titler_->Drain();
    reports_.push_back(std::move(r));
    titler_->Add(reports_.size() - 1, &reports_.back().text, !caller_ids_);
  } else {
    reports_.push_back(std::move(r));
  }
}

void Detector::Finalise(Report* r) {
  const std::string& first = first_message_;
  auto non_generic = [](const std::string& f) { return !f.empty() && !IsGenericFrame(f); };
  // Each frame's verdict once: the guilty frame may look at every frame twice.
  std::vector<bool> generic(r->frames.size());
  for (size_t i = 0; i < r->frames.size(); ++i) generic[i] = !non_generic(r->frames[i].function);
  auto first_frame = [&](bool (*extra_skip)(string_view)) -> std::string {
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < r->frames.size(); ++i) {
        const Frame& f = r->frames[i];
        if (pass == 0 && !f.reliable) continue;
        if (generic[i]) continue;
        if (extra_skip && extra_skip(f.function)) continue;
        return f.function;
      }
    }
    return "";
  };
  std::string guilty;
  switch (r->type) {
    case ReportType::kKasan:
    case ReportType::kKfence:
    case ReportType::kKmsan:
      guilty = non_generic(header_function_) ? header_function_ : first_frame(nullptr);
      break;
    case ReportType::kHungTask:
      guilty = first_frame([](string_view f) { return IsWaitFrame(f); });
      break;
    case ReportType::kAtomicSleep:
      guilty = first_frame([](string_view f) {
        for (string_view p : {"msleep", "usleep", "ssleep", "fsleep", "schedule", "__schedule", "_cond_resched",
                              "__cond_resched", "might_", "__might_", "___might_", "preempt_schedule"})
          if (StartsWith(f, p)) return true;
        return false;
      });
      break;
    case ReportType::kLockdep: {
      // "... is trying to acquire lock: ADDR (name){..}, at: f+0x../0x..":
      // the lock being taken names a deadlock.
      if (Contains(first, "circular locking") || Contains(first, "recursive locking") ||
          Contains(first, "lock inversion") || Contains(first, "-unsafe lock order")) {
        string_view text = r->text;
        for (size_t at = text.find(", at: "); at != string_view::npos; at = text.find(", at: ", at + 1)) {
          std::string fn = FunctionBefore(text.substr(at), ", at: ");
          if (non_generic(fn)) {
            guilty = fn;
            break;
          }
        }
      }
      if (guilty.empty()) guilty = first_frame(nullptr);
      break;
    }
    case ReportType::kUbsan:
    case ReportType::kKmemleak:
    case ReportType::kSlabCorruption:
    case ReportType::kOther:
    case ReportType::kWorkqueueLockup:
    case ReportType::kNetdevRefcnt:
    case ReportType::kKcsan:
      guilty = first_frame(nullptr);
      break;
    case ReportType::kStackProtector: {
      guilty = FunctionBefore(first, "corrupted in: ");
      if (guilty.empty()) guilty = first_frame([](string_view f) { return Contains(f, "stack_chk"); });
      break;
    }
    default:
      guilty = non_generic(rip_function_) ? rip_function_ : first_frame(nullptr);
      break;
  }
  r->guilty = guilty.empty() ? "" : NormaliseFunction(guilty);
  std::string in = r->guilty.empty() ? "" : " in " + r->guilty;
  string_view f = first;
  std::string title;
  switch (r->type) {
    case ReportType::kWarning:
      title = "WARNING" + in;
      break;
    case ReportType::kRefcount:
      title = "WARNING: refcount bug" + in;
      break;
    case ReportType::kListCorruption:
      title = "BUG: corrupted list" + in;
      break;
    case ReportType::kNullDeref:
      title = "BUG: unable to handle kernel NULL pointer dereference" + in;
      break;
    case ReportType::kPageFault:
      title = "BUG: unable to handle kernel paging request" + in;
      break;
    case ReportType::kGpf:
      title = "general protection fault" + in;
      break;
    case ReportType::kBug:
      title = "kernel BUG" + in;
      break;
    case ReportType::kOops:
      title = "Oops" + in;
      break;
    case ReportType::kSoftLockup:
      title = "BUG: soft lockup" + in;
      break;
    case ReportType::kHardLockup:
      title = "BUG: hard lockup" + in;
      break;
    case ReportType::kHungTask:
      title = "INFO: task hung" + in;
      break;
    case ReportType::kRcuStall:
      title = "INFO: rcu detected stall" + in;
      break;
    case ReportType::kWorkqueueLockup:
      title = "BUG: workqueue lockup";
      break;
    case ReportType::kAtomicSleep:
      title = Contains(f, "scheduling while atomic") ? "BUG: scheduling while atomic" + in
                                                      : "BUG: sleeping function called from invalid context" + in;
      break;
    case ReportType::kKasan:
    case ReportType::kKfence:
    case ReportType::kKmsan: {
      // "BUG: KASAN: slab-use-after-free in f+0x.." + "Read of size 8 at addr"
      string_view what = f.substr(f.find(": ") + 2);  // "KASAN: ..."
      size_t in_pos = what.find(" in ");
      std::string kind(what.substr(0, in_pos));
      if (r->type == ReportType::kKasan) {
        if (Contains(r->text, "\nRead of size") || Contains(r->text, "\nRead at addr")) kind += " Read";
        else if (Contains(r->text, "\nWrite of size") || Contains(r->text, "\nWrite at addr")) kind += " Write";
      }
      title = kind + in;
      break;
    }
    case ReportType::kKcsan: {
      string_view what = f.substr(5);  // "KCSAN: data-race in a / b"
      title = std::string(what);
      break;
    }
    case ReportType::kUbsan: {
      string_view what = f.substr(0, f.find(" in "));  // "UBSAN: shift-out-of-bounds"
      title = std::string(what) + in;
      break;
    }
    case ReportType::kKmemleak:
      title = "memory leak" + in;
      break;
    case ReportType::kLockdep: {
      std::string_view what = f.substr(f.find(": ") + 2);
      if (StartsWith(what, "possible circular") || StartsWith(what, "possible recursive") ||
          StartsWith(what, "possible irq lock inversion") || Contains(what, "-unsafe lock order"))
        title = "possible deadlock" + in;
      else if (StartsWith(what, "inconsistent lock state"))
        title = "inconsistent lock state" + in;
      else if (StartsWith(what, "suspicious RCU usage"))
        title = "WARNING: suspicious RCU usage" + in;
      else if (StartsWith(what, "trying to register non-static key"))
        title = "INFO: trying to register non-static key" + in;
      else
        title = "BUG: " + std::string(what.substr(0, what.find_first_of("!:(."))) + in;
      break;
    }
    case ReportType::kSlabCorruption: {
      size_t close = f.find("): ");
      std::string what = close == string_view::npos ? "slab corruption" : std::string(f.substr(close + 3));
      title = "BUG: " + what + in;
      break;
    }
    case ReportType::kStackProtector:
      title = "kernel panic: stack is corrupted" + in;
      break;
    case ReportType::kDivideError:
      title = "divide error" + in;
      break;
    case ReportType::kInvalidOpcode:
      title = "invalid opcode" + in;
      break;
    case ReportType::kDoubleFault:
      title = "PANIC: double fault" + in;
      break;
    case ReportType::kNetdevRefcnt:
      title = "unregister_netdevice: waiting for DEV to become free";
      break;
    case ReportType::kPanic:
      title = "kernel panic: " + (panic_message_.empty() ? std::string("unknown") : panic_message_);
      break;
    case ReportType::kOther: {
      // "BUG: Bad page state in process x  pfn:1234" -> "BUG: Bad page state in f"
      string_view what = f;
      size_t cut = what.find(" in ");
      if (cut == string_view::npos) cut = what.find(':', what.find(": ") + 2);
      title = std::string(what.substr(0, cut)) + in;
      break;
    }
  }
  title = ReplaceAddresses(title);
  if (title.size() > 120) title.resize(120);
  r->title = std::move(title);
}

void Detector::ApplyTitle(Report* r, TitleResult syz) {
  // Reports of the kinds syzkaller knows are titled as syzbot titles them.
  if (syz.known) {
    r->title = std::move(syz.title);
    // The title's function; when it names none, the detector's pick stays.
    if (!syz.guilty.empty()) r->guilty = std::move(syz.guilty);
  }
  // Fingerprint: title and the first non-generic frames, normalised.
  std::string key = std::string(TypeName(r->type)) + "\n" + r->title;
  int taken = 0;
  for (size_t i = 0; i < r->frames.size(); ++i) {
    const Frame& fr = r->frames[i];
    if (!fr.reliable || fr.function.empty() || IsGenericFrame(fr.function)) continue;
    key += "\n" + NormaliseFunction(fr.function);
    if (++taken == 3) break;
  }
  r->fingerprint = fmt::format("{:016x}", Fnv1a(key));
}

}  // namespace vigil::console
