// The patch loop's front-ends:
//   vigil watch --patchwork URL --project NAME --token-file F --repo DIR --pipeline F [--once] ...
//   vigil test-series --patchwork URL --project NAME --series ID --token-file F --repo DIR --pipeline F
//   vigil test-branch --repo DIR --base REV --head REV --pipeline F
//   vigil series [--db PATH] [--state S] [--json]

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/text.h"
#include "cli/command.h"
#include "engine/patch_loop.h"
#include "engine/pipeline_config.h"
#include "engine/verdict.h"
#include "patchwork/client.h"
#include "report/record_json.h"
#include "store/store.h"
#include "sys/cancel.h"
#include "sys/file_lock.h"
#include "sys/http.h"
#include "sys/process.h"
#include "sys/sandbox.h"
#include "store/postgres.h"

namespace vigil::cli {
namespace {

namespace fs = std::filesystem;

struct LoopFlags {
  std::string command;  // for messages
  std::string patchwork;
  std::string project;
  std::string token_file;
  std::string repo;
  std::string pipeline;
  std::string db_path = "vigil.db";
  std::string work_dir;
  std::string since;
  int interval = 120;
  bool once = false;
  bool dry_run = false;
  bool retest = false;
  int64_t series = 0;
  std::string base, head;
};

class Printer final : public engine::PatchLoopObserver {
 public:
  explicit Printer(std::string command) : command_(std::move(command)) {}
  void OnNote(const std::string& line) override { fmt::print("{}\n", SanitizeForTerminal(line)); std::fflush(stdout); }
  void OnWarning(const std::string& line) override {
    fmt::print(stderr, "vigil {}: {}\n", command_, SanitizeForTerminal(line));
  }

 private:
  std::string command_;
};

Result<std::string> ReadToken(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::InvalidArgument(fmt::format("cannot read the token file {}", path));
  std::string token;
  std::getline(f, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return Status::InvalidArgument(fmt::format("the token file {} is empty", path));
  return token;
}

std::string Source(const LoopFlags& f) {
  std::string url = f.patchwork;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + "#" + f.project;
}

int Loop(const LoopFlags& f) {
  const std::string& cmd = f.command;
  auto fail = [&](const std::string& why) {
    fmt::print(stderr, "vigil {}: {}\n", cmd, SanitizeForTerminal(why));
    return kExitUsage;
  };
  const bool branch = cmd == "test-branch";
  if (!branch && (f.patchwork.rfind("http://", 0) != 0 && f.patchwork.rfind("https://", 0) != 0)) {
    return fail(fmt::format("--patchwork must be an http:// or https:// URL, not '{}'", f.patchwork));
  }
  auto pipeline = engine::LoadPipeline(f.pipeline);
  if (!pipeline.ok()) return fail(pipeline.status().message());
  if (!fs::is_directory(fs::path(f.repo) / ".git") && !fs::exists(fs::path(f.repo) / "HEAD")) {
    return fail(fmt::format("--repo {} is not a git repository", f.repo));
  }
  std::string token;
  if (!branch && !f.dry_run) {
    auto t = ReadToken(f.token_file);
    if (!t.ok()) return fail(t.status().message());
    token = *t;
  } else if (!branch && !f.token_file.empty()) {
    if (auto t = ReadToken(f.token_file); t.ok()) token = *t;
  }
  sys::SandboxSpec probe;
  if (Status s = sys::CheckSandbox(probe); !s.ok()) {
    return fail(fmt::format("{} (series are code from strangers: their builds and tests run sandboxed)", s.message()));
  }
  auto opened = store::Store::Open(f.db_path);
  if (!opened.ok()) return fail(opened.status().message());

  sys::Cancellation cancel;
  sys::SignalCanceller signals(cancel, [&cmd](int signo, sys::Cancellation::Level level) {
    const char* name = sigabbrev_np(signo);
    fmt::print(stderr, "\nvigil {}: SIG{}: {}\n", cmd, name ? name : "?",
               level == sys::Cancellation::Level::kStop ? "stopping after the running test (a second signal kills it)"
                                                        : "killing the running tests");
  });

  engine::PatchLoopOptions o;
  o.source = branch ? "branch:" + fs::absolute(f.repo).lexically_normal().string() : Source(f);
  o.project = f.project;
  // Real paths (no symlink on the way): git writes a worktree's real path
  // in its gitdir file, and a checkout reused from series to series is
  // recognised by it.
  auto real = [](const std::string& p) {
    std::error_code ec;
    fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
    return ec ? fs::absolute(p).lexically_normal().string() : r.string();
  };
  o.repo = real(f.repo);
  std::string db_dir = fs::path(real(f.db_path)).parent_path().string();
  // Checkouts go beside the store unless the sandbox user cannot reach
  // them there (a private temporary directory): then under /var/tmp.
  std::string blocker;
  if (!f.work_dir.empty()) {
    o.work_dir = real(f.work_dir);
    if (!sys::ReachableBySandbox(o.work_dir, probe, &blocker)) {
      return fail(fmt::format("--work-dir {}: the sandbox user cannot reach it ({} is not searchable by it); "
                              "choose a directory it can reach",
                              o.work_dir, blocker));
    }
  } else if (sys::ReachableBySandbox(db_dir, probe, &blocker)) {
    o.work_dir = db_dir + "/vigil-series";
  } else {
    o.work_dir = fmt::format("/var/tmp/vigil-series-{:016x}", Fnv1a(fs::absolute(f.db_path).string()));
  }
  o.db_path = fs::absolute(f.db_path).string();
  o.token_file = f.token_file.empty() ? "" : fs::absolute(f.token_file).string();
  o.since = f.since;
  o.dry_run = f.dry_run;
  o.retest = f.retest;
  o.base_env = sys::CurrentEnvironment();
  o.cancel = &cancel;

  std::unique_ptr<sys::HttpTransport> http = sys::NewCurlTransport();
  patchwork::Client::Options po;
  po.base_url = f.patchwork;
  while (!po.base_url.empty() && po.base_url.back() == '/') po.base_url.pop_back();
  po.token = token;
  po.log = [&cmd](const std::string& line) { fmt::print(stderr, "vigil {}: {}\n", cmd, SanitizeForTerminal(line)); };
  patchwork::Client pw(*http, po);

  Printer printer(cmd);
  engine::PatchLoop loop(**opened, SystemClock::Get(), *pipeline, branch ? nullptr : &pw, o, printer);

  // One loop at a time on a store and on a work directory: two would test
  // the same series and post its checks twice, or share a checkout.
  std::vector<std::unique_ptr<sys::FileLock>> locks;
  auto lock = [&]() -> Status {
    std::error_code ec;
    fs::create_directories(o.work_dir, ec);
    for (const std::string& path : {o.db_path + ".loop-lock", o.work_dir + "/.vigil-loop.lock"}) {
      auto l = sys::FileLock::TryAcquire(path);
      if (!l.ok()) {
        return Status::InvalidArgument(fmt::format(
            "{}: another vigil watch, test-series or test-branch works with this store or work directory; one at a "
            "time",
            l.status().message()));
      }
      locks.push_back(std::move(*l));
    }
    return Status::OK();
  };
  auto report = [&](const std::vector<engine::SeriesOutcome>& done) {
    for (const auto& s : done) {
      fmt::print("series {}: {}: {}\n", s.id, s.state, SanitizeForTerminal(s.conclusion));
    }
  };
  if (cmd == "test-series" || branch) {
    auto id = branch ? loop.QueueBranch(f.base, f.head) : loop.QueueSeries(f.series);
    if (!id.ok()) return fail(id.status().message());
    fmt::print("queued as series {}\n", *id);
    if (Status l = lock(); !l.ok()) {
      return fail(l.message() + (branch ? "" : " (the series stays queued: the running vigil watch of this project "
                                               "tests it on its next round)"));
    }
    auto done = loop.Work();
    if (!done.ok()) return fail(done.status().message());
    report(*done);
    if (cancel.stopping()) return cancel.ExitCode();
    for (const auto& s : *done) {
      if (s.id == *id) return s.state == "error" || s.conclusion.rfind("fail", 0) == 0 ? 1 : 0;
    }
    fmt::print(stderr, "vigil {}: series {} was not finished; `vigil watch` (or this command again) goes on\n", cmd, *id);
    return 1;
  }

  // vigil watch
  if (Status l = lock(); !l.ok()) return fail(l.message());
  int exit_code = 0;
  while (!cancel.stopping()) {
    auto queued = loop.Poll();
    if (!queued.ok()) {
      if (queued.status().code() == Status::Code::kInvalidArgument) return fail(queued.status().message());
      fmt::print(stderr, "vigil watch: {} (nothing is lost: the next poll starts from the same cursor)\n",
                 SanitizeForTerminal(queued.status().message()));
      exit_code = 1;
    }
    auto done = loop.Work();
    if (!done.ok()) {
      if (done.status().code() == Status::Code::kInvalidArgument) {
        return fail(done.status().message() + " (the series stay queued)");
      }
      fmt::print(stderr, "vigil watch: {}\n", SanitizeForTerminal(done.status().message()));
      exit_code = 1;
    } else {
      report(*done);
    }
    if (f.once) break;
    for (int i = 0; i < f.interval * 10 && !cancel.stopping(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (cancel.stopping()) return cancel.ExitCode();
  return exit_code;
}

void AddCommon(CLI::App* app, LoopFlags* f, bool patchwork) {
  if (patchwork) {
    app->add_option("--patchwork", f->patchwork, "Patchwork's base URL (https://patchwork.kernel.org)")->required();
    app->add_option("--project", f->project, "The Patchwork project's link name (netdevbpf, mptcp, ...)")->required();
    app->add_option("--token-file", f->token_file,
                    "A file holding the Patchwork API token (a maintainer's, to post checks); never printed, stored "
                    "or shown to the sandbox");
  }
  app->add_option("--repo", f->repo, "The git repository series are applied in (each in a worktree of its own)")
      ->required();
  app->add_option("--pipeline", f->pipeline, "The pipeline file (TOML): trees, what is run, checks, e-mail")->required();
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI (series, checks and runs)")->capture_default_str();
  app->add_option("--work-dir", f->work_dir, "Where checkouts, mboxes and .eml files go; the sandbox user must be able to reach it (default: vigil-series/ beside the db, or /var/tmp/vigil-series-HASH when the db's directory is private)");
}

}  // namespace

Runner SetupWatchCommand(CLI::App* app) {
  auto f = std::make_shared<LoopFlags>();
  f->command = "watch";
  app->description(
      "Poll Patchwork for completed series; apply each to its tree (the subject's tag, else the first tree it "
      "applies to), test it sandboxed against the tree's base, post a check on every patch and reply in the "
      "series' thread. Restartable at any point: no series lost, no check or e-mail sent twice.\n"
      "Exit: 0 done, 1 Patchwork unreachable or a series left for later (--once), 2 usage or a permanent "
      "Patchwork error (bad token, no permission).");
  AddCommon(app, f.get(), true);
  app->add_option("--interval", f->interval, "Seconds between polls")->check(CLI::Range(1, 86400))->capture_default_str();
  app->add_flag("--once", f->once, "Handle what is new, then exit (cron, tests)");
  app->add_option("--since", f->since,
                  "Where the first poll on this store starts: an ISO 8601 date (UTC), `all` (every series "
                  "completed on Patchwork: each is tested and its submitter e-mailed) or `now` (the default). "
                  "Later polls start at the stored cursor")
      ->check([](const std::string& s) -> std::string {
        bool date = s.size() >= 10 && std::isdigit(static_cast<unsigned char>(s[0])) && s[4] == '-' && s[7] == '-';
        return s == "all" || s == "now" || date ? "" : "expected an ISO 8601 date (2026-12-01T00:00:00), all or now";
      });
  app->add_flag("--dry-run", f->dry_run, "Write the e-mails as .eml files under --work-dir/mail; post no checks");
  app->add_flag("--retest", f->retest, "Test a series completed again (by default a series is tested once)");
  return [f] { return Loop(*f); };
}

Runner SetupTestSeriesCommand(CLI::App* app) {
  auto f = std::make_shared<LoopFlags>();
  f->command = "test-series";
  app->description("Test one Patchwork series by hand (as if it had just completed), with the watch pipeline. "
                   "Exit: 0 success or warning, 1 fail, 2 usage.");
  AddCommon(app, f.get(), true);
  app->add_option("--series", f->series, "Patchwork's series id")->required()->check(CLI::PositiveNumber);
  app->add_flag("--dry-run", f->dry_run, "Write the e-mail as an .eml file; post no checks");
  return [f] { return Loop(*f); };
}

Runner SetupTestBranchCommand(CLI::App* app) {
  auto f = std::make_shared<LoopFlags>();
  f->command = "test-branch";
  app->description("Test a git range with a pipeline: HEAD's tests judged against BASE's (run once per base and "
                   "pipeline, stored). Exit: 0 success or warning, 1 fail, 2 usage.");
  AddCommon(app, f.get(), false);
  app->add_option("--base", f->base, "The base revision (what the branch is compared with)")->required();
  app->add_option("--head", f->head, "The revision tested")->required();
  return [f] { return Loop(*f); };
}

namespace {

struct SeriesFlags {
  std::string db_path = "vigil.db";
  std::vector<std::string> states;
  int limit = 50;
  bool json = false;
};

int ListSeries(const SeriesFlags& f) {
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil series: {}\n", SanitizeForTerminal(db.status().message()));
    return kExitUsage;
  }
  store::SeriesQuery q;
  q.states = f.states;
  q.limit = f.limit;
  auto list = (*db)->ListSeries(q);
  if (!list.ok()) {
    fmt::print(stderr, "vigil series: {}\n", SanitizeForTerminal(list.status().message()));
    return kExitUsage;
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : *list) {
    auto checks = (*db)->LoadSeriesChecks(s.id);
    int posted = 0, total = 0;
    std::vector<model::SeriesCheckRecord> none;
    if (checks.ok()) {
      for (const auto& c : *checks) {
        ++total;
        posted += c.status == "posted";
      }
    }
    auto mail = (*db)->LoadSeriesMail(s.id);
    if (f.json) {
      std::optional<model::SeriesMailRecord> m;
      if (mail.ok()) m = *mail;
      out.push_back(report::SeriesJson(s, checks.ok() ? &checks.value() : &none, &m));
      continue;
    }
    fmt::print("{:>5}  {:<9}  {}  {}{}\n", s.id, s.state,
               s.series_id ? fmt::format("pw {}", s.series_id) : std::string("branch"),
               SanitizeLine(s.name).substr(0, 60), s.round > 1 ? fmt::format(" (round {})", s.round) : "");
    if (!s.tree.empty() || !s.conclusion.empty()) {
      fmt::print("       {}{}\n", s.tree.empty() ? "" : "on " + SanitizeLine(s.tree) + ": ", SanitizeLine(s.conclusion));
    }
    if (total) fmt::print("       checks: {}/{} posted{}\n", posted, total, mail.ok() ? ", e-mail " + mail->status : "");
  }
  if (f.json) fmt::print("{}\n", DumpJson(nlohmann::json{{"format_version", 1}, {"series", out}}, 2));
  else if (list->empty()) fmt::print("no series in {}\n", SanitizeForTerminal(store::ShownPath(f.db_path)));
  return 0;
}

}  // namespace

Runner SetupSeriesCommand(CLI::App* app) {
  auto f = std::make_shared<SeriesFlags>();
  app->description("The series the store knows (vigil watch, test-series, test-branch), newest first, with their "
                   "state, conclusion, checks and e-mail.");
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI")->capture_default_str();
  app->add_option("--state", f->states, "Only these states (queued, testing, reporting, done, error)");
  app->add_option("--limit", f->limit, "At most N series")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_flag("--json", f->json, "JSON: {format_version, series: [{id, state, conclusion, checks, email, ...}]}");
  return [f] { return ListSeries(*f); };
}

}  // namespace vigil::cli
