// vigil bisect run|status|log|reset|simulate: flake-aware bisection.
#include <fnmatch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/text.h"
#include "bisect/search.h"
#include "cli/command.h"
#include "judge/outcome.h"
#include "sys/process.h"
#include "store/store.h"

namespace vigil::cli {
namespace {

struct BisectFlags {
  std::string good, bad;
  bool fix = false;
  double confidence = 0.95;
  int max_runs = 500;
  int runs_per_build = 1;
  double build_cost = -1;  // -1: 4 with --build, else 0
  std::string build;
  std::vector<std::string> command;
  std::string vigil_test, tests_dir, kernel, crash_title;
  std::string db_path;
  bool json = false;
  double prior_a = 1, prior_b = 3, epsilon = 0, deterministic = 0.1;
  bool first_parent = false;  // no descent into merges
  std::string bad_history;  // "F/N": F failures in N earlier runs at the bad end
  int known_runs = 0, known_failures = 0;
  // simulate
  int history = 0;
  int commits = 1024, trials = 200;
  double p = 0.25;
  uint64_t seed = 1;
};



// Runs a git command in `repo`; its output, or an error with git's words.
Result<std::string> Git(const std::string& repo, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", repo};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = sys::CommandOutput(argv);
  if (!out.ok()) return Status::InvalidArgument(out.status().message());
  std::string s = std::move(out.value());
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

struct Repo {
  std::string top;
  std::vector<std::string> commits;  // model positions 0..n
  std::vector<std::string> subjects;
};

using Commits = std::vector<std::pair<std::string, std::string>>;  // hash, subject

std::string Subject(const std::string& top, const std::string& hash) {
  auto s = Git(top, {"log", "-1", "--format=%s", hash});
  return s.ok() ? s.value() : std::string();
}

// The first-parent line from `new_end` back to (without) what `old_end`
// reaches, oldest first.
Result<Commits> FirstParentLine(const std::string& top, const std::string& old_end, const std::string& new_end) {
  auto list = Git(top, {"rev-list", "--first-parent", "--reverse", "--format=%H %s", "--no-commit-header",
                        old_end + ".." + new_end});
  if (!list.ok()) return list.status();
  Commits line;
  std::string text = list.value();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string l = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (l.size() < 40) continue;
    line.emplace_back(l.substr(0, 40), l.size() > 41 ? l.substr(41) : "");
  }
  return line;
}

// Commits oldest first as model positions: 0 the unaffected end, n the
// affected one (with --fix the newest, fixed commit is position 0).
Repo Positions(const std::string& top, Commits oldest_first, bool fix) {
  Repo r;
  r.top = top;
  if (fix) std::reverse(oldest_first.begin(), oldest_first.end());
  for (auto& [h, s] : oldest_first) {
    r.commits.push_back(std::move(h));
    r.subjects.push_back(std::move(s));
  }
  return r;
}

// The commits between the ends on the first-parent line, as model positions.
Result<Repo> LoadRepo(const std::string& good_spec, const std::string& bad_spec, bool fix) {
  auto top = Git(".", {"rev-parse", "--show-toplevel"});
  if (!top.ok()) return Status::InvalidArgument("not in a git repository: " + top.status().message());
  auto good = Git(top.value(), {"rev-parse", "--verify", "--quiet", good_spec + "^{commit}"});
  if (!good.ok()) return Status::InvalidArgument(fmt::format("--good {}: not a commit", good_spec));
  auto bad = Git(top.value(), {"rev-parse", "--verify", "--quiet", bad_spec + "^{commit}"});
  if (!bad.ok()) return Status::InvalidArgument(fmt::format("--bad {}: not a commit", bad_spec));
  // The older end must be an ancestor of the newer: good..bad, or with --fix bad..good.
  std::string old_end = fix ? bad.value() : good.value();
  std::string new_end = fix ? good.value() : bad.value();
  if (!Git(top.value(), {"merge-base", "--is-ancestor", old_end, new_end}).ok()) {
    return Status::InvalidArgument(fix ? "--bad must be an ancestor of --good with --fix (older = bad)"
                                       : "--good must be an ancestor of --bad");
  }
  auto line = FirstParentLine(top.value(), old_end, new_end);
  if (!line.ok()) return line.status();
  if (line->empty()) return Status::InvalidArgument("no commits between the ends");
  Commits all = {{old_end, Subject(top.value(), old_end)}};
  all.insert(all.end(), line->begin(), line->end());
  return Positions(top.value(), std::move(all), fix);
}

// When `merge` has exactly two parents: the commits it brought in (the
// first-parent line of its second parent down to what its first parent
// reaches), between that line's own parent (unaffected, as an ancestor of
// the merge's first parent) and the merge itself (affected), as positions.
// The merge stays a candidate: "none of them alone, the merge" is position n.
std::optional<Repo> MergedLine(const std::string& top, const std::string& merge, bool fix) {
  auto parents = Git(top, {"rev-list", "--parents", "-n", "1", merge});
  if (!parents.ok()) return std::nullopt;
  std::vector<std::string> p;
  for (size_t pos = 0; pos < parents->size();) {
    size_t sp = parents->find(' ', pos);
    p.push_back(parents->substr(pos, sp == std::string::npos ? std::string::npos : sp - pos));
    pos = sp == std::string::npos ? parents->size() : sp + 1;
  }
  if (p.size() != 3) return std::nullopt;  // not a merge, or an octopus
  auto line = FirstParentLine(top, p[1], p[2]);
  if (!line.ok() || line->empty()) return std::nullopt;
  auto base = Git(top, {"rev-parse", "--verify", "--quiet", line->front().first + "^1"});
  if (!base.ok()) return std::nullopt;  // the merged line starts at a root commit
  Commits all = {{base.value(), Subject(top, base.value())}};
  all.insert(all.end(), line->begin(), line->end());
  all.emplace_back(merge, Subject(top, merge));
  return Positions(top, std::move(all), fix);
}

bisect::SearchOptions OptionsOf(const BisectFlags& f) {
  bisect::SearchOptions so;
  so.confidence = f.confidence;
  so.max_runs = f.max_runs;
  so.runs_per_build = f.runs_per_build;
  so.build_cost = f.build_cost >= 0 ? f.build_cost : (f.build.empty() ? 0.0 : 4.0);
  so.model.prior_a = f.prior_a;
  so.model.prior_b = f.prior_b;
  so.model.epsilon = f.epsilon;
  so.model.deterministic_prior = f.deterministic;
  so.known_runs = f.known_runs;
  so.known_failures = f.known_failures;
  return so;
}

std::string DbPath(const BisectFlags& f, const std::string& top) {
  if (!f.db_path.empty()) return f.db_path;
  auto common = Git(top, {"rev-parse", "--git-common-dir"});
  std::string dir = common.ok() ? common.value() : ".git";
  if (!dir.empty() && dir[0] != '/') dir = top + "/" + dir;
  return dir + "/vigil-bisect.db";
}

// The result of a finished (or stopped) search, for people and as JSON.
nlohmann::json Conclude(const bisect::Search& s, const Repo& repo, bool fix, const nlohmann::json& opts) {
  const bisect::Model& m = s.model();
  bisect::Group g = m.Best();
  int n = m.n();
  nlohmann::json j = {{"format_version", 1},
                      {"stop", bisect::StopName(s.stop())},
                      {"posterior", g.mass},
                      {"runs", s.runs()},
                      {"builds", s.builds()},
                      {"fix", fix}};
  std::string hypothesis = "culprit";
  if (g.first == 0 && g.last == 0) hypothesis = fix ? "good_end_still_fails" : "good_end_is_bad";
  if (g.first == n + 1) hypothesis = "not_reproducible";
  j["hypothesis"] = hypothesis;
  if (hypothesis == "culprit") {
    // Normal: the first affected commit. --fix: the first commit without the
    // failure, one position before the first affected (newest failing) one.
    int first = std::max(1, g.first), last = std::min(n, g.last);
    int named_first = fix ? first - 1 : first, named_last = fix ? last - 1 : last;
    nlohmann::json range = nlohmann::json::array();
    for (int i = std::min(named_first, named_last); i <= std::max(named_first, named_last); ++i) {
      range.push_back({{"hash", repo.commits[i]}, {"subject", repo.subjects[i]}});
    }
    j["culprit"] = named_first == named_last ? range[0] : nlohmann::json(nullptr);
    j["range"] = range;
    // Evidence: the commit and the one on the other side of the change.
    int at = named_first, other = fix ? named_first + 1 : named_first - 1;
    auto ev = [&](int i) {
      return nlohmann::json{{"hash", repo.commits[i]}, {"runs", m.runs(i)}, {"failures", m.failures(i)},
                            {"skipped", m.skipped(i)}};
    };
    j["evidence"] = {{"culprit", ev(at)}, {fix ? "child" : "parent", ev(other)}};
    std::string cmd = "git checkout " + repo.commits[at].substr(0, 12);
    if (opts.contains("build") && !opts["build"].get<std::string>().empty()) cmd += " && " + opts["build"].get<std::string>();
    std::string test;
    for (const auto& a : opts["command"]) test += (test.empty() ? "" : " ") + ShellQuote(a.get<std::string>());
    j["reproduce"] = cmd + " && " + test;
  } else {
    j["culprit"] = nullptr;
  }
  j["p_estimate"] = m.PHat(std::clamp(g.first, 0, n + 1));
  return j;
}

void PrintConclusion(const nlohmann::json& j) {
  std::string h = j["hypothesis"];
  fmt::print("stopped: {} after {} run(s), {} build(s)\n", j["stop"].get<std::string>(), j["runs"].get<int>(),
             j["builds"].get<int>());
  if (h == "culprit") {
    const auto& range = j["range"];
    if (range.size() == 1) {
      fmt::print("{} commit: {} {}\n", j["fix"].get<bool>() ? "first fixed" : "first bad",
                 range[0]["hash"].get<std::string>(), range[0]["subject"].get<std::string>());
    } else {
      fmt::print("the {} is one of {} commits (untestable neighbours cannot be told apart):\n",
                 j["fix"].get<bool>() ? "fix" : "culprit", range.size());
      for (const auto& c : range) fmt::print("  {} {}\n", c["hash"].get<std::string>(), c["subject"].get<std::string>());
    }
    if (j.contains("merges")) {
      for (const auto& m : j["merges"]) {
        std::string h = m["hash"];
        fmt::print("{} merge {} {} (posterior {:.3f} on its line)\n",
                   range.size() == 1 && range[0]["hash"] == h ? "  it is the merge's own change: none of the commits "
                                                                "it merged fails alone;"
                                                              : "  found inside",
                   h.substr(0, 12), m["subject"].get<std::string>(), m["posterior"].get<double>());
      }
    }
    fmt::print("posterior {:.3f}, failure rate where it fails ~{:.2f}\n", j["posterior"].get<double>(),
               j["p_estimate"].get<double>());
    for (const auto& [k, e] : j["evidence"].items()) {
      fmt::print("  evidence at the {}: {} {} run(s), {} failure(s){}\n", k, e["hash"].get<std::string>().substr(0, 12),
                 e["runs"].get<int>(), e["failures"].get<int>(), e["skipped"].get<bool>() ? " (skipped)" : "");
    }
    fmt::print("reproduce: {}\n", j["reproduce"].get<std::string>());
  } else if (h == "not_reproducible") {
    fmt::print("not reproducible at the bad end: the failure did not show there (posterior {:.3f})\n",
               j["posterior"].get<double>());
  } else {
    fmt::print("the good end shows the failure too: it is not good (posterior {:.3f})\n", j["posterior"].get<double>());
  }
}

struct Probe {
  bisect::Outcome outcome;
  std::optional<int> exit_code;
  int64_t duration_ms = 0;
  bool abort = false;
  std::string message;
};

// One run of the test command (or the vigil test) in the worktree.
Probe RunTest(const BisectFlags& f, const std::string& wt, const std::string& hash) {
  Probe p;
  sys::ProcessOptions o;
  o.cwd = wt;
  o.env = sys::CurrentEnvironment();
  o.env.push_back("VIGIL_BISECT_COMMIT=" + hash);
  std::string json_path;
  auto [test, sub] = judge::SplitTestPath(f.vigil_test);
  if (!f.vigil_test.empty()) {
    std::string vigil = sys::SelfExe();
    json_path = wt + "/.vigil-bisect-run.json";
    o.argv = {vigil, "run", "--tests", f.tests_dir.empty() ? wt : (f.tests_dir[0] == '/' ? f.tests_dir : wt + "/" + f.tests_dir),
              "-t", test, "--db", wt + "/.vigil-bisect-run.db", "--json", json_path, "--color", "never"};
    if (!f.kernel.empty()) {
      o.argv.push_back("--kernel");
      o.argv.push_back(f.kernel[0] == '/' ? f.kernel : wt + "/" + f.kernel);
    }
  } else {
    o.argv = f.command;
  }
  auto r = sys::RunProcess(o);
  if (!r.ok()) {
    p.abort = true;
    p.message = r.status().message();
    return p;
  }
  p.duration_ms = r->duration_ms;
  if (!r->status.exited()) {
    p.abort = true;
    p.message = fmt::format("the test was killed by {}", r->status.ToString());
    return p;
  }
  int code = r->status.exit_code();
  p.exit_code = code;
  if (f.vigil_test.empty()) {
    // git bisect run's convention.
    if (code == 0) p.outcome = bisect::Outcome::kPass;
    else if (code == 125) p.outcome = bisect::Outcome::kSkip;
    else if (code < 128) p.outcome = bisect::Outcome::kFail;
    else {
      p.abort = true;
      p.message = fmt::format("the test exited {} (>= 128: abort)", code);
    }
    return p;
  }
  // A vigil test: only the named test or subtest (and the crash title) counts.
  nlohmann::json j = nlohmann::json::parse(std::ifstream(json_path), nullptr, false);
  std::filesystem::remove(json_path);
  if (!j.is_object() || !j.contains("tests")) {
    p.outcome = bisect::Outcome::kSkip;  // vigil could not run it here: untestable
    return p;
  }
  bool failed = false, found = false;
  for (const auto& t : j["tests"]) {
    if (t.value("path", "") != test) continue;
    found = true;
    if (!f.crash_title.empty()) {
      for (const auto& c : t["crashes"]) {
        failed |= fnmatch(f.crash_title.c_str(), c.value("title", "").c_str(), 0) == 0;
      }
    } else if (sub.empty()) {
      failed = judge::IsFailureName(t.value("status", ""));
    } else {
      for (const auto& s : t["subtests"]) {
        if (s.value("name", "") == sub) failed |= judge::IsFailureName(s.value("status", ""));
      }
    }
  }
  p.outcome = !found ? bisect::Outcome::kSkip : failed ? bisect::Outcome::kFail : bisect::Outcome::kPass;
  return p;
}

// "F/N" -> F failures in N runs.
bool ParseHistory(const std::string& s, int* failures, int* runs) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) return false;
  try {
    size_t a = 0, b = 0;
    *failures = std::stoi(s.substr(0, slash), &a);
    *runs = std::stoi(s.substr(slash + 1), &b);
    if (a != slash || b != s.size() - slash - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  return *runs > 0 && *runs <= 100000 && *failures >= 0 && *failures <= *runs;
}

int RunBisect(BisectFlags f) {
  if (f.good.empty() || f.bad.empty()) {
    fmt::print(stderr, "vigil bisect run: --good and --bad are needed\n");
    return kExitUsage;
  }
  if (f.command.empty() == f.vigil_test.empty()) {
    fmt::print(stderr, "vigil bisect run: give a test command after -- or --vigil-test PATH (one of them)\n");
    return kExitUsage;
  }
  if (!f.bad_history.empty() && !ParseHistory(f.bad_history, &f.known_failures, &f.known_runs)) {
    fmt::print(stderr, "vigil bisect run: --bad-history wants F/N (F failures in N runs, 0 <= F <= N, N >= 1), not '{}'\n",
               f.bad_history);
    return kExitUsage;
  }
  auto repo = LoadRepo(f.good, f.bad, f.fix);
  if (!repo.ok()) {
    fmt::print(stderr, "vigil bisect run: {}\n", repo.status().message());
    return kExitUsage;
  }
  std::string db_path = DbPath(f, repo->top);
  auto db = store::Store::Open(db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil bisect run: {}: {}\n", db_path, db.status().message());
    return kExitUsage;
  }
  nlohmann::json opts = {{"command", f.command}, {"build", f.build}, {"fix", f.fix},
                         {"vigil_test", f.vigil_test}, {"tests", f.tests_dir}, {"kernel", f.kernel},
                         {"crash_title", f.crash_title}, {"confidence", f.confidence}, {"max_runs", f.max_runs},
                         {"runs_per_build", f.runs_per_build}, {"build_cost", f.build_cost},
                         {"prior", {f.prior_a, f.prior_b}}, {"epsilon", f.epsilon},
                         {"deterministic_prior", f.deterministic}};
  // Absent when not given: bisections started before these options resume.
  if (!f.bad_history.empty()) opts["bad_history"] = f.bad_history;
  if (f.first_parent) opts["first_parent"] = true;
  const std::string good = repo->commits.front(), bad = repo->commits.back();
  int64_t id = 0;
  std::vector<model::BisectRunRecord> done;
  if (auto active = (*db)->ActiveBisection(repo->top); active.ok()) {
    nlohmann::json was = nlohmann::json::parse(active->options_json, nullptr, false);
    bool same = active->good == good && active->bad == bad && was == opts;
    if (!same) {
      fmt::print(stderr,
                 "vigil bisect run: bisection {} of this repository is in progress with other ends or options "
                 "(vigil bisect status; vigil bisect reset ends it)\n",
                 active->id);
      return kExitUsage;
    }
    id = active->id;
    auto runs = (*db)->LoadBisectRuns(id);
    if (!runs.ok()) {
      fmt::print(stderr, "vigil bisect run: {}\n", runs.status().message());
      return kExitUsage;
    }
    done = std::move(runs.value());
    fmt::print(f.json ? stderr : stdout, "resuming bisection {} ({} run(s) recorded)\n", id, done.size());
  } else {
    model::BisectionRecord b;
    b.repo = repo->top;
    // The ends as the user named them: position 0 is always --good.
    b.good = good;
    b.bad = bad;
    b.options_json = opts.dump();
    b.status = "running";
    b.started_at = UtcNow();
    auto created = (*db)->CreateBisection(b);
    if (!created.ok()) {
      fmt::print(stderr, "vigil bisect run: {}\n", created.status().message());
      return kExitUsage;
    }
    id = created.value();
  }
  // The user's checkout is left alone: probes run in a worktree of their own.
  std::string wt = std::filesystem::path(db_path).parent_path().string() + fmt::format("/vigil-bisect-wt-{}", id);
  if (!std::filesystem::exists(wt)) {
    auto added = Git(repo->top, {"worktree", "add", "--detach", "--quiet", wt, repo->commits.back()});
    if (!added.ok()) {
      fmt::print(stderr, "vigil bisect run: cannot make a worktree: {}\n", added.status().message());
      return kExitUsage;
    }
  }
  std::FILE* say = f.json ? stderr : stdout;
  {
    int n = static_cast<int>(repo->commits.size()) - 1;
    fmt::print(say, "bisection {}: {} commit(s) on the first-parent line, {} end {}, {} end {}\n", id, n,
               f.fix ? "failing (older)" : "good", (f.fix ? repo->commits.back() : repo->commits.front()).substr(0, 12),
               f.fix ? "fixed (newer)" : "bad", (f.fix ? repo->commits.front() : repo->commits.back()).substr(0, 12));
  }
  // Stage after stage: the first-parent line, then, while the culprit is a
  // merge (and not --first-parent), the commits that merge brought in.
  // Records replay in order: a stage takes them until it is confident.
  Repo line = std::move(repo.value());
  bisect::SearchOptions so = OptionsOf(f);
  size_t replayed = 0;
  int total_runs = 0, total_builds = 0;
  nlohmann::json merges = nlohmann::json::array();
  nlohmann::json result;
  bool confident = false;
  for (int stage = 0;; ++stage) {
    int n = static_cast<int>(line.commits.size()) - 1;
    so.max_runs = std::max(0, f.max_runs - total_runs);
    bisect::Search search(n, so);
    for (; replayed < done.size() && !search.Confident(); ++replayed) {
      const auto& r = done[replayed];
      if (r.position < 0 || r.position > n || line.commits[r.position] != r.commit) continue;
      search.Record(r.position, r.outcome == "fail"   ? bisect::Outcome::kFail
                                : r.outcome == "skip" ? bisect::Outcome::kSkip
                                                      : bisect::Outcome::kPass);
    }
    int checked_out = -1;
    for (int j = search.Next(); j >= 0; j = search.Next()) {
      const std::string& hash = line.commits[j];
      if (j != checked_out) {
        auto co = Git(wt, {"checkout", "--quiet", "--force", "--detach", hash});
        if (!co.ok()) {
          fmt::print(stderr, "vigil bisect run: {}\n", co.status().message());
          return kExitUsage;
        }
        checked_out = j;
        if (!f.build.empty()) {
          sys::ProcessOptions bo;
          bo.argv = {"/bin/sh", "-c", f.build};
          bo.cwd = wt;
          bo.env = sys::CurrentEnvironment();
          auto br = sys::RunProcess(bo);
          if (!br.ok() || !br->status.exited() || br->status.exit_code() != 0) {
            fmt::print(say, "  {} build failed: untestable (skipped)\n", hash.substr(0, 12));
            search.Record(j, bisect::Outcome::kSkip);
            (void)(*db)->RecordBisectRun(id, {j, hash, "skip", std::nullopt, 0, UtcNow()});
            continue;
          }
        }
      }
      Probe probe = RunTest(f, wt, hash);
      if (probe.abort) {
        fmt::print(stderr, "vigil bisect run: aborted at {}: {} (the runs so far are kept; run again to resume)\n",
                   hash.substr(0, 12), probe.message);
        return kExitUsage;
      }
      bisect::Outcome outcome = probe.outcome;
      const char* name = outcome == bisect::Outcome::kFail ? "fail" : outcome == bisect::Outcome::kSkip ? "skip" : "pass";
      Status st = (*db)->RecordBisectRun(id, {j, hash, name, probe.exit_code, probe.duration_ms, UtcNow()});
      if (!st.ok()) {
        fmt::print(stderr, "vigil bisect run: cannot record a run: {}\n", st.message());
        return kExitUsage;
      }
      search.Record(j, outcome);
      ++replayed;  // recorded: a later invocation replays it
      bisect::Group g = search.model().Best();
      if (!f.json) {
        fmt::print("  run {:>3}: {} {:<4} (best: {} at {:.3f})\n", total_runs + search.runs(), hash.substr(0, 12), name,
                   g.first >= 1 && g.first <= n ? line.commits[f.fix ? g.first - 1 : g.first].substr(0, 12)
                                                : std::string(g.first == 0 ? "the good end" : "not reproducible"),
                   g.mass);
      }
    }
    total_runs += search.runs();
    total_builds += search.builds();
    result = Conclude(search, line, f.fix, opts);
    confident = search.stop() == bisect::Stop::kConfident;
    if (!confident || f.first_parent || stage >= 16 || result["culprit"].is_null()) break;
    // A merge named on this line: descend into what it merged, unless it is
    // the merge this line came from (its own changes are the culprit then).
    std::string merge = result["culprit"]["hash"];
    bool again = false;
    for (const auto& m : merges) again |= m["hash"] == merge;
    if (again) break;
    std::optional<Repo> merged = MergedLine(line.top, merge, f.fix);
    if (!merged) break;
    // What this stage saw on the failing side is evidence about p in the
    // next: every such commit contains the merge's changes.
    bisect::Group g = search.model().Best();
    so.known_runs = so.known_failures = 0;
    for (int i = g.first; i <= n; ++i) {
      so.known_runs += search.model().runs(i);
      so.known_failures += search.model().failures(i);
    }
    merges.push_back({{"hash", merge}, {"subject", result["culprit"]["subject"]}, {"posterior", result["posterior"]},
                      {"commits", static_cast<int>(merged->commits.size()) - 2}});
    fmt::print(say, "the {} on this line is merge {} {} ({:.3f}); bisecting the {} commit(s) it merged\n",
               f.fix ? "fix" : "culprit", merge.substr(0, 12), result["culprit"]["subject"].get<std::string>(),
               result["posterior"].get<double>(), merged->commits.size() - 2);
    line = std::move(*merged);
  }
  result["runs"] = total_runs;
  result["builds"] = total_builds;
  result["merges"] = merges;
  result["bisection"] = id;
  (void)(*db)->FinishBisection(id, "done", result.dump(), UtcNow());
  if (auto removed = Git(line.top, {"worktree", "remove", "--force", wt}); !removed.ok())
    fmt::print(stderr, "vigil bisect: the worktree {} stays: {}\n", wt, removed.status().message());
  if (f.json) {
    fmt::print("{}\n", result.dump());
  } else {
    PrintConclusion(result);
  }
  return confident ? 0 : 1;
}

// The store of the repository here; null (with a message printed) when
// there is no repository or no store yet; *code is the exit status then.
std::unique_ptr<store::Store> OpenBisectStore(const BisectFlags& f, std::string* top, int* code) {
  auto t = Git(".", {"rev-parse", "--show-toplevel"});
  if (!t.ok()) {
    fmt::print(stderr, "vigil bisect: not in a git repository\n");
    *code = kExitUsage;
    return nullptr;
  }
  *top = t.value();
  std::string db_path = DbPath(f, *top);
  if (!std::filesystem::exists(db_path)) {
    fmt::print("no bisection in this repository\n");
    *code = 1;
    return nullptr;
  }
  auto db = store::Store::Open(db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil bisect: {}\n", db.status().message());
    *code = kExitUsage;
    return nullptr;
  }
  return std::move(db.value());
}

int RunStatus(const BisectFlags& f, bool log) {
  std::string top;
  int code = 0;
  auto db = OpenBisectStore(f, &top, &code);
  if (!db) return code;
  auto b = db->LatestBisection(top);
  if (!b.ok()) {
    fmt::print("no bisection in this repository\n");
    return 1;
  }
  auto runs = db->LoadBisectRuns(b->id);
  if (!runs.ok()) return kExitUsage;
  if (log) {
    for (const auto& r : runs.value()) {
      fmt::print("{}  {}  {:<4}  exit {}  {:.1f} s\n", r.at, r.commit.substr(0, 12), r.outcome,
                 r.exit_code ? std::to_string(*r.exit_code) : "-", r.duration_ms / 1000.0);
    }
    return 0;
  }
  fmt::print("bisection {}: {} (started {}), good {} bad {}, {} run(s) recorded\n", b->id, b->status, b->started_at,
             b->good.substr(0, 12), b->bad.substr(0, 12), runs->size());
  if (!b->result_json.empty()) {
    nlohmann::json j = nlohmann::json::parse(b->result_json, nullptr, false);
    if (j.is_object()) PrintConclusion(j);
  }
  return 0;
}

int RunReset(const BisectFlags& f) {
  std::string top;
  int code = 0;
  auto db = OpenBisectStore(f, &top, &code);
  auto b = db ? db->ActiveBisection(top) : Result<model::BisectionRecord>(Status::NotFound(""));
  if (!b.ok()) {
    if (code == kExitUsage) return code;
    fmt::print("no bisection in progress\n");
    return 0;
  }
  std::string wt = std::filesystem::path(DbPath(f, top)).parent_path().string() + fmt::format("/vigil-bisect-wt-{}", b->id);
  if (std::filesystem::exists(wt)) (void)Git(top, {"worktree", "remove", "--force", wt});
  (void)db->FinishBisection(b->id, "reset", "", UtcNow());
  fmt::print("bisection {} ended; the worktree is removed, your checkout was never touched\n", b->id);
  return 0;
}

int RunSimulate(const BisectFlags& f) {
  bisect::SimOptions o;
  o.commits = f.commits;
  o.p = f.p;
  o.epsilon = f.epsilon;
  o.trials = f.trials;
  o.seed = f.seed;
  o.history = f.history;
  o.search = OptionsOf(f);
  o.search.build_cost = f.build_cost >= 0 ? f.build_cost : 0;
  bisect::SimResult r = bisect::Simulate(o);
  auto stats = [](const bisect::SimStats& s) {
    return nlohmann::json{{"accuracy", s.accuracy},   {"mean_runs", s.mean_runs}, {"p90_runs", s.p90_runs},
                          {"mean_builds", s.mean_builds}, {"p90_builds", s.p90_builds}};
  };
  if (f.json) {
    nlohmann::json j = stats(r.vigil);
    j["format_version"] = 1;
    j["commits"] = f.commits;
    j["p"] = f.p;
    j["epsilon"] = f.epsilon;
    j["trials"] = f.trials;
    j["confidence"] = f.confidence;
    j["naive"] = stats(r.naive);
    j["naive"]["repeats"] = r.naive_repeats;
    j["history"] = f.history;
    j["oracle"] = stats(r.oracle);
    j["oracle"]["ratio"] = r.oracle_ratio;
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("{} commits, p = {}, epsilon = {}, {} trials, confidence {}{}\n", f.commits, f.p, f.epsilon, f.trials,
             f.confidence, f.history ? fmt::format(", {} earlier run(s) at the bad end", f.history) : "");
  fmt::print("{:<28} {:>9} {:>10} {:>9} {:>11} {:>10}\n", "", "accuracy", "mean runs", "p90 runs", "mean builds",
             "p90 builds");
  fmt::print("{:<28} {:>8.1f}% {:>10.1f} {:>9.0f} {:>11.1f} {:>10.0f}\n", "vigil bisect", 100 * r.vigil.accuracy,
             r.vigil.mean_runs, r.vigil.p90_runs, r.vigil.mean_builds, r.vigil.p90_builds);
  fmt::print("{:<28} {:>8.1f}% {:>10.1f} {:>9.0f} {:>11.1f} {:>10.0f}\n",
             fmt::format("naive, each step {}x", r.naive_repeats), 100 * r.naive.accuracy, r.naive.mean_runs,
             r.naive.p90_runs, r.naive.mean_builds, r.naive.p90_builds);
  fmt::print("{:<28} {:>8.1f}% {:>10.1f} {:>9.0f} {:>11.1f} {:>10.0f}\n",
             fmt::format("oracle, parent:culprit {}", r.oracle_ratio), 100 * r.oracle.accuracy, r.oracle.mean_runs,
             r.oracle.p90_runs, r.oracle.mean_builds, r.oracle.p90_builds);
  fmt::print("(oracle: knows the culprit, runs only it and its parent, stops by the same rule)\n");
  return 0;
}

void AddModelOptions(CLI::App* c, BisectFlags* f) {
  c->add_option("--confidence", f->confidence, "Stop when the most likely culprit has this posterior")
      ->check(CLI::Range(0.5, 0.9999))
      ->capture_default_str();
  c->add_option("--max-runs", f->max_runs, "Stop after this many test runs")->check(CLI::Range(1, 1000000))->capture_default_str();
  c->add_option("--runs-per-build", f->runs_per_build, "Runs in a row at a commit once it is built")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  c->add_option("--build-cost", f->build_cost, "What a checkout and build costs, in test runs (default 4 with --build, else 0)");
  c->add_option("--epsilon", f->epsilon, "Failure rate of good commits (unrelated failures)")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  c->add_option("--prior-a", f->prior_a, "Beta prior on the failure rate p of bad commits: a")->capture_default_str();
  c->add_option("--prior-b", f->prior_b, "... and b (mean a/(a+b))")->capture_default_str();
  c->add_option("--deterministic-prior", f->deterministic, "Prior weight of p = 1 (a failure that always shows)")
      ->check(CLI::Range(0.0, 0.99))
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
  run->add_option("--good", f->good, "A commit without the failure (with --fix: the newer, fixed end)");
  run->add_option("--bad", f->bad, "A commit with the failure (with --fix: the older end)");
  run->add_flag("--first-parent", f->first_parent,
                "Only the first-parent line: a merge found there is the answer (default: bisect what it merged)");
  run->add_flag("--fix", f->fix, "Find the first commit where the failure is gone (older = bad, newer = good)");
  run->add_option("--build", f->build, "Shell command run in the worktree after each checkout (failure = untestable)");
  run->add_option("--vigil-test", f->vigil_test,
                  "Instead of a command: run this vigil test (COLLECTION:TEST[:SUBTEST]) and count only its failure");
  run->add_option("--tests", f->tests_dir, "With --vigil-test: the kselftest tree (relative to the worktree)");
  run->add_option("--kernel", f->kernel, "With --vigil-test: boot this kernel (relative to the worktree)");
  run->add_option("--crash-title", f->crash_title, "With --vigil-test: count only kernel reports with this title glob");
  run->add_option("--db", f->db_path, "Store (default: vigil-bisect.db in the repository's git directory)");
  run->add_option("--bad-history", f->bad_history,
                  "F/N: the test already failed F times in N runs at the bad end (e.g. vigil history); evidence from "
                  "the start, not run again");
  AddModelOptions(run, f.get());
  run->add_option("command", f->command, "-- TEST_CMD ...: exit 0 good, 125 skip, 1-127 bad, >= 128 abort");
  CLI::App* status = app->add_subcommand("status", "The bisection in progress (or the last one) and its result");
  status->add_option("--db", f->db_path, "Store");
  CLI::App* log = app->add_subcommand("log", "Every run of the bisection");
  log->add_option("--db", f->db_path, "Store");
  CLI::App* reset = app->add_subcommand("reset", "End the bisection in progress and remove its worktree");
  reset->add_option("--db", f->db_path, "Store");
  CLI::App* sim = app->add_subcommand("simulate", "The same search on simulated repositories, next to naive bisection");
  sim->add_option("--commits", f->commits, "Commits between the ends")->check(CLI::Range(2, 1 << 22))->capture_default_str();
  sim->add_option("--p", f->p, "Failure probability at bad commits")->check(CLI::Range(0.001, 1.0))->capture_default_str();
  sim->add_option("--trials", f->trials, "Simulated bisections")->check(CLI::Range(1, 1000000))->capture_default_str();
  sim->add_option("--seed", f->seed, "Random seed")->capture_default_str();
  sim->add_option("--history", f->history, "Earlier runs at the bad end each search knows (drawn at p), as --bad-history")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  AddModelOptions(sim, f.get());
  return [f, run, status, log, reset, sim]() -> int {
    if (run->parsed()) return RunBisect(*f);
    if (status->parsed()) return RunStatus(*f, false);
    if (log->parsed()) return RunStatus(*f, true);
    if (reset->parsed()) return RunReset(*f);
    if (sim->parsed()) return RunSimulate(*f);
    return kExitUsage;
  };
}

}  // namespace vigil::cli
