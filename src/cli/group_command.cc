// vigil group show ID [--db PATH] [--json]
// vigil group wait ID [--db PATH] [--timeout S] [report and verdict options]
// A run split across machines (vigil run --shard I/N --run-group ID): its
// shards' state, and waiting for its end to report and judge it whole.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/json.h"
#include "base/text.h"
#include "cli/command.h"
#include "cli/run_reports.h"
#include "cli/terminal.h"
#include "engine/run_group.h"
#include "engine/verdict.h"
#include "judge/outcome.h"
#include "judge/verdict.h"

namespace vigil::cli {
namespace {

struct GroupFlags {
  std::string group;
  std::string db_path = "vigil.db";
  bool json = false;
  double timeout_s = 0;  // 0: none
  double poll_s = 5;
  std::string baseline;
  std::string known_issues;
  ReportFiles files;
  std::string color = "auto";
};

nlohmann::json GroupJson(const engine::GroupState& g) {
  nlohmann::json shards = nlohmann::json::array();
  for (size_t i = 0; i < g.shards.size(); ++i) {
    const model::RunShardRecord& s = g.shards[i];
    shards.push_back({{"shard", s.shard},
                      {"tests", s.tests.size()},
                      {"state", engine::ShardStateName(g.states[i])},
                      {"status", SanitizeUtf8(s.status)},
                      {"host", SanitizeUtf8(s.host)},
                      {"started_at", SanitizeUtf8(s.started_at)},
                      {"finished_at", SanitizeUtf8(s.finished_at)},
                      {"environment_id", s.environment_id}});
  }
  return {{"format_version", 1},
          {"group", SanitizeUtf8(g.run.run_group)},
          {"run_id", g.run.id},
          {"status", SanitizeUtf8(g.run.status)},
          {"tests", g.run.plan.size()},
          {"shards", shards}};
}

std::string Counts(const engine::GroupState& g) {
  std::string out = fmt::format("{}/{} shards finished", g.finished, g.shards.size());
  if (g.running) out += fmt::format(", {} running", g.running);
  if (g.died) out += fmt::format(", {} died (their command run again resumes them)", g.died);
  if (g.stopped) out += fmt::format(", {} stopped (their command run again finishes them)", g.stopped);
  if (g.waiting) out += fmt::format(", {} not started", g.waiting);
  return out;
}

int Show(const GroupFlags& f) {
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil group: {}\n", db.status().message());
    return kExitUsage;
  }
  auto g = engine::LoadGroup(**db, f.group);
  if (!g.ok()) {
    fmt::print(stderr, "vigil group: {}\n", SanitizeForTerminal(g.status().message()));
    return kExitUsage;
  }
  if (f.json) {
    fmt::print("{}\n", DumpJson(GroupJson(*g)));
    return 0;
  }
  fmt::print("run group {}: run {}, {} tests, {}{}\n", SanitizeForTerminal(f.group), g->run.id, g->run.plan.size(),
             Counts(*g), g->run.status.empty() ? "" : fmt::format(": {}", SanitizeForTerminal(g->run.status)));
  for (size_t i = 0; i < g->shards.size(); ++i) {
    const model::RunShardRecord& s = g->shards[i];
    std::string status = engine::ShardShown(engine::ShardStateName(g->states[i]), s.status);
    fmt::print("  shard {}/{}  {:<21} {:>5} tests", s.shard, g->shards.size(), SanitizeForTerminal(status),
               s.tests.size());
    if (!s.host.empty()) fmt::print("  on {}", SanitizeForTerminal(s.host));
    if (!s.started_at.empty()) fmt::print("  from {}", SanitizeForTerminal(s.started_at));
    if (!s.finished_at.empty()) fmt::print(" to {}", SanitizeForTerminal(s.finished_at));
    fmt::print("\n");
  }
  return 0;
}

int Wait(const GroupFlags& f) {
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil group: {}\n", db.status().message());
    return kExitUsage;
  }
  auto start = std::chrono::steady_clock::now();
  std::string said;
  std::optional<engine::GroupEnd> end;
  int64_t run_id = 0;
  std::string tests_dir;
  while (true) {
    auto g = engine::LoadGroup(**db, f.group);
    std::string now_saying;
    if (g.ok()) {
      run_id = g->run.id;
      tests_dir = g->run.tests_dir;
      if (g->finished == static_cast<int>(g->shards.size())) {
        auto e = engine::FinishGroupRun(**db, run_id);
        if (!e.ok()) {
          fmt::print(stderr, "vigil group: {}\n", SanitizeForTerminal(e.status().message()));
          return kExitUsage;
        }
        if (e->finished) {
          end = std::move(*e);
          break;
        }
      }
      now_saying = fmt::format("run group {} (run {}): {}", SanitizeForTerminal(f.group), run_id, Counts(*g));
    } else if (g.status().code() == Status::Code::kNotFound) {
      now_saying = fmt::format("run group {}: no shard has started yet", SanitizeForTerminal(f.group));
    } else {
      fmt::print(stderr, "vigil group: {}\n", SanitizeForTerminal(g.status().message()));
      return kExitUsage;
    }
    if (now_saying != said) {
      fmt::print("{}\n", now_saying);
      std::fflush(stdout);
      said = now_saying;
    }
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (f.timeout_s > 0 && waited >= f.timeout_s) {
      fmt::print(stderr, "vigil group: run group {} did not finish in {:.0f}s\n", SanitizeForTerminal(f.group),
                 f.timeout_s);
      return 124;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(f.poll_s));
  }
  report::FinishedRun& run = end->run;
  // Judged as vigil run judges: asked for, or a known-issues.toml beside the tests.
  bool judged = !f.baseline.empty() || !f.known_issues.empty();
  std::error_code ec;
  if (f.known_issues.empty() && !std::filesystem::is_directory(tests_dir, ec)) {
    fmt::print(stderr,
               "vigil group: the run's test tree {} is not here: no known-issues.toml is looked for (--known-issues "
               "FILE judges with one)\n",
               SanitizeForTerminal(tests_dir));
  }
  {
    auto known = engine::FindKnownIssues(f.known_issues, tests_dir);
    if (!known.ok()) {
      fmt::print(stderr, "vigil group: {}\n", known.status().message());
      return kExitUsage;
    }
    judged |= known->has_value();
  }
  if (judged) {
    engine::VerdictRequest req;
    req.run_id = run_id;
    req.baseline = f.baseline.empty() ? "none" : f.baseline;
    req.known_issues = f.known_issues;
    auto v = engine::ComputeVerdict(**db, req);
    if (!v.ok()) {
      fmt::print(stderr, "vigil group: no verdict: {}\n", v.status().message());
      return kExitUsage;
    }
    run.verdict = std::move(*v);
  }
  if (Status st = PrintRunEnd(run, f.files, UseColor(f.color)); !st.ok()) {
    fmt::print(stderr, "vigil group: {}\n", st.message());
    return kExitUsage;
  }
  if (run.verdict) return judge::ExitCode(run.verdict->level);
  return ktap::IsFailure(judge::StatusOf(run.status)) ? 1 : 0;
}

}  // namespace

Runner SetupGroupCommand(CLI::App* app) {
  auto f = std::make_shared<GroupFlags>();
  app->description(
      "A run split across machines (vigil run --shard I/N --run-group ID): one run in the store, in N\n"
      "shards. `show` lists the shards: finished (with their status), running, stopped (interrupted, or\n"
      "--on-crash stop: the shard's command run again finishes it), died (its vigil is gone), waiting\n"
      "(not started). `wait` waits until every shard has finished, then reports the whole run as vigil\n"
      "run reports it (summary, verdict, --json/--junit/--ktap/--markdown, GitHub's job summary and\n"
      "annotations) and exits as vigil run does: what a CI job that merges the shards runs.\n"
      "Exit status: show 0; wait 0 passed, 1 failed (judged: 0 Success, 1 Unstable, 3 Critical),\n"
      "124 --timeout reached, 2 usage error or unreadable store.");
  app->require_subcommand(1);
  CLI::App* show = app->add_subcommand("show", "The group's run and the state of each shard");
  show->add_option("group", f->group, "The run group's ID (--run-group)")->required();
  show->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI")->capture_default_str();
  show->add_flag("--json", f->json, "JSON: {format_version, group, run_id, status, tests, shards: [...]}");
  CLI::App* wait = app->add_subcommand("wait", "Wait for every shard to finish, then report and judge the whole run");
  wait->add_option("group", f->group, "The run group's ID (--run-group)")->required();
  wait->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI")->capture_default_str();
  wait->add_option("--timeout", f->timeout_s, "Give up after this many seconds (exit 124); 0: wait as long as it takes")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
  wait->add_option("--poll", f->poll_s, "Seconds between looks at the store")->check(CLI::Range(0.05, 3600.0))->capture_default_str();
  wait->add_option("--baseline", f->baseline, "Judge against this run (RUN, auto), as vigil run --baseline");
  wait->add_option("--known-issues", f->known_issues, "known-issues.toml (else the one in the run's test tree)");
  wait->add_option("--json", f->files.json, "Write the results as JSON (format_version 1) to FILE");
  wait->add_option("--junit", f->files.junit, "Write JUnit XML to FILE");
  wait->add_option("--ktap", f->files.ktap, "Write the log run_kselftest.sh would print to FILE");
  wait->add_option("--markdown", f->files.markdown, "Write GitHub's job summary (Markdown) to FILE");
  wait->add_option("--color", f->color, "auto, always, never")->capture_default_str();
  return [f, show, wait]() -> int {
    if (show->parsed()) return Show(*f);
    if (wait->parsed()) return Wait(*f);
    return kExitUsage;
  };
}

}  // namespace vigil::cli
