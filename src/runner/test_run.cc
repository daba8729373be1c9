#include "runner/test_run.h"

#include <fnmatch.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "runner/timeout.h"
#include "sys/cancel.h"

namespace vigil::runner {
namespace {

// Feeds the test's output to a KTAP parser one level down, as the kselftest
// runner prints it, and reports subtests as they finish.
class LiveReader : public sys::OutputSink, public ktap::ParserListener {
 public:
  LiveReader(const TestSpec& spec, TestProgress* progress)
      : spec_(spec), progress_(progress), parser_(Options(), this) {
    parser_.FeedLine("TAP version 13");
    parser_.FeedLine("1..1");
    parser_.FeedLine("# selftests: " + spec.collection + ": " + spec.name);
  }

  void OnOutput(std::string_view bytes) override {
    while (!bytes.empty()) {
      size_t nl = bytes.find('\n');
      if (nl == std::string_view::npos) {
        if (partial_.size() < kMaxLine) partial_.append(bytes.substr(0, kMaxLine - partial_.size()));
        return;
      }
      if (partial_.empty()) {
        Line(bytes.substr(0, nl));
      } else {
        if (partial_.size() < kMaxLine) partial_.append(bytes.substr(0, std::min(nl, kMaxLine - partial_.size())));
        Line(partial_);
        partial_.clear();
      }
      bytes.remove_prefix(nl + 1);
    }
  }

  // Ends the output with the runner's own result line and returns the test.
  ktap::TestNode Finish(const std::string& runner_line) {
    if (!partial_.empty()) {
      Line(partial_);
      partial_.clear();
    }
    parser_.FeedLine(runner_line);
    parser_.Finish();
    ktap::Document doc = parser_.TakeDocument();
    if (doc.root.subtests.empty()) return ktap::TestNode();
    return std::move(doc.root.subtests.front());
  }

  void OnTestFinished(int depth, const ktap::TestNode& t) override {
    if (depth >= 2 && progress_) progress_->OnSubtest(spec_, depth - 1, t);
  }

 private:
  static constexpr size_t kMaxLine = 64 * 1024 - 3;

  // The tree keeps statuses only: the output itself is kept (capped) by the
  // process runner, and a log per subtest would grow with every subtest.
  static ktap::ParserOptions Options() {
    ktap::ParserOptions o;
    o.keep_logs = false;
    return o;
  }

  void Line(std::string_view line) {
    if (progress_) progress_->OnOutputLine(spec_, line);
    line_.assign("# ");
    line_.append(line);
    parser_.FeedLine(line_);
  }

  const TestSpec& spec_;
  TestProgress* progress_;
  ktap::Parser parser_;
  std::string partial_;
  std::string line_;
};

}  // namespace

std::string RunnerHead(const std::string& collection, const std::string& name) {
  // A '#' would end the description there: a shard "long.sh#2" that
  // skipped would read as "long.sh" with the directive "2 # SKIP" (a pass).
  auto escaped = [](const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '#') out += '\\';
      out += c;
    }
    return out;
  };
  return fmt::format("selftests: {}: {}", escaped(collection), escaped(name));
}

std::string RunnerLine(const std::string& collection, const std::string& name, int index,
                       const sys::WaitStatus& status, bool timed_out, std::chrono::seconds timeout) {
  std::string head = RunnerHead(collection, name);
  if (timed_out) return fmt::format("not ok {} {} # TIMEOUT {} seconds", index, head, timeout.count());
  if (!status.exited()) return fmt::format("not ok {} {} # exit={}", index, head, 128 + status.signal());
  // As kselftest's runner.sh: only 0 and 4 (skip) are not failures. Exit 2
  // is kselftest.h's KSFT_XFAIL, but also a shell's syntax error and an
  // argument parser's usage error: a test that died so is no pass.
  switch (status.exit_code()) {
    case 0: return fmt::format("ok {} {}", index, head);
    case 4: return fmt::format("ok {} {} # SKIP", index, head);
    default: return fmt::format("not ok {} {} # exit={}", index, head, status.exit_code());
  }
}

std::string InterruptedLine(const std::string& collection, const std::string& name, int index) {
  return fmt::format("not ok {} {} # ERROR interrupted (vigil was stopped)", index, RunnerHead(collection, name));
}

std::vector<std::string> FindEnvironmentIssues(std::string_view output, size_t max) {
  std::vector<std::string> found;
  size_t pos = 0;
  while (pos < output.size() && found.size() < max) {
    size_t nl = output.find('\n', pos);
    std::string_view line = output.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? output.size() : nl + 1;
    bool missing = line.find("command not found") != std::string_view::npos ||
                   // the kernel lacks a feature: a qdisc (netem), a link type (veth)
                   line.find("Specified qdisc kind is unknown") != std::string_view::npos ||
                   line.find("Unknown device type") != std::string_view::npos ||
                   (line.find("exec of \"") != std::string_view::npos &&
                    line.find("\" failed") != std::string_view::npos) ||
                   (line.size() > 11 && line.substr(line.size() - 11) == ": not found") ||
                   // the kernel lacks a config option the test needs
                   (line.find("CONFIG_") != std::string_view::npos &&
                    (line.find("not set") != std::string_view::npos || line.find("issing") != std::string_view::npos ||
                     line.find("required") != std::string_view::npos || line.find("needed") != std::string_view::npos ||
                     line.find("not enabled") != std::string_view::npos));
    if (missing) found.emplace_back(line.substr(0, 300));
  }
  return found;
}

std::vector<std::string> ClearEnvironment(const std::vector<std::string>& env, const std::vector<std::string>& keep) {
  std::vector<std::string> out;
  for (const auto& e : env) {
    std::string name = e.substr(0, e.find('='));
    auto matches = [&](const char* glob) { return fnmatch(glob, name.c_str(), 0) == 0; };
    bool kept = std::any_of(std::begin(kBasicEnvironment), std::end(kBasicEnvironment), matches) ||
                std::any_of(keep.begin(), keep.end(), [&](const std::string& g) { return matches(g.c_str()); });
    if (kept) out.push_back(e);
  }
  return out;
}

std::vector<std::string> CommandFor(const TestSpec& spec, std::string* warning) {
  if (access(spec.program.c_str(), X_OK) == 0) return {spec.program};
  // As run_kselftest.sh: a collection's ksft_runner.sh runs its tests...
  std::string runner = spec.dir + "/ksft_runner.sh";
  if (access(runner.c_str(), X_OK) == 0) return {runner, "./" + spec.name};
  // ...else a script that lost its exec bit runs with its #! interpreter.
  std::ifstream f(spec.program);
  std::string first;
  std::getline(f, first);
  if (first.rfind("#!", 0) != 0) return {};
  *warning = fmt::format("# Warning: file {} is not executable", spec.name);
  std::vector<std::string> argv;
  std::istringstream words(first.substr(2));
  std::string w;
  while (words >> w) argv.push_back(w);
  if (argv.empty()) return {};
  argv.push_back("./" + spec.name);
  return argv;
}

TestOutcome RunTest(const TestSpec& spec, int index, const RunOptions& options, TestProgress* progress) {
  TestOutcome out;
  out.spec = spec;
  if (IsMissing(spec)) {
    // Listed but not in the tree (the kselftest runner: "file ... is missing!"):
    // nothing runs, and the result says so.
    LiveReader reader(spec, progress);
    std::string why = fmt::format("vigil: {}: not found (listed, but missing from the test tree)", spec.program);
    reader.OnOutput(why + "\n");
    out.process.status = sys::WaitStatus::Exited(127);
    out.process.output = why + "\n";
    out.process.output_bytes = out.process.output.size();
    out.runner_line = fmt::format("not ok {} {} # ERROR not found", index, RunnerHead(spec.collection, spec.name));
    out.node = reader.Finish(out.runner_line);
    out.node.duration_ms = 0;
    return out;
  }
  sys::ProcessOptions po;
  std::string warning;
  po.argv = CommandFor(spec, &warning);
  if (po.argv.empty()) {
    // Neither executable nor a script: the kselftest runner reports it failed.
    po.argv = {"/bin/sh", "-c", "echo \"vigil: $0 is not executable and has no #! line\"; exit 126",
               spec.program};
  }
  for (const auto& a : spec.extra_args) po.argv.push_back(a);
  for (const auto& e : options.base_env) {
    if (e.rfind(spec.args_variable + "=", 0) == 0) {
      // KSELFTEST_<NAME>_ARGS, split on blanks as the shell runner's eval does.
      std::string_view args = std::string_view(e).substr(spec.args_variable.size() + 1);
      size_t i = 0;
      while (i < args.size()) {
        while (i < args.size() && (args[i] == ' ' || args[i] == '\t')) ++i;
        size_t j = i;
        while (j < args.size() && args[j] != ' ' && args[j] != '\t') ++j;
        if (j > i) po.argv.emplace_back(args.substr(i, j - i));
        i = j;
      }
    }
  }
  if (!options.wrapper.empty()) po.argv.insert(po.argv.begin(), options.wrapper.begin(), options.wrapper.end());
  po.cwd = spec.dir;
  po.env = options.base_env;
  po.timeout = StretchTimeout(spec.timeout, options.slowdown);
  po.kill_grace = options.kill_grace;
  po.max_output_bytes = options.max_output_bytes;
  po.new_netns = options.netns;
  po.cancel = options.cancel;
  if (options.use_cgroups) po.cgroup_name = fmt::format("vigil-{}-{}", getpid(), index);

  LiveReader reader(spec, progress);
  if (!warning.empty()) reader.OnOutput(warning + "\n");
  auto r = options.process_runner ? options.process_runner->Run(po, &reader) : sys::RunProcess(po, &reader);
  if (!r.ok() && options.cancel && options.cancel->stopping()) {
    // Not run because vigil is stopping (a VM given up while it booted
    // again): interrupted, run again by --resume, not an ERROR of its own.
    sys::ProcessResult stopped;
    stopped.status = sys::WaitStatus::Signaled(SIGKILL);
    stopped.cancelled = true;
    stopped.output = "vigil: not run: " + r.status().ToString() + "\n";
    r = std::move(stopped);
  }
  bool could_not_run = !r.ok();
  if (!r.ok()) {
    // Not the test's doing (no process, a VM that does not boot): an error,
    // not a failure of the test's own.
    out.process.status = sys::WaitStatus::Exited(127);
    out.process.output = "vigil: could not run the test: " + r.status().ToString() + "\n";
  } else {
    out.process = std::move(r.value());
    if (!warning.empty()) out.process.output = warning + "\n" + out.process.output;
  }
  if (could_not_run) {
    out.runner_line = fmt::format("not ok {} {} # ERROR could not run", index, RunnerHead(spec.collection, spec.name));
  } else {
    out.runner_line = RunnerLine(spec.collection, spec.name, index, out.process.status, out.process.timed_out,
                                 StretchTimeoutSeconds(spec.timeout, options.slowdown));
  }
  if (out.process.vm_died) {
    // The kernel died under the test: its end was never seen.
    out.runner_line = fmt::format("not ok {} {} # CRASH kernel died", index, RunnerHead(spec.collection, spec.name));
  }
  if (out.process.cancelled) {
    // Stopped by vigil, not by itself: no verdict on the test.
    out.runner_line = InterruptedLine(spec.collection, spec.name, index);
  }
  out.node = reader.Finish(out.runner_line);
  if (out.process.cancelled) {
    out.node.status = ktap::Status::kError;
  } else if (out.process.vm_died) {
    out.node.status = ktap::Status::kCrash;
  } else if (!out.process.kernel_reports.empty() && !ktap::IsFailure(out.node.status)) {
    out.node.status = ktap::Status::kFail;  // the kernel reported a problem while it ran
  }
  for (const auto& k : out.process.kernel_reports) {
    out.process.output += fmt::format("\n---- kernel report (console lines {}-{}) ----\n{}---- {}{} ({}) ----\n",
                                      k.start_line, k.end_line, k.text, k.fatal ? "fatal: " : "", k.title,
                                      model::TypeName(k.type));
  }
  out.node.duration_ms = out.process.duration_ms;
  out.environment_issues = FindEnvironmentIssues(out.process.output);
  return out;
}

}  // namespace vigil::runner
