// vigil run --tests DIR [-t COLL:TEST]... [-c COLL]... [--skip PATTERN]... [-j N]
//           [--slowdown X] [--json FILE] [--junit FILE] [--ktap FILE] [-v]
// Flags in, engine::RunSession, what it reports printed (the live status
// line on a terminal, start and still-running lines off one, the tests'
// output with -v, the summary, the reports written).
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/json.h"
#include "base/text.h"
#include "cli/build_command.h"
#include "cli/command.h"
#include "cli/run_reports.h"
#include "cli/status_line.h"
#include "cli/terminal.h"
#include "engine/run_group.h"
#include "engine/run_session.h"
#include "engine/verdict.h"
#include "judge/outcome.h"
#include "judge/render.h"
#include "report/reports.h"
#include "report/run_report.h"
#include "runner/test_plan.h"
#include "runner/timeout.h"
#include "store/store.h"
#include "sys/cancel.h"
#include "sys/process.h"
#include "store/postgres.h"

namespace vigil::cli {
namespace {

// The flags: most go straight into the engine's request, the VM's into a
// spec used when --kernel is given.
struct RunFlags {
  engine::RunRequest req;
  model::VmSpec vm;  // --kernel and the options after it
  std::string json_path, junit_path, ktap_path, markdown_path;
  std::string color = "auto";
  bool no_cgroup = false;
  std::string db_path = "vigil.db";
  std::string on_crash = "continue";
  bool verbose = false;
  int progress_interval = 60;  // seconds; 0: no still-running lines
  bool list = false;
  BuildFlags build;  // --build TREE and the build options
  std::string shard;  // --shard I/N
};

// Prints the session as it goes: finished tests above the live status line,
// then the summary, the verdict and the reports. Test names (file names: any
// bytes) and the notes that carry them are printed terminal-safe.
class Printer final : public engine::RunObserver {
 public:
  Printer(const RunFlags& f, bool color) : f_(f), color_(color) {}

  void OnNote(const std::string& line) override {
    fmt::print("{}\n", SanitizeForTerminal(line));
    std::fflush(stdout);
  }
  void OnWarning(const std::string& message) override {
    fmt::print(stderr, "vigil run: {}\n", SanitizeForTerminal(message));
  }
  void OnRunStarted(const engine::RunStart& s) override {
    if (s.repeat > 1) fmt::print("repetition {}/{}: ", s.repetition, s.repeat);
    fmt::print("run {}: {} tests from {} (db {})\n", s.run_id, s.tests, SanitizeForTerminal(s.tests_dir),
               SanitizeForTerminal(store::ShownPath(f_.db_path)));
    std::fflush(stdout);  // CI logs show it before the first test ends
    status_line_.emplace(s, isatty(STDOUT_FILENO) == 1, std::chrono::seconds(f_.progress_interval),
                         SystemClock::Get());
  }
  void OnTestStarted(const std::string& path) override { status_line_->Started(SanitizeForTerminal(path)); }
  void OnTestOutput(const std::string& path, std::string_view line) override {
    if (f_.verbose) status_line_->Output(SanitizeForTerminal(path), line);
  }
  void OnRetry(const std::string& path, ktap::Status status, int attempt) override {
    std::string shown = SanitizeForTerminal(path);
    status_line_->Retrying(
        shown, fmt::format("{} {}: attempt {} failed, retrying", report::StatusTag(status, color_), shown, attempt));
  }
  void OnTestFinished(const engine::TestEnd& t) override {
    std::string tag = t.final_status == model::TestStatus::kFlaky
                          ? (color_ ? "\033[35m[FLAKY]\033[0m" : "[FLAKY]")
                          : report::StatusTag(judge::StatusOf(std::string(model::StatusName(t.final_status))), color_);
    std::string shown = SanitizeForTerminal(t.path);
    status_line_->Finished(t, fmt::format("{} {} ({:.1f}s{}) [{}/{}]", tag, shown,
                                          static_cast<double>(t.last_duration_ms) / 1000.0,
                                          t.attempts > 1 ? fmt::format(", {} attempts", t.attempts) : "", t.done,
                                          t.total));
  }
  void OnTestsDone() override { status_line_.reset(); }  // the line is erased before the summary

  Status OnRunFinished(const report::FinishedRun& run) override {
    return PrintRunEnd(run, {f_.json_path, f_.junit_path, f_.ktap_path, f_.markdown_path}, color_);
  }

 private:
  const RunFlags& f_;
  bool color_;
  std::optional<StatusLine> status_line_;
};

// --list: what would run, in plan order, as `run_kselftest.sh -l` lists it
// with what vigil adds (timeouts, retries, classes, shards). --json FILE
// writes the same as JSON ("-": standard output, instead of the text).
int List(const RunFlags& f) {
  engine::RunRequest req = f.req;
  if (!f.shard.empty()) {
    if (Status st = engine::ParseShard(f.shard, &req.shard, &req.shard_count); !st.ok()) {
      fmt::print(stderr, "vigil run: {}\n", st.message());
      return kExitUsage;
    }
  }
  // A shard's tests come from its run group's split in the store (or the
  // split the first shard would make from the store's durations): the store
  // is read when there is one, never created.
  std::unique_ptr<store::Store> db;
  if (req.shard_count > 0) {
    auto opened = engine::OpenExistingStore(f.db_path);
    if (opened.ok()) {
      db = std::move(*opened);
    } else if (opened.status().code() != Status::Code::kNotFound) {
      fmt::print(stderr, "vigil run: {}\n", opened.status().message());
      return kExitUsage;
    }
  }
  auto listing = engine::ListPlan(req, db.get());
  if (!listing.ok()) {
    fmt::print(stderr, "vigil run: {}\n", listing.status().message());
    return kExitUsage;
  }
  for (const auto& w : listing->warnings) fmt::print(stderr, "vigil run: {}\n", w);
  bool vm = !f.vm.kernel.empty();
  if (!f.json_path.empty()) {
    nlohmann::json tests = nlohmann::json::array();
    for (const auto& t : listing->tests) {
      nlohmann::json classes = nlohmann::json::array();
      for (const auto& c : t.classes) {
        classes.push_back({{"match", c.match}, {"max_parallel", c.max_parallel}, {"serial", c.serial}});
      }
      tests.push_back({{"path", t.path},
                       {"timeout_s", t.timeout.count()},
                       {"stretched_timeout_s", t.stretched.count()},
                       {"retries", t.retries},
                       {"serial", t.serial},
                       {"classes", classes},
                       {"shard_args", t.shard_args},
                       {"missing", t.missing}});
    }
    nlohmann::json j = {{"format_version", 1},       {"tests_dir", listing->tests_dir},
                        {"config", listing->config}, {"slowdown", f.req.slowdown},
                        {"tests", tests},            {"warnings", listing->warnings}};
    if (req.shard_count > 0) {
      j["shard"] = {{"index", req.shard},
                    {"count", req.shard_count},
                    {"plan_tests", listing->plan_size},
                    {"split", listing->split_stored ? "stored" : "new"}};
    }
    std::string text = DumpJson(j) + "\n";
    if (f.json_path == "-") {
      fmt::print("{}", text);
      return 0;
    }
    if (!WriteReportFile(f.json_path, text)) {
      fmt::print(stderr, "vigil run: cannot write {}: {}\n", f.json_path, std::strerror(errno));
      return kExitUsage;
    }
  }
  size_t width = 0;
  for (const auto& t : listing->tests) width = std::max(width, SanitizeForTerminal(t.path).size());
  for (const auto& t : listing->tests) {
    std::string line = fmt::format("{:<{}}  timeout ", SanitizeForTerminal(t.path), width);
    line += t.timeout.count() == 0 ? "none" : fmt::format("{}s", t.timeout.count());
    if (t.timeout.count() > 0 && t.stretched != t.timeout) line += fmt::format(" (x{} = {}s)", f.req.slowdown, t.stretched.count());
    if (t.retries > 0) line += fmt::format("  retries {}", t.retries);
    if (t.serial) line += "  serial";
    for (const auto& c : t.classes) {
      if (c.max_parallel > 0) line += fmt::format("  class {} (max {})", SanitizeForTerminal(c.match), c.max_parallel);
    }
    if (!t.shard_args.empty()) {
      std::string args;
      for (const auto& a : t.shard_args) args += (args.empty() ? "" : " ") + ShellQuote(a);
      line += "  args " + SanitizeForTerminal(args);
    }
    if (t.missing) line += "  NOT FOUND";
    fmt::print("{}\n", line);
  }
  if (req.shard_count > 0) {
    fmt::print("shard {}/{}: {} of the plan's {} tests, {}\n", req.shard, req.shard_count, listing->tests.size(),
               listing->plan_size,
               listing->split_stored
                   ? fmt::format("as run group {} split them", SanitizeForTerminal(req.run_group))
                   : std::string(db ? "split now by the store's last durations (the first shard to join a run group "
                                      "makes its split)"
                                    : "split now without durations (no store: every test counted alike)"));
  }
  fmt::print("{} test{} from {}{}{}; nothing was run\n", listing->tests.size(), listing->tests.size() == 1 ? "" : "s",
             SanitizeForTerminal(listing->tests_dir),
             listing->config.empty() ? "" : fmt::format(" (config {})", SanitizeForTerminal(listing->config)),
             vm && !f.req.slowdown_set ? " (in a TCG VM, timeouts x3 unless --slowdown is given)" : "");
  return 0;
}

int Run(const RunFlags& f) {
  if (!f.build.tree.empty()) {
    const char* clash = !f.vm.kernel.empty()     ? "--kernel"
                        : !f.vm.modules.empty()  ? "--modules"
                        : !f.req.tests_dir.empty() ? "--tests"
                        : !f.req.resume.empty()  ? "--resume (a resumed run boots the build it booted)"
                        : f.list                 ? "--list"
                                                 : nullptr;
    if (clash) {
      fmt::print(stderr, "vigil run: --build builds the kernel, modules and tests it runs: it does not go with {}\n",
                 clash);
      return kExitUsage;
    }
    if (f.req.filter.collections.empty() && f.req.filter.tests.empty()) {
      fmt::print(stderr, "vigil run: --build needs the collections to build and run (-c net/mptcp, or -t COLL:TEST)\n");
      return kExitUsage;
    }
  }
  if (f.list) return List(f);
  // SIGINT, SIGTERM, SIGHUP: the session stops (first) or kills (second).
  sys::Cancellation cancel;
  sys::SignalCanceller signals(cancel, [](int signo, sys::Cancellation::Level level) {
    const char* name = sigabbrev_np(signo);
    if (level == sys::Cancellation::Level::kStop) {
      fmt::print(stderr,
                 "\nvigil run: SIG{}: stopping: no new test starts, running tests are terminated and recorded as "
                 "interrupted (a second signal kills them at once)\n",
                 name ? name : "?");
    } else {
      fmt::print(stderr, "\nvigil run: SIG{}: killing the running tests and exiting\n", name ? name : "?");
    }
  });
  auto opened = store::Store::Open(f.db_path);
  if (!opened.ok()) {
    fmt::print(stderr, "vigil run: {}\n", opened.status().message());
    return kExitUsage;
  }
  engine::RunRequest req = f.req;
  if (!f.shard.empty()) {
    if (Status st = engine::ParseShard(f.shard, &req.shard, &req.shard_count); !st.ok()) {
      fmt::print(stderr, "vigil run: {}\n", st.message());
      return kExitUsage;
    }
  }
  model::VmSpec vm = f.vm;
  if (!f.build.tree.empty()) {
    // Build (or find nothing to rebuild), then boot what was built and run
    // the collections' freshly installed kselftests.
    std::vector<std::string> collections = engine::BuildCollections(f.req.filter.collections, f.req.filter.tests);
    auto options = BuildOptionsOf(f.build, collections, &cancel);
    if (!options.ok()) {
      fmt::print(stderr, "vigil run: {}\n", SanitizeForTerminal(options.status().message()));
      return kExitUsage;
    }
    engine::BuildRequest breq;
    breq.options = *options;
    breq.compare_to = f.build.compare_to;
    breq.command_line = CommandLine();
    breq.host = sys::HostName();
    auto built = RunBuild(**opened, breq, f.verbose);
    if (!built.ok()) {
      fmt::print(stderr, "vigil run: {}\n", SanitizeForTerminal(built.status().message()));
      return kExitUsage;
    }
    PrintBuild(*built, 20, false);
    if (built->result.state == kbuild::BuildResult::State::kInterrupted) return cancel.ExitCode();
    if (built->result.state != kbuild::BuildResult::State::kBuilt) {
      fmt::print(stderr, "vigil run: the build failed; nothing was run\n");
      return 1;
    }
    vm.kernel = built->result.kernel;
    vm.modules = built->result.modules;
    req.tests_dir = built->result.tests;
    req.build_id = built->build_id;
  }
  req.use_cgroups = !f.no_cgroup;
  if (!vm.kernel.empty()) req.vm = vm;
  req.stop_on_crash = f.on_crash == "stop";
  req.db_path = f.db_path;
  req.command_line = CommandLine();
  req.host = sys::HostName();
  req.base_env = sys::CurrentEnvironment();  // --env-clear/--env-keep are in f.req
  req.owner = sys::SelfOwner();
  req.cancel = &cancel;

  Printer printer(f, UseColor(f.color));
  engine::RunSession session(**opened, SystemClock::Get(), printer);
  auto end = session.Execute(std::move(req));
  if (!end.ok()) {
    fmt::print(stderr, "vigil run: {}\n", SanitizeForTerminal(end.status().message()));
    // Stopped before anything ran (a VM that was booting): 130, 143, 129.
    return cancel.stopping() ? cancel.ExitCode() : kExitUsage;
  }
  if (f.req.repeat > 1 && end->exit_code != kExitUsage) {
    fmt::print("\nacross repetitions:\n");
    for (const auto& [path, tally] : end->repeat_tally) {
      if (tally.first > 0) fmt::print("  {} failed {}/{}\n", SanitizeForTerminal(path), tally.first, tally.second);
    }
  }
  return end->exit_code;
}

// A flag's timeout, in the range settings files and vigil.toml accept.
CLI::Validator TimeoutValidator() {
  return CLI::Validator(
      [](std::string& value) {
        auto t = runner::ParseTimeout(value, "the timeout");
        return t.ok() ? std::string() : std::string(t.status().message());
      },
      "SECONDS");
}

}  // namespace

Runner SetupRunCommand(CLI::App* app) {
  auto f = std::make_shared<RunFlags>();
  app->description(
      "Run kselftests on this host, or with --kernel inside a QEMU VM booting the kernel under test:\n"
      "an installed kselftest tree (kselftest-list.txt, per-collection\n"
      "`settings` with timeout=N) or a directory of executables. Each test runs in its own session\n"
      "and process group with its collection directory as cwd and KSELFTEST_<NAME>_ARGS appended;\n"
      "its output is read live as KTAP, down to each subtest; on timeout the whole group gets\n"
      "SIGTERM, then SIGKILL; nothing a test started survives it (a cgroup v2 per test when\n"
      "possible). Exit codes map as kselftest: 0 PASS, 4 SKIP, 2 XFAIL, 3 XPASS, else FAIL.\n\n"
      "Every result is committed to the store (--db) as soon as the test ends. In a VM, the console\n"
      "goes to the crash detector: a kernel crash makes the running tests CRASH, a WARNING or other\n"
      "report fails them.\n\n"
      "Exit status: 0 all passed or skipped, 1 a failure or timeout, 2 usage or internal error; with\n"
      "--known-issues, a known-issues.toml beside the tests or --baseline: the verdict's (0 Success,\n"
      "1 Unstable, 3 Critical; see vigil verdict --help).\n\n"
      "SIGINT, SIGTERM or SIGHUP stop the run: no test starts any more, the running ones are terminated\n"
      "as on a timeout and recorded as interrupted, the run is finished (INTERRUPTED) and its reports\n"
      "written, and vigil exits 130, 143 or 129; `vigil run --resume RUN_ID` runs what is left. A\n"
      "second signal kills the running tests at once and exits without reports.\n\n"
      "Across machines (--shard I/N --run-group ID, every machine the same command but its I): the\n"
      "first shard to come splits the plan into N shards of about equal time (the tests' last\n"
      "durations in the store, longest first; tests without history count the median) and records\n"
      "the group's one run; each shard runs its part into that run (a shared PostgreSQL store, or a\n"
      "SQLite file each joined by vigil merge). A shard's command run again resumes it (or, finished,\n"
      "exits 0); the last shard to finish reports, judges and exits as the whole run (vigil group wait\n"
      "ID does too); the others exit 0.");
  app->add_option("--tests", f->req.tests_dir, "Installed kselftest tree or directory of executables")
      ->check(CLI::ExistingDirectory);
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI (created if missing)")->capture_default_str();
  app->add_option("--resume", f->req.resume,
                  "Finish run RUN_ID (or 'last') after vigil was interrupted: only tests without a final "
                  "result run (never run, interrupted, or failed with a retry still to run); the run's "
                  "--retries and --config carry over unless given; the reports cover the whole run. Refused "
                  "while the run's own vigil is still running");
  app->add_option("-t,--test", f->req.filter.tests, "Run COLLECTION:TEST (repeatable)");
  app->add_option("-c,--collection", f->req.filter.collections, "Run every test of COLLECTION (repeatable)");
  app->add_option("--skip", f->req.filter.skip, "Skip tests whose COLLECTION:TEST matches this glob (repeatable)");
  app->add_option("-j,--jobs", f->req.jobs, "Tests run at the same time")->check(CLI::Range(1, 256))->capture_default_str();
  app->add_option("--slowdown", f->req.slowdown, "Multiply every timeout (slow or emulated machines; 3 in a TCG VM)")
      ->check(CLI::Range(0.01, 1000.0))
      ->capture_default_str()
      ->each([f](const std::string&) { f->req.slowdown_set = true; });
  app->add_option("--json", f->json_path, "Write the results as JSON (format_version 1) to FILE (with --list: the plan)");
  app->add_option("--junit", f->junit_path, "Write JUnit XML to FILE");
  app->add_option("--ktap", f->ktap_path, "Write the log run_kselftest.sh would print to FILE");
  app->add_option("--markdown", f->markdown_path,
                  "Write a Markdown summary to FILE (also appended to $GITHUB_STEP_SUMMARY when set)");
  app->add_option("--color", f->color, "auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app->add_option("--baseline", f->req.baseline,
                  "Judge the run as `vigil verdict --baseline` does (RUN or auto): only regressions against it count; "
                  "the exit status becomes the verdict's (0 Success, 1 Unstable, 3 Critical)");
  app->add_option("--known-issues", f->req.known_issues,
                  "known-issues.toml (default: the one beside the tests): matching failures are KNOWN, not counted; "
                  "the exit status becomes the verdict's");
  app->add_option("--config", f->req.config_path,
                  "vigil.toml with scheduling classes ([[class]] match, max_parallel, serial) and per-test "
                  "timeout/retries ([[test]]); default: vigil.toml beside the tests");
  app->add_option("--retries", f->req.retries, "Run a failed test again up to N times; failed then passed is FLAKY")
      ->each([f](const std::string&) { f->req.retries_set = true; })
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app->add_option("--repeat", f->req.repeat, "Run the selection N times (a run each): how flaky tests are reproduced")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app->add_flag("-v,--verbose", f->verbose,
                "Print each test's output as it runs, every line prefixed with the test's name "
                "(NAME: LINE; control characters replaced)");
  app->add_option("--progress-interval", f->progress_interval,
                  "Off a terminal (CI logs): print a line when a test starts and one each SECONDS it keeps "
                  "running (0: no still-running lines); on a terminal the live status line shows it")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  app->add_flag("--until-fail", f->req.until_fail, "With --repeat: stop after the first run with a failure");
  app->add_flag("--list", f->list,
                "Print what would run, in plan order, with timeouts, retries, classes and shards (as "
                "run_kselftest.sh -l); with --json FILE (- for standard output) as JSON. Nothing is run or recorded");
  app->add_flag("--env-clear", f->req.env_clear,
                "Tests get only PATH, HOME, USER, LOGNAME, SHELL, TERM, LANG, LANGUAGE, LC_*, TZ, TMPDIR and KSELFTEST_* "
                "of vigil's environment (default: all of it), here and in a VM");
  app->add_option("--env-keep", f->req.env_keep,
                  "With --env-clear (implied), keep these variables too: names or globs, comma-separated (CI_*,MY_VAR)")
      ->delimiter(',');
  app->add_flag("--netns", f->req.netns, "Run each test in a fresh network namespace (loopback up), as run_kselftest.sh -n");
  app->add_flag("--no-cgroup", f->no_cgroup, "Do not put tests in cgroups (process groups only)");
  auto* vmg = "VM (the kernel under test)";
  app->add_option("--kernel", f->vm.kernel,
                  "Boot this kernel (bzImage/vmlinuz) in QEMU and run the tests inside it; the host's root is "
                  "shared read-only (virtiofs, or 9p), the console goes to the crash detector")
      ->group(vmg);
  app->add_option("--modules", f->vm.modules,
                  "The kernel's lib/modules/<release> (e.g. of an unpacked Debian linux-image package): boot "
                  "modules go into the initramfs, the rest is loadable in the guest")
      ->group(vmg);
  app->add_option("--accel", f->vm.accel, "auto (probe KVM with a tiny VM, else TCG), kvm or tcg")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
      ->capture_default_str()
      ->group(vmg);
  app->add_option("--rootfs", f->vm.rootfs,
                  "How the guest sees the host's root: auto (virtiofs when the kernel has it, else 9p), virtiofs "
                  "or 9p")
      ->check(CLI::IsMember({"auto", "virtiofs", "9p"}))
      ->capture_default_str()
      ->group(vmg);
  app->add_option("--cpus", f->vm.cpus, "Guest CPUs")->check(CLI::Range(1, 64))->capture_default_str()->group(vmg);
  app->add_option("--memory", f->vm.memory, "Guest memory (QEMU size: 2G, 1536M)")->capture_default_str()->group(vmg);
  app->add_option("--append", f->vm.append, "More kernel command line")->group(vmg);
  app->add_option("--panic-on", f->vm.panic_on, "warn, oops or warn,oops: panic_on_warn=1 / oops=panic")->group(vmg);
  app->add_option("--on-crash", f->on_crash,
                  "After a kernel crash: continue (boot a fresh VM for the remaining tests) or stop")
      ->check(CLI::IsMember({"continue", "stop"}))
      ->capture_default_str()
      ->group(vmg);
  app->add_option("--hang-timeout", f->vm.hang_timeout,
                  "Seconds without console or test output before the VM counts as hung (0: off)")
      ->check(TimeoutValidator())
      ->group(vmg);
  auto* bg = "Build (--build: the kernel under test from source)";
  app->add_option("--build", f->build.tree,
                  "Build this kernel tree as `vigil build` does, with the config fragments of the collections "
                  "(-c, or those of -t), or find nothing to rebuild; then boot it and run those collections' freshly "
                  "installed kselftests. The run records the build")
      ->group(bg);
  AddBuildOptions(app, &f->build, bg, true);
  app->add_option("--shard", f->shard,
                  "Run shard I of N of a run split across machines (I/N, 1-based); needs --run-group\n"
                  "(with --list: the tests shard I runs, from the group's split in --db)")
      ->group("Across machines");
  app->add_option("--run-group", f->req.run_group,
                  "The split run's name, the same on every shard (a CI pipeline's id: ${{ github.run_id }}, "
                  "$CI_PIPELINE_ID, the Job's name)")
      ->group("Across machines");
  app->add_option("--vm-dir", f->req.vm_work_dir, "Where the console log and sockets go (default: vigil-vm/ beside the db; a new /tmp/vigil-vm-XXXXXX when that path is too long for a socket's)")
      ->group(vmg);
  return [f] { return Run(*f); };
}

}  // namespace vigil::cli
