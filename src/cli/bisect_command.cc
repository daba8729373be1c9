// vigil bisect run|status|log|reset|simulate: flake-aware bisection. The
// flags and the printing; the bisection itself is engine/bisect_driver.h.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"
#include "bisect/search.h"
#include "cli/build_command.h"
#include "cli/command.h"
#include "engine/bisect_driver.h"
#include "engine/git_vcs.h"
#include "report/bisect_report.h"

namespace vigil::cli {
namespace {

struct BisectFlags {
  engine::BisectRequest req;
  bool json = false;
  // --build-tree
  bool build_tree = false;
  BuildFlags build;
  std::vector<std::string> collections;
  bool build_options_given = false;  // an option of the build group
  // simulate
  int history = 0;
  bool keep_builds = false;
  int commits = 1024, trials = 200;
  double p = 0.25;
  uint64_t seed = 1;
};

// Progress for people: on stdout, or on stderr when stdout carries JSON.
class PrintingObserver final : public engine::BisectObserver {
 public:
  PrintingObserver(bool json, bool fix) : json_(json), fix_(fix), say_(json ? stderr : stdout) {}
  void Resuming(int64_t id, size_t runs) override {
    fmt::print(say_, "resuming bisection {} ({} run(s) recorded)\n", id, runs);
  }
  void Started(const engine::BisectStart& s) override {
    fmt::print(say_, "bisection {}: {} commit(s) on the first-parent line, {} end {}, {} end {}\n", s.id,
               s.commits, fix_ ? "failing (older)" : "good", (fix_ ? s.bad : s.good).substr(0, 12),
               fix_ ? "fixed (newer)" : "bad", (fix_ ? s.good : s.bad).substr(0, 12));
  }
  void EndChecked(bool good_end, const std::string& commit, bisect::Outcome o) override {
    fmt::print(say_, "  {} end {}: the test runs there ({})\n", good_end ? "good" : "bad",
               commit.substr(0, 12), bisect::OutcomeName(o));
  }
  void BuildFailed(const std::string& commit, const std::string& why) override {
    fmt::print(say_, "  {} build failed: untestable (skipped){}\n", commit.substr(0, 12),
               why.empty() ? "" : ": " + SanitizeForTerminal(why));
  }
  void Ran(const engine::BisectRunEvent& e) override {
    using Best = engine::BisectRunEvent::Best;
    if (json_) return;
    fmt::print("  run {:>3}: {} {:<4} (best: {} at {:.3f})\n", e.run, e.commit.substr(0, 12),
               bisect::OutcomeName(e.outcome),
               e.best == Best::kCommit
                   ? e.best_commit.substr(0, 12)
                   : std::string(e.best == Best::kGoodEnd ? "the good end" : "not reproducible"),
               e.posterior);
  }
  void Descending(const engine::MergeDescent& m) override {
    fmt::print(say_, "the {} on this line is merge {} {} ({:.3f}); bisecting the {} commit(s) it merged\n",
               fix_ ? "fix" : "culprit", m.merge.substr(0, 12), SanitizeForTerminal(m.subject), m.posterior, m.commits);
  }
  void Warning(const std::string& message) override {
    fmt::print(stderr, "vigil bisect: {}\n", SanitizeForTerminal(message));
  }

 private:
  bool json_, fix_;
  std::FILE* say_;
};

int RunBisect(BisectFlags f) {
  // Each line as it is printed, also into a pipe (a CI log): a bisection
  // runs for hours. Before anything is written to stdout.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  engine::BisectRequest& r = f.req;
  if (r.good.empty() || r.bad.empty()) {
    fmt::print(stderr, "vigil bisect run: --good and --bad are needed\n");
    return kExitUsage;
  }
  if (r.probe.command.empty() == r.probe.vigil_test.empty()) {
    fmt::print(stderr, "vigil bisect run: give a test command after -- or --vigil-test PATH (one of them)\n");
    return kExitUsage;
  }
  if (!r.bad_history.empty() && !engine::ParseBadHistory(r.bad_history, &r.known_failures, &r.known_runs)) {
    fmt::print(
        stderr,
        "vigil bisect run: --bad-history wants F/N (F failures in N runs, 0 <= F <= N, N >= 1), not '{}'\n",
        r.bad_history);
    return kExitUsage;
  }
  if (f.build_tree) {
    if (r.probe.vigil_test.empty()) {
      fmt::print(stderr,
                 "vigil bisect run: --build-tree boots each built kernel and runs a vigil test on it: give "
                 "--vigil-test COLLECTION:TEST\n");
      return kExitUsage;
    }
    if (!r.probe.build.empty() || !r.probe.kernel.empty() || !r.probe.tests_dir.empty()) {
      fmt::print(
          stderr,
          "vigil bisect run: --build-tree builds the kernel and the kselftests at each commit: not with "
          "--build, --kernel or --tests\n");
      return kExitUsage;
    }
  } else if (f.build_options_given || !f.collections.empty()) {
    fmt::print(
        stderr,
        "vigil bisect run: the build options (--variant, --config, --set, -c, ...) go with --build-tree\n");
    return kExitUsage;
  }
  auto vcs = engine::GitVcs::Open(".");
  if (!vcs.ok()) {
    fmt::print(stderr, "vigil bisect run: not in a git repository: {}\n", SanitizeForTerminal(vcs.status().message()));
    return kExitUsage;
  }
  std::unique_ptr<kbuild::BuildObserver> build_printer;
  if (f.build_tree) {
    // The kernel tree is the repository bisected; each probe builds its worktree.
    std::string top = (*vcs)->Top();
    std::error_code ec;
    if (!std::filesystem::exists(top + "/Makefile", ec) || !std::filesystem::exists(top + "/Kconfig", ec)) {
      fmt::print(stderr,
                 "vigil bisect run: --build-tree: {} is not a kernel source tree (no Makefile and Kconfig)\n",
                 SanitizeForTerminal(top));
      return kExitUsage;
    }
    std::vector<std::string> collections = f.collections;
    if (collections.empty()) {
      // The --vigil-test's collection: its config merged, its kselftests built.
      const std::string& t = r.probe.vigil_test;
      size_t colon = t.find(':');
      if (colon == std::string::npos || colon == 0) {
        fmt::print(stderr, "vigil bisect run: --vigil-test wants COLLECTION:TEST[:SUBTEST], not '{}'\n",
                   SanitizeForTerminal(t));
        return kExitUsage;
      }
      collections.push_back(t.substr(0, colon));
    }
    auto options = BuildOptionsOf(f.build, collections, nullptr);
    if (!options.ok()) {
      fmt::print(stderr, "vigil bisect run: {}\n", SanitizeForTerminal(options.status().message()));
      return kExitUsage;
    }
    if (Status env = kbuild::CheckBuildEnvironment(*options); !env.ok()) {
      fmt::print(stderr, "vigil bisect run: {}\n", SanitizeForTerminal(env.message()));
      return kExitUsage;
    }
    r.probe.build_tree = true;
    r.probe.build_options = std::move(options.value());
    if (!f.json) {
      build_printer = MakeBuildPrinter(false);
      r.probe.build_observer = build_printer.get();
    }
  }
  // SIGINT, SIGTERM, SIGHUP: the probe is stopped, the bisection stays
  // resumable (first); the probe is killed at once (second).
  sys::Cancellation cancel;
  sys::SignalCanceller signals(cancel, [](int signo, sys::Cancellation::Level level) {
    const char* name = sigabbrev_np(signo);
    fmt::print(stderr, "\nvigil bisect: SIG{}: {}\n", name ? name : "?",
               level == sys::Cancellation::Level::kStop
                   ? "stopping the running test (a second signal kills it at once)"
                   : "killing the running test");
  });
  r.cancel = &cancel;
  r.probe.cancel = &cancel;
  std::unique_ptr<engine::Probe> probe = engine::MakeProbe(r.probe);
  PrintingObserver observer(f.json, r.fix);
  auto out = engine::RunBisection(**vcs, *probe, observer, r);
  if (!out.ok() && cancel.stopping()) {
    fmt::print(stderr, "vigil bisect run: {}\n", SanitizeForTerminal(out.status().message()));
    return cancel.ExitCode();
  }
  if (!out.ok()) {
    fmt::print(stderr, "vigil bisect run: {}\n", SanitizeForTerminal(out.status().message()));
    return kExitUsage;
  }
  if (f.json) {
    fmt::print("{}\n", DumpJson(out->result));
  } else {
    fmt::print("{}", report::ConclusionText(out->result));
  }
  // 0 only for an answer: a culprit (or range) at the confidence.
  return out->confident && out->result.value("hypothesis", "") == "culprit" ? 0 : 1;
}

// The repository here and the store of its bisections.
struct Opened {
  std::unique_ptr<engine::GitVcs> vcs;
  std::string db_path;
  std::unique_ptr<store::Store> db;
};

// Fills `o`; 0, or the exit code with a message printed when there is no
// repository or no store yet (o->db stays null then).
int OpenBisection(const BisectFlags& f, Opened* o) {
  auto vcs = engine::GitVcs::Open(".");
  if (!vcs.ok()) {
    fmt::print(stderr, "vigil bisect: not in a git repository\n");
    return kExitUsage;
  }
  o->vcs = std::move(vcs.value());
  o->db_path = engine::BisectDbPath(*o->vcs, f.req.db_path);
  auto db = engine::OpenBisectStore(o->db_path);
  if (!db.ok()) {
    bool none = db.status().code() == Status::Code::kNotFound;
    fmt::print(none ? stdout : stderr, "{}{}\n", none ? "" : "vigil bisect: ", SanitizeForTerminal(db.status().message()));
    return none ? 1 : kExitUsage;
  }
  o->db = std::move(db.value());
  return 0;
}

int RunStatus(const BisectFlags& f, bool log) {
  Opened o;
  if (int code = OpenBisection(f, &o); code != 0) return code;
  auto s = engine::LatestBisection(*o.db, o.vcs->Top());
  if (!s.ok()) return kExitUsage;
  if (!s->found) {
    fmt::print("no bisection in this repository\n");
    return 1;
  }
  if (log) {
    for (const auto& r : s->runs) {
      fmt::print("{}  {}  {:<4}  exit {}  {:.1f} s\n", r.at, r.commit.substr(0, 12), r.outcome,
                 r.exit_code ? std::to_string(*r.exit_code) : "-", r.duration_ms / 1000.0);
    }
    return 0;
  }
  const model::BisectionRecord& b = s->bisection;
  fmt::print("bisection {}: {} (started {}), good {} bad {}, {} run(s) recorded\n", b.id, b.status,
             b.started_at, b.good.substr(0, 12), b.bad.substr(0, 12), s->runs.size());
  if (!b.result_json.empty()) {
    nlohmann::json j = nlohmann::json::parse(b.result_json, nullptr, false);
    if (j.is_object()) fmt::print("{}", report::ConclusionText(j));
  }
  return 0;
}

int RunReset(const BisectFlags& f) {
  Opened o;
  int code = OpenBisection(f, &o);
  if (code == kExitUsage) return code;
  PrintingObserver observer(false, false);
  auto id = o.db ? engine::ResetBisection(*o.vcs, *o.db, o.db_path, observer)
                 : Result<int64_t>(Status::NotFound(""));
  if (!id.ok()) {
    fmt::print("no bisection in progress\n");
    return 0;
  }
  fmt::print("bisection {} ended; the worktree is removed, your checkout was never touched\n", id.value());
  return 0;
}

int RunSimulate(const BisectFlags& f) {
  bisect::SimOptions o;
  o.commits = f.commits;
  o.p = f.p;
  o.epsilon = f.req.epsilon;
  o.trials = f.trials;
  o.seed = f.seed;
  o.history = f.history;
  o.search = engine::SearchOptionsOf(f.req);
  o.search.build_cost = f.req.build_cost >= 0 ? f.req.build_cost : 0;
  o.search.keep_builds = f.keep_builds;
  bisect::SimResult r = bisect::Simulate(o);
  if (f.json) {
    fmt::print("{}\n", DumpJson(report::SimulationJson(o, r, f.req.confidence)));
  } else {
    fmt::print("{}", report::SimulationText(o, r, f.req.confidence));
  }
  return 0;
}

// A number in [lo, hi]: CLI::Range lets NaN through (no comparison fails),
// and a NaN prior or confidence makes every posterior NaN.
CLI::Validator FiniteIn(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        char* end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0' || !std::isfinite(v) || v < lo || v > hi) {
          return fmt::format("{} is not a number in [{}, {}]", s, lo, hi);
        }
        return "";
      },
      fmt::format("NUMBER in [{} - {}]", lo, hi));
}

void AddModelOptions(CLI::App* c, BisectFlags* f) {
  c->add_option("--confidence", f->req.confidence, "Stop when the most likely culprit has this posterior")
      ->check(FiniteIn(0.5, 0.9999))
      ->capture_default_str();
  c->add_option("--max-runs", f->req.max_runs, "Stop after this many test runs")->check(CLI::Range(1, 1000000))->capture_default_str();
  c->add_option("--runs-per-build", f->req.runs_per_build, "Runs in a row at a commit once it is built")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  c->add_option(
      "--build-cost", f->req.build_cost,
      "What a checkout and build costs, in test runs (default with --build or --build-tree: measured, the "
      "mean build over the mean run, 4 until both were measured; else 0)")
      ->check(FiniteIn(0, 1e6));
  c->add_option("--epsilon", f->req.epsilon, "Failure rate of good commits (unrelated failures)")
      ->check(FiniteIn(0.0, 0.5))
      ->capture_default_str();
  c->add_option("--prior-a", f->req.prior_a, "Beta prior on the failure rate p of bad commits: a")
      ->check(FiniteIn(0.001, 1e6))
      ->capture_default_str();
  c->add_option("--prior-b", f->req.prior_b, "... and b (mean a/(a+b))")
      ->check(FiniteIn(0.001, 1e6))
      ->capture_default_str();
  c->add_option("--deterministic-prior", f->req.deterministic, "Prior weight of p = 1 (a failure that always shows)")
      ->check(FiniteIn(0.0, 0.99))
      ->capture_default_str();
  c->add_flag("--json", f->json, "JSON (format_version 1)");
}

}  // namespace

Runner SetupBisectCommand(CLI::App* app) {
  auto f = std::make_shared<BisectFlags>();
  app->description(
      "Flake-aware bisection: find the commit that introduced (or, with --fix, fixed) a failure that shows only\n"
      "in some runs. Each run is evidence: a bad commit fails with an unknown probability p (learned), a good\n"
      "one with epsilon; the next commit is the one whose run tells most about the culprit per unit of cost.");
  app->require_subcommand(1);
  CLI::App* run = app->add_subcommand("run", "Bisect in the git repository here (the checkout is left alone: a worktree is used)");
  run->add_option("--good", f->req.good, "A commit without the failure (with --fix: the newer, fixed end)");
  run->add_option("--bad", f->req.bad, "A commit with the failure (with --fix: the older end)");
  run->add_flag("--first-parent", f->req.first_parent,
                "Only the first-parent line: a merge found there is the answer (default: bisect what it merged)");
  run->add_flag("--fix", f->req.fix, "Find the first commit where the failure is gone (older = bad, newer = good)");
  run->add_option("--build", f->req.probe.build, "Shell command run in the worktree after each checkout (failure = untestable)");
  run->add_option("--vigil-test", f->req.probe.vigil_test,
                  "Instead of a command: run this vigil test (COLLECTION:TEST[:SUBTEST]) and count only its failure");
  run->add_option("--tests", f->req.probe.tests_dir, "With --vigil-test: the kselftest tree (relative to the worktree)");
  run->add_option("--kernel", f->req.probe.kernel, "With --vigil-test: boot this kernel (relative to the worktree)");
  run->add_option("--crash-title", f->req.probe.crash_title, "With --vigil-test: count only kernel reports with this title glob");
  run->add_flag(
      "--build-tree", f->build_tree,
      "With --vigil-test: the repository is a kernel tree; at each commit build it (incrementally, in one "
      "output directory for the bisection, in its worktree unless --build-output), boot the kernel built and "
      "run the test from the kselftests built; a commit that does not build is untestable");
  const std::string build_group = "Build (with --build-tree)";
  run->add_option(
         "-c,--collection", f->collections,
         "With --build-tree: a kselftest collection whose config is merged and whose tests are built "
         "(repeatable; default: the --vigil-test's)")
      ->group(build_group);
  AddBuildOptions(run, &f->build, build_group, true);
  run->get_option("--build-output")
      ->description(
          "The build directory (O=) for the whole bisection; default: in the bisection's worktree, "
          "removed with it");
  run->remove_option(run->get_option("--compare-to"));
  run->add_option("--db", f->req.db_path, "Store (default: vigil-bisect.db in the repository's git directory)");
  run->add_option("--bad-history", f->req.bad_history,
                  "F/N: the test already failed F times in N runs at the bad end (e.g. vigil history); evidence from "
                  "the start, not run again");
  AddModelOptions(run, f.get());
  run->add_option("command", f->req.probe.command,
                  "-- TEST_CMD ...: exit 0 good, 125 skip, 1-127 bad (126, 127: cannot start), >= 128 abort");
  CLI::App* status = app->add_subcommand("status", "The bisection in progress (or the last one) and its result");
  status->add_option("--db", f->req.db_path, "Store");
  CLI::App* log = app->add_subcommand("log", "Every run of the bisection");
  log->add_option("--db", f->req.db_path, "Store");
  CLI::App* reset = app->add_subcommand("reset", "End the bisection in progress and remove its worktree");
  reset->add_option("--db", f->req.db_path, "Store");
  CLI::App* sim = app->add_subcommand("simulate", "The same search on simulated repositories, next to naive bisection");
  sim->add_option("--commits", f->commits, "Commits between the ends")->check(CLI::Range(2, 1 << 22))->capture_default_str();
  sim->add_option("--p", f->p, "Failure probability at bad commits")->check(CLI::Range(0.001, 1.0))->capture_default_str();
  sim->add_option("--trials", f->trials, "Simulated bisections")->check(CLI::Range(1, 1000000))->capture_default_str();
  sim->add_option("--seed", f->seed, "Random seed")->capture_default_str();
  sim->add_option("--history", f->history, "Earlier runs at the bad end each search knows (drawn at p), as --bad-history")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  sim->add_flag("--keep-builds", f->keep_builds,
                 "Going back to a commit built before costs no build, as in bisect run --build-tree, which keeps "
                 "each build");
  AddModelOptions(sim, f.get());
  return [f, run, status, log, reset, sim, build_group]() -> int {
    if (run->parsed()) {
      for (const CLI::Option* o : run->get_options())
        if (o->get_group() == build_group && o->count() > 0) f->build_options_given = true;
      return RunBisect(*f);
    }
    if (status->parsed()) return RunStatus(*f, false);
    if (log->parsed()) return RunStatus(*f, true);
    if (reset->parsed()) return RunReset(*f);
    if (sim->parsed()) return RunSimulate(*f);
    return kExitUsage;
  };
}

}  // namespace vigil::cli
