#include "web/site.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <exception>
#include <tuple>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/text.h"
#include "engine/judgement.h"
#include "engine/kernel_build.h"
#include "engine/run_group.h"
#include "engine/verdict.h"
#include "judge/compare.h"
#include "judge/history.h"
#include "judge/outcome.h"
#include "judge/render.h"
#include "kbuild/diagnostics.h"
#include "report/judgement_report.h"
#include "report/record_json.h"
#include "web/html.h"

namespace vigil::web {

using nlohmann::json;

namespace {

// ---- Links ----------------------------------------------------------------

std::string Query(const std::map<std::string, std::string>& q) {
  std::string out;
  for (const auto& [k, v] : q) {
    if (v.empty()) continue;
    out += out.empty() ? "?" : "&";
    out += UrlEncode(k) + "=" + UrlEncode(v);
  }
  return out;
}

// ---- Time -----------------------------------------------------------------


int64_t DurationMs(const std::string& started, const std::string& finished) {
  int64_t a = ParseUtc(started), b = ParseUtc(finished);
  if (a < 0 || b < 0 || b < a) return -1;
  return b - a;
}

json EnvJson(const model::Environment& e, int64_t id) {
  if (id <= 0) return nullptr;
  return {{"id", id},         {"where", e.where},       {"accel", e.accel},     {"kernel", e.kernel_release},
          {"arch", e.arch},   {"cpus", e.cpus},         {"memory_kb", e.memory_kb},
          {"class", judge::EnvClass(e)}, {"uname", e.uname}, {"tools", e.tools}};
}

json SubtestJson(const model::SubtestRecord& s) {
  json j = {{"path", s.path}, {"status", s.status}};
  if (s.duration_ms) j["duration_ms"] = *s.duration_ms;
  return j;
}

// A report without its text when `cap` is 0.
json CrashJson(const model::CrashRecord& c, size_t cap) {
  json j = {{"type", c.type}, {"title", c.title}, {"fatal", c.fatal}, {"fingerprint", c.fingerprint},
            {"guilty", c.guilty}};
  if (!c.text.empty() && cap > 0) {
    bool cut = false;
    j["text"] = CapText(c.text, cap, &cut);
    if (cut) j["text_cut"] = true;
  }
  return j;
}

// A run's page: the output tails and report texts it shows at most.
constexpr size_t kPageOutputTails = 50;
constexpr size_t kPageCrashTexts = 50;

// The tail of an output, capped, without terminal escapes.
std::string OutputTail(const std::string& output, size_t cap, bool* cut) {
  // Only the end is stripped (an output is up to 16 MiB, the tail 16 KiB):
  // four times the cap and a line more, from a line's start so that no
  // escape sequence is cut in two.
  std::string_view raw = output;
  const size_t window = 4 * cap + 4096;
  bool cut_raw = false;
  if (raw.size() > window) {
    raw.remove_prefix(raw.size() - window);
    size_t nl = raw.find('\n');
    if (nl != std::string_view::npos && nl < 4096) raw.remove_prefix(nl + 1);
    cut_raw = true;
  }
  std::string plain = StripAnsi(raw);
  *cut = cut_raw || plain.size() > cap;
  if (plain.size() <= cap) return plain;
  size_t from = plain.size() - cap;
  while (from < plain.size() && (static_cast<unsigned char>(plain[from]) & 0xC0) == 0x80) ++from;
  return plain.substr(from);
}

// The base commit's run a series' result gives run `run` (its own, or its
// variant's); 0 when none.
int64_t SeriesBaseRun(const std::string& result_json, int64_t run) {
  for (const auto& r : model::SeriesRuns(result_json)) {
    if (r.run == run && r.role == "tested") return r.base;
  }
  return 0;
}

// SiteOptions::today, else today (UTC).
std::string Today(const std::string& today) { return today.empty() ? TodayUtc() : today; }

Result<int64_t> PositiveId(const std::string& s, const char* what) {
  if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument(fmt::format("{} must be a number", what));
  }
  int64_t v = std::stoll(s);
  if (v <= 0) return Status::InvalidArgument(fmt::format("{} must be positive", what));
  return v;
}


bool OneOf(const std::string& v, std::initializer_list<const char*> set) {
  return std::any_of(set.begin(), set.end(), [&](const char* s) { return v == s; });
}

int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound: return 404;
    case Status::Code::kInvalidArgument: return 400;
    default: return 500;
  }
}

}  // namespace

// ---- Links ------------------------------------------------------------------

Links Links::Server(std::string prefix) {
  Links l;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  l.prefix_ = std::move(prefix);
  return l;
}

Links Links::Files(int depth, std::shared_ptr<const std::set<int64_t>> exported_runs, int pages,
                   std::shared_ptr<const std::set<std::string>> exported_tests) {
  Links l;
  l.tests_ = std::move(exported_tests);
  l.files_ = true;
  l.pages_ = pages;
  for (int i = 0; i < depth; ++i) l.up_ += "../";
  l.runs_ = std::move(exported_runs);
  return l;
}

std::string Links::Path(const std::string& server, const std::string& file) const {
  if (files_) return file.empty() ? std::string() : up_ + file;
  return prefix_ + server;
}

std::string Links::Runs(int page) const { return Runs(page, {}); }

std::string Links::Runs(int page, const std::map<std::string, std::string>& filters) const {
  if (files_) {
    if (page > pages_) return "";
    return up_ + (page <= 1 ? std::string("index.html") : fmt::format("runs-{}.html", page));
  }
  auto q = filters;
  if (page > 1) q["page"] = std::to_string(page);
  return prefix_ + (q.empty() || Query(q).empty() ? std::string("/") : "/runs" + Query(q));
}

std::string Links::Run(int64_t id) const {
  if (files_ && runs_ && !runs_->count(id)) return "";
  return Path(fmt::format("/runs/{}", id), fmt::format("runs/{}.html", id));
}

std::string Links::Output(int64_t run, const std::string& test, int attempt) const {
  if (files_) return "";  // outputs are inline in an export
  return Path(fmt::format("/runs/{}/output?test={}&attempt={}", run, UrlEncode(test), attempt), "");
}

std::string Links::Console(int64_t run) const {
  if (files_ && runs_ && !runs_->count(run)) return "";
  return Path(fmt::format("/runs/{}/console.txt", run), fmt::format("runs/{}-console.txt", run));
}

std::string Links::Junit(int64_t run) const {
  if (files_ && runs_ && !runs_->count(run)) return "";
  return Path(fmt::format("/runs/{}/junit.xml", run), fmt::format("runs/{}-junit.xml", run));
}

std::string Links::TestFile(const std::string& path) const {
  auto file = [](std::string_view test) { return fmt::format("tests/{:016x}.html", Fnv1a(test)); };
  if (!tests_) return file(judge::SplitTestPath(path).first);
  // The path itself, then each prefix that ends before a ':'.
  for (std::string_view p = path;;) {
    if (tests_->count(std::string(p))) return file(p);
    size_t colon = p.rfind(':');
    if (colon == std::string_view::npos) return "";
    p = p.substr(0, colon);
  }
}

std::string Links::RunJson(int64_t run) const {
  if (files_ && runs_ && !runs_->count(run)) return "";
  return Path(fmt::format("/api/v1/runs/{}", run), fmt::format("runs/{}.json", run));
}

std::string Links::Test(const std::string& path) const {
  return Path("/tests?path=" + UrlEncode(path), TestFile(path));
}

std::string Links::Flakes() const { return Path("/flakes", "flakes.html"); }
std::string Links::FlakesAll() const { return Path("/flakes?all=1", ""); }
std::string Links::Crashes() const { return Path("/crashes", "crashes.html"); }
std::string Links::Builds() const { return Path("/builds", "builds.html"); }
std::string Links::Build(int64_t id) const { return Path(fmt::format("/builds/{}", id), fmt::format("builds/{}.html", id)); }
std::string Links::SeriesList() const { return Path("/series", "series.html"); }
std::string Links::Series(int64_t id) const {
  return Path(fmt::format("/series/{}", id), fmt::format("series/{}.html", id));
}
std::string Links::Compare(int64_t a, int64_t b) const {
  if (files_ && runs_ && (!runs_->count(a) || !runs_->count(b))) return "";
  return Path(fmt::format("/compare?a={}&b={}", a, b), fmt::format("compare/{}-{}.html", a, b));
}
std::string Links::Static(const std::string& name) const { return Path("/static/" + name, "static/" + name); }
std::string Links::RunsApi(int page, const std::map<std::string, std::string>& filters) const {
  auto q = filters;
  if (page > 1) q["page"] = std::to_string(page);
  return Api("/runs" + Query(q));
}

std::string Links::Api(const std::string& page_path) const {
  if (files_) return "";
  return prefix_ + "/api/v1" + page_path;
}

// ---- Site -------------------------------------------------------------------

namespace {

std::string UrlPathOf(const std::string& base_url) {
  // "https://host:8080/vigil/" -> "/vigil"; "/vigil" stays.
  std::string s = base_url;
  size_t scheme = s.find("://");
  if (scheme != std::string::npos) {
    size_t slash = s.find('/', scheme + 3);
    s = slash == std::string::npos ? std::string() : s.substr(slash);
  }
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace


Site::Site(store::Store& db, SiteOptions o)
    : db_(db), o_(std::move(o)), server_links_(Links::Server(UrlPathOf(o_.base_url))) {}

namespace {

// How a file looks: changed by any edit that a reader would see ("-": none).
std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "-";
  return fmt::format("{}:{}:{}:{}.{}", st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

}  // namespace

void Site::WatchKnownIssues(const std::string& tests_dir) {
  std::string path = engine::KnownIssuesPath(o_.known_issues, tests_dir);
  // Bounded: a store of runs from a thousand test directories is watched
  // for the first thousand (the flag's file is always the first).
  if (path.empty() || known_files_.count(path) || known_files_.size() >= 1000) return;
  known_files_.emplace(path, FileStamp(path));
}

Result<std::optional<judge::KnownIssues>> Site::KnownIssuesFor(const std::string& tests_dir) {
  WatchKnownIssues(tests_dir);
  return engine::FindKnownIssues(o_.known_issues, tests_dir);
}

Result<std::map<int64_t, json>> Site::Origins(const std::vector<int64_t>& run_ids) {
  auto origins = db_.LoadRunOrigins(run_ids);
  if (!origins.ok()) return origins.status();
  std::map<int64_t, json> out;
  for (const auto& [id, o] : *origins) {
    out[id] = {{"kind", o.kind}, {"series", o.series}, {"name", o.name}, {"role", o.role}};
  }
  return out;
}

Result<json> Site::RunsData(int page, const std::map<std::string, std::string>& filters) {
  if (page < 1) return Status::InvalidArgument("page must be 1 or more");
  store::RunQuery q;
  json applied = json::object();
  auto get = [&](const char* k) {
    auto it = filters.find(k);
    return it == filters.end() ? std::string() : it->second;
  };
  std::string env = get("env"), origin = get("origin"), status = get("status");
  if (!env.empty()) {
    if (!OneOf(env, {"host", "vm", "kvm", "tcg"})) {
      return Status::InvalidArgument("env must be host, vm, kvm or tcg");
    }
    auto envs = db_.ListEnvironments();
    if (!envs.ok()) return envs.status();
    std::vector<int64_t> ids;
    for (const auto& [id, e] : *envs) {
      bool match = env == "host" || env == "vm" ? e.where == env : e.accel == env;
      if (match) ids.push_back(id);
    }
    q.environment_ids = ids;
    applied["env"] = env;
  }
  if (!origin.empty()) {
    if (!OneOf(origin, {"series", "branch", "manual"})) {
      return Status::InvalidArgument("origin must be series, branch or manual");
    }
    auto ids = db_.ListRunsWithOrigin(origin == "manual" ? "" : origin);
    if (!ids.ok()) return ids.status();
    if (origin == "manual") {
      q.exclude = std::move(*ids);
    } else {
      q.ids = std::move(*ids);
    }
    applied["origin"] = origin;
  }
  if (!status.empty()) {
    bool known = status == "running" || status == "INTERRUPTED";
    for (int i = 0; i < ktap::kNumStatuses; ++i) {
      if (status == ktap::StatusName(static_cast<ktap::Status>(i))) known = true;
    }
    if (!known) return Status::InvalidArgument("status must be running, INTERRUPTED or a result (PASS, FAIL, ...)");
    q.statuses = std::vector<std::string>{status == "running" ? std::string() : status};
    applied["status"] = status;
  }
  // The pages after the first list the runs up to the newest the first
  // showed: a run recorded meanwhile does not push one from a page onto
  // the next, to be seen twice (or one the other way, never).
  if (std::string up_to = get("up_to"); !up_to.empty()) {
    auto v = PositiveId(up_to, "up_to");
    if (!v.ok()) return v.status();
    q.up_to = *v;
    applied["up_to"] = up_to;
  }
  auto total = db_.CountRuns(q);
  if (!total.ok()) return total.status();
  const int per = std::max(o_.runs_per_page, 1);
  int64_t pages = std::max<int64_t>(1, (*total + per - 1) / per);
  if (page > pages) return Status::NotFound(fmt::format("no page {}: there are {}", page, pages));
  q.newest = per;
  q.skip = (page - 1) * per;
  auto runs = db_.ListRuns(q);
  if (!runs.ok()) return runs.status();
  std::vector<int64_t> ids;
  for (const auto& r : *runs) ids.push_back(r.id);
  auto briefs = db_.LoadAttemptBriefs(ids);
  if (!briefs.ok()) return briefs.status();
  auto origins = Origins(ids);
  if (!origins.ok()) return origins.status();
  auto envs = db_.ListEnvironments();
  if (!envs.ok()) return envs.status();

  // Each run's tests: the statuses of their attempts (interrupted ones aside).
  std::map<int64_t, std::map<std::string, std::vector<std::string>>> statuses;
  std::map<int64_t, int64_t> crashes;
  for (const auto& b : *briefs) {
    if (b.interrupted) continue;  // (as the run's verdict and page count them)
    crashes[b.run_id] += b.crashes;
    statuses[b.run_id][b.test_path].push_back(b.status);
  }
  json out = {{"format_version", 1}, {"page", page}, {"pages", pages}, {"total", *total},
              {"per_page", per},     {"filters", applied}, {"runs", json::array()}};
  // What the next pages' links pin (the newest run listed first).
  if (q.up_to > 0) {
    out["up_to"] = q.up_to;
  } else if (page == 1 && !runs->empty()) {
    out["up_to"] = std::max(runs->front().id, runs->back().id);
  }
  for (auto it = runs->rbegin(); it != runs->rend(); ++it) {
    const auto& r = *it;
    json counts = json::object();
    int pass = 0, fail = 0, skip = 0, flaky = 0;
    for (const auto& [test, st] : statuses[r.id]) {
      std::string f = judge::FinalStatus(st);
      counts[f] = counts.value(f, 0) + 1;
      if (f == "FLAKY") {  // passed on a retry: counted as flaky, not also as passed (as vigil run says it)
        ++flaky;
        continue;
      }
      switch (judge::KindOf(f)) {
        case judge::Kind::kPass: ++pass; break;
        case judge::Kind::kFail: ++fail; break;
        case judge::Kind::kSkip: ++skip; break;
      }
    }
    json run = {{"id", r.id},
                {"started_at", r.started_at},
                {"finished_at", r.finished_at},
                {"status", r.status.empty() ? std::string("running") : r.status},
                {"duration_ms", DurationMs(r.started_at, r.finished_at)},
                {"host", r.host},
                {"command", r.command},
                {"planned", r.plan.size()},
                {"done", statuses[r.id].size()},
                {"counts", counts},
                {"passed", pass},
                {"failed", fail},
                {"skipped", skip},
                {"flaky", flaky},
                {"crashes", crashes[r.id]},
                {"build", r.build_id}};
    // Of the tests that passed or failed, those that passed in the end.
    run["pass_rate"] =
        pass + flaky + fail > 0 ? json(static_cast<double>(pass + flaky) / (pass + flaky + fail)) : json(nullptr);
    auto e = envs->find(r.environment_id);
    run["environment"] = e == envs->end() ? json(nullptr) : EnvJson(e->second, r.environment_id);
    auto o = origins->find(r.id);
    run["origin"] = o == origins->end() ? json{{"kind", "manual"}} : o->second;
    out["runs"].push_back(std::move(run));
  }
  return out;
}

Result<json> Site::RunData(int64_t id) {
  auto view = judge::LoadRunView(db_, id);
  if (!view.ok()) return view.status();
  const judge::RunView& v = *view;
  // Outputs are read one at a time below, for the attempts that show theirs:
  // a run's outputs together can weigh gigabytes.
  auto records = db_.LoadAttempts(id, false, true);
  if (!records.ok()) return records.status();
  auto console = db_.LoadConsoleLog(id);
  if (!console.ok()) return console.status();
  auto origins = Origins({id});
  if (!origins.ok()) return origins.status();

  json out = {{"format_version", 1},
              {"id", id},
              {"started_at", v.run.started_at},
              {"finished_at", v.run.finished_at},
              {"status", v.run.status.empty() ? std::string("running") : v.run.status},
              {"duration_ms", DurationMs(v.run.started_at, v.run.finished_at)},
              {"host", v.run.host},
              {"command", v.run.command},
              {"tests_dir", v.run.tests_dir},
              {"build", v.run.build_id},
              {"planned", v.run.plan.size()},
              {"done", v.tests.size()},
              {"console", !console->empty()},
              {"environment", EnvJson(v.env, v.run.environment_id)}};
  auto o = origins->find(id);
  out["origin"] = o == origins->end() ? json{{"kind", "manual"}} : o->second;
  // A run split across machines: its group and each shard's part.
  if (!v.run.run_group.empty()) {
    auto shards = db_.LoadRunShards(id);
    if (!shards.ok()) return shards.status();
    json list = json::array();
    for (const auto& sh : *shards) {
      list.push_back({{"shard", sh.shard},
                      {"tests", sh.tests.size()},
                      {"state", engine::ShardStateName(engine::StateOf(sh))},
                      {"host", SanitizeUtf8(sh.host)},
                      {"status", SanitizeUtf8(sh.status)},
                      {"started_at", SanitizeUtf8(sh.started_at)},
                      {"finished_at", SanitizeUtf8(sh.finished_at)}});
    }
    out["run_group"] = {{"name", SanitizeUtf8(v.run.run_group)}, {"shards", list}};
  }

  // The verdict of a finished run, with its baseline's environment differences.
  std::set<std::string> counted;
  if (!v.run.status.empty()) {
    engine::VerdictRequest req;
    req.run_id = id;
    req.baseline = "auto";
    // A run a series tested is judged against the base commit's run, as
    // its checks and e-mail were (the newest earlier run may be another
    // series' run, with its patches).
    if (auto o = origins->find(id); o != origins->end() && o->second.value("role", "") == "tested" &&
                                    o->second.value("kind", "") == "series") {
      if (auto s = db_.LoadSeries(o->second.value("series", int64_t{0})); s.ok()) {
        if (int64_t base = SeriesBaseRun(s->result_json, id); base > 0) req.baseline = std::to_string(base);
      }
    }
    req.known_issues = o_.known_issues;
    req.today = Today(o_.today);
    WatchKnownIssues(v.run.tests_dir);
    auto verdict = engine::ComputeVerdict(db_, req);
    if (verdict.ok()) {
      out["verdict"] = judge::VerdictJson(*verdict);
      for (const auto& f : verdict->failures) counted.insert(f.test);  // (f.path: the failing subtest's)
      if (verdict->baseline_id > 0) {
        auto base = db_.LoadRun(verdict->baseline_id);
        if (base.ok() && base->environment_id > 0) {
          auto be = db_.LoadEnvironment(base->environment_id);
          if (be.ok()) {
            json diff = json::array();
            for (const auto& [k, ab] : judge::EnvironmentDiff(*be, v.env)) {
              diff.push_back({{"key", k}, {"baseline", ab.first}, {"run", ab.second}});
            }
            out["environment_changes"] = diff;
          }
        }
      }
    } else {
      out["verdict_error"] = verdict.status().message();
    }
  }

  // The tests: failures first, then flaky, crashed, then the rest as run.
  std::map<std::string, std::vector<const model::AttemptRecord*>> attempts;
  for (const auto& a : *records) attempts[a.test_path].push_back(&a);
  auto rank = [&](const std::string& path) {
    const judge::TestView& t = v.tests.at(path);
    if (judge::IsFailureName(t.status)) return 0;
    if (t.status == "FLAKY") return 1;
    if (!t.crashes.empty()) return 2;
    for (const auto& s : t.subtests) {
      if (judge::IsFailureName(s.status)) return 2;
    }
    return 3;
  };
  std::vector<std::string> order = v.order;
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    return rank(a) < rank(b);
  });
  json tests = json::array();
  size_t tails_left = kPageOutputTails, texts_left = kPageCrashTexts;
  for (const auto& path : order) {
    const judge::TestView& t = v.tests.at(path);
    bool interesting = rank(path) < 3;
    json tj = {{"path", path},
               {"status", t.status},
               {"attempts", json::array()},
               {"subtests", json::array()},
               {"crashes", json::array()},
               {"duration_ms", t.duration_ms},
               {"environment_issues", t.environment_issues},
               {"counted", counted.count(path) > 0}};
    for (const auto& s : t.subtests) tj["subtests"].push_back(SubtestJson(s));
    for (const model::AttemptRecord* a : attempts[path]) {
      json aj = {{"attempt", a->attempt},         {"status", a->status},
                 {"signal", a->signal},           {"timed_out", a->timed_out},
                 {"duration_ms", a->duration_ms}, {"started_at", a->started_at},
                 {"output_bytes", a->output_bytes}, {"interrupted", a->interrupted}};
      aj["exit_code"] = a->exit_code ? json(*a->exit_code) : json(nullptr);
      // The output of what needs looking at is on the page; the rest a click away.
      // A page shows so many outputs' tails and reports' texts (failures
      // first): a run where thousands of tests failed would otherwise be a
      // page of hundreds of megabytes. The rest are a click away.
      if (interesting && tails_left > 0) {
        --tails_left;
        auto output = db_.LoadAttemptOutput(id, a->test_path, a->attempt);
        if (!output.ok()) return output.status();
        if (!output->empty()) {
          bool cut = false;
          aj["output_tail"] = OutputTail(*output, 16 * 1024, &cut);
          aj["output_cut"] = cut;
        }
      }
      for (const auto& c : a->crashes) {
        tj["crashes"].push_back(CrashJson(c, texts_left > 0 ? 64 * 1024 : 0));
        if (texts_left > 0) --texts_left;
      }
      tj["attempts"].push_back(std::move(aj));
    }
    tests.push_back(std::move(tj));
  }
  // Planned tests with no result yet (a running run) or never (an interrupted one).
  json pending = json::array();
  for (const auto& p : v.run.plan) {
    if (!v.tests.count(p)) pending.push_back(p);
  }
  out["tests"] = std::move(tests);
  out["not_run"] = std::move(pending);
  return out;
}

Result<json> Site::TestData(const std::string& path) {
  auto [test, subtest] = judge::SplitTestPath(path);
  if (test.find(':') == std::string::npos || test.front() == ':' || test.back() == ':') {
    return Status::InvalidArgument("path must be COLLECTION:TEST or COLLECTION:TEST:SUBTEST");
  }
  // A test whose own name has a colon: the longest test the store knows.
  auto resolved = judge::ResolveTestPath(db_, path);
  if (!resolved.ok()) return resolved.status();
  std::tie(test, subtest) = *resolved;
  auto attempts = db_.LoadTestAttempts(test, std::max(o_.history_runs, 1));
  if (!attempts.ok()) return attempts.status();
  if (attempts->empty()) return Status::NotFound(fmt::format("no run recorded {}", test));
  // Per run, in order: the test's attempts.
  std::vector<int64_t> run_ids;
  std::map<int64_t, std::vector<model::AttemptRecord>> by_run;
  for (auto& ra : *attempts) {
    if (ra.attempt.interrupted) continue;
    if (!by_run.count(ra.run_id)) run_ids.push_back(ra.run_id);
    by_run[ra.run_id].push_back(std::move(ra.attempt));
  }
  store::RunQuery rq;
  rq.ids = run_ids;
  auto runs = db_.ListRuns(rq);
  if (!runs.ok()) return runs.status();
  auto envs = db_.ListEnvironments();
  if (!envs.ok()) return envs.status();
  std::map<int64_t, const model::RunRecord*> run_of;
  for (const auto& r : *runs) run_of[r.id] = &r;
  // The runs that tested a patch series are columns too, marked: the
  // judgement (flakes, verdicts) leaves them out of the tree's history.
  auto origins = db_.LoadRunOrigins(run_ids);
  if (!origins.ok()) return origins.status();

  // Rows: the test (unless a subtest was asked for), then each subtest in
  // the order first seen; a subtest page keeps it and what is below it.
  const size_t kMaxRows = 1000;
  std::vector<std::string> rows;
  std::set<std::string> seen;
  if (subtest.empty()) rows.push_back("");
  bool rows_cut = false;
  std::map<int64_t, std::map<std::string, model::SubtestRecord>> cells;
  json columns = json::array();
  for (int64_t id : run_ids) {
    const auto& as = by_run[id];
    for (const auto& s : judge::SubtestVerdicts(as)) {
      bool mine = subtest.empty() || s.path == subtest || s.path.rfind(subtest + " > ", 0) == 0;
      if (!mine) continue;
      if (!seen.count(s.path)) {
        if (rows.size() >= kMaxRows) {
          rows_cut = true;
          continue;
        }
        seen.insert(s.path);
        rows.push_back(s.path);
      }
      cells[id][s.path] = s;
    }
    const model::RunRecord* r = run_of.count(id) ? run_of[id] : nullptr;
    json col = {{"run", id},
                {"status", judge::FinalStatus(as)},
                {"attempts", as.size()},
                {"duration_ms", as.back().duration_ms},
                {"crashes", 0}};
    size_t crashes = 0;
    for (const auto& a : as) crashes += a.crashes.size();
    col["crashes"] = crashes;
    if (r) {
      if (int64_t series = judge::SeriesTested(*r, *origins); series > 0) col["series"] = series;
      col["started_at"] = r->started_at;
      auto e = envs->find(r->environment_id);
      if (e != envs->end()) {
        col["env"] = judge::EnvClass(e->second);
        col["kernel"] = e->second.kernel_release;
      }
    }
    columns.push_back(std::move(col));
  }
  if (!subtest.empty() && rows.empty()) return Status::NotFound(fmt::format("no run recorded {}", path));
  json matrix = json::array();
  for (const auto& row : rows) {
    json cells_j = json::array();
    for (size_t c = 0; c < run_ids.size(); ++c) {
      int64_t id = run_ids[c];
      if (row.empty()) {
        cells_j.push_back(columns[c]["status"]);
        continue;
      }
      auto it = cells[id].find(row);
      cells_j.push_back(it == cells[id].end() ? json(nullptr) : json(it->second.status));
    }
    matrix.push_back({{"subtest", row}, {"cells", cells_j}});
  }
  json out = {{"format_version", 1}, {"test", test},   {"subtest", subtest}, {"runs", columns},
              {"rows", matrix},      {"rows_cut", rows_cut}};

  // The known issues that would explain a failure of it, as the newest run saw them.
  json known = json::array();
  if (!run_ids.empty() && run_of.count(run_ids.back())) {
    const model::RunRecord& last = *run_of[run_ids.back()];
    auto ki = KnownIssuesFor(last.tests_dir);
    if (ki.ok() && ki->has_value()) {
      model::Environment env;
      if (auto e = envs->find(last.environment_id); e != envs->end()) env = e->second;
      judge::KnownIssueMatcher m(**ki, env, Today(o_.today));
      std::set<const judge::KnownIssue*> hit;
      for (const auto& row : rows) {
        if (const judge::KnownIssue* k = m.Match({test, row, nullptr})) hit.insert(k);
      }
      for (const judge::KnownIssue* k : hit) {
        known.push_back({{"match", k->match}, {"reason", k->reason}, {"link", k->link}, {"expires", k->expires},
                         {"defined", k->where_defined}});
      }
    } else if (!ki.ok()) {
      out["known_issues_error"] = ki.status().message();
    }
  }
  out["known_issues"] = known;
  return out;
}

Result<json> Site::FlakesData(bool all) {
  engine::FlakesQuery q;
  q.window = o_.flakes_window;
  auto t = engine::Flakes(db_, q);
  if (!t.ok()) return t.status();
  return report::FlakesJsonValue(*t, all);
}

Result<json> Site::CrashesData(bool all_texts) {
  auto sightings = db_.ListCrashSightings();
  if (!sightings.ok()) return sightings.status();
  std::set<int64_t> run_ids;
  for (const auto& s : *sightings) run_ids.insert(s.run_id);
  store::RunQuery rq;
  rq.ids = std::vector<int64_t>(run_ids.begin(), run_ids.end());
  rq.plans = false;  // only each run's environment is read: a plan is thousands of tests
  auto runs = db_.ListRuns(rq);
  if (!runs.ok()) return runs.status();
  auto envs = db_.ListEnvironments();
  if (!envs.ok()) return envs.status();
  std::map<int64_t, std::string> kernel_of;
  for (const auto& r : *runs) {
    auto e = envs->find(r.environment_id);
    kernel_of[r.id] = e == envs->end() ? std::string() : e->second.kernel_release;
  }
  struct Group {
    const model::CrashSighting* first = nullptr;
    const model::CrashSighting* last = nullptr;
    int count = 0;
    std::set<std::string> tests, kernels;
    std::set<int64_t> runs;
  };
  std::map<std::string, Group> groups;
  std::vector<std::string> order;
  for (const auto& s : *sightings) {
    std::string key = s.crash.fingerprint.empty() ? "title:" + s.crash.title : s.crash.fingerprint;
    auto [it, inserted] = groups.try_emplace(key);
    if (inserted) order.push_back(key);
    Group& g = it->second;
    if (!g.first) g.first = &s;
    g.last = &s;
    ++g.count;
    g.tests.insert(s.test_path);
    if (!kernel_of[s.run_id].empty()) g.kernels.insert(kernel_of[s.run_id]);
    g.runs.insert(s.run_id);
  }
  // The most recent first.
  std::sort(order.begin(), order.end(),
            [&](const std::string& a, const std::string& b) { return groups[a].last->id > groups[b].last->id; });
  json list = json::array();
  // The latest report's text of the most recent kPageCrashTexts kinds: a
  // store that has seen thousands of kinds would otherwise make this page a
  // read and up to 64 KiB each. The others' texts are on their runs' pages.
  size_t texts_left = all_texts ? SIZE_MAX : kPageCrashTexts;
  for (const auto& key : order) {
    const Group& g = groups[key];
    model::CrashRecord example = g.last->crash;
    bool shown = texts_left > 0;
    if (shown) {
      --texts_left;
      auto text = db_.LoadCrashText(g.last->id);
      if (!text.ok()) return text.status();
      example.text = *text;
    }
    json j = {{"fingerprint", g.last->crash.fingerprint},
              {"title", g.last->crash.title},
              {"type", g.last->crash.type},
              {"fatal", g.last->crash.fatal},
              {"count", g.count},
              {"runs", g.runs.size()},
              {"first_seen", {{"run", g.first->run_id}, {"at", g.first->started_at}}},
              {"last_seen", {{"run", g.last->run_id}, {"at", g.last->started_at}}},
              {"tests", g.tests},
              {"kernels", g.kernels},
              {"example", CrashJson(example, 64 * 1024)}};
    j["example"]["run"] = g.last->run_id;
    j["example"]["test"] = g.last->test_path;
    if (!shown) j["example"]["text_not_shown"] = true;
    list.push_back(std::move(j));
  }
  return json{{"format_version", 1}, {"crashes", list}, {"reports", sightings->size()}};
}

Result<json> Site::BuildsData() {
  store::BuildQuery q;
  q.newest = 200;
  auto builds = db_.ListBuilds(q);
  if (!builds.ok()) return builds.status();
  json list = json::array();
  for (const auto& b : *builds) list.push_back(report::BuildRecordJson(b));
  return json{{"format_version", 1}, {"builds", list}};
}

Result<json> Site::BuildData(int64_t id) {
  auto b = db_.LoadBuild(id);
  if (!b.ok()) return b.status();
  auto diags = db_.LoadBuildDiagnostics(id);
  if (!diags.ok()) return diags.status();
  json out = {{"format_version", 1}, {"build", report::BuildRecordJson(*b)}, {"diagnostics", json::array()}};
  const size_t kMax = 2000;
  for (size_t i = 0; i < diags->size() && i < kMax; ++i) out["diagnostics"].push_back(report::DiagnosticJson((*diags)[i]));
  out["diagnostics_cut"] = diags->size() > kMax;
  // New against the newest earlier successful build of the tree and variant.
  auto base = engine::ResolveCompareTo(db_, "auto", b->tree, b->variant, id);
  if (base.ok() && *base > 0) {
    auto before = db_.LoadBuildDiagnostics(*base);
    if (!before.ok()) return before.status();
    std::vector<kbuild::Diagnostic> was, now;
    for (const auto& r : *before) {
      if (r.severity != "note" && r.tool != "make") was.push_back(engine::DiagnosticOf(r));
    }
    for (const auto& r : *diags) {
      if (r.severity != "note" && r.tool != "make") now.push_back(engine::DiagnosticOf(r));
    }
    json fresh = json::array();
    for (const auto& d : kbuild::NewWarnings(was, now)) {
      fresh.push_back({{"file", d.file}, {"line", d.line}, {"column", d.column}, {"message", d.message},
                       {"flag", d.flag}, {"severity", std::string(kbuild::SeverityName(d.severity))},
                       {"inlined_from", d.inlined_from}});
    }
    out["compared_to"] = *base;
    out["new_diagnostics"] = fresh;
  }
  // The runs that booted it.
  store::RunQuery rq;
  rq.build_id = id;
  rq.plans = false;
  auto runs = db_.ListRuns(rq);
  if (!runs.ok()) return runs.status();
  json booted = json::array();
  for (const auto& r : *runs) booted.push_back(r.id);
  out["runs"] = booted;
  return out;
}

Result<json> Site::SeriesListData() {
  store::SeriesQuery q;
  q.limit = 200;
  auto list = db_.ListSeries(q);
  if (!list.ok()) return list.status();
  json out = json::array();
  for (const auto& s : *list) out.push_back(report::SeriesJson(s));
  return json{{"format_version", 1}, {"series", out}};
}

Result<json> Site::SeriesData(int64_t id) {
  auto s = db_.LoadSeries(id);
  if (!s.ok()) return s.status();
  auto checks = db_.LoadSeriesChecks(id);
  if (!checks.ok()) return checks.status();
  auto mail = db_.LoadSeriesMail(id);
  if (!mail.ok() && mail.status().code() != Status::Code::kNotFound) return mail.status();
  std::optional<model::SeriesMailRecord> m;
  if (mail.ok()) m = *mail;
  json out = report::SeriesJson(*s, &checks.value(), &m);
  out["format_version"] = 1;
  json patches = json::array();
  json sj = json::parse(s->series_json, nullptr, false);
  if (sj.is_object() && sj.contains("patches") && sj["patches"].is_array()) {
    for (const auto& p : sj["patches"]) {
      if (!p.is_object()) continue;
      json pj = {{"id", p.value("id", json(0))}, {"name", p.value("name", json(""))}};
      if (!pj["id"].is_number_integer()) pj["id"] = 0;
      if (!pj["name"].is_string()) pj["name"] = "";
      patches.push_back(pj);
    }
  }
  out["patches"] = patches;
  json r = json::parse(s->result_json, nullptr, false);
  json passes = json::array();
  auto num = [](const json& o, const char* k) -> int64_t {
    return o.contains(k) && o[k].is_number_integer() ? o[k].get<int64_t>() : 0;
  };
  if (r.is_object()) {
    if (r.contains("variants") && r["variants"].is_array()) {
      for (const auto& v : r["variants"]) {
        if (!v.is_object()) continue;
        passes.push_back({{"variant", v.value("variant", json("")).is_string() ? v["variant"] : json("")},
                          {"build", num(v, "build")}, {"run", num(v, "run")}, {"base_run", num(v, "base_run")}});
      }
    } else if (num(r, "run") > 0) {
      passes.push_back({{"variant", ""}, {"build", 0}, {"run", num(r, "run")}, {"base_run", num(r, "base_run")}});
    }
  }
  out["passes"] = passes;
  return out;
}

Result<json> Site::CompareData(int64_t a, int64_t b) {
  judge::CompareOptions o;
  auto c = engine::CompareRuns(db_, std::to_string(a), std::to_string(b), o);
  if (!c.ok()) return c.status();
  json j = json::parse(report::CompareJson(*c), nullptr, false);
  if (j.is_discarded()) return Status::Internal("the comparison is not JSON");
  return j;
}

Result<std::string> Site::Console(int64_t id) {
  auto path = db_.LoadConsoleLog(id);
  if (!path.ok()) return path.status();
  if (path->empty()) return Status::NotFound(fmt::format("run {} has no console log", id));
  // The path comes from the store (written by vigil run), never from the URL.
  FILE* f = std::fopen(path->c_str(), "rb");
  if (!f) return Status::NotFound(fmt::format("the console log of run {} is gone", id));
  std::string text;
  const size_t kCap = 8 * 1024 * 1024;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() < kCap) text.append(buf, n);
  std::fclose(f);
  if (text.size() > kCap) {
    text.resize(kCap);
    text += "\n[cut at 8 MiB]\n";
  }
  return text;
}

Result<std::string> Site::Junit(int64_t id) {
  auto view = judge::LoadRunView(db_, id);
  if (!view.ok()) return view.status();
  // The testcases first (a test, then each of its subtests), then the
  // totals over all of them: tests, failures and skipped count what is
  // written, as report/junit_report.cc does.
  std::string cases;
  int tests = 0, failures = 0, skipped = 0;
  for (const auto& path : view->order) {
    const judge::TestView& t = view->tests.at(path);
    auto write = [&](const std::string& name, const std::string& status, int64_t ms) {
      ++tests;
      cases += fmt::format("<testcase classname=\"{}\" name=\"{}\" time=\"{:.3f}\">", XmlEscape(path),
                           XmlEscape(name), static_cast<double>(std::max<int64_t>(ms, 0)) / 1000.0);
      if (judge::IsFailureName(status)) {
        ++failures;
        cases += fmt::format("<failure message=\"{}\"/>", XmlEscape(status));
      } else if (judge::KindOf(status) == judge::Kind::kSkip) {
        ++skipped;
        cases += "<skipped/>";
      }
      cases += "</testcase>\n";
    };
    write(path, t.status, t.duration_ms);
    for (const auto& s : t.subtests) write(path + ":" + s.path, s.status, s.duration_ms.value_or(0));
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites><testsuite name=\"vigil run {}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
                     id, tests, failures, skipped);
  out += cases;
  out += "</testsuite></testsuites>\n";
  return out;
}

// ---- Dispatch ------------------------------------------------------------------

Result<std::shared_ptr<const json>> Site::Cached(const std::string& key, const std::function<Result<json>()>& compute) {
  auto version = db_.DataVersion();
  if (!version.ok()) return version.status();
  std::string today = Today(o_.today);
  bool edited = false;
  for (auto& [path, stamp] : known_files_) {
    std::string now = FileStamp(path);
    if (now != stamp) {
      stamp = std::move(now);
      edited = true;
    }
  }
  if (*version != cache_version_ || today != cache_day_ || edited) {
    cache_.clear();
    cache_version_ = *version;
    cache_day_ = today;
  }
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  Result<json> d = compute();
  if (!d.ok()) return d.status();
  if (cache_.size() >= 32) cache_.clear();  // a bound on what a worker keeps
  auto kept = std::make_shared<const json>(std::move(d.value()));
  cache_.emplace(key, kept);
  return kept;
}

Response Site::Get(const std::string& path, const std::map<std::string, std::string>& query) {
  bool api = path.rfind("/api/v1/", 0) == 0 || path == "/api/v1";
  try {
    return Dispatch(api ? path.substr(7) : path, query, api);
  } catch (const std::exception& e) {
    // A bug, not the visitor's fault: a page that says so, no stack trace.
    Response r;
    r.status = 500;
    if (api) {
      r.content_type = "application/json";
      r.body = DumpJson(json{{"error", "internal error"}});
    } else {
      r.body = ErrorPage(500, "internal error", server_links_);
    }
    return r;
  }
}

Response Site::Dispatch(const std::string& path, const std::map<std::string, std::string>& query, bool api) {
  const Links& links = server_links_;
  auto fail = [&](const Status& s) {
    Response r;
    r.status = HttpStatusOf(s);
    std::string msg = r.status == 500 ? "the store could not be read: " + s.message() : s.message();
    if (api) {
      r.content_type = "application/json";
      r.body = DumpJson(json{{"error", msg}});
    } else {
      r.body = ErrorPage(r.status, msg, links);
    }
    return r;
  };
  // A page's data is kept until the store changes (any write, by any
  // process): reloading a page, or many visitors on one, reads it once. It
  // is kept under the parameters pages read, so that others (a tracker's
  // `utm_source`, a cache-buster) neither make copies nor push pages out.
  std::string key = path;
  for (const char* k : {"a", "all", "attempt", "b", "env", "origin", "page", "path", "status", "test", "up_to"}) {
    // (Each value after its length: no value can pose as another parameter.)
    if (auto it = query.find(k); it != query.end()) key += fmt::format("\n{}={}:{}", k, it->second.size(), it->second);
  }
  auto page = [&](auto compute, std::string (Site::*render)(const json&, const Links&)) {
    auto d = Cached(key, compute);
    if (!d.ok()) return fail(d.status());
    Response r;
    if (api) {
      r.content_type = "application/json";
      r.body = DumpJson(**d);
    } else {
      r.body = (this->*render)(**d, links);
    }
    return r;
  };
  auto param = [&](const char* k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  // Path segments: "/runs/12/console.txt" -> {"runs", "12", "console.txt"}.
  std::vector<std::string> seg;
  for (size_t i = 0; i < path.size();) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) seg.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  if (!api && seg.size() == 2 && seg[0] == "static") {
    Response r;
    if (seg[1] == "vigil.css") {
      r.content_type = "text/css; charset=utf-8";
      r.body = kStylesheet;
      return r;
    }
    if (seg[1] == "vigil.js") {
      r.content_type = "text/javascript; charset=utf-8";
      r.body = kScript;
      return r;
    }
    return fail(Status::NotFound("no such file"));
  }
  if (seg.empty() || (seg.size() == 1 && seg[0] == "runs")) {
    int n = 1;
    if (std::string p = param("page"); !p.empty()) {
      auto v = PositiveId(p, "page");
      if (!v.ok()) return fail(v.status());
      if (*v > 1'000'000'000) return fail(Status::NotFound(fmt::format("no page {}", p)));
      n = static_cast<int>(*v);
    }
    std::map<std::string, std::string> filters;
    for (const char* k : {"env", "origin", "status", "up_to"}) {
      if (!param(k).empty()) filters[k] = param(k);
    }
    return page([&] { return RunsData(n, filters); }, &Site::RunsPage);
  }
  if (seg[0] == "runs" && seg.size() >= 2 && seg.size() <= 3) {
    auto id = PositiveId(seg[1], "a run");
    if (!id.ok()) return fail(Status::NotFound(fmt::format("no run {}", seg[1])));
    if (seg.size() == 2) return page([&] { return RunData(*id); }, &Site::RunPage);
    if (api) return fail(Status::NotFound("no such page"));
    if (seg[2] == "console.txt") {
      auto text = Console(*id);
      if (!text.ok()) return fail(text.status());
      Response r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = SanitizeUtf8(*text);
      return r;
    }
    if (seg[2] == "junit.xml") {
      auto x = Junit(*id);
      if (!x.ok()) return fail(x.status());
      Response r;
      r.content_type = "application/xml; charset=utf-8";
      r.body = std::move(*x);
      return r;
    }
    if (seg[2] == "output") {
      std::string test = param("test");
      auto attempt = PositiveId(param("attempt").empty() ? "1" : param("attempt"), "attempt");
      if (!attempt.ok()) return fail(attempt.status());
      auto all = db_.LoadAttempts(*id, false);
      if (!all.ok()) return fail(all.status());
      for (const auto& a : *all) {
        if (a.test_path != test || a.attempt != *attempt) continue;
        auto output = db_.LoadAttemptOutput(*id, test, *attempt);
        if (!output.ok()) return fail(output.status());
        Html h;
        bool cut = false;
        std::string text = OutputTail(*output, o_.output_cap, &cut);
        h.Open("h1").Text(fmt::format("{} attempt {} of run {}", test, a.attempt, *id)).Close("h1");
        h.Open("p").Link(links.Run(*id), fmt::format("run {}", *id)).Text(" · ").Link(links.Test(test), "history");
        h.Text(fmt::format(" · {} bytes of output{}", a.output_bytes,
                           cut ? fmt::format(", the last {} shown", o_.output_cap) : std::string()));
        h.Close("p");
        h.Element("pre", text, {"class", "log"});
        Response r;
        r.body = Frame(fmt::format("{} attempt {}", test, a.attempt), "", h.str(), links);
        return r;
      }
      return fail(Status::NotFound(fmt::format("run {} has no attempt {} of that test", *id, *attempt)));
    }
    return fail(Status::NotFound("no such page"));
  }
  if (seg.size() == 1 && seg[0] == "tests") {
    std::string p = param("path");
    if (p.empty()) return fail(Status::InvalidArgument("which test? /tests?path=COLLECTION:TEST"));
    return page([&] { return TestData(p); }, &Site::TestPage);
  }
  if (seg.size() == 1 && seg[0] == "flakes") {
    std::string all = param("all");
    if (!all.empty() && all != "0" && all != "1") return fail(Status::InvalidArgument("all is 0 or 1"));
    return page([&] { return FlakesData(all == "1"); }, &Site::FlakesPage);
  }
  if (seg.size() == 1 && seg[0] == "crashes") return page([&] { return CrashesData(); }, &Site::CrashesPage);
  if (seg[0] == "builds" && seg.size() <= 2) {
    if (seg.size() == 1) return page([&] { return BuildsData(); }, &Site::BuildsPage);
    auto id = PositiveId(seg[1], "a build");
    if (!id.ok()) return fail(Status::NotFound(fmt::format("no build {}", seg[1])));
    return page([&] { return BuildData(*id); }, &Site::BuildPage);
  }
  if (seg[0] == "series" && seg.size() <= 2) {
    if (seg.size() == 1) return page([&] { return SeriesListData(); }, &Site::SeriesListPage);
    auto id = PositiveId(seg[1], "a series");
    if (!id.ok()) return fail(Status::NotFound(fmt::format("no series {}", seg[1])));
    return page([&] { return SeriesData(*id); }, &Site::SeriesPage);
  }
  if (seg.size() == 1 && seg[0] == "compare") {
    auto a = PositiveId(param("a"), "a");
    auto b = PositiveId(param("b"), "b");
    if (!a.ok()) return fail(Status::InvalidArgument("compare needs two runs: /compare?a=RUN&b=RUN"));
    if (!b.ok()) return fail(Status::InvalidArgument("compare needs two runs: /compare?a=RUN&b=RUN"));
    return page([&] { return CompareData(*a, *b); }, &Site::ComparePage);
  }
  return fail(Status::NotFound("no such page"));
}

}  // namespace vigil::web
