#include "vm/supervisor.h"

#include <signal.h>

#include <algorithm>
#include <exception>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "vm/sysrq.h"

namespace vigil::vm {

Supervisor::Supervisor(SupervisorOptions options, Clock& clock, SupervisorActions& actions)
    : options_(options), clock_(clock), actions_(actions), detector_(std::make_unique<console::Detector>()) {
  detector_->set_listener([this](console::Detector::Event e, const console::Report& r) { OnReport(e, r); });
}

void Supervisor::VmStarted() {
  up_ = true;
  ++boot_;
  detector_->NewBoot();
  report_open_ = false;
  hang_ = Hang::kNone;
  killed_ = false;
  last_activity_ = clock_.Monotonic();
}

void Supervisor::VmGone(const std::string& why, std::chrono::steady_clock::time_point gone) {
  up_ = false;
  hang_ = Hang::kNone;
  kill_deadline_.reset();
  killed_ = false;
  if (fatal_seen_) {
    // From the panic's first line read off the console to QEMU reaped.
    fatal_to_gone_ms_.push_back(std::chrono::duration<double, std::milli>(gone - *fatal_seen_).count());
    fatal_seen_.reset();
  }
  for (auto& [id, r] : requests_) {
    if (r.done) continue;
    r.result.vm_died = true;
    r.result.status = sys::WaitStatus::Signaled(SIGKILL);
    r.result.output += fmt::format("vigil: the VM ended while this ran ({})\n", why);
    r.done = true;
  }
  actions_.Wake();
}

uint32_t Supervisor::Begin(sys::OutputSink* sink, size_t max_output, std::chrono::milliseconds deadline) {
  uint32_t id = next_id_++;
  Request& r = requests_[id];
  r.sink = sink;
  r.output = sys::CappedOutput(max_output);
  last_activity_ = clock_.Monotonic();
  if (deadline.count() > 0) r.deadline = last_activity_ + deadline;
  return id;
}

void Supervisor::Abandon(uint32_t id) { requests_.erase(id); }

bool Supervisor::Done(uint32_t id) const {
  auto it = requests_.find(id);
  return it == requests_.end() || it->second.done;
}

sys::ProcessResult Supervisor::Take(uint32_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return {};
  sys::ProcessResult result = std::move(it->second.result);
  // The output, then what vigil said of the request (the VM ended, hung).
  result.output = it->second.output.Take(&result.output_dropped) + result.output;
  result.output_bytes = it->second.output.total();
  result.kernel_reports = std::move(it->second.reports);
  if (it->second.reports_dropped > 0) {
    result.output += fmt::format("\nvigil: {} more kernel reports came while it ran, counted but not kept\n",
                                 it->second.reports_dropped);
  }
  requests_.erase(it);
  return result;
}

void Supervisor::OnConsole(std::string_view bytes) {
  last_activity_ = last_console_ = clock_.Monotonic();
  if (hang_ != Hang::kNone && sysrq_dump_.size() < options_.max_sysrq_dump)
    sysrq_dump_.append(bytes.substr(0, options_.max_sysrq_dump - sysrq_dump_.size()));
  detector_->Feed(bytes);
}

void Supervisor::ConsoleClosed() {
  detector_->Quiet();  // the VM is gone: an open report is complete
}

void Supervisor::OnChannel(const std::vector<Frame>& frames) {
  last_activity_ = clock_.Monotonic();
  for (const Frame& f : frames) {
    if (f.type == FrameType::kHello) continue;
    auto it = requests_.find(f.id);
    if (it == requests_.end() || it->second.done) continue;
    Request& r = it->second;
    if (f.type == FrameType::kOutput) {
      if (r.sink) r.sink->OnOutput(f.payload);
      // Kept (its first and last halves) for the summary and the
      // environment checks, as on the host.
      r.output.Add(f.payload);
    } else if (f.type == FrameType::kEnd) {
      OnEnd(r, f.id, f.payload);
    }
  }
}

void Supervisor::OnEnd(Request& r, uint32_t id, const std::string& payload) {
  try {
    // The guest's result, with the output kept here as it came.
    sys::ProcessResult result = ResultFromJson(nlohmann::json::parse(payload));
    result.output = std::move(r.result.output);
    r.result = std::move(result);
  } catch (const std::exception&) {
    r.result.status = sys::WaitStatus::Exited(127);
  }
  bool owns_open_report = report_open_ && std::find(report_requests_.begin(), report_requests_.end(), id) !=
                                              report_requests_.end();
  if (owns_open_report) {
    r.ended = true;  // done when the report completes
  } else {
    r.done = true;
    actions_.Wake();
  }
}

void Supervisor::OnReport(console::Detector::Event e, const console::Report& report) {
  switch (e) {
    case console::Detector::Event::kStarted:
      report_open_ = true;
      report_requests_.clear();
      for (auto& [id, r] : requests_)
        if (!r.done) report_requests_.push_back(id);
      break;
    case console::Detector::Event::kFatal: {
      // The kernel is dying: give the rest of the report a moment, then kill.
      auto now = clock_.Monotonic();
      kill_deadline_ = now + options_.fatal_grace;
      if (!fatal_seen_) fatal_seen_ = now;
      break;
    }
    case console::Detector::Event::kCompleted:
      report_open_ = false;
      // A storm of warnings (a WARN_ON in a loop) is counted past the caps:
      // each report is up to 128 KiB of text.
      if (all_reports_.size() < kMaxReportsKept) {
        all_reports_.push_back(report);
      } else {
        ++dropped_reports_;
      }
      for (uint32_t id : report_requests_) {
        auto it = requests_.find(id);
        if (it == requests_.end()) continue;
        if (it->second.reports.size() < kMaxReportsPerRequest) {
          it->second.reports.push_back(report);
        } else {
          ++it->second.reports_dropped;
        }
        if (it->second.ended) it->second.done = true;
      }
      actions_.Wake();
      if (report.fatal) {
        kill_deadline_.reset();
        killed_ = true;
        actions_.KillVm();
      }
      break;
  }
}

bool Supervisor::AnyRunning() const {
  for (const auto& [id, r] : requests_)
    if (!r.done) return true;
  return false;
}

std::optional<Supervisor::SysrqAsk> Supervisor::Tick() {
  auto now = clock_.Monotonic();
  if (report_open_ && now - last_console_ > options_.report_quiet) {
    // The console went quiet: the open report is complete.
    detector_->Quiet();
  }
  if (kill_deadline_ && now >= *kill_deadline_) {
    kill_deadline_.reset();
    killed_ = true;
    actions_.KillVm();
  }
  if (hang_ == Hang::kCollecting && now >= collect_until_) FinishHang();
  if (hang_ == Hang::kNone && options_.hang_timeout.count() > 0 && up_ && AnyRunning() &&
      now - last_activity_ > options_.hang_timeout) {
    // No console and no result output: the kernel hangs.
    return AskForTasks(fmt::format("no console or test output for {} s: the VM hangs", options_.hang_timeout.count()));
  }
  if (hang_ == Hang::kNone && options_.hang_timeout.count() == 0 && up_ &&
      now - last_activity_ > options_.untimed_silence) {
    for (const auto& [id, r] : requests_) {
      if (r.done || r.deadline) continue;
      return AskForTasks(fmt::format("no console or test output for {} s while a test without a timeout ran: the VM "
                                     "hangs",
                                     options_.untimed_silence.count()));
    }
  }
  if (hang_ == Hang::kNone && up_) {
    for (const auto& [id, r] : requests_) {
      if (r.done || !r.deadline || now < *r.deadline) continue;
      // The guest ends a test at its timeout: past it (and a margin), the
      // VM does not run its own side any more.
      return AskForTasks("no end of the test well past its timeout: the VM does not respond");
    }
  }
  return std::nullopt;
}

Supervisor::SysrqAsk Supervisor::AskForTasks(std::string why) {
  // Ask the kernel for the blocked tasks and all tasks (sysrq w, t), keep
  // what it prints, then kill it; the requests running time out with the
  // dump.
  hang_ = Hang::kAsked;
  hang_why_ = std::move(why);
  sysrq_dump_.clear();
  return SysrqAsk{boot_, {"w", "t"}};
}

void Supervisor::SysrqSent(const SysrqAsk& ask, const std::string& how) {
  if (ask.boot != boot_ || hang_ != Hang::kAsked) return;  // that VM is gone
  sysrq_how_ = how;
  hang_ = Hang::kCollecting;
  collect_until_ = clock_.Monotonic() + options_.sysrq_collect;
}

bool Supervisor::SysrqHeard() const { return hang_ != Hang::kNone && HasSysrqLine(sysrq_dump_); }

void Supervisor::FinishHang() {
  hang_ = Hang::kNone;
  for (auto& [id, r] : requests_) {
    if (r.done) continue;
    r.result.timed_out = true;
    r.result.status = sys::WaitStatus::Signaled(SIGKILL);
    r.done = true;
    r.result.output += fmt::format("\nvigil: {}; {}, then killed\n", hang_why_,
                                   sysrq_how_.empty() ? "sysrq could not be sent"
                                                      : "sysrq w and t asked for its tasks " + sysrq_how_);
    if (!sysrq_dump_.empty()) r.result.output += "---- console after sysrq w, t ----\n" + sysrq_dump_;
  }
  sysrq_dump_.clear();
  up_ = false;  // the next request boots a fresh VM
  killed_ = true;
  actions_.VmHung();
  actions_.Wake();
  actions_.KillVm();
}

}  // namespace vigil::vm
