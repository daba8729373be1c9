// vigil run --tests DIR [-t COLL:TEST]... [-c COLL]... [--skip PATTERN]... [-j N]
//           [--slowdown X] [--json FILE] [--junit FILE] [--ktap FILE]
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/terminal.h"
#include "ktap/result.h"
#include "report/reports.h"
#include "report/utf8.h"
#include "runner/test_plan.h"
#include "runner/test_run.h"

extern char** environ;

namespace vigil::cli {
namespace {

struct RunFlags {
  std::string tests_dir;
  runner::PlanFilter filter;
  int jobs = 1;
  double slowdown = 1.0;
  std::string json_path, junit_path, ktap_path;
  std::string color = "auto";
  bool no_cgroup = false;
};


std::string Tag(ktap::Status s, bool color) { return report::StatusTag(s, color); }

// Failing leaves under a test: "name > sub > leaf".
void FailingLeaves(const ktap::TestNode& n, const std::string& prefix, std::vector<std::string>* out) {
  for (const auto& c : n.subtests) {
    std::string path = prefix.empty() ? c.name : prefix + " > " + c.name;
    if (!ktap::IsFailure(c.status)) continue;
    if (c.subtests.empty()) {
      out->push_back(fmt::format("[{}] {}", ktap::StatusName(c.status), path));
    } else {
      FailingLeaves(c, path, out);
    }
  }
}

nlohmann::json SubtestsJson(const ktap::TestNode& n) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& c : n.subtests) {
    nlohmann::json j = {{"name", report::SanitizeUtf8(c.name)}, {"status", ktap::StatusName(c.status)}};
    if (c.duration_ms) j["duration_ms"] = *c.duration_ms;
    if (!c.subtests.empty()) j["subtests"] = SubtestsJson(c);
    a.push_back(std::move(j));
  }
  return a;
}

std::string RunJson(const std::vector<runner::TestOutcome>& outcomes, ktap::Status status) {
  nlohmann::json tests = nlohmann::json::array();
  for (const auto& o : outcomes) {
    nlohmann::json attempt = {
        {"status", ktap::StatusName(o.node.status)},
        {"exit_code", o.process.status.exited() ? nlohmann::json(o.process.status.exit_code()) : nlohmann::json(nullptr)},
        {"signal", o.process.status.signal()},
        {"timed_out", o.process.timed_out},
        {"duration_ms", o.process.duration_ms},
        {"output_bytes", o.process.output_bytes},
    };
    nlohmann::json env = nlohmann::json::array();
    for (const auto& e : o.environment_issues) env.push_back(report::SanitizeUtf8(e));
    tests.push_back({
        {"path", o.spec.path()},
        {"status", ktap::StatusName(o.node.status)},
        {"exit_code", attempt["exit_code"]},
        {"duration_ms", o.process.duration_ms},
        {"attempts", nlohmann::json::array({attempt})},
        {"subtests", SubtestsJson(o.node)},
        {"environment_issues", env},
    });
  }
  nlohmann::json j = {{"format_version", 1}, {"run_id", nullptr}, {"status", ktap::StatusName(status)},
                      {"tests", tests}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// The log run_kselftest.sh would have printed for this run.
std::string RunnerLog(const std::vector<runner::TestOutcome>& outcomes) {
  std::string out = fmt::format("TAP version 13\n1..{}\n", outcomes.size());
  for (const auto& o : outcomes) {
    out += fmt::format("# selftests: {}: {}\n", o.spec.collection, o.spec.name);
    std::string_view text = o.process.output;
    while (!text.empty()) {
      size_t nl = text.find('\n');
      out += "# ";
      out += text.substr(0, nl);
      out += '\n';
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
    out += o.runner_line + "\n";
  }
  return out;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

int Run(const RunFlags& f) {
  auto plan = runner::LoadPlan(f.tests_dir, f.filter);
  if (!plan.ok()) {
    fmt::print(stderr, "vigil run: {}\n", plan.status().message());
    return kExitUsage;
  }
  if (plan->empty()) {
    fmt::print(stderr, "vigil run: no tests selected in {}\n", f.tests_dir);
    return kExitUsage;
  }
  bool color = UseColor(f.color);
  runner::RunOptions options;
  options.slowdown = f.slowdown;
  options.use_cgroups = !f.no_cgroup;
  for (char** e = environ; *e; ++e) options.base_env.emplace_back(*e);

  const std::vector<runner::TestSpec>& tests = *plan;
  std::vector<runner::TestOutcome> outcomes(tests.size());
  std::atomic<size_t> next{0};
  std::mutex print_mu;
  size_t done = 0;
  auto worker = [&] {
    while (true) {
      size_t i = next++;
      if (i >= tests.size()) return;
      runner::TestOutcome o = runner::RunTest(tests[i], static_cast<int>(i + 1), options);
      {
        std::lock_guard<std::mutex> lock(print_mu);
        ++done;
        fmt::print("{} {} ({:.1f}s) [{}/{}]\n", Tag(o.node.status, color), o.spec.path(),
                   static_cast<double>(o.process.duration_ms) / 1000.0, done, tests.size());
        std::fflush(stdout);
      }
      outcomes[i] = std::move(o);
    }
  };
  int jobs = std::max(1, std::min<int>(f.jobs, static_cast<int>(tests.size())));
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  // Summary: failures first, with their failing subtests, the end of their
  // output and the command that reruns just that test.
  ktap::Counts counts;
  std::vector<const runner::TestOutcome*> failed, environment;
  for (const auto& o : outcomes) {
    counts.Add(o.node.status);
    if (ktap::IsFailure(o.node.status)) failed.push_back(&o);
    if (!o.environment_issues.empty()) environment.push_back(&o);
  }
  ktap::Status status = counts.Aggregate();
  fmt::print("\n");
  for (const auto* o : failed) {
    fmt::print("{} {} ({})\n", Tag(o->node.status, color), o->spec.path(),
               o->process.timed_out ? "timeout" : o->process.status.ToString());
    std::vector<std::string> leaves;
    FailingLeaves(o->node, "", &leaves);
    for (size_t i = 0; i < leaves.size() && i < 20; ++i) fmt::print("    {}\n", report::SanitizeForTerminal(leaves[i]));
    if (leaves.size() > 20) fmt::print("    ... {} more failing subtests\n", leaves.size() - 20);
    std::string_view text = o->process.output;
    std::vector<std::string_view> lines;
    while (!text.empty()) {
      size_t nl = text.find('\n');
      lines.push_back(text.substr(0, nl));
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
    for (size_t i = lines.size() > 10 ? lines.size() - 10 : 0; i < lines.size(); ++i) {
      fmt::print("      | {}\n", report::SanitizeForTerminal(lines[i]));
    }
    fmt::print("    rerun: vigil run --tests {} -t {}\n", f.tests_dir, o->spec.path());
  }
  for (const auto* o : environment) {
    fmt::print("environment: {}: {}\n", o->spec.path(), report::SanitizeForTerminal(o->environment_issues.front()));
  }
  fmt::print("{} {} tests: {} passed, {} failed, {} timed out, {} skipped, {} xfail, {} xpass\n",
             Tag(status, color), counts.Total(), counts.Get(ktap::Status::kPass),
             counts.Get(ktap::Status::kFail), counts.Get(ktap::Status::kTimeout),
             counts.Get(ktap::Status::kSkip), counts.Get(ktap::Status::kXfail),
             counts.Get(ktap::Status::kXpass));

  bool write_ok = true;
  std::string runner_log;
  if (!f.json_path.empty()) write_ok &= WriteFile(f.json_path, RunJson(outcomes, status));
  if (!f.ktap_path.empty() || !f.junit_path.empty()) runner_log = RunnerLog(outcomes);
  if (!f.ktap_path.empty()) write_ok &= WriteFile(f.ktap_path, runner_log);
  if (!f.junit_path.empty()) {
    write_ok &= WriteFile(f.junit_path, report::ToJunit(ktap::ParseText(runner_log)));
  }
  if (!write_ok) {
    fmt::print(stderr, "vigil run: cannot write a report file\n");
    return kExitUsage;
  }
  return ktap::IsFailure(status) ? 1 : 0;
}

}  // namespace

Runner SetupRunCommand(CLI::App* app) {
  auto f = std::make_shared<RunFlags>();
  app->description(
      "Run kselftests on this host: an installed kselftest tree (kselftest-list.txt, per-collection\n"
      "`settings` with timeout=N) or a directory of executables. Each test runs in its own session\n"
      "and process group with its collection directory as cwd and KSELFTEST_<NAME>_ARGS appended;\n"
      "its output is read live as KTAP, down to each subtest; on timeout the whole group gets\n"
      "SIGTERM, then SIGKILL; nothing a test started survives it (a cgroup v2 per test when\n"
      "possible). Exit codes map as kselftest: 0 PASS, 4 SKIP, 2 XFAIL, 3 XPASS, else FAIL.\n\n"
      "Exit status: 0 all passed or skipped, 1 a failure or timeout, 2 usage or internal error.");
  app->add_option("--tests", f->tests_dir, "Installed kselftest tree or directory of executables")
      ->required()
      ->check(CLI::ExistingDirectory);
  app->add_option("-t,--test", f->filter.tests, "Run COLLECTION:TEST (repeatable)");
  app->add_option("-c,--collection", f->filter.collections, "Run every test of COLLECTION (repeatable)");
  app->add_option("--skip", f->filter.skip, "Skip tests whose COLLECTION:TEST matches this glob (repeatable)");
  app->add_option("-j,--jobs", f->jobs, "Tests run at the same time")->check(CLI::Range(1, 256))->capture_default_str();
  app->add_option("--slowdown", f->slowdown, "Multiply every timeout (slow or emulated machines)")
      ->check(CLI::Range(0.01, 1000.0))
      ->capture_default_str();
  app->add_option("--json", f->json_path, "Write the results as JSON (format_version 1) to FILE");
  app->add_option("--junit", f->junit_path, "Write JUnit XML to FILE");
  app->add_option("--ktap", f->ktap_path, "Write the log run_kselftest.sh would print to FILE");
  app->add_option("--color", f->color, "auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app->add_flag("--no-cgroup", f->no_cgroup, "Do not put tests in cgroups (process groups only)");
  return [f] { return Run(*f); };
}

}  // namespace vigil::cli
