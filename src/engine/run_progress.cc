#include "engine/run_progress.h"

#include <algorithm>
#include <functional>
#include <queue>

#include <fmt/format.h>

#include "base/text.h"

namespace vigil::engine {

using std::chrono::milliseconds;

RunProgress::RunProgress(std::vector<PlannedTest> plan, int jobs, std::chrono::seconds report_every,
                         Clock& clock)
    : jobs_(static_cast<size_t>(std::max(1, jobs))), report_every_(report_every), clock_(clock) {
  tests_.reserve(plan.size());
  for (auto& p : plan) {
    Entry e;
    e.plan = std::move(p);
    tests_.push_back(std::move(e));
  }
  Changed();
}

RunProgress::Entry* RunProgress::Find(const std::string& path, State state) {
  for (auto& e : tests_) {
    if (e.plan.path == path && e.state == state) return &e;
  }
  return nullptr;
}

milliseconds RunProgress::Elapsed(const Entry& e) const {
  return std::chrono::duration_cast<milliseconds>(clock_.Monotonic() - e.started);
}

void RunProgress::Changed() {
  std::vector<int64_t> known;
  for (const auto& e : tests_) {
    if (e.measured_ms) {
      known.push_back(*e.measured_ms);
    } else if (e.plan.last_duration_ms) {
      known.push_back(*e.plan.last_duration_ms);
    }
  }
  median_ms_.reset();
  if (!known.empty()) {
    auto mid = known.begin() + static_cast<std::ptrdiff_t>(known.size() / 2);
    std::nth_element(known.begin(), mid, known.end());
    median_ms_ = *mid;
  }
  last_eta_.reset();
}

void RunProgress::Started(const std::string& path) {
  Entry* e = Find(path, State::kPending);
  if (!e) {
    tests_.emplace_back();
    e = &tests_.back();
    e->plan.path = path;
  }
  e->state = State::kRunning;
  e->started = clock_.Monotonic();
  e->next_report = report_every_;
  Changed();
}

void RunProgress::Retrying(const std::string& path) {
  Entry* e = Find(path, State::kRunning);
  if (!e) return;
  e->started = clock_.Monotonic();
  e->next_report = report_every_;
  Changed();
}

void RunProgress::Finished(const std::string& path, int64_t duration_ms, bool failed) {
  Entry* e = Find(path, State::kRunning);
  if (!e) e = Find(path, State::kPending);
  if (!e) return;
  e->state = State::kDone;
  e->measured_ms = std::max<int64_t>(0, duration_ms);
  ++done_;
  if (failed) ++failures_;
  Changed();
}

std::optional<milliseconds> RunProgress::Eta() {
  if (done_ >= tests_.size()) {
    last_eta_ = milliseconds(0);
    return last_eta_;
  }
  if (!median_ms_) return std::nullopt;  // nothing known yet
  // A test ends by its timeout at the latest (its kill grace aside).
  auto expected = [&](const Entry& e) {
    int64_t ms = e.measured_ms ? *e.measured_ms : e.plan.last_duration_ms ? *e.plan.last_duration_ms : *median_ms_;
    return e.plan.timeout_s > 0 ? std::min(ms, e.plan.timeout_s * 1000) : ms;
  };
  // When each worker is free, from now; the tests not started go to the
  // first free one, in start order.
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> free_at;
  size_t running = 0;
  for (const auto& e : tests_) {
    if (e.state != State::kRunning) continue;
    free_at.push(std::max<int64_t>(0, expected(e) - Elapsed(e).count()));
    ++running;
  }
  for (size_t k = running; k < jobs_; ++k) free_at.push(0);
  for (const auto& e : tests_) {
    if (e.state != State::kPending) continue;
    int64_t t = free_at.top();
    free_at.pop();
    free_at.push(t + expected(e));
  }
  int64_t end = 0;
  for (; !free_at.empty(); free_at.pop()) end = std::max(end, free_at.top());
  milliseconds eta(end);
  // Nothing new since the last estimate: time only shortens what is left.
  if (last_eta_ && *last_eta_ < eta) eta = *last_eta_;
  last_eta_ = eta;
  return eta;
}

std::vector<RunningTest> RunProgress::Running() const {
  std::vector<const Entry*> running;
  for (const auto& e : tests_) {
    if (e.state == State::kRunning) running.push_back(&e);
  }
  std::stable_sort(running.begin(), running.end(),
                   [](const Entry* a, const Entry* b) { return a->started < b->started; });
  std::vector<RunningTest> out;
  for (const Entry* e : running) {
    out.push_back(
        {e->plan.path, std::chrono::duration_cast<std::chrono::seconds>(Elapsed(*e)), e->plan.timeout_s});
  }
  return out;
}

std::vector<RunningTest> RunProgress::DueReports() {
  std::vector<RunningTest> due;
  if (report_every_.count() <= 0) return due;
  for (auto& e : tests_) {
    if (e.state != State::kRunning) continue;
    auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Elapsed(e));
    if (elapsed < e.next_report) continue;
    due.push_back({e.plan.path, elapsed, e.plan.timeout_s});
    e.next_report = (elapsed / report_every_ + 1) * report_every_;
  }
  return due;
}

int64_t RunProgress::TimeoutOf(const std::string& path) const {
  for (const auto& e : tests_) {
    if (e.plan.path == path) return e.plan.timeout_s;
  }
  return 0;
}

std::string FormatEta(std::optional<milliseconds> eta) {
  if (!eta) return "--:--";
  int64_t s = std::max<int64_t>(0, (eta->count() + 999) / 1000);  // 0.2 s left shows 0:01
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string StartLine(const std::string& path, int64_t timeout_s) {
  std::string limit = timeout_s > 0 ? fmt::format("timeout {}s", timeout_s) : "no timeout";
  return fmt::format("[start] {} ({})", SanitizeForTerminal(path), limit);
}

std::string StillRunningLine(const RunningTest& t) {
  std::string limit = t.timeout_s > 0 ? fmt::format("timeout {}s", t.timeout_s) : "no timeout";
  return fmt::format("[still running] {} ({}s, {})", SanitizeForTerminal(t.path), t.elapsed.count(), limit);
}

std::string OutputLine(const std::string& path, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string out = SanitizeForTerminal(path);
  out += ": ";
  out += SanitizeForTerminal(line);
  return out;
}

namespace {

// `s` (valid UTF-8) cut to `width` columns, one per code point, with "…"
// as the last column when it was cut.
std::string CutToColumns(const std::string& s, size_t width) {
  size_t columns = 0;
  for (unsigned char c : s) columns += (c & 0xC0) != 0x80;
  if (columns <= width) return s;
  size_t keep = width > 0 ? width - 1 : 0;
  size_t i = 0;
  for (size_t seen = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == keep) break;
      ++seen;
    }
  }
  return s.substr(0, i) + (width > 0 ? "…" : "");
}

}  // namespace

std::string StatusText(RunProgress& progress, size_t width) {
  std::string running;
  for (const auto& t : progress.Running()) {
    if (!running.empty()) running += ", ";
    running += fmt::format("{} ({}s)", SanitizeForTerminal(t.path), t.elapsed.count());
  }
  std::string line =
      fmt::format("[{}/{}] {} failed · ETA {} · running: {}", progress.done(), progress.total(),
                  progress.failures(), FormatEta(progress.Eta()), running.empty() ? "-" : running);
  return CutToColumns(line, width);
}

}  // namespace vigil::engine
