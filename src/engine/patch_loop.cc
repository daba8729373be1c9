#include "engine/patch_loop.h"

#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"
#include "engine/kernel_build.h"
#include "engine/run_session.h"
#include "kbuild/build.h"
#include "kbuild/diagnostics.h"
#include "model/series_run.h"
#include "model/vm_spec.h"
#include "runner/test_run.h"
#include "engine/verdict.h"
#include "mail/message.h"
#include "sys/cancel.h"
#include "sys/digest.h"
#include "sys/process.h"
#include "sys/process.h"
#include "sys/sandbox.h"
#include "sys/smtp.h"

namespace vigil::engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kDescriptionMax = 200;
// How long recipients that refused a series' e-mail for now are tried again.
constexpr int64_t kPendingMailSeconds = 24 * 3600;

// Seconds from `iso` (as FormatUtc writes it) to `now`, 0 when it is ahead
// (the clock was set back); nullopt when unreadable.
std::optional<int64_t> SecondsSince(const std::string& iso, std::chrono::system_clock::time_point now) {
  int64_t then_ms = ParseUtc(iso);
  if (then_ms < 0) return std::nullopt;
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return std::max<int64_t>(0, (now_ms - then_ms) / 1000);
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

struct GitResult {
  int exit_code = 0;
  std::string output;
};

// git, its words kept whatever its exit status; hooks and the user's
// ownership checks off (worktrees are handed to the sandbox user). Only a
// file's size and mtime say whether it changed: handing a checkout to the
// sandbox user changes every file's owner and ctime, and git would
// otherwise rewrite them all on the next checkout, rebuilding everything.
GitResult Git(const std::string& dir, std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(600)) {
  sys::ProcessOptions po;
  po.argv = {"git", "-C", dir, "-c", "core.hooksPath=/dev/null", "-c", "safe.directory=*",
             "-c", "core.checkStat=minimal", "-c", "core.trustCtime=false"};
  po.argv.insert(po.argv.end(), args.begin(), args.end());
  po.env = sys::CurrentEnvironment();
  po.env.push_back("GIT_TERMINAL_PROMPT=0");
  po.timeout = timeout;
  po.max_output_bytes = 1 << 20;
  GitResult g;
  auto r = sys::RunProcess(po);
  if (!r.ok()) {
    g.exit_code = 127;
    g.output = r.status().ToString();
    return g;
  }
  g.exit_code = r->status.exited() ? r->status.exit_code() : 128;
  g.output = r->output;
  return g;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// The first lines of a program's words, one line, capped: a check's
// description.
std::string Words(const std::string& output, size_t max = 160) {
  std::string out;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    line = SanitizeLine(line);
    // git am's advice on how to go on is not what went wrong.
    if (line.empty() || line.rfind("hint:", 0) == 0 || line.rfind("When you have resolved", 0) == 0 ||
        line.rfind("If you prefer to skip", 0) == 0 || line.rfind("To restore the original", 0) == 0 ||
        line.rfind("Use 'git am --show-current-patch", 0) == 0) {
      continue;
    }
    if (!out.empty()) out += " / ";
    out += line;
    if (out.size() >= max) break;
  }
  if (out.size() > max) out = out.substr(0, max - 3) + "...";
  return SanitizeUtf8(out);
}

std::string Cap(std::string s, size_t max = kDescriptionMax) {
  s = SanitizeLine(s);
  if (s.size() > max) {
    s.resize(max - 3);
    s = SanitizeUtf8(s) + "...";
  }
  return s;
}

json SeriesToJson(const patchwork::Series& s) {
  json j;
  j["id"] = s.id;
  j["name"] = SanitizeUtf8(s.name);
  j["version"] = s.version;
  j["web_url"] = SanitizeUtf8(s.web_url);
  j["mbox_url"] = SanitizeUtf8(s.mbox_url);
  j["submitter"] = {{"name", SanitizeUtf8(s.submitter.name)}, {"email", SanitizeUtf8(s.submitter.email)}};
  auto ref = [](const patchwork::PatchRef& p) {
    return json{{"id", p.id}, {"msgid", SanitizeUtf8(p.msgid)}, {"name", SanitizeUtf8(p.name)},
                {"mbox_url", SanitizeUtf8(p.mbox_url)}};
  };
  if (s.cover) j["cover"] = ref(*s.cover);
  j["patches"] = json::array();
  for (const auto& p : s.patches) j["patches"].push_back(ref(p));
  return j;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

json ParseJson(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::string StripAngles(std::string id) {
  if (!id.empty() && id.front() == '<') id.erase(0, 1);
  if (!id.empty() && id.back() == '>') id.pop_back();
  return id;
}

// "Name <addr>" or "addr".
mail::Address ParseAddress(const std::string& s) {
  mail::Address a;
  size_t lt = s.rfind('<');
  size_t gt = s.rfind('>');
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) {
    a.email = s.substr(lt + 1, gt - lt - 1);
    a.name = Trimmed(s.substr(0, lt));
    if (a.name.size() >= 2 && a.name.front() == '"' && a.name.back() == '"') a.name = a.name.substr(1, a.name.size() - 2);
  } else {
    a.email = Trimmed(s);
  }
  return a;
}

// The Subject: header of the first message of an mbox, unfolded.
std::string FirstSubject(const std::string& mbox) {
  std::istringstream in(mbox);
  std::string line, subject;
  bool in_subject = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // the end of the first message's header
    if (in_subject && (line[0] == ' ' || line[0] == '\t')) {
      subject += " " + Trimmed(line.substr(1));
      continue;
    }
    in_subject = false;
    if (line.size() > 8 && strncasecmp(line.c_str(), "Subject:", 8) == 0) {
      subject = Trimmed(line.substr(8));
      while (!subject.empty() && subject[0] == ' ') subject.erase(0, 1);
      in_subject = true;
    }
  }
  // Patchwork's mbox keeps a subject with non-ASCII characters as RFC 2047
  // encoded words; the reply's is made from the text.
  return SanitizeUtf8(mail::DecodeHeader(subject));
}

std::string Fill(std::string pattern, int64_t run, int64_t series, int64_t patch) {
  auto rep = [&](const std::string& key, int64_t v) {
    for (size_t i = pattern.find(key); i != std::string::npos; i = pattern.find(key, i)) {
      pattern.replace(i, key.size(), std::to_string(v));
    }
  };
  rep("{run}", run);
  rep("{series}", series);
  rep("{patch}", patch);
  return pattern;
}

class QuietRun final : public RunObserver {
 public:
  explicit QuietRun(PatchLoopObserver& o) : o_(o) {}
  void OnWarning(const std::string& m) override { o_.OnWarning(m); }

 private:
  PatchLoopObserver& o_;
};

}  // namespace

std::string TaggedTree(const Pipeline& pipeline, const std::string& subject) {
  // Every leading [...] group: "[PATCH net-next v2 1/2]", "[net-next,1/2]", "[RFC][PATCH net]".
  size_t i = 0;
  while (i < subject.size() && subject[i] == ' ') ++i;
  while (i < subject.size() && subject[i] == '[') {
    size_t end = subject.find(']', i);
    if (end == std::string::npos) break;
    std::string inside = subject.substr(i + 1, end - i - 1);
    std::string word;
    for (size_t k = 0; k <= inside.size(); ++k) {
      char c = k < inside.size() ? inside[k] : ' ';
      if (c == ' ' || c == ',' || c == '\t') {
        if (!word.empty() && pipeline.FindTree(word)) return word;
        word.clear();
      } else {
        word += c;
      }
    }
    i = end + 1;
    while (i < subject.size() && subject[i] == ' ') ++i;
  }
  return "";
}

PatchLoop::PatchLoop(store::Store& db, Clock& clock, const Pipeline& pipeline, patchwork::Client* pw,
                     PatchLoopOptions options, PatchLoopObserver& observer)
    : db_(db), clock_(clock), pipeline_(pipeline), pw_(pw), o_(std::move(options)), observer_(observer) {}

namespace {

model::SeriesRecord RecordOf(const patchwork::Series& s, const std::string& source, const std::string& now) {
  model::SeriesRecord r;
  r.source = source;
  r.series_id = s.id;
  r.name = SanitizeUtf8(s.name);
  r.version = std::to_string(s.version);
  r.submitter = SanitizeUtf8(s.submitter.name.empty() ? s.submitter.email
                                                      : fmt::format("{} <{}>", s.submitter.name, s.submitter.email));
  r.series_json = DumpJson(SeriesToJson(s));
  r.state = "queued";
  r.queued_at = now;
  r.updated_at = now;
  return r;
}

}  // namespace

Result<int> PatchLoop::Poll() {
  if (!pw_) return Status::InvalidArgument("no Patchwork to poll");
  auto cursor = db_.WatchCursor(o_.source);
  if (!cursor.ok()) return cursor.status();
  std::string since = *cursor;
  if (since.empty()) {
    // The first poll of this source on this store. Without --since it
    // starts now: a new CI must not test (and e-mail the submitters of)
    // every series the project ever had. The start is kept, so a restart
    // before the first event does not move it on.
    if (o_.since == "all") {
      since.clear();
    } else if (o_.since.empty() || o_.since == "now") {
      since = FormatUtc(clock_.Now());
      if (!since.empty() && since.back() == 'Z') since.pop_back();  // as Patchwork writes dates
      observer_.OnNote(fmt::format("the first poll of {} on this store: series completed from now on ({} UTC); "
                                   "--since DATE or --since all for older ones",
                                   SanitizeLine(o_.project), since));
    } else {
      since = o_.since;
    }
    if (!since.empty()) {
      if (Status st = db_.StartWatchCursor(o_.source, since); !st.ok()) return st;
    }
  }
  auto events = pw_->SeriesCompleted(o_.project, since);
  if (!events.ok()) return events.status();
  int queued = 0;
  // The date of the first event left for a later poll: the cursor stays
  // there (since is inclusive), or Patchwork would never serve it again.
  std::string held;
  // Accepts event `e`, queueing `queue` if any; the cursor moves to its
  // date, or stays at the held one before it.
  auto accept = [&](const patchwork::Event& e, const std::optional<model::SeriesRecord>& queue) {
    return db_.AcceptEvent(o_.source, e.id, !held.empty() && held < e.date ? held : e.date, queue);
  };
  for (const auto& e : *events) {
    auto seen = db_.EventAccepted(o_.source, e.id);
    if (!seen.ok()) return seen.status();
    if (*seen) continue;  // `since` is inclusive: the cursor's own events come again
    auto series = pw_->GetSeries(e.series_id);
    if (!series.ok() && series.status().code() == Status::Code::kNotFound) {
      // Deleted since its event: nothing to test, and the event is done
      // with (left unaccepted, it would stop the cursor there for good).
      observer_.OnWarning(fmt::format("series {} is gone from Patchwork: not queued ({})", e.series_id,
                                      SanitizeLine(series.status().message())));
      auto id = accept(e, std::nullopt);
      if (!id.ok()) return id.status();
      continue;
    }
    if (!series.ok()) return series.status();
    if (!series->received_all) {
      // Held no longer than a week: a patch deleted for good would keep the
      // cursor there, and every poll would fetch every event since.
      std::string cutoff = FormatUtc(clock_.Now() - std::chrono::hours(24 * 7));
      if (e.date.substr(0, 19) < cutoff.substr(0, 19)) {
        observer_.OnWarning(fmt::format(
            "series {} completed on {} but not all its patches arrived within a week: given up, not queued",
            e.series_id, SanitizeLine(e.date)));
        auto id = accept(e, std::nullopt);
        if (!id.ok()) return id.status();
        continue;
      }
      observer_.OnWarning(fmt::format("series {} completed but not all its patches arrived: not queued", e.series_id));
      if (held.empty() || e.date < held) held = e.date;
      continue;  // not accepted: a later poll sees the event again
    }
    std::optional<model::SeriesRecord> queue;
    auto earlier = db_.FindSeries(o_.source, e.series_id);
    if (earlier.ok() && !o_.retest) {
      observer_.OnNote(fmt::format("series {} was tested already ({}); --retest tests it again", e.series_id,
                                   earlier->state));
    } else {
      queue = RecordOf(*series, o_.source, clock_.UtcNow());
    }
    auto id = accept(e, queue);
    if (!id.ok()) return id.status();
    if (*id) {
      ++queued;
      observer_.OnNote(fmt::format("queued series {} (Patchwork's {}): \"{}\", {} patch{}", *id, e.series_id,
                                   SanitizeLine(series->name), series->patches.size(),
                                   series->patches.size() == 1 ? "" : "es"));
    }
  }
  return queued;
}

Result<int64_t> PatchLoop::QueueSeries(int64_t patchwork_series_id) {
  if (!pw_) return Status::InvalidArgument("no Patchwork");
  auto series = pw_->GetSeries(patchwork_series_id);
  if (!series.ok() && series.status().code() == Status::Code::kNotFound) {
    return Status::InvalidArgument(series.status().message());  // nothing to test: asked for what is not there
  }
  if (!series.ok()) return series.status();
  if (!series->received_all) {
    return Status::InvalidArgument(fmt::format("series {} has {} of its {} patches: not complete yet", series->id,
                                               series->patches.size(), series->total));
  }
  return db_.QueueSeries(RecordOf(*series, o_.source, clock_.UtcNow()));
}

Result<int64_t> PatchLoop::QueueBranch(const std::string& base, const std::string& head) {
  GitResult b = Git(o_.repo, {"rev-parse", "--verify", "--quiet", base + "^{commit}"});
  if (b.exit_code != 0) return Status::InvalidArgument(fmt::format("--base {}: not a commit of {}", base, o_.repo));
  GitResult h = Git(o_.repo, {"rev-parse", "--verify", "--quiet", head + "^{commit}"});
  if (h.exit_code != 0) return Status::InvalidArgument(fmt::format("--head {}: not a commit of {}", head, o_.repo));
  model::SeriesRecord r;
  r.source = "branch:" + fs::absolute(o_.repo).lexically_normal().string();
  r.name = fmt::format("{}..{}", base, head);
  r.version = "1";
  r.state = "queued";
  r.base_commit = Trimmed(b.output);
  r.head_commit = Trimmed(h.output);
  r.series_json = DumpJson(json{{"base", base}, {"head", head}});
  r.queued_at = r.updated_at = clock_.UtcNow();
  return db_.QueueSeries(r);
}

Result<std::vector<SeriesOutcome>> PatchLoop::Work() {
  store::SeriesQuery q;
  q.source = o_.source;
  q.states = {"queued", "testing", "reporting"};
  auto pending = db_.ListSeries(q);
  if (!pending.ok()) return pending.status();
  std::vector<model::SeriesRecord> todo = std::move(*pending);
  std::reverse(todo.begin(), todo.end());  // oldest first
  std::vector<SeriesOutcome> out;
  for (auto& s : todo) {
    if (o_.cancel && o_.cancel->stopping()) break;
    if (!pw_ && s.series_id != 0) continue;  // Patchwork's series wait for a loop that has it
    if (s.state != "reporting") {
      if (s.state == "testing") observer_.OnNote(fmt::format("series {}: tested again (it was cut short)", s.id));
      Status t = Test(&s);
      if (!t.ok()) {
        if (t.code() == Status::Code::kInvalidArgument) return t;  // permanent: the series waits
        observer_.OnWarning(fmt::format("series {}: {} (tested on the next round)", s.id, t.message()));
        continue;
      }
      if (s.state == "error") {
        out.push_back({s.id, s.state, s.conclusion});
        continue;
      }
    }
    Status r = Report(&s);
    if (!r.ok()) {
      if (r.code() == Status::Code::kInvalidArgument) return r;
      observer_.OnWarning(fmt::format("series {}: {} (its report is sent on the next round)", s.id, r.message()));
      continue;
    }
    out.push_back({s.id, s.state, s.conclusion});
  }
  return out;
}

namespace {

// A check as the loop posts it.
model::SeriesCheckRecord CheckRecord(int64_t series, int64_t patch, const std::string& phase, const std::string& context,
                                     const std::string& state, const std::string& description,
                                     const std::string& target_url) {
  model::SeriesCheckRecord c;
  c.series = series;
  c.patch_id = patch;
  c.phase = phase;
  c.context = context;
  c.state = state;
  c.description = description;
  c.target_url = target_url;
  c.status = "planned";
  return c;
}

// Posts `c` unless it was posted: one found "posting" (vigil stopped between
// the request and its record) is looked for on Patchwork first.
Status PostOnce(store::Store& db, patchwork::Client& pw, Clock& clock, model::SeriesCheckRecord c) {
  if (c.status == "posted") return Status::OK();
  patchwork::Check check;
  check.state = c.state;
  check.context = c.context;
  check.description = c.description;
  check.target_url = c.target_url;
  if (c.status == "posting") {
    // Posted if it is what Patchwork shows for its context now, not if an
    // older check (a retest's earlier round) says the same.
    auto existing = pw.ListChecks(c.patch_id);
    if (!existing.ok()) return existing.status();
    if (patchwork::NewestIs(*existing, check)) {
      c.status = "posted";
      c.posted_at = clock.UtcNow();
      return db.SetSeriesCheck(c);
    }
  }
  c.status = "posting";
  if (Status s = db.SetSeriesCheck(c); !s.ok()) return s;
  if (Status s = pw.PostCheck(c.patch_id, check); !s.ok()) return s;
  c.status = "posted";
  c.posted_at = clock.UtcNow();
  return db.SetSeriesCheck(c);
}

void RemoveCheckout(const std::string& repo, const std::string& checkout) {
  std::error_code ec;
  if (fs::exists(checkout, ec)) {
    (void)Git(repo, {"worktree", "remove", "--force", checkout});
    fs::remove_all(checkout, ec);
  }
  (void)Git(repo, {"worktree", "prune"});
}

std::vector<int64_t> PatchIds(const json& sj) {
  std::vector<int64_t> ids;
  auto it = sj.find("patches");
  if (it == sj.end() || !it->is_array()) return ids;
  for (const auto& p : *it) {
    if (int64_t id = Int(p, "id")) ids.push_back(id);
  }
  return ids;
}

}  // namespace

std::string PatchLoop::TreeCheckout(const std::string& tree) const {
  return (fs::path(o_.work_dir) / fmt::format("tree-{}", tree)).string();
}

Status PatchLoop::RestoreGitLink(const std::string& checkout) {
  // Sandboxed code could write the checkout's .git (a file naming the
  // worktree's directory in the repository): a .git of its making would
  // have git, run here as root, read a config of its making. So the link
  // is written again from the repository's own record of its worktrees.
  GitResult common = Git(o_.repo, {"rev-parse", "--path-format=absolute", "--git-common-dir"});
  if (common.exit_code != 0) return Status::IOError(fmt::format("{}: {}", o_.repo, Words(common.output)));
  // As git writes it: the real path (of the checkout's directory, which
  // sandboxed code cannot replace; not of the checkout, which it can).
  std::error_code ec;
  fs::path parent = fs::weakly_canonical(fs::path(checkout).parent_path(), ec);
  if (ec) parent = fs::path(checkout).parent_path();
  const std::string want = (parent / fs::path(checkout).filename() / ".git").string();
  for (auto it = fs::directory_iterator(fs::path(Trimmed(common.output)) / "worktrees", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::ifstream f(it->path() / "gitdir");
    std::string line;
    if (!std::getline(f, line) || Trimmed(line) != want) continue;
    fs::remove_all(want, ec);
    std::ofstream link(want, std::ios::trunc);
    link << "gitdir: " << it->path().string() << "\n";
    if (!link) return Status::IOError(fmt::format("cannot write {}", want));
    return Status::OK();
  }
  return Status::NotFound(fmt::format("{} is not a worktree of {}", checkout, o_.repo));
}

Status PatchLoop::CheckoutAt(const std::string& checkout, const std::string& commit, bool reuse) {
  if (reuse) {
    // One of this repository's worktrees: taken back to `commit`, what a
    // series left behind removed (ignored files too: a .config a series'
    // build wrote into the source tree would fail every build after it,
    // "source tree is not clean"), the build directories kept.
    if (RestoreGitLink(checkout).ok()) {
      (void)Git(checkout, {"am", "--abort"});
      GitResult co = Git(checkout, {"checkout", "--quiet", "--force", "--detach", commit});
      GitResult clean = Git(checkout, {"clean", "--quiet", "--force", "-d", "-x", "-e", "/.vigil-build-*"});
      if (co.exit_code == 0 && clean.exit_code == 0) return Status::OK();
      observer_.OnWarning(fmt::format("{}: {}: made again", checkout, Words(co.output + clean.output)));
    }
  }
  RemoveCheckout(o_.repo, checkout);
  GitResult add = Git(o_.repo, {"worktree", "add", "--detach", checkout, commit});
  if (add.exit_code != 0) return Status::IOError(fmt::format("git worktree add: {}", Words(add.output)));
  return Status::OK();
}

namespace {

class QuietBuild final : public kbuild::BuildObserver {};

// A check context of `variant`: the pipeline's own with one variant, with
// "-<variant>" appended with several (vigil-build-debug).
std::string VariantContext(const Pipeline& pipeline, const std::string& context, const std::string& variant) {
  return pipeline.build.enabled && pipeline.build.variants.size() > 1 ? context + "-" + variant : context;
}

}  // namespace

Result<PatchLoop::Tested> PatchLoop::RunTests(const std::string& checkout, const std::string& label, int64_t base_build,
                                              const std::string& variant_name) {
  Tested t;
  const PipelineBuild& pb = pipeline_.build;
  sys::SandboxSpec spec;
  spec.writable = {checkout};
  std::string ccache = pb.ccache_dir.empty() ? (fs::path(o_.work_dir) / "ccache").string() : pb.ccache_dir;
  if (pb.enabled) {
    std::error_code ec;
    fs::create_directories(ccache, ec);
    if (ec) return Status::IOError(fmt::format("cannot create the build's ccache directory {}: {}", ccache, ec.message()));
    std::string blocker;
    if (!sys::ReachableBySandbox(ccache, spec, &blocker)) {
      return Status::InvalidArgument(fmt::format(
          "the build's ccache directory {} is out of the sandbox user's reach ({} is not searchable by it): set [build] "
          "ccache_dir elsewhere",
          ccache, blocker));
    }
    spec.writable.push_back(ccache);
    // The VM runs vigil itself as the sandbox user (below): said before a
    // kernel is built for nothing.
    std::string bin = fs::path(sys::SelfExe()).parent_path().string();
    if (!sys::ReachableBySandbox(bin, spec, &blocker)) {
      return Status::InvalidArgument(fmt::format(
          "vigil ({}) is out of the sandbox user's reach ({} is not searchable by it), and the VM runs it as "
          "that user: install vigil where every user can read it",
          sys::SelfExe(), blocker));
    }
  }
  for (const std::string& f : {o_.token_file, o_.db_path, o_.db_path + "-wal", o_.db_path + "-shm", o_.db_path + "-journal",
                               pipeline_.email.password_file}) {
    std::error_code ec;
    if (!f.empty() && fs::exists(f, ec)) spec.masked.push_back(fs::absolute(f).string());
  }
  if (pb.enabled) {
    // The build asks git about the checkout as root: after a variant
    // built before it ran sandboxed code there, the link is vouched for again.
    if (Status s = RestoreGitLink(checkout); !s.ok()) return s;
  }
  if (Status s = sys::GiveToSandbox(checkout, spec); !s.ok()) return s;
  if (pb.enabled) {
    if (Status s = sys::GiveToSandbox(ccache, spec); !s.ok()) return s;
  }
  std::vector<std::string> prefix = sys::SandboxPrefix(spec);
  std::vector<std::string> env = runner::ClearEnvironment(o_.base_env, {});

  RunRequest req;
  if (pb.enabled) {
    // The kernel, its modules and the collections' kselftests, built by
    // make as the sandbox user, incrementally in the checkout's own
    // build directory.
    observer_.OnNote(fmt::format("{}: building the kernel ({}, {})", label, pb.base_config, variant_name));
    BuildRequest br;
    kbuild::BuildOptions& bo = br.options;
    bo.tree = checkout;
    auto variant = kbuild::FindVariant(variant_name, pb.variants_file);
    if (!variant.ok()) return variant.status();
    bo.variant = *variant;
    bo.output_dir = (fs::path(checkout) / (".vigil-build-" + variant_name)).string();
    bo.base_config = pb.base_config;
    bo.collections = BuildCollections(pipeline_.run.collections, pipeline_.run.tests_filter);
    bo.config_files = pb.fragments;
    bo.set = pb.set;
    bo.jobs = pb.jobs;
    bo.env = {{"CCACHE_DIR", ccache}, {"HOME", "/tmp"}};
    bo.wrapper = prefix;
    bo.clean_env = true;
    bo.owner_uid = static_cast<int>(spec.uid);
    bo.owner_gid = static_cast<int>(spec.gid);
    bo.cancel = o_.cancel;
    br.compare_to = base_build ? std::to_string(base_build) : "";
    br.command_line = label;
    br.host = sys::HostName();
    QuietBuild quiet_build;
    auto built = BuildAndRecord(db_, br, quiet_build);
    if (!built.ok()) return built.status();  // not attempted: the machine's trouble, not the series'

    const kbuild::BuildResult& r = built->result;
    t.build_id = built->build_id;
    for (const auto& m : r.mismatches) t.build_lines.push_back("  config: " + m.ToString());
    if (r.state == kbuild::BuildResult::State::kInterrupted) return Status::IOError("stopped while building");
    if (r.state != kbuild::BuildResult::State::kBuilt) {
      std::vector<const kbuild::Diagnostic*> errors;
      for (const auto& d : r.diagnostics) {
        if (d.severity >= kbuild::Severity::kError && d.tool != kbuild::Tool::kMake) errors.push_back(&d);
      }
      t.build_state = "fail";
      t.build_description =
          errors.empty() ? Cap("Build failed: " + r.failure)
                         : Cap(fmt::format("Build failed: {} error{}: {}", errors.size(), errors.size() == 1 ? "" : "s",
                                           kbuild::FormatDiagnostic(*errors.front())));
      for (size_t i = 0; i < errors.size() && i < 20; ++i) t.build_lines.push_back("  " + kbuild::FormatDiagnostic(*errors[i]));
      if (errors.empty()) {
        for (const auto& line : r.tail) t.build_lines.push_back("  " + line);
      }
      t.failure = "Not tested: the build failed";
      return t;
    }
    size_t new_warnings = built->new_diagnostics.size();
    for (size_t i = 0; i < new_warnings && i < 20; ++i) {
      t.build_lines.push_back("  new: " + kbuild::FormatDiagnostic(built->new_diagnostics[i]));
    }
    if (new_warnings > 0) {
      t.build_state = "warning";
      t.build_description = Cap(fmt::format("Built: {} new warning{}: {}", new_warnings, new_warnings == 1 ? "" : "s",
                                            kbuild::FormatDiagnostic(built->new_diagnostics.front())));
    } else {
      t.build_state = "success";
      t.build_description =
          base_build ? fmt::format("Built: {} warning{}, none new", r.warnings, r.warnings == 1 ? "" : "s")
                     : fmt::format("Built: {} warning{}", r.warnings, r.warnings == 1 ? "" : "s");
    }
    // The built kernel booted in a VM: the VM is the test run's sandbox;
    // the host's root file system is shared with it read-only (9p), the
    // secrets hidden.
    model::VmSpec vm;
    vm.kernel = r.kernel;
    vm.modules = r.modules;
    vm.rootfs = "9p";
    vm.cpus = pipeline_.run.cpus;
    vm.memory = pipeline_.run.memory;
    vm.append = pipeline_.run.append;
    vm.panic_on = pipeline_.run.panic_on;
    vm.hang_timeout = pipeline_.run.hang_timeout;
    req.vm = vm;
    req.vm_hidden = spec.masked;  // the token and the store read as empty there too
    // QEMU as the sandbox user: the guest's root reads the host's files
    // with that user's rights, no more (not /etc/shadow, not root's keys).
    req.vm_run_uid = static_cast<int>(spec.uid);
    req.vm_run_gid = static_cast<int>(spec.gid);
    req.tests_dir = r.tests;
    req.build_id = t.build_id;
  } else {
    if (!pipeline_.run.build.empty()) {
      observer_.OnNote(fmt::format("{}: building: {}", label, SanitizeLine(pipeline_.run.build)));
      sys::ProcessOptions po;
      po.argv = prefix;
      po.argv.insert(po.argv.end(), {"/bin/sh", "-c", pipeline_.run.build});
      po.cwd = checkout;
      po.env = env;
      po.timeout = std::chrono::hours(2);
      po.max_output_bytes = 4 << 20;
      po.cancel = o_.cancel;
      auto r = sys::RunProcess(po);
      if (!r.ok()) return r.status();
      if (r->cancelled) return Status::IOError("stopped while building");
      if (!(r->status.exited() && r->status.exit_code() == 0)) {
        // The last lines say why.
        std::string out = Trimmed(r->output);
        size_t from = out.size();
        for (int lines = 0; lines < 3 && from != std::string::npos && from > 0; ++lines) from = out.rfind('\n', from - 1);
        std::string tail = from == std::string::npos ? out : out.substr(from + 1);
        t.failure = fmt::format("Build failed ({}): {}", r->timed_out ? "timed out" : r->status.ToString(), Words(tail));
        return t;
      }
    }
    req.tests_dir = (fs::path(checkout) / pipeline_.run.tests).string();
    req.test_wrapper = prefix;
  }

  // The tests directory is the series' (its checkout, or its build's
  // output): read as the sandbox user, and its own vigil.toml and
  // known-issues.toml are not taken (the series would choose its retries
  // and which of its failures are known).
  req.tests_read_uid = static_cast<int>(spec.uid);
  req.tests_read_gid = static_cast<int>(spec.gid);
  req.files_beside_tests = false;
  req.filter.collections = pipeline_.run.collections;
  req.filter.tests = pipeline_.run.tests_filter;
  req.jobs = pipeline_.run.jobs;
  req.retries = pipeline_.run.retries;
  req.known_issues = pipeline_.run.known_issues;
  req.baseline = "none";  // judged below, against the base commit's run
  req.db_path = o_.db_path;
  req.command_line = label;
  req.host = sys::HostName();
  req.base_env = o_.base_env;
  req.env_clear = true;
  req.owner = sys::SelfOwner();
  req.cancel = o_.cancel;
  QuietRun quiet(observer_);
  RunSession session(db_, clock_, quiet);
  auto end = session.Execute(req);
  // Stopped (a VM given up while it booted): tested again next time, not
  // reported as the series' failure.
  if (!end.ok() && o_.cancel && o_.cancel->stopping()) return Status::IOError("stopped while testing");
  if (!end.ok()) {
    t.failure = Cap(fmt::format("Tests did not run: {}", end.status().message()));
    return t;
  }
  if (end->cancelled) return Status::IOError("stopped while testing");
  t.run_id = end->run_id;
  return t;
}

Result<int64_t> PatchLoop::BaselineRun(const PipelineTree& tree, const std::string& base_commit,
                                       const std::string& variant) {
  // (The build's config files as they are now: edited, the base is built
  // and tested again.)
  std::string key = tree.name + "@" + BuildInputsHash(pipeline_) + (variant.empty() ? "" : "#" + variant);
  auto known = db_.FindBaseline(key, base_commit);
  if (known.ok()) return known;
  const bool build = pipeline_.build.enabled;
  std::string checkout = build ? TreeCheckout(tree.name)
                               : (fs::path(o_.work_dir) / fmt::format("base-{}-{}", tree.name, base_commit.substr(0, 12))).string();
  if (Status c = CheckoutAt(checkout, base_commit, build); !c.ok()) return c;
  observer_.OnNote(fmt::format("testing the base of {}: {}", tree.name, base_commit.substr(0, 12)));
  auto tested = RunTests(checkout,
                         fmt::format("baseline {} {}{}", tree.name, base_commit.substr(0, 12),
                                     pipeline_.build.variants.size() > 1 ? " (" + variant + ")" : ""),
                         0, variant);
  if (!build) RemoveCheckout(o_.repo, checkout);
  if (!tested.ok()) return tested.status();
  if (tested->run_id == 0) {
    std::string why = tested->build_description.empty() ? tested->failure : tested->build_description;
    observer_.OnWarning(fmt::format("the base of {} ({}) does not test: {}; failures are not compared", tree.name,
                                    base_commit.substr(0, 12), why));
    return int64_t{0};
  }
  if (Status s = db_.SetBaseline(key, base_commit, tested->run_id); !s.ok()) return s;
  return tested->run_id;
}

namespace {

struct Conclusion {
  std::string state;        // success, warning, fail
  std::string description;  // one line
};

Conclusion FromVerdict(const judge::Verdict& v, int passed_tests, int passed_subtests) {
  auto paths = [](const std::vector<judge::VerdictItem>& items) {
    std::string s;
    for (size_t i = 0; i < items.size() && i < 3; ++i) s += (i ? ", " : "") + items[i].path;
    if (items.size() > 3) s += fmt::format(" and {} more", items.size() - 3);
    return s;
  };
  if (v.level == judge::Level::kCritical && !v.crashes.empty()) {
    return {"fail", Cap("Critical: " + v.crashes.front().title)};
  }
  if (v.level != judge::Level::kSuccess) {
    if (!v.failures.empty()) {
      return {"fail", Cap(fmt::format("Failed: {} new failure{}: {}", v.failures.size(), v.failures.size() == 1 ? "" : "s",
                                      paths(v.failures)))};
    }
    if (!v.missing.empty()) return {"fail", Cap(fmt::format("Failed: {} planned tests did not run", v.missing.size()))};
    return {"fail", Cap("Failed: " + v.conclusion)};
  }
  if (!v.flaky.empty()) {
    return {"warning", Cap(fmt::format("Unstable: {} flaky: {}", v.flaky.size(), paths(v.flaky)))};
  }
  std::string extra;
  if (!v.preexisting.empty()) extra += fmt::format(", {} failing on the base as well", v.preexisting.size());
  if (!v.known.empty()) extra += fmt::format(", {} known", v.known.size());
  if (!v.quarantined.empty()) extra += fmt::format(", {} quarantined", v.quarantined.size());
  if (passed_subtests > 0) {
    return {"success", Cap(fmt::format("Success: {} subtest{} passed{}", passed_subtests, passed_subtests == 1 ? "" : "s",
                                       extra))};
  }
  return {"success", Cap(fmt::format("Success: {} test{} passed{}", passed_tests, passed_tests == 1 ? "" : "s", extra))};
}

// KCIDB's patchset_hash of a series: SHA-256 over the newline-terminated
// SHA-256 of each patch's mbox, in order, as Patchwork serves them at the
// patches' mbox URLs (what the KCIDB checkout lists). `first`: the first
// patch's mbox when it was fetched already. Fails when one of them cannot
// be had: the hash is left out then, never made of what was at hand.
Result<std::string> PatchsetHash(patchwork::Client& pw, const json& sj, const std::string* first) {
  if (!sj.contains("patches") || !sj["patches"].is_array() || sj["patches"].empty()) {
    return Status::NotFound("no patches");
  }
  std::string lines;
  for (size_t i = 0; i < sj["patches"].size(); ++i) {
    const json& p = sj["patches"][i];
    std::string url = p.is_object() ? Str(p, "mbox_url") : "";
    if (url.empty()) return Status::NotFound(fmt::format("patch {} has no mbox URL", i + 1));
    Result<std::string> mbox = i == 0 && first ? Result<std::string>(*first) : pw.GetMbox(url);
    if (!mbox.ok()) return mbox.status();
    auto h = sys::Sha256Hex(*mbox);
    if (!h.ok()) return h.status();
    lines += *h + "\n";
  }
  return sys::Sha256Hex(lines);
}

}  // namespace

Status PatchLoop::Test(model::SeriesRecord* s) {
  const std::string now = clock_.UtcNow();
  s->state = "testing";
  s->updated_at = now;
  if (Status st = db_.UpdateSeries(*s); !st.ok()) return st;
  json sj = ParseJson(s->series_json);
  const bool branch = s->series_id == 0;
  const std::vector<int64_t> patches = PatchIds(sj);
  const bool build = pipeline_.build.enabled;
  const std::string& context = pipeline_.run.context;
  // The contexts this pipeline posts (with several variants, one pair per
  // variant: vigil-build-debug, vigil-test-debug).
  std::vector<std::pair<std::string, const char*>> contexts;  // context, pending description
  if (build) {
    for (const auto& v : pipeline_.build.variants) {
      contexts.push_back({VariantContext(pipeline_, pipeline_.build.context, v), "Building started"});
      contexts.push_back({VariantContext(pipeline_, context, v), "Testing started"});
    }
  } else {
    contexts.push_back({context, "Testing started"});
  }

  // Work has started: pending on every patch (once).
  if (!o_.dry_run && pw_ && !branch) {
    auto checks = db_.LoadSeriesChecks(s->id);
    if (!checks.ok()) return checks.status();
    for (const auto& [ctx, started] : contexts)
    for (int64_t patch : patches) {
      model::SeriesCheckRecord c = CheckRecord(s->id, patch, "pending", ctx, "pending", started, "");
      for (const auto& e : *checks) {
        if (e.patch_id == patch && e.phase == "pending" && e.context == ctx) c = e;
      }
      Status p = PostOnce(db_, *pw_, clock_, c);
      if (p.code() == Status::Code::kInvalidArgument) return p;
      if (p.code() == Status::Code::kNotFound) return Gone(s, p);
      if (!p.ok()) observer_.OnWarning(fmt::format("series {}: pending check on patch {}: {}", s->id, patch, p.message()));
    }
  }

  std::error_code ec;
  fs::create_directories(o_.work_dir, ec);
  // [build]: each tree's own checkout, reused (incremental builds);
  // otherwise one per series, removed after.
  std::string checkout = (fs::path(o_.work_dir) / fmt::format("series-{}", s->id)).string();
  if (!build) RemoveCheckout(o_.repo, checkout);
  // Each variant is built, tested and judged against the base's own build
  // and run of that variant; a host pipeline is one pass without a build.
  const std::vector<std::string> variants = build ? pipeline_.build.variants : std::vector<std::string>{""};
  const bool several = variants.size() > 1;
  std::vector<int64_t> base_runs(variants.size(), 0);
  bool base_done = false;
  json result;
  std::string mbox_path;
  std::string subject = Str(sj, "name");
  const PipelineTree* tree = nullptr;
  std::string apply_error;

  if (branch) {
    if (build) {
      // The base first: the checkout is shared.
      checkout = TreeCheckout("branch");
      for (size_t i = 0; i < variants.size(); ++i) {
        auto b = BaselineRun(PipelineTree{"branch", "", ""}, s->base_commit, variants[i]);
        if (!b.ok()) return b.status();
        base_runs[i] = *b;
      }
      base_done = true;
    }
    if (Status c = CheckoutAt(checkout, s->head_commit, build); !c.ok()) return c;
  } else {
    auto mbox = pw_->GetMbox(Str(sj, "mbox_url"));
    if (!mbox.ok() && (mbox.status().code() == Status::Code::kInvalidArgument ||
                       mbox.status().code() == Status::Code::kNotFound)) {
      // Refused (a GET carries no token: the series is gone).
      return Gone(s, mbox.status());
    }
    if (!mbox.ok()) return mbox.status();
    mbox_path = (fs::path(o_.work_dir) / fmt::format("series-{}.mbox", s->id)).string();
    {
      std::ofstream f(mbox_path, std::ios::binary | std::ios::trunc);
      f << *mbox;
      if (!f) return Status::IOError(fmt::format("cannot write {}", mbox_path));
    }
    // The thread's subject: the cover letter's (else the first patch's), as mailed.
    const json* first = nullptr;
    const bool cover = sj.contains("cover") && sj["cover"].is_object();
    if (cover) first = &sj["cover"];
    else if (sj.contains("patches") && sj["patches"].is_array() && !sj["patches"].empty()) first = &sj["patches"][0];
    std::optional<std::string> first_patch;  // the first patch's mbox, once fetched
    if (first) {
      subject = Str(*first, "name");
      if (!Str(*first, "mbox_url").empty()) {
        auto one = pw_->GetMbox(Str(*first, "mbox_url"));
        if (one.ok()) {
          std::string first = FirstSubject(*one);
          if (!first.empty()) subject = std::move(first);
        }
        if (one.ok() && !cover) first_patch = std::move(*one);
      }
    }
    // The series' patchset hash, for KCIDB (vigil export kcidb), kept with
    // the series as fetched.
    auto hash = PatchsetHash(*pw_, sj, first_patch ? &*first_patch : nullptr);
    if (hash.ok()) {
      sj["patchset_hash"] = *hash;
      s->series_json = DumpJson(sj);
    } else {
      observer_.OnWarning(fmt::format("series {}: no patchset hash: {}", s->id, SanitizeLine(hash.status().message())));
    }
    std::string tagged = TaggedTree(pipeline_, first ? Str(*first, "name") : subject);
    if (tagged.empty()) tagged = TaggedTree(pipeline_, subject);
    std::vector<const PipelineTree*> candidates;
    if (!tagged.empty()) {
      candidates.push_back(pipeline_.FindTree(tagged));
    } else {
      for (const auto& t : pipeline_.trees) candidates.push_back(&t);
    }
    for (const PipelineTree* t : candidates) {
      std::string ref = t->branch;
      if (!t->remote.empty()) {
        GitResult f = Git(o_.repo, {"fetch", "--quiet", t->remote, t->branch});
        if (f.exit_code != 0) return Status::IOError(fmt::format("git fetch {} {}: {}", t->remote, t->branch, Words(f.output)));
        ref = "FETCH_HEAD";
      }
      GitResult base = Git(o_.repo, {"rev-parse", "--verify", "--quiet", ref + "^{commit}"});
      if (base.exit_code != 0) {
        observer_.OnWarning(fmt::format("tree {}: branch {} not found in {}", t->name, t->branch, o_.repo));
        continue;
      }
      s->base_commit = Trimmed(base.output);
      if (build) checkout = TreeCheckout(t->name);
      if (Status c = CheckoutAt(checkout, s->base_commit, build); !c.ok()) return c;
      GitResult am = Git(checkout, {"-c", "user.name=vigil", "-c", "user.email=vigil@localhost", "am", "--quiet",
                                    "--no-3way", mbox_path});
      if (am.exit_code == 0) {
        tree = t;
        break;
      }
      apply_error = fmt::format("Does not apply to {}: {}", t->name, Words(am.output));
      (void)Git(checkout, {"am", "--abort"});
      if (!build) RemoveCheckout(o_.repo, checkout);
    }
    if (!tree && apply_error.empty()) apply_error = "Does not apply: no tree of the pipeline could be checked out";
  }

  // One pass per variant: its contexts, conclusions and runs.
  struct Pass {
    std::string variant;
    Conclusion build, test;  // build.state "": no build check
    int64_t run_id = 0, build_id = 0, base_run = 0;
  };
  std::vector<Pass> passes;
  std::vector<std::string> failing_lines;
  std::string failing_test, failing_variant;
  if (!branch && !tree) {
    // Every context said pending gets its final check: with [build], each
    // variant's build fails (nothing to build), its tests were not run.
    if (build) {
      for (const auto& v : variants) {
        passes.push_back(Pass{v, {"fail", Cap(apply_error)}, {"fail", "Not tested: the series does not apply"}});
      }
    } else {
      passes.push_back(Pass{variants.front(), {}, {"fail", Cap(apply_error)}});
    }
  } else {
    if (tree) {
      s->tree = tree->name;
      GitResult head = Git(checkout, {"rev-parse", "HEAD"});
      s->head_commit = Trimmed(head.output);
    } else {
      s->tree = "";
    }
    if (!base_done) {
      if (build) {
        // The base is built and tested in the tree's checkout first (once
        // per base commit and variant), then the series is applied there
        // again.
        for (size_t i = 0; i < variants.size(); ++i) {
          auto b = BaselineRun(*tree, s->base_commit, variants[i]);
          if (!b.ok()) return b.status();
          base_runs[i] = *b;
        }
        if (Status c = CheckoutAt(checkout, s->base_commit, true); !c.ok()) return c;
        GitResult am = Git(checkout, {"-c", "user.name=vigil", "-c", "user.email=vigil@localhost", "am", "--quiet",
                                      "--no-3way", mbox_path});
        if (am.exit_code != 0) return Status::IOError(fmt::format("git am after the base's build: {}", Words(am.output)));
        GitResult head = Git(checkout, {"rev-parse", "HEAD"});
        s->head_commit = Trimmed(head.output);
      } else {
        PipelineTree branch_tree{"branch", "", ""};
        auto b = BaselineRun(tree ? *tree : branch_tree, s->base_commit, "");
        if (!b.ok()) {
          RemoveCheckout(o_.repo, checkout);
          return b.status();
        }
        base_runs[0] = *b;
      }
    }
    for (size_t i = 0; i < variants.size(); ++i) {
      Pass pass;
      pass.variant = variants[i];
      pass.base_run = base_runs[i];
      const std::string tag = several ? fmt::format("[{}] ", pass.variant) : "";
      // The base's build: new warnings are the series' own.
      int64_t base_build = 0;
      if (build && pass.base_run) {
        if (auto br = db_.LoadRun(pass.base_run); br.ok()) base_build = br->build_id;
      }
      observer_.OnNote(fmt::format("series {}: testing {} on {}{}", s->id, s->head_commit.substr(0, 12),
                                   tree ? tree->name : s->base_commit.substr(0, 12),
                                   several ? " (" + pass.variant + ")" : ""));
      bool branch = s->source.rfind("branch:", 0) == 0;
      auto tested = RunTests(checkout,
                             branch ? model::BranchRunCommand(s->id, s->name) : model::SeriesRunCommand(s->id, s->name),
                             base_build, pass.variant);
      if (!tested.ok()) {
        if (!build) RemoveCheckout(o_.repo, checkout);
        return tested.status();
      }
      pass.run_id = tested->run_id;
      pass.build_id = tested->build_id;
      if (build) {
        pass.build = {tested->build_state, tested->build_description};
        for (const auto& l : tested->build_lines) failing_lines.push_back(tag + l);
      }
      if (pass.run_id == 0) {
        // A failed build is the build check's failure; the tests did not run.
        pass.test = build && pass.build.state == "fail" ? Conclusion{"warning", Cap(tested->failure)}
                                                         : Conclusion{"fail", Cap(tested->failure)};
      } else {
        VerdictRequest vr;
        vr.run_id = pass.run_id;
        vr.baseline = pass.base_run ? std::to_string(pass.base_run) : "none";
        vr.known_issues = pipeline_.run.known_issues;
        vr.known_issues_beside_tests = false;  // the series' own
        auto v = ComputeVerdict(db_, vr);
        if (!v.ok()) {
          if (!build) RemoveCheckout(o_.repo, checkout);
          return v.status();
        }
        int passed_tests = 0, passed_subtests = 0;
        if (auto attempts = db_.LoadAttempts(pass.run_id); attempts.ok()) {
          std::map<std::string, const model::AttemptRecord*> last;
          for (const auto& a : *attempts) last[a.test_path] = &a;
          for (const auto& [path, a] : last) {
            if (a->status == "PASS") ++passed_tests;
            for (const auto& sub : a->subtests) passed_subtests += sub.status == "PASS";
          }
        }
        pass.test = FromVerdict(*v, passed_tests, passed_subtests);
        for (const auto& f : v->failures) failing_lines.push_back(fmt::format("  {}{} {}", tag, f.status, f.path));
        for (const auto& c : v->crashes) failing_lines.push_back(fmt::format("  {}kernel: {} ({})", tag, c.title, c.test));
        if (!v->failures.empty() && failing_test.empty()) {
          std::string p = v->failures.front().path;
          size_t c1 = p.find(':');
          size_t c2 = c1 == std::string::npos ? std::string::npos : p.find(':', c1 + 1);
          failing_test = c2 == std::string::npos ? p : p.substr(0, c2);
          failing_variant = pass.variant;
        }
        for (const auto& f : v->preexisting) {
          failing_lines.push_back(fmt::format("  {}{} {} (failing on the base as well)", tag, f.status, f.path));
        }
        for (const auto& f : v->flaky) failing_lines.push_back(fmt::format("  {}FLAKY {}", tag, f.path));
      }
      passes.push_back(pass);
    }
    if (!build) RemoveCheckout(o_.repo, checkout);
  }

  // What is reported, composed now so that reporting only delivers it.
  result["tree"] = s->tree;
  result["base"] = s->base_commit;
  result["head"] = s->head_commit;
  result["run"] = passes.front().run_id;
  result["base_run"] = passes.front().base_run;
  if (build) {
    result["variants"] = json::array();
    for (const auto& p : passes) {
      result["variants"].push_back(
          {{"variant", p.variant}, {"build", p.build_id}, {"run", p.run_id}, {"base_run", p.base_run}});
    }
  }
  result["checks"] = json::array();
  const std::string target = Fill(pipeline_.target_url, passes.front().run_id, s->series_id, 0);
  // One check per context on every patch (with several variants, each has
  // its own: vigil-build-debug, vigil-test-debug); the series' conclusion
  // is the worst of them.
  struct Concluded {
    std::string context;
    Conclusion c;
    int64_t run_id;
  };
  std::vector<Concluded> concluded;
  for (const auto& p : passes) {
    if (build && !p.build.state.empty()) {
      concluded.push_back({VariantContext(pipeline_, pipeline_.build.context, p.variant), p.build, p.run_id});
    }
    concluded.push_back({VariantContext(pipeline_, context, p.variant), p.test, p.run_id});
  }
  for (const auto& k : concluded) {
    for (int64_t patch : patches) {
      result["checks"].push_back({{"patch", patch},
                                  {"context", k.context},
                                  {"state", k.c.state},
                                  {"description", k.c.description},
                                  {"target_url", k.run_id ? Fill(pipeline_.target_url, k.run_id, s->series_id, patch) : ""}});
    }
  }
  auto rank = [](const std::string& state) { return state == "fail" ? 2 : state == "warning" ? 1 : 0; };
  std::string worst = "success";
  std::string summary;
  for (const auto& p : passes) {
    for (const Conclusion* c : {&p.build, &p.test}) {
      if (c->state.empty()) continue;
      if (rank(c->state) > rank(worst)) worst = c->state;
    }
    std::string line = p.build.state.empty() ? p.test.description : p.build.description + "; " + p.test.description;
    summary += (summary.empty() ? "" : "; ") + (several ? p.variant + ": " : "") + line;
  }
  if (concluded.size() == 1) {
    s->conclusion = fmt::format("{}: {}", concluded.front().c.state, concluded.front().c.description);
  } else if (!branch && !tree) {
    s->conclusion = "fail: " + Cap(apply_error);
  } else {
    s->conclusion = fmt::format("{}: {}", worst, summary);
  }

  if (pipeline_.email.enabled && !branch) {
    const PipelineEmail& e = pipeline_.email;
    mail::Address from = ParseAddress(e.from);
    json m;
    m["from"] = {{"name", from.name}, {"email", from.email}};
    m["to"] = json::array();
    json sub = sj.value("submitter", json::object());
    if (e.to_submitter && !Str(sub, "email").empty()) m["to"].push_back({{"name", Str(sub, "name")}, {"email", Str(sub, "email")}});
    m["cc"] = json::array();
    for (const auto& c : e.cc) {
      mail::Address a = ParseAddress(c);
      m["cc"].push_back({{"name", a.name}, {"email", a.email}});
    }
    std::string thread;
    if (sj.contains("cover") && sj["cover"].is_object()) thread = Str(sj["cover"], "msgid");
    if (thread.empty() && sj.contains("patches") && sj["patches"].is_array() && !sj["patches"].empty())
      thread = Str(sj["patches"][0], "msgid");
    m["in_reply_to"] = StripAngles(thread);
    m["subject"] = mail::ReplySubject(subject);
    std::string domain = from.email.substr(from.email.find('@') + 1);
    m["message_id"] = mail::NewMessageId(fmt::format("{}.{}.{}", s->series_id, s->round, pipeline_.hash.substr(0, 8)), domain);
    std::string body;
    std::string who = Str(sub, "name").empty() ? "" : " " + SanitizeLine(Str(sub, "name"));
    body += fmt::format("Hi{},\n\n", who);
    body += fmt::format("Thank you for your series \"{}\" (v{}, {} patch{}).\n", SanitizeLine(s->name), s->version,
                        patches.size(), patches.size() == 1 ? "" : "es");
    if (tree) {
      body += fmt::format("It was applied on {} ({} at {}) and tested by vigil.\n\n", tree->name, tree->branch,
                          s->base_commit.substr(0, 12));
    } else {
      body += "\n";
    }
    for (const auto& k : concluded) body += fmt::format("{}: {}: {}\n", k.context, k.c.state, k.c.description);
    if (!failing_lines.empty()) {
      body += "\nTests and kernel reports:\n";
      for (size_t i = 0; i < failing_lines.size() && i < 50; ++i) body += SanitizeLine(failing_lines[i]) + "\n";
      if (failing_lines.size() > 50) body += fmt::format("  ... and {} more\n", failing_lines.size() - 50);
    }
    if (tree && !failing_test.empty()) {
      body += "\nTo reproduce:\n";
      body += fmt::format("  git checkout {}\n", s->base_commit.substr(0, 12));
      body += fmt::format("  curl -s {} | git am\n", ShellQuote(SanitizeLine(Str(sj, "mbox_url"))));
      if (build) {
        std::string opts = "--base-config " + ShellQuote(pipeline_.build.base_config);
        for (const auto& f : pipeline_.build.fragments) opts += " --fragment " + ShellQuote(f);
        for (const auto& v : pipeline_.build.set) opts += " --set " + ShellQuote(v);
        if (failing_variant != "normal") opts += " --variant " + ShellQuote(failing_variant);
        if (!pipeline_.build.variants_file.empty()) opts += " --variants " + ShellQuote(pipeline_.build.variants_file);
        body += fmt::format("  vigil run --build . {} -t {}\n", opts, ShellQuote(SanitizeLine(failing_test)));
      } else {
        body += fmt::format("  vigil run --tests {} -t {}\n", ShellQuote(pipeline_.run.tests), ShellQuote(SanitizeLine(failing_test)));
      }
    }
    body += "\nLinks:\n";
    if (!Str(sj, "web_url").empty()) body += fmt::format("  series: {}\n", SanitizeLine(Str(sj, "web_url")));
    if (!target.empty() && passes.front().run_id) body += fmt::format("  results: {}\n", SanitizeLine(target));
    body += "\n-- \nvigil\n";
    m["body"] = body;
    result["email"] = m;
  }
  s->result_json = DumpJson(result);
  s->state = "reporting";
  s->updated_at = clock_.UtcNow();
  if (!mbox_path.empty()) fs::remove(mbox_path, ec);
  observer_.OnNote(fmt::format("series {}: {}", s->id, SanitizeLine(s->conclusion)));
  return db_.UpdateSeries(*s);
}

Status PatchLoop::Gone(model::SeriesRecord* s, const Status& why) {
  // What was said "pending" on the patches that are still there is taken
  // back: Patchwork would show it for good.
  if (!o_.dry_run && pw_) {
    auto checks = db_.LoadSeriesChecks(s->id);
    if (!checks.ok()) return checks.status();
    std::set<std::pair<int64_t, std::string>> finals;
    for (const auto& c : *checks) {
      if (c.phase == "final") finals.insert({c.patch_id, c.context});
    }
    for (const auto& c : *checks) {
      if (c.phase != "pending" || c.status != "posted" || finals.contains({c.patch_id, c.context})) continue;
      model::SeriesCheckRecord back = CheckRecord(s->id, c.patch_id, "final", c.context, "warning",
                                                  "Not tested: the series changed on Patchwork (a patch is gone)", "");
      Status p = PostOnce(db_, *pw_, clock_, back);
      if (!p.ok()) {
        observer_.OnWarning(fmt::format("series {}: patch {}: its pending check stays: {}", s->id, c.patch_id,
                                        SanitizeLine(p.message())));
      }
    }
  }
  s->state = "error";
  s->conclusion = Cap("error: " + std::string(why.message()));
  s->updated_at = clock_.UtcNow();
  observer_.OnWarning(fmt::format("series {}: {}", s->id, SanitizeLine(why.message())));
  return db_.UpdateSeries(*s);
}

Status PatchLoop::Report(model::SeriesRecord* s) {
  json rj = ParseJson(s->result_json);
  if (!o_.dry_run && pw_ && s->series_id != 0) {
    auto stored = db_.LoadSeriesChecks(s->id);
    if (!stored.ok()) return stored.status();
    for (const auto& c : rj.value("checks", json::array())) {
      model::SeriesCheckRecord rec = CheckRecord(s->id, Int(c, "patch"), "final", Str(c, "context"), Str(c, "state"),
                                                 Str(c, "description"), Str(c, "target_url"));
      for (const auto& e : *stored) {
        if (e.patch_id == rec.patch_id && e.phase == "final" && e.context == rec.context) rec.status = e.status;
      }
      if (rec.status == "gone") continue;
      Status p = PostOnce(db_, *pw_, clock_, rec);
      if (p.code() == Status::Code::kNotFound) {
        // The patch was deleted since it was tested: nowhere to post its
        // check; the rest of the report (the e-mail) still goes.
        observer_.OnWarning(fmt::format("series {}: patch {} is gone from Patchwork: its check is not posted ({})",
                                        s->id, rec.patch_id, SanitizeLine(p.message())));
        rec.status = "gone";
        if (Status st = db_.SetSeriesCheck(rec); !st.ok()) return st;
        continue;
      }
      if (!p.ok()) return p;
    }
  } else if (o_.dry_run) {
    for (const auto& c : rj.value("checks", json::array())) {
      observer_.OnNote(fmt::format("series {}: would post on patch {}: {} {}: {}", s->id, Int(c, "patch"),
                                   Str(c, "context"), Str(c, "state"), SanitizeLine(Str(c, "description"))));
    }
  }

  if (rj.contains("email") && rj["email"].is_object()) {
    const json& m = rj["email"];
    auto sent = db_.LoadSeriesMail(s->id);
    bool done = false;
    // Sent, but some recipients refused it for now (greylisting, a quota):
    // those get it on a later round, for a day.
    std::vector<std::string> only;
    std::string pending_since;
    if (sent.ok()) {
      if (sent->status == "sending") {
        observer_.OnWarning(fmt::format(
            "series {}: its e-mail was being sent when vigil stopped; it is not sent again (at most once)", s->id));
        done = true;
      } else if (sent->status == "sent" || sent->status == "written" || sent->status == "given-up") {
        done = true;
      } else if (sent->status == "partial") {
        only = sent->pending;
        pending_since = sent->pending_since;
        std::optional<int64_t> waited = SecondsSince(pending_since, clock_.Now());
        if (only.empty() || !waited || *waited > kPendingMailSeconds) {
          if (!only.empty()) {
            observer_.OnWarning(fmt::format("series {}: its e-mail never reached {} (refused for now since {}): given up",
                                            s->id, SanitizeLine(Join(only, ", ")), SanitizeLine(pending_since)));
          }
          // Done either way; those it never reached are kept, to be shown.
          model::SeriesMailRecord rec = *sent;
          rec.status = only.empty() ? "sent" : "given-up";
          if (only.empty()) rec.pending_since.clear();
          rec.updated_at = clock_.UtcNow();
          if (Status st = db_.SetSeriesMail(rec); !st.ok()) return st;
          done = true;
        }
      }
    }
    if (!done) {
      mail::Message msg;
      auto addr = [](const json& a) { return mail::Address{Str(a, "name"), Str(a, "email")}; };
      msg.from = addr(m.value("from", json::object()));
      for (const auto& a : m.value("to", json::array())) msg.to.push_back(addr(a));
      for (const auto& a : m.value("cc", json::array())) msg.cc.push_back(addr(a));
      msg.subject = Str(m, "subject");
      msg.message_id = Str(m, "message_id");
      msg.in_reply_to = Str(m, "in_reply_to");
      if (!msg.in_reply_to.empty()) msg.references = {msg.in_reply_to};
      msg.date = std::chrono::system_clock::to_time_t(clock_.Now());
      msg.body = Str(m, "body");
      msg.extra_headers = {{"X-Vigil-Series", std::to_string(s->series_id)}};
      model::SeriesMailRecord rec;
      rec.series = s->id;
      rec.message_id = msg.message_id;
      rec.updated_at = clock_.UtcNow();
      const size_t recipients = mail::Recipients(msg).size();  // the valid ones
      if (o_.dry_run) {
        std::error_code ec;
        fs::create_directories(fs::path(o_.work_dir) / "mail", ec);
        rec.path = (fs::path(o_.work_dir) / "mail" / fmt::format("series-{}-{}.eml", s->series_id, s->round)).string();
        std::ofstream f(rec.path, std::ios::binary | std::ios::trunc);
        f << mail::Render(msg);
        if (!f) return Status::IOError(fmt::format("cannot write {}", rec.path));
        rec.status = "written";
        if (Status st = db_.SetSeriesMail(rec); !st.ok()) return st;
        observer_.OnNote(fmt::format("series {}: e-mail written to {}", s->id, rec.path));
      } else if (recipients == 0) {
        // (The submitter's address is a stranger's: one that is no address
        // would otherwise fail the send on every round.)
        observer_.OnWarning(fmt::format("series {}: no valid recipient for its e-mail: not sent", s->id));
      } else {
        sys::SmtpSettings smtp;
        smtp.url = pipeline_.email.smtp;
        smtp.starttls = pipeline_.email.starttls;
        smtp.user = pipeline_.email.user;
        if (!pipeline_.email.password_file.empty()) {
          std::ifstream pf(pipeline_.email.password_file);
          if (!pf) return Status::InvalidArgument(fmt::format("cannot read {}", pipeline_.email.password_file));
          std::getline(pf, smtp.password);
        }
        // A recipient the server refuses (a submitter's address of a
        // stranger's choosing) is passed over; the others get it.
        smtp.deliver_to_accepted = true;
        rec.status = "sending";
        if (Status st = db_.SetSeriesMail(rec); !st.ok()) return st;
        std::vector<sys::SmtpRefusal> refusals;
        Status sent_status = mail::Send(smtp, msg, &refusals, only.empty() ? nullptr : &only);
        std::vector<std::string> later;  // refused for now: sent again on a later round
        std::set<std::string> for_good;  // refused for good: never again
        size_t refused = 0;
        for (const auto& r : refusals) {
          if (r.recipient.empty()) {
            // Another command refused: AUTH, MAIL FROM or DATA, said when
            // the send failed (an EHLO that a server without it refused
            // before the HELO that worked is no news).
            if (!sent_status.ok()) {
              observer_.OnWarning(fmt::format("series {}: the mail server refused: {}", s->id, r.reply));
            }
            continue;
          }
          bool again = r.temporary();
          if (again) later.push_back(r.recipient);
          if (!again) for_good.insert(mail::LowerAscii(r.recipient));
          ++refused;
          observer_.OnWarning(fmt::format("series {}: a recipient of its e-mail was refused{}: {}", s->id,
                                          again ? " for now" : "", r.reply));
        }
        rec.updated_at = clock_.UtcNow();
        const size_t tried = only.empty() ? recipients : only.size();
        if (!only.empty() && !sent_status.ok() && sent_status.code() != Status::Code::kInvalidArgument) {
          // The others have it: only these are tried again (never all), but
          // not those refused for good.
          rec.status = "partial";
          for (const auto& o : only) {
            if (!for_good.count(mail::LowerAscii(o))) rec.pending.push_back(o);
          }
          rec.pending_since = pending_since;
          if (rec.pending.empty()) rec.status = "sent";
        } else if (!later.empty() && (sent_status.ok() || (only.empty() && refused >= recipients))) {
          // Taken by some, refused for now by these; or refused by every
          // recipient, some of them for now: those get it on a later round,
          // for a day (those refused for good never again).
          rec.status = "partial";
          rec.pending = later;
          rec.pending_since = pending_since.empty() ? rec.updated_at : pending_since;
        } else {
          rec.status = sent_status.ok() || !only.empty() ? "sent" : "failed";
        }
        if (Status st = db_.SetSeriesMail(rec); !st.ok()) return st;
        if (sent_status.code() == Status::Code::kInvalidArgument) {
          // Refused for good (every recipient): not tried again on every round.
          observer_.OnWarning(fmt::format("series {}: its e-mail was not sent{}: {}", s->id,
                                          only.empty() ? "" : " to the recipients that had refused it for now",
                                          sent_status.message()));
        } else if (!sent_status.ok()) {
          // (Unless what was pending was refused for good: then it is done.)
          if (rec.status != "sent") return Status::IOError(sent_status.message());
        } else {
          observer_.OnNote(fmt::format("series {}: e-mail sent ({} recipients{})", s->id,
                                       tried - std::min(refused, tried),
                                       only.empty() ? "" : " refused for now before"));
          if (!later.empty()) {
            return Status::IOError(fmt::format("its e-mail was refused for now by {}: they get it on a later round",
                                               SanitizeLine(Join(later, ", "))));
          }
        }
      }
    }
  }
  s->state = "done";
  s->updated_at = clock_.UtcNow();
  return db_.UpdateSeries(*s);
}

}  // namespace vigil::engine
