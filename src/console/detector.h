// Kernel console crash detector. Fed console bytes as they arrive, it finds
// every kernel report (panic, oops, BUG, WARNING, lockups, stalls, sanitizer
// reports, lockdep splats, ...), signals its start at the first line and its
// completion when its end is seen, and describes it: type, a title in
// syzbot's convention, the guilty function, whether the kernel died, the
// lines it spans and a fingerprint for dedup. No I/O inside.
//
// What is a kernel line: once the console has shown printk timestamps
// ("[   12.345678] "), only timestamped text is the kernel's, so user space
// writing "WARNING:" or "BUG:" to the console is never taken for a crash;
// a timestamp in the middle of a line starts a kernel line there (a report
// that starts mid-line, after shell output without a newline). Without
// timestamps, a report line must be followed by the structure the kernel
// prints around every report (CPU/PID line, Call Trace, RIP, ...).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "model/kernel_report.h"

namespace vigil::console {

// The report's values (type, frames, title, ...) are model values: the
// process runner and the store carry them without knowing the detector.
using model::Frame;
using model::ReportType;
using model::TypeName;
using Report = model::KernelReport;

// Normalises a function name for titles and fingerprints: drops compiler
// suffixes (".isra.0", ".constprop.0", ".part.0", ".cold", ".llvm.123").
std::string NormaliseFunction(std::string_view function);

// True for frames that are never to blame: panic/warn/printk/dump_stack,
// sanitizer internals, allocators, locking, list/refcount/string helpers,
// scheduler entry points, syscall entry.
bool IsGenericFrame(std::string_view function);

// Parses one stack frame line ("  ? func+0x12/0x40 [mod]",
// "[<ffffffff8123>] func+0x12/0x40", "RIP: 0010:func+0x12/0x40").
// `keep_raw`: also fill frame->raw (the detector's frames leave it empty).
bool ParseFrame(std::string_view line, Frame* frame, bool keep_raw = true);

struct TitleResult;

struct DetectorOptions {
  size_t max_line_bytes = 4096;        // longer lines are cut
  size_t max_report_lines = 1000;      // a report longer than this completes
  size_t max_report_bytes = 128 << 10; // text kept per report
  size_t max_frames = 128;             // frames kept per report
  size_t max_reports = 1000;           // reports kept; later ones are counted
  // Reports are titled by syzkaller's rules (most of a report's cost) on a
  // second thread while the console is read; reports() has them titled
  // after Finish(). Ignored with a listener, which sees each report titled
  // as it completes.
  bool title_in_background = false;
};

class Detector {
 public:
  enum class Event : uint8_t {
    kStarted,    // first line of a report seen (type known, title provisional)
    kFatal,      // the kernel said it is dying (panic) for this report
    kCompleted,  // its end was seen; title, guilty, fingerprint final
  };
  using Listener = std::function<void(Event, const Report&)>;

  explicit Detector(DetectorOptions options = {});
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;
  void set_listener(Listener listener) { listener_ = std::move(listener); }

  // Console bytes, in any chunks.
  void Feed(std::string_view bytes);
  // The caller's quiet period expired: an open report is complete.
  void Quiet();
  // End of input: reads a last line without '\n', completes an open report.
  void Finish();
  // The machine booted again (a new VM on the same console): the lines
  // remembered against replays are forgotten, as timestamps start over.
  // A console read whole says it itself: "Booting the kernel" after the
  // kernel ran, or "Linux version" at the start of a timestamped line.
  void NewBoot() { marks_.clear(); }

  const std::vector<Report>& reports() const { return reports_; }
  uint64_t dropped_reports() const { return dropped_reports_; }
  uint64_t line_count() const { return line_no_; }
  bool report_open() const { return open_; }

 struct Marker;  // what a line is (start of a report, panic, end, ...)

 private:
  void Line(std::string_view line);
  // `stamp`: its printk timestamp ("[   12.345678]"), "" when it has none.
  void KernelLine(std::string_view msg, std::string_view stamp = {});
  void UserLine(std::string_view text);
  void Start(const Marker& m, std::string_view msg, uint64_t start_line, bool from_cut);
  void Append(std::string_view msg);
  void Complete();
  void Confirm();
  void MarkFatal(std::string_view panic_message);
  void Finalise(Report* r);
  // The syzkaller-style title (when its kind is known) and the fingerprint.
  void ApplyTitle(Report* r, TitleResult syz);
  Report& current() { return open_report_; }

  DetectorOptions options_;
  Listener listener_;
  std::vector<Report> reports_;
  uint64_t dropped_reports_ = 0;
  uint64_t line_no_ = 0;
  std::string partial_;
  size_t partial_dropped_ = 0;
  // The last bytes cut from the line being read (past max_line_bytes): a
  // kernel timestamp may begin there and end in the next bytes fed.
  static constexpr size_t kCutTail = 64;
  std::string cut_tail_;

  bool timestamps_ = false;   // the console has shown printk timestamps
  // The lines that open or mark a report (a WARNING, a panic, "cut here"),
  // each with its timestamp: one read again (a test printing `dmesg`, the
  // kernel's own lines with their old timestamps) is a replay, not a new
  // report. At most kMaxMarks are kept (then forgotten and begun afresh).
  static constexpr size_t kMaxMarks = 4096;
  std::unordered_set<uint64_t> marks_;
  bool caller_ids_ = false;   // ... with caller ids ("[    T1]")
  // Open report state.
  bool open_ = false;
  bool confirmed_ = false;    // the report's structure has been seen
  int unconfirmed_lines_ = 0;
  bool seen_trace_ = false;   // "Call Trace:" or a frame seen
  bool after_task_end_ = false;  // "</TASK>" closed the last trace
  int task_depth_ = 0;
  bool in_tail_ = false;      // after "---[ end trace": register dump, panic
  size_t report_lines_ = 0;
  std::string rip_function_;  // first RIP/pc function
  std::string header_function_;  // from the first line ("at f+0x..", "in f+0x..")
  std::string panic_message_;
  std::string first_message_;
  Report open_report_;
  ReportType start_type_ = ReportType::kOther;  // the marker that opened it
  // "------------[ cut here ]------------" waiting for its WARNING/BUG.
  uint64_t cut_line_ = 0;
  int cut_age_ = -1;
  // Last, so that it stops (reading reports_' texts) before they go.
  class BackgroundTitler;
  std::unique_ptr<BackgroundTitler> titler_;  // title_in_background
};

}  // namespace vigil::console
