// The decisions of a VM run, without its I/O: which kernel report belongs to
// which request, when a request is done, when QEMU must die and when the VM
// hangs. VmRunner's threads feed it console bytes, results-channel frames
// and ticks; it reads time from a Clock and acts through SupervisorActions.
//
// Not thread-safe: the caller serialises every call (VmRunner holds its
// lock), and actions are called with that lock held.
//
//  - A kernel report goes to the requests running when its first line came
//    (kStarted); it is attached when complete (kCompleted). A request whose
//    end frame came while a report it owns was open waits for that report;
//    a console quiet for report_quiet completes the report.
//  - A fatal report (kFatal) arms a kill fatal_grace later, for the rest of
//    the report to arrive; its completion kills at once.
//  - No console and no channel traffic for hang_timeout while requests run,
//    or a request without its end past its deadline (its test's timeout, the
//    guest's kill grace and a margin: the guest ends a test at its timeout,
//    so a VM that does not is wedged, however much it prints): Tick asks
//    for sysrq w and t, the console is kept for 1.5 s after they were sent,
//    the running requests time out with it and QEMU is killed.
//  - QEMU gone: the requests still running end with vm_died.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "console/detector.h"
#include "sys/capped_output.h"
#include "sys/process.h"
#include "vm/channel.h"

namespace vigil::vm {

struct SupervisorOptions {
  std::chrono::milliseconds fatal_grace{100};
  std::chrono::seconds hang_timeout{0};  // 0: no hang detection
  // Without hang detection, a test without a timeout (timeout=0: bpf,
  // ftrace, livepatch, ...) has no deadline of its own: no console and no
  // test output this long while one runs is a hang all the same, or a
  // wedged VM would hold the run for ever.
  std::chrono::seconds untimed_silence{3600};
  std::chrono::milliseconds report_quiet{300};
  std::chrono::milliseconds sysrq_collect{1500};  // console kept after sysrq
  size_t max_sysrq_dump = 512 << 10;
};

// What the supervisor has done. Called with the caller's lock held; none
// may block or call back into the supervisor.
class SupervisorActions {
 public:
  virtual ~SupervisorActions() = default;
  // Kills QEMU (SIGKILL) without waiting for it.
  virtual void KillVm() = 0;
  // The VM hangs and is being killed: the next request boots a fresh one.
  virtual void VmHung() = 0;
  // Requests are done (or the state they wait on changed): wake waiters.
  virtual void Wake() = 0;
};

class Supervisor {
 public:
  // A hang's request for magic sysrq keys, sent by the caller outside its
  // lock (it takes seconds); SysrqSent reports back.
  struct SysrqAsk {
    uint64_t boot = 0;
    std::vector<std::string> keys;
  };

  // `clock` and `actions` must outlive the supervisor.
  Supervisor(SupervisorOptions options, Clock& clock, SupervisorActions& actions);
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // A VM booted: hang detection starts, a hang of the previous one is forgotten.
  void VmStarted();
  // QEMU was reaped at `gone`: the running requests end with vm_died.
  void VmGone(const std::string& why, std::chrono::steady_clock::time_point gone);

  // A request sent to the guest; returns its id. `sink` gets its output.
  // `deadline` (from now; zero: none): when it has no end by then, the VM
  // is handled as hung.
  uint32_t Begin(sys::OutputSink* sink, size_t max_output,
                 std::chrono::milliseconds deadline = std::chrono::milliseconds(0));
  // The request could not be sent: forgets it.
  void Abandon(uint32_t id);
  bool Done(uint32_t id) const;
  // A done request's result, its kernel reports attached; forgets it.
  sys::ProcessResult Take(uint32_t id);

  // Console bytes, as they come.
  void OnConsole(std::string_view bytes);
  // The console closed: an open report is complete.
  void ConsoleClosed();
  // Results-channel frames (output and end; hello frames are ignored).
  void OnChannel(const std::vector<Frame>& frames);

  // Called often (every 20 ms): completes a report on a quiet console,
  // kills after a fatal report's grace, detects and finishes hangs.
  std::optional<SysrqAsk> Tick();
  // The keys of `ask` were sent `how` ("on the serial line", "from the
  // keyboard"), or could not be (empty).
  void SysrqSent(const SysrqAsk& ask, const std::string& how);
  // The kernel answered a sysrq key since the last hang's were asked for.
  bool SysrqHeard() const;

  // The kernel reports seen, in order: the first kMaxReportsKept (each
  // request keeps its first kMaxReportsPerRequest; the rest are counted).
  static constexpr size_t kMaxReportsKept = 1000;
  static constexpr size_t kMaxReportsPerRequest = 100;
  const std::vector<console::Report>& reports() const { return all_reports_; }
  uint64_t dropped_reports() const { return dropped_reports_; }
  // For each fatal report: ms from its first line on the console to QEMU gone.
  const std::vector<double>& fatal_to_gone_ms() const { return fatal_to_gone_ms_; }
  bool up() const { return up_; }
  // The VM is on its way out (a fatal report read, a hang being dumped, a
  // kill asked for): a request begun now would be cut short with it.
  bool dying() const { return hang_ != Hang::kNone || kill_deadline_.has_value() || killed_; }
  bool report_open() const { return report_open_; }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Request {
    sys::OutputSink* sink = nullptr;
    sys::CappedOutput output;  // its first and last halves, as on the host
    bool ended = false;  // its end came while a kernel report it may own was open
    bool done = false;
    std::optional<TimePoint> deadline;
    uint64_t reports_dropped = 0;
    sys::ProcessResult result;
    std::vector<console::Report> reports;
  };
  enum class Hang : uint8_t { kNone, kAsked, kCollecting };

  void OnReport(console::Detector::Event e, const console::Report& r);
  void OnEnd(Request& request, uint32_t id, const std::string& payload);
  void FinishHang();
  // Asks for the hung VM's tasks (sysrq w, t); `why` goes in the results.
  SysrqAsk AskForTasks(std::string why);
  bool AnyRunning() const;

  SupervisorOptions options_;
  Clock& clock_;
  SupervisorActions& actions_;
  std::unique_ptr<console::Detector> detector_;
  std::map<uint32_t, Request> requests_;
  uint32_t next_id_ = 1;
  bool up_ = false;
  uint64_t boot_ = 0;
  bool report_open_ = false;
  std::vector<uint32_t> report_requests_;  // running when the open report started
  std::vector<console::Report> all_reports_;
  TimePoint last_console_{};
  TimePoint last_activity_{};
  std::optional<TimePoint> kill_deadline_;
  std::optional<TimePoint> fatal_seen_;  // first line of the fatal report
  std::vector<double> fatal_to_gone_ms_;
  Hang hang_ = Hang::kNone;
  bool killed_ = false;  // KillVm asked for; VmGone or VmStarted clears it
  std::string hang_why_;  // what the hung requests' output says
  uint64_t dropped_reports_ = 0;  // past kMaxReportsKept
  std::string sysrq_how_;  // empty: not sent
  TimePoint collect_until_{};  // kCollecting: the dump ends here
  std::string sysrq_dump_;
};

}  // namespace vigil::vm
