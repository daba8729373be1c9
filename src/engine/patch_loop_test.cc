#include "engine/patch_loop.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "store/memory_store.h"
#include "sys/process.h"
#include "sys/sandbox.h"
#include "report/record_json.h"
#include "sys/test_smtp_server.h"

namespace vigil::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kBase = "http://pw.test:8000";
constexpr const char* kSource = "http://pw.test:8000#test";

std::string EventDate(int event_id) { return fmt::format("2026-12-05T02:00:{:02}", event_id); }

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Patchwork as its REST API answers (the shapes of Patchwork 3.1, see
// patchwork/client_test.cc): series-completed events (served newest first,
// those at or after `since`: since is inclusive), series, mboxes and the
// checks of patches, which POSTs add to.
class FakePatchwork : public sys::HttpTransport {
 public:
  Result<sys::HttpResponse> Perform(const sys::HttpRequest& r) override {
    requests.push_back(r);
    std::string path = r.url.starts_with(kBase) ? r.url.substr(std::string(kBase).size()) : r.url;
    std::string query;
    if (size_t q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path.resize(q);
    }
    if (r.method == "POST") {
      int64_t patch = 0;
      if (sscanf(path.c_str(), "/api/1.2/patches/%ld/checks/", &patch) != 1)
        return Reply(404, R"({"detail":"Not found."})");
      json body = json::parse(r.body, nullptr, false);
      if (gone_patches.contains(patch) || (body.value("state", "") != "pending" && finals_gone.contains(patch))) {
        return Reply(404, R"({"detail":"No Patch matches the given query."})");
      }
      if (body.value("state", "") != "pending" && final_post_status != 201) {
        return Reply(final_post_status, R"({"detail":"You do not have permission to perform this action."})");
      }
      if (body.value("state", "") == "pending" && pending_post_status != 201) {
        return Reply(pending_post_status,
                     R"({"detail":"You do not have permission to perform this action."})");
      }
      body["id"] = ++last_check_id;
      checks[patch].push_back(body);
      return Reply(201, DumpJson(body));
    }
    if (path == "/api/1.2/events/") {
      if (events_status != 200) return Reply(events_status, "<h1>Server Error (500)</h1>");
      std::string since;
      std::istringstream in(query);
      for (std::string kv; std::getline(in, kv, '&');) {
        if (kv.starts_with("since=")) since = PercentDecode(kv.substr(6));
      }
      sinces.push_back(since);
      json page = json::array();
      for (auto it = events.rbegin(); it != events.rend(); ++it) {
        if ((*it)["date"].get<std::string>() >= since) page.push_back(*it);
      }
      return Reply(200, DumpJson(page));
    }
    int64_t id = 0;
    if (sscanf(path.c_str(), "/api/1.2/series/%ld/", &id) == 1) {
      if (failing_series.contains(id)) return Reply(500, "<h1>Server Error (500)</h1>");
      auto it = series.find(id);
      if (it == series.end()) return Reply(404, R"({"detail":"Not found."})");
      return Reply(200, DumpJson(it->second));
    }
    if (sscanf(path.c_str(), "/api/1.2/patches/%ld/checks/", &id) == 1) {
      if (gone_patches.contains(id)) return Reply(404, R"({"detail":"Not found."})");
      json page = json::array();
      for (const auto& c : checks[id]) page.push_back(c);
      return Reply(200, DumpJson(page));
    }
    if (failing_urls.contains(r.url)) return Reply(502, "<h1>Bad Gateway</h1>");
    if (auto it = mboxes.find(r.url); it != mboxes.end()) return Reply(200, it->second);
    return Reply(404, R"({"detail":"Not found."})");
  }

  void AddEvent(int event_id, int64_t series_id) {
    events.push_back({{"id", event_id},
                      {"category", "series-completed"},
                      {"date", EventDate(event_id)},
                      {"payload", {{"series", {{"id", series_id}, {"version", 1}}}}}});
  }

  // A series of `patches` patches (ids series*10+1...), the first named
  // `first_name` as Patchwork names it ("[net,1/2] x"), its mbox `mbox`.
  void AddSeries(int64_t id, const std::string& first_name, int patches, const std::string& mbox = "",
                 bool received_all = true) {
    std::string mbox_url = fmt::format("{}/series/{}/mbox/", kBase, id);
    json s = {{"id", id},
              {"web_url", fmt::format("{}/project/test/list/?series={}", kBase, id)},
              {"name", fmt::format("series {}", id)},
              {"date", "2026-12-05T02:00:00"},
              {"submitter", {{"id", 1}, {"name", "Sub Mitter"}, {"email", "sub@example.org"}}},
              {"version", 1},
              {"total", patches},
              {"received_total", received_all ? patches : patches - 1},
              {"received_all", received_all},
              {"mbox", mbox_url},
              {"cover_letter", nullptr},
              {"patches", json::array()}};
    for (int i = 1; i <= patches; ++i) {
      int64_t pid = id * 10 + i;
      std::string patch_mbox = fmt::format("{}/patch/{}/mbox/", kBase, pid);
      s["patches"].push_back({{"id", pid},
                              {"msgid", fmt::format("<{}.{}@example.org>", id, i)},
                              {"name", i == 1 ? first_name : fmt::format("[{}/{}] more", i, patches)},
                              {"mbox", patch_mbox}});
      // The first message of the series' mbox is the first patch's.
      if (i == 1) mboxes[patch_mbox] = mbox;
    }
    series[id] = s;
    mboxes[mbox_url] = mbox;
  }

  // The final (not pending) checks the server holds on `patch`.
  std::vector<json> Finals(int64_t patch) {
    std::vector<json> out;
    for (const auto& c : checks[patch]) {
      if (c.value("state", "") != "pending") out.push_back(c);
    }
    return out;
  }
  int Posts() const {
    int n = 0;
    for (const auto& r : requests) n += r.method == "POST";
    return n;
  }
  // GETs of `path` (the query aside).
  int Gets(const std::string& path) const {
    int n = 0;
    for (const auto& r : requests) {
      n += r.method == "GET" && r.url.substr(0, r.url.find('?')) == std::string(kBase) + path;
    }
    return n;
  }

  std::vector<json> events;
  std::map<int64_t, json> series;
  std::map<std::string, std::string> mboxes;
  std::map<int64_t, std::vector<json>> checks;
  std::vector<sys::HttpRequest> requests;
  std::vector<std::string> sinces;  // of each events request
  int events_status = 200;
  std::set<int64_t> failing_series;    // GET series/N/ answers 500
  std::set<std::string> failing_urls;  // mboxes answering 502
  std::set<int64_t> gone_patches;  // deleted: their checks answer 404
  std::set<int64_t> finals_gone;   // deleted after their pending check
  int pending_post_status = 201;
  int final_post_status = 201;
  int64_t last_check_id = 0;

 private:
  static sys::HttpResponse Reply(long status, std::string body) {
    sys::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

class Notes final : public PatchLoopObserver {
 public:
  void OnNote(const std::string& line) override { notes.push_back(line); }
  void OnWarning(const std::string& line) override { warnings.push_back(line); }
  std::vector<std::string> notes, warnings;
};

constexpr const char* kPipeline = R"(
[[tree]]
name = "net-next"
branch = "main"

[[tree]]
name = "net"
branch = "net"

[run]
tests = "selftests"
context = "vigil-test"

[checks]
target_url = "http://ci.example.org/runs/{run}"
)";

Pipeline MustParse(const std::string& text) {
  auto p = ParsePipeline(text, "/etc/vigil/pipeline.toml");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : Pipeline{};
}

TEST(TaggedTree, FindsTheTreeTheSubjectNames) {
  Pipeline p = MustParse(kPipeline);
  EXPECT_EQ(TaggedTree(p, "[PATCH net-next v2 1/2] x"), "net-next");
  EXPECT_EQ(TaggedTree(p, "[net-next,1/2] x"), "net-next");  // Patchwork's name
  EXPECT_EQ(TaggedTree(p, "[RFC][PATCH net] x"), "net");
  EXPECT_EQ(TaggedTree(p, "[PATCH] [net] x"), "net");  // every leading group
  EXPECT_EQ(TaggedTree(p, "[PATCH net,v3] x"), "net");
}

TEST(TaggedTree, NoTagOrATagNamingNoTreeIsNone) {
  Pipeline p = MustParse(kPipeline);
  EXPECT_EQ(TaggedTree(p, "net: fix a leak"), "");
  EXPECT_EQ(TaggedTree(p, "[PATCH bpf-next 1/2] x"), "");
  EXPECT_EQ(TaggedTree(p, "[PATCH] net-next is mentioned in the title"), "");  // after the tags: not one
  EXPECT_EQ(TaggedTree(p, "[PATCH net"), "");                                  // unclosed
  EXPECT_EQ(TaggedTree(p, ""), "");
}

// The loop over a fake Patchwork and the memory store; no tests are run.
class PatchLoopPollTest : public ::testing::Test {
 protected:
  void SetUp() override { pipeline_ = MustParse(kPipeline); }

  patchwork::Client& Client(int attempts = 3) {
    patchwork::Client::Options o;
    o.base_url = kBase;
    o.token = "9b9e59bf2d24bf9db1f178ebd22f39b5291cc933";
    o.attempts = attempts;
    o.sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d); };
    client_ = std::make_unique<patchwork::Client>(pw_, o);
    return *client_;
  }
  PatchLoopOptions Options() {
    PatchLoopOptions o;
    o.source = kSource;
    o.project = "test";
    o.repo = repo_;
    o.work_dir = work_;
    o.base_env = sys::CurrentEnvironment();
    return o;
  }
  std::unique_ptr<PatchLoop> Loop(PatchLoopOptions o) {
    if (!client_) Client();
    return std::make_unique<PatchLoop>(*db_, clock_, pipeline_, client_.get(), std::move(o), notes_);
  }
  int SeriesCount() {
    store::SeriesQuery q;
    auto all = db_->ListSeries(q);
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    return all.ok() ? static_cast<int>(all->size()) : -1;
  }
  std::string Cursor() {
    auto c = db_->WatchCursor(kSource);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : "?";
  }
  // How many series a poll queued; -1 when it failed.
  int Polled(PatchLoop& loop) {
    auto n = loop.Poll();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }
  bool Accepted(int event_id) {
    auto a = db_->EventAccepted(kSource, event_id);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() && *a;
  }

  FakePatchwork pw_;
  std::unique_ptr<patchwork::Client> client_;
  std::vector<std::chrono::milliseconds> sleeps_;
  std::unique_ptr<store::Store> db_ = store::NewMemoryStore();
  FakeClock clock_;
  Pipeline pipeline_;
  Notes notes_;
  std::string repo_, work_;
};

TEST_F(PatchLoopPollTest, AnEventServedAgainIsAcceptedOnce) {
  pw_.AddSeries(1, "[1/1] a", 1);
  pw_.AddSeries(2, "[1/1] b", 1);
  pw_.AddEvent(1, 1);
  pw_.AddEvent(2, 2);
  auto loop = Loop(Options());
  auto first = loop->Poll();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 2);
  EXPECT_EQ(Cursor(), EventDate(2));
  auto second = loop->Poll();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, 0);
  // The cursor's own event came again (since is inclusive) and was skipped
  // before its series was even fetched.
  ASSERT_EQ(pw_.sinces.size(), 2u);
  EXPECT_EQ(pw_.sinces[1], EventDate(2));
  EXPECT_EQ(pw_.Gets("/api/1.2/series/2/"), 1);
  EXPECT_EQ(SeriesCount(), 2);
}

TEST_F(PatchLoopPollTest, TheFirstPollStartsAtTheGivenSince) {
  pw_.AddSeries(1, "[1/1] a", 1);
  pw_.AddEvent(1, 1);
  PatchLoopOptions o = Options();
  o.since = "2026-12-05T01:00:00";
  auto n = Loop(o)->Poll();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  ASSERT_EQ(pw_.sinces.size(), 1u);
  EXPECT_EQ(pw_.sinces[0], "2026-12-05T01:00:00");
}

// Without --since, a store's first poll starts at its own time: the series
// completed before it are not tested (nor their submitters e-mailed). The
// start is kept, so a restart before any event starts there too; `all`
// takes every event there is.
TEST_F(PatchLoopPollTest, TheFirstPollWithoutSinceStartsNow) {
  pw_.AddSeries(1, "[1/1] old", 1);
  pw_.AddSeries(3, "[1/1] new", 1);
  pw_.AddEvent(1, 1);  // 2026-12-05T02:00:01
  clock_.Advance(std::chrono::hours(24 * 338) + std::chrono::hours(2) + std::chrono::seconds(2));
  EXPECT_EQ(Polled(*Loop(Options())), 0);
  ASSERT_EQ(pw_.sinces.size(), 1u);
  EXPECT_EQ(pw_.sinces[0], "2026-12-05T02:00:02");
  EXPECT_EQ(Cursor(), "2026-12-05T02:00:02");
  ASSERT_FALSE(notes_.notes.empty());
  EXPECT_NE(notes_.notes.back().find("first poll of test on this store: series completed from now on"),
            std::string::npos);
  pw_.AddEvent(3, 3);  // 2026-12-05T02:00:03
  clock_.Advance(std::chrono::hours(1));
  EXPECT_EQ(Polled(*Loop(Options())), 1);  // a restart: from the kept start, not its own time
  EXPECT_EQ(pw_.sinces.back(), "2026-12-05T02:00:02");
  EXPECT_EQ(SeriesCount(), 1);
  EXPECT_EQ(db_->FindSeries(kSource, 1).status().code(), Status::Code::kNotFound);

  // Another store, told to take everything.
  db_ = store::NewMemoryStore();
  PatchLoopOptions o = Options();
  o.since = "all";
  EXPECT_EQ(Polled(*Loop(o)), 2);
  EXPECT_EQ(pw_.sinces.back(), "");
}

TEST_F(PatchLoopPollTest, ASeriesTestedAlreadyIsQueuedAgainOnlyWithRetest) {
  pw_.AddSeries(1, "[1/1] a", 1);
  pw_.AddEvent(1, 1);
  ASSERT_EQ(Polled(*Loop(Options())), 1);
  auto s = db_->FindSeries(kSource, 1);
  ASSERT_TRUE(s.ok());
  s->state = "done";
  ASSERT_TRUE(db_->UpdateSeries(*s).ok());

  // Completed again (a new event for the same series): accepted, not queued.
  pw_.AddEvent(2, 1);
  auto again = Loop(Options())->Poll();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 0);
  EXPECT_TRUE(Accepted(2));
  EXPECT_EQ(SeriesCount(), 1);
  EXPECT_EQ(Cursor(), EventDate(2));

  // With retest the next completion queues round 2.
  pw_.AddEvent(3, 1);
  PatchLoopOptions o = Options();
  o.retest = true;
  auto retest = Loop(o)->Poll();
  ASSERT_TRUE(retest.ok()) << retest.status().ToString();
  EXPECT_EQ(*retest, 1);
  auto newest = db_->FindSeries(kSource, 1);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->round, 2);
  EXPECT_EQ(newest->state, "queued");
  EXPECT_EQ(SeriesCount(), 2);
}

TEST_F(PatchLoopPollTest, AnIncompleteSeriesIsNotAcceptedAndALaterPollSeesItAgain) {
  pw_.AddSeries(1, "[1/2] a", 2, "", /*received_all=*/false);
  pw_.AddEvent(1, 1);
  auto loop = Loop(Options());
  auto n = loop->Poll();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0);
  EXPECT_FALSE(Accepted(1));
  EXPECT_EQ(SeriesCount(), 0);
  ASSERT_EQ(notes_.warnings.size(), 1u);
  EXPECT_NE(notes_.warnings[0].find("series 1"), std::string::npos) << notes_.warnings[0];

  pw_.AddSeries(1, "[1/2] a", 2);
  n = loop->Poll();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(Accepted(1));
}

TEST_F(PatchLoopPollTest, AnIncompleteSeriesIsGivenUpAfterAWeekAndTheCursorMovesOn) {
  pw_.AddSeries(1, "[1/2] a", 2, "", /*received_all=*/false);
  pw_.AddSeries(2, "[1/1] b", 1);
  pw_.AddEvent(1, 1);
  pw_.AddEvent(2, 2);
  PatchLoopOptions o = Options();
  o.since = "all";  // polled after the events
  auto loop = Loop(o);
  // The fake clock starts on 2026-01-01; the events are of 2026-12-05.
  clock_.Advance(std::chrono::hours(24 * (338 + 6)));  // 2026-12-11: six days after
  ASSERT_EQ(Polled(*loop), 1);
  EXPECT_FALSE(Accepted(1));
  EXPECT_EQ(Cursor(), EventDate(1));
  clock_.Advance(std::chrono::hours(24 * 2));  // eight days after
  ASSERT_EQ(Polled(*loop), 0);
  EXPECT_TRUE(Accepted(1));
  EXPECT_EQ(SeriesCount(), 1);
  // Nothing holds the cursor any more: the next event takes it on.
  pw_.AddSeries(3, "[1/1] c", 1);
  pw_.AddEvent(3, 3);
  ASSERT_EQ(Polled(*loop), 1);
  EXPECT_EQ(Cursor(), EventDate(3));
  bool gave_up = false;
  for (const auto& w : notes_.warnings) gave_up |= w.find("not all its patches arrived within a week: given up") != std::string::npos;
  EXPECT_TRUE(gave_up);
}

TEST_F(PatchLoopPollTest, AnIncompleteSeriesIsSeenAgainWhenALaterEventWasAccepted) {
  // A later event accepted in the same poll must not move the cursor past
  // the incomplete one: Patchwork would never serve it again.
  pw_.AddSeries(1, "[1/2] a", 2, "", /*received_all=*/false);
  pw_.AddSeries(2, "[1/1] b", 1);
  pw_.AddEvent(1, 1);
  pw_.AddEvent(2, 2);
  auto loop = Loop(Options());
  auto n = loop->Poll();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(Accepted(2));
  EXPECT_FALSE(Accepted(1));
  EXPECT_LE(Cursor(), EventDate(1));

  pw_.AddSeries(1, "[1/2] a", 2);
  n = loop->Poll();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(Accepted(1));
  EXPECT_EQ(SeriesCount(), 2);
  EXPECT_EQ(pw_.Gets("/api/1.2/series/2/"), 1);  // not fetched again: accepted already
  // Once nothing is held back the cursor moves to the newest event.
  pw_.AddSeries(3, "[1/1] c", 1);
  pw_.AddEvent(3, 3);
  ASSERT_EQ(Polled(*loop), 1);
  EXPECT_EQ(Cursor(), EventDate(3));
}

TEST_F(PatchLoopPollTest, AServerErrorOnTheEventsLeavesTheCursor) {
  pw_.AddSeries(1, "[1/1] a", 1);
  pw_.AddEvent(1, 1);
  auto loop = Loop(Options());
  ASSERT_EQ(Polled(*loop), 1);
  pw_.AddSeries(2, "[1/1] b", 1);
  pw_.AddEvent(2, 2);
  pw_.events_status = 503;
  auto n = loop->Poll();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Status::Code::kIOError) << n.status().ToString();
  EXPECT_EQ(sleeps_.size(), 2u);  // 3 attempts, backed off on the fake sleep
  EXPECT_EQ(Cursor(), EventDate(1));
  EXPECT_FALSE(Accepted(2));

  pw_.events_status = 200;
  n = loop->Poll();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(Cursor(), EventDate(2));
}

TEST_F(PatchLoopPollTest, AServerErrorOnASeriesLeavesItsEventForTheNextPoll) {
  pw_.AddSeries(1, "[1/1] a", 1);
  pw_.AddSeries(2, "[1/1] b", 1);
  pw_.AddEvent(1, 1);
  pw_.AddEvent(2, 2);
  pw_.failing_series = {2};
  auto loop = Loop(Options());
  auto n = loop->Poll();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Status::Code::kIOError) << n.status().ToString();
  EXPECT_TRUE(Accepted(1));
  EXPECT_FALSE(Accepted(2));
  EXPECT_EQ(Cursor(), EventDate(1));

  pw_.failing_series.clear();
  n = loop->Poll();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(SeriesCount(), 2);
}

TEST_F(PatchLoopPollTest, ASeriesDeletedSinceItsEventIsSkippedAndThePollGoesOn) {
  pw_.AddSeries(2, "[1/1] b", 1);
  pw_.AddEvent(1, 1);  // series 1 was deleted: 404
  pw_.AddEvent(2, 2);
  auto loop = Loop(Options());
  ASSERT_EQ(Polled(*loop), 1);
  EXPECT_TRUE(Accepted(1));
  EXPECT_TRUE(Accepted(2));
  EXPECT_EQ(SeriesCount(), 1);
  EXPECT_EQ(Cursor(), EventDate(2));
  ASSERT_EQ(notes_.warnings.size(), 1u);
  EXPECT_NE(notes_.warnings[0].find("series 1 is gone from Patchwork"), std::string::npos) << notes_.warnings[0];
  // Asked for by name, it is an error that says so.
  auto q = loop->QueueSeries(1);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(q.status().message().find("404"), std::string::npos) << q.status().ToString();
}

TEST_F(PatchLoopPollTest, NoEventsPageIsAnErrorThatStopsTheLoop) {
  pw_.events_status = 404;
  auto n = Loop(Options())->Poll();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Status::Code::kInvalidArgument) << n.status().ToString();
}

TEST_F(PatchLoopPollTest, WithoutPatchworkAPatchworkSeriesIsLeftAlone) {
  // test-branch has no Patchwork; a store shared with vigil watch holds its
  // series, which wait for it.
  pw_.AddSeries(1, "[1/1] a", 1);
  pw_.AddEvent(1, 1);
  ASSERT_EQ(Polled(*Loop(Options())), 1);
  PatchLoopOptions o = Options();
  o.source = "";  // every source's series
  PatchLoop loop(*db_, clock_, pipeline_, nullptr, o, notes_);
  auto w = loop.Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(w->empty());
  auto s = db_->FindSeries(kSource, 1);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, "queued");
}

// --- Series tested for real: a small git repository holding a kselftest
// tree, series made by git format-patch, tests run in the sandbox.

std::string Sh(const std::string& dir, const std::string& script) {
  auto out = sys::CommandOutput({"/bin/sh", "-ec", "cd \"$0\" && " + script, dir});
  EXPECT_TRUE(out.ok()) << script << ": " << out.status().ToString();
  return out.ok() ? *out : "";
}

// A port nothing listens on (one was free a moment ago).
int ClosedPort() { return sys::TestSmtpServer::FreePort(); }

// The repository and the series' mboxes are made once for every test
// (git is slow to start); each test has a store and a work directory of its own.
class PatchLoopTest : public PatchLoopPollTest {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      skip_ = "needs root (tests run as the sandbox user)";
      return;
    }
    // Not under /tmp: the sandbox has a /tmp of its own.
    dir_ = fs::path("/var/tmp") / fmt::format("vigil-patch-loop-test-{}", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "repo");
    sys::SandboxSpec spec;
    spec.writable = {dir_.string()};
    if (Status s = sys::CheckSandbox(spec); !s.ok()) {
      skip_ = s.ToString();
      return;
    }
    // c:check.sh passes a subtest for each of lib/first, second and third that says ok.
    Sh((dir_ / "repo").string(),
       "git init -q -b main && git config user.email dev@example.org && git config user.name Dev && "
       "git config maintenance.auto false && git config gc.auto 0 && "
       "mkdir -p selftests/c lib && echo c:check.sh > selftests/kselftest-list.txt && "
       "printf '%s\\n' '#!/bin/sh' 'lib=$(dirname \"$0\")/../../lib' 'echo \"TAP version 13\"' 'echo 1..3' "
       "'rc=0' 'n=0' "
       "'for t in first second third; do n=$((n + 1)); if [ \"$(cat $lib/$t)\" = ok ]; then echo \"ok $n "
       "$t\"; "
       "else echo \"not ok $n $t\"; rc=1; fi; done' 'exit $rc' > selftests/c/check.sh && chmod +x "
       "selftests/c/check.sh && "
       "for t in first second third; do echo ok > lib/$t; done && echo notes > lib/notes && "
       "git add -A && git commit -qm base && "
       "git checkout -q -b net && echo only on net > lib/netonly && git add -A && git commit -qm net && "
       "git checkout -q main && git clone -q . ../scratch && cd ../scratch && "
       "git config user.email sub@example.org && git config user.name Sub && "
       "git config maintenance.auto false && git config gc.auto 0");
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  void SetUp() override {
    PatchLoopPollTest::SetUp();
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    repo_ = (dir_ / "repo").string();
    work_ = (dir_ / fmt::format("work-{}", ++tests_)).string();
    fs::create_directories(work_);
    for (const fs::path& d : {dir_, fs::path(work_)}) {
      fs::permissions(d, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    }
  }

  // An mbox of one commit per command, made on `base` with `prefix` (once:
  // the same arguments give the same mbox).
  static std::string Mbox(const std::string& base, const std::string& prefix,
                          const std::vector<std::string>& commands) {
    std::string key = base + "\n" + prefix;
    for (const auto& c : commands) key += "\n" + c;
    auto& mbox = mboxes_[key];
    if (!mbox.empty()) return mbox;
    std::string scratch = (dir_ / "scratch").string();
    Sh(scratch, fmt::format("git checkout -q -B s-{} origin/{}", mboxes_.size(), base));
    int i = 0;
    for (const auto& c : commands) {
      Sh(scratch, c + fmt::format(" && git add -A && git commit -qm 'change {}'", ++i));
    }
    mbox = Sh(scratch,
              fmt::format("git format-patch -q --stdout --subject-prefix='{}' origin/{}", prefix, base));
    return mbox;
  }
  // A series that applies to no tree: its patch changes lib/ghost, which it
  // does not carry (made by a commit before it).
  static std::string GhostMbox() {
    std::string mbox =
        Mbox("main", "PATCH",
             {"echo x > lib/ghost && git add -A && git commit -qm unsent && echo y >> lib/ghost"});
    size_t second = mbox.find("\nFrom ", 1);
    EXPECT_NE(second, std::string::npos);
    return second == std::string::npos ? mbox : mbox.substr(second + 1);
  }
  std::string Head(const std::string& branch) {
    std::string h = Sh(repo_, "git rev-parse " + branch);
    if (!h.empty()) h.pop_back();
    return h;
  }
  int Runs() {
    auto runs = db_->ListRuns();
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    return runs.ok() ? static_cast<int>(runs->size()) : -1;
  }
  model::SeriesRecord Series(int64_t pw_id) {
    auto s = db_->FindSeries(kSource, pw_id);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : model::SeriesRecord{};
  }
  // Queues Patchwork's series `id` and takes every queued series to done.
  void QueueAndWork(PatchLoop& loop, int64_t id) {
    auto q = loop.QueueSeries(id);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    auto w = loop.Work();
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  // E-mail through the SMTP server at `url`, Cc'ing `cc` (TOML array text).
  void EmailThrough(const std::string& url, const std::string& cc = "[]") {
    pipeline_ = MustParse(std::string(kPipeline) + fmt::format(R"(
[email]
smtp = "{}"
from = "Vigil CI <ci@example.org>"
cc = {}
)",
                                                               url, cc));
  }
  bool Warned(const std::string& text) const {
    return std::any_of(notes_.warnings.begin(), notes_.warnings.end(),
                       [&](const std::string& w) { return w.find(text) != std::string::npos; });
  }
  void EnableEmail() {
    pipeline_ = MustParse(std::string(kPipeline) + fmt::format(R"(
[email]
smtp = "smtp://127.0.0.1:{}"
from = "Vigil CI <ci@example.org>"
cc = ["test@example.org"]
)",
                                                               ClosedPort()));
  }

  static inline fs::path dir_;
  static inline std::string skip_;
  static inline int tests_ = 0;
  static inline std::map<std::string, std::string> mboxes_;
};

TEST_F(PatchLoopTest, APassingSeriesEndsDoneWithOneFinalCheckPerPatch) {
  pw_.AddSeries(1, "[1/2] notes", 2,
                Mbox("main", "PATCH", {"echo one >> lib/notes", "echo two >> lib/notes"}));
  auto loop = Loop(Options());
  QueueAndWork(*loop, 1);
  model::SeriesRecord s = Series(1);
  EXPECT_EQ(s.state, "done");
  EXPECT_EQ(s.tree, "net-next");
  EXPECT_EQ(s.base_commit, Head("main"));
  EXPECT_EQ(s.conclusion, "success: Success: 3 subtests passed");
  for (int64_t patch : {11, 12}) {
    ASSERT_EQ(pw_.checks[patch].size(), 2u) << patch;
    EXPECT_EQ(pw_.checks[patch][0]["state"], "pending");
    EXPECT_EQ(pw_.checks[patch][1]["state"], "success");
    EXPECT_EQ(pw_.checks[patch][1]["context"], "vigil-test");
  }
  EXPECT_EQ(Runs(), 2);  // the base and the series
}

// Where what is checked does not depend on a test run, the series are ones
// that apply to no tree: reported without running anything (fast).

TEST_F(PatchLoopTest, ASeriesFoundTestingIsTestedAgainAndNoCheckIsPostedTwice) {
  pw_.AddSeries(1, "[1/2] ghost", 2, GhostMbox());
  QueueAndWork(*Loop(Options()), 1);
  ASSERT_EQ(pw_.checks[11].size(), 2u);
  // As if vigil was killed while testing it: the pending checks had been
  // posted, the final ones were not planned yet.
  model::SeriesRecord s = Series(1);
  s.state = "testing";
  ASSERT_TRUE(db_->UpdateSeries(s).ok());
  auto checks = db_->LoadSeriesChecks(s.id);
  ASSERT_TRUE(checks.ok());
  for (auto c : *checks) {
    if (c.phase == "final") c.status = "planned";
    ASSERT_TRUE(db_->SetSeriesCheck(c).ok());
  }
  for (int64_t patch : {11, 12}) pw_.checks[patch].pop_back();  // the final ones never reached Patchwork
  notes_.notes.clear();

  auto w = Loop(Options())->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "done");
  ASSERT_FALSE(notes_.notes.empty());
  EXPECT_NE(notes_.notes[0].find("tested again"), std::string::npos) << notes_.notes[0];
  for (int64_t patch : {11, 12}) {
    ASSERT_EQ(pw_.checks[patch].size(), 2u) << patch;  // pending once, final once
    EXPECT_EQ(pw_.checks[patch][0]["state"], "pending");
    EXPECT_EQ(pw_.checks[patch][1]["state"], "fail");
  }
}

TEST_F(PatchLoopTest, ATransientErrorLeavesTheSeriesForTheNextRoundAndGoesOn) {
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  pw_.AddSeries(2, "[1/1] ghost too", 1, GhostMbox());
  pw_.failing_urls = {fmt::format("{}/series/1/mbox/", kBase)};
  auto loop = Loop(Options());
  ASSERT_TRUE(loop->QueueSeries(1).ok());
  ASSERT_TRUE(loop->QueueSeries(2).ok());
  auto w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_NE(Series(1).state, "done");
  EXPECT_EQ(Series(2).state, "done");  // the loop went on
  ASSERT_EQ(w->size(), 1u);
  ASSERT_FALSE(notes_.warnings.empty());
  EXPECT_NE(notes_.warnings[0].find("series 1"), std::string::npos) << notes_.warnings[0];
  EXPECT_TRUE(pw_.Finals(11).empty());

  pw_.failing_urls.clear();
  w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "done");
  EXPECT_EQ(pw_.Finals(11).size(), 1u);
  EXPECT_EQ(pw_.Finals(21).size(), 1u);
}

TEST_F(PatchLoopTest, TheSeriesKeepsKcidbsPatchsetHashOfItsPatchesMboxes) {
  pw_.AddSeries(1, "[1/2] ghost", 2, GhostMbox());
  // The second patch's own mbox, as Patchwork serves it (the first's is
  // the series' first message).
  std::string second = "From 1 Mon Sep 17 00:00:00 2001\nSubject: [2/2] more\n\n\xff second\n";
  pw_.mboxes[fmt::format("{}/patch/12/mbox/", kBase)] = second;
  QueueAndWork(*Loop(Options()), 1);
  // As KCIDB's schema says to make it: sha256sum *.patch | cut -c-64 | sha256sum | cut -c-64
  for (auto [name, bytes] : {std::pair{"1.patch", pw_.mboxes[fmt::format("{}/patch/11/mbox/", kBase)]},
                             std::pair{"2.patch", second}}) {
    std::ofstream(fs::path(work_) / name, std::ios::binary) << bytes;
  }
  std::string expected = Sh(work_, "sha256sum 1.patch 2.patch | cut -c-64 | sha256sum | cut -c-64");
  ASSERT_EQ(expected.size(), 65u) << expected;
  expected.pop_back();
  json sj = json::parse(Series(1).series_json);
  EXPECT_EQ(sj.value("patchset_hash", ""), expected);

  // A patch whose mbox cannot be had: no hash rather than one of the others.
  pw_.AddSeries(2, "[1/2] ghost", 2, GhostMbox());
  notes_.warnings.clear();
  QueueAndWork(*Loop(Options()), 2);
  EXPECT_EQ(Series(2).state, "done");
  EXPECT_FALSE(json::parse(Series(2).series_json).contains("patchset_hash"));
  ASSERT_EQ(notes_.warnings.size(), 1u);
  EXPECT_NE(notes_.warnings[0].find("series 2: no patchset hash: patchwork: 404 Not Found on GET /patch/22/mbox/"), std::string::npos)
      << notes_.warnings[0];
}

TEST_F(PatchLoopTest, ASeriesWhoseMboxIsGoneEndsInErrorAndTheLoopGoesOn) {
  // Patchwork refuses the mbox (404: the series was deleted): that series'
  // own trouble, not a reason to stop every series behind it for good.
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  pw_.AddSeries(2, "[1/1] ghost too", 1, GhostMbox());
  pw_.mboxes.erase(fmt::format("{}/series/1/mbox/", kBase));
  auto loop = Loop(Options());
  ASSERT_TRUE(loop->QueueSeries(1).ok());
  ASSERT_TRUE(loop->QueueSeries(2).ok());
  auto w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  model::SeriesRecord one = Series(1);
  EXPECT_EQ(one.state, "error");
  EXPECT_NE(one.conclusion.find("404"), std::string::npos) << one.conclusion;
  EXPECT_EQ(Series(2).state, "done");
  // Not taken up again.
  w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(w->empty());
  EXPECT_EQ(Series(1).state, "error");
}

TEST_F(PatchLoopTest, AFinalCheckFoundPostingIsNotPostedAgainWhenPatchworkHasIt) {
  pw_.AddSeries(1, "[1/2] ghost", 2, GhostMbox());
  QueueAndWork(*Loop(Options()), 1);
  ASSERT_EQ(pw_.Finals(11).size(), 1u);
  // As if vigil died after Patchwork took the first patch's check and
  // before it was recorded posted.
  model::SeriesRecord s = Series(1);
  s.state = "reporting";
  ASSERT_TRUE(db_->UpdateSeries(s).ok());
  auto checks = db_->LoadSeriesChecks(s.id);
  ASSERT_TRUE(checks.ok());
  bool rewound = false;
  for (auto c : *checks) {
    if (c.patch_id == 11 && c.phase == "final") {
      c.status = "posting";
      ASSERT_TRUE(db_->SetSeriesCheck(c).ok());
      rewound = true;
    }
  }
  ASSERT_TRUE(rewound);
  int posts = pw_.Posts();
  int lookups = pw_.Gets("/api/1.2/patches/11/checks/");

  auto w = Loop(Options())->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(pw_.Posts(), posts);  // looked up, not posted
  EXPECT_EQ(pw_.Gets("/api/1.2/patches/11/checks/"), lookups + 1);
  EXPECT_EQ(pw_.Gets("/api/1.2/patches/12/checks/"), 0);  // posted: not even looked up
  EXPECT_EQ(pw_.Finals(11).size(), 1u);
  EXPECT_EQ(pw_.Finals(12).size(), 1u);
  EXPECT_EQ(Series(1).state, "done");
  checks = db_->LoadSeriesChecks(s.id);
  ASSERT_TRUE(checks.ok());
  for (const auto& c : *checks) EXPECT_EQ(c.status, "posted") << c.patch_id << " " << c.phase;
}

TEST_F(PatchLoopTest, AnEarlierRoundsSameCheckDoesNotCountAsThisRoundsPosted) {
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  QueueAndWork(*Loop(Options()), 1);
  ASSERT_EQ(pw_.Finals(11).size(), 1u);
  // A retest: its pending check went up after the first round's final, and
  // vigil died while posting a final that says what the first one said.
  json pending = pw_.checks[11].front();
  pending["id"] = ++pw_.last_check_id;
  pw_.checks[11].push_back(pending);
  model::SeriesRecord s = Series(1);
  s.state = "reporting";
  ASSERT_TRUE(db_->UpdateSeries(s).ok());
  auto checks = db_->LoadSeriesChecks(s.id);
  ASSERT_TRUE(checks.ok());
  for (auto c : *checks) {
    if (c.phase == "final") {
      c.status = "posting";
      ASSERT_TRUE(db_->SetSeriesCheck(c).ok());
    }
  }
  auto w = Loop(Options())->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  // Posted again: otherwise "pending" would stay what Patchwork shows.
  ASSERT_EQ(pw_.Finals(11).size(), 2u);
  EXPECT_EQ(pw_.checks[11].back()["state"], pw_.Finals(11).front()["state"]);
}

TEST_F(PatchLoopTest, AFinalCheckFoundPostingIsPostedOnceWhenPatchworkHasNot) {
  pw_.AddSeries(1, "[1/2] ghost", 2, GhostMbox());
  // The first patch's final check does not reach Patchwork: it is left
  // "posting", as when vigil dies between the record and the request.
  pw_.final_post_status = 403;
  auto loop = Loop(Options());
  ASSERT_TRUE(loop->QueueSeries(1).ok());
  ASSERT_FALSE(loop->Work().ok());
  pw_.final_post_status = 201;
  model::SeriesRecord s = Series(1);
  ASSERT_EQ(s.state, "reporting");
  auto checks = db_->LoadSeriesChecks(s.id);
  ASSERT_TRUE(checks.ok());
  int posting = 0;
  for (const auto& c : *checks) posting += c.patch_id == 11 && c.phase == "final" && c.status == "posting";
  ASSERT_EQ(posting, 1);
  ASSERT_TRUE(pw_.Finals(11).empty());
  int posts = pw_.Posts();

  auto w = Loop(Options())->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(pw_.Posts(), posts + 2);  // the looked-up one once, the second patch's once
  EXPECT_EQ(pw_.Finals(11).size(), 1u);
  EXPECT_EQ(pw_.Finals(12).size(), 1u);
  EXPECT_EQ(Series(1).state, "done");
}

TEST_F(PatchLoopTest, AnEmailFoundSendingIsNeverSentAgain) {
  EnableEmail();
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  auto loop = Loop(Options());
  ASSERT_TRUE(loop->QueueSeries(1).ok());
  // Nothing listens on the SMTP port: a send fails and the series waits.
  auto w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  model::SeriesRecord s = Series(1);
  ASSERT_EQ(s.state, "reporting");
  auto mail = db_->LoadSeriesMail(s.id);
  ASSERT_TRUE(mail.ok()) << mail.status().ToString();
  ASSERT_EQ(mail->status, "failed");

  // As if vigil died while it was being sent: not sent again, the series done.
  mail->status = "sending";
  ASSERT_TRUE(db_->SetSeriesMail(*mail).ok());
  notes_.warnings.clear();
  w = Loop(Options())->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "done");
  auto after = db_->LoadSeriesMail(s.id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, "sending");
  ASSERT_EQ(notes_.warnings.size(), 1u);
  EXPECT_NE(notes_.warnings[0].find("not sent again"), std::string::npos) << notes_.warnings[0];
  EXPECT_EQ(pw_.Finals(11).size(), 1u);
}

TEST_F(PatchLoopTest, AnEmailWithNoValidRecipientIsNotTriedOnEveryRound) {
  // The submitter's address is a stranger's; with no list to Cc, nobody is left.
  pipeline_ = MustParse(std::string(kPipeline) + fmt::format(R"(
[email]
smtp = "smtp://127.0.0.1:{}"
from = "Vigil CI <ci@example.org>"
)",
                                                             ClosedPort()));
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  pw_.series[1]["submitter"]["email"] = "not an address";
  auto loop = Loop(Options());
  QueueAndWork(*loop, 1);
  EXPECT_EQ(Series(1).state, "done");
  bool warned = false;
  for (const auto& w : notes_.warnings) warned |= w.find("no valid recipient for its e-mail") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST_F(PatchLoopTest, AnEmailEveryRecipientOfWhichIsRefusedIsNotTriedOnEveryRound) {
  std::string why_not;
  auto server = sys::TestSmtpServer::Start(&why_not);
  if (!server) GTEST_SKIP() << why_not;
  EmailThrough(server->url());
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  pw_.series[1]["submitter"]["email"] = "refuse@example.org";  // the test server refuses it (550)
  QueueAndWork(*Loop(Options()), 1);
  EXPECT_EQ(Series(1).state, "done");
  EXPECT_TRUE(server->Messages().empty());
  EXPECT_TRUE(Warned("its e-mail was not sent: "));
}

// Greylisting: the list takes the e-mail, the submitter's server refuses it
// for now (450). The series stays reporting and the next round sends it to
// the submitter alone; a recipient still refusing a day later is given up.
TEST_F(PatchLoopTest, AnEmailRefusedForNowBySomeRecipientsReachesThemOnALaterRound) {
  std::string why_not;
  auto server = sys::TestSmtpServer::Start(&why_not);
  if (!server) GTEST_SKIP() << why_not;
  EmailThrough(server->url(), R"(["list@example.org"])");
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  pw_.series[1]["submitter"]["email"] = "grey@example.org";  // the test server greylists it once
  auto loop = Loop(Options());
  QueueAndWork(*loop, 1);
  EXPECT_EQ(Series(1).state, "reporting");
  auto mail = db_->LoadSeriesMail(Series(1).id);
  ASSERT_TRUE(mail.ok());
  EXPECT_EQ(mail->status, "partial");
  EXPECT_EQ(mail->pending, (std::vector<std::string>{"grey@example.org"}));
  std::optional<model::SeriesMailRecord> shown = *mail;  // as vigil series --json shows it
  EXPECT_EQ(report::SeriesJson(Series(1), nullptr, &shown)["email"]["pending"], nlohmann::json::array({"grey@example.org"}));
  auto got = server->Messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rcpt_to, (std::vector<std::string>{"list@example.org"}));
  EXPECT_TRUE(Warned("refused for now: 450 4.2.0"));

  clock_.Advance(std::chrono::minutes(2));
  auto w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "done");
  EXPECT_EQ(db_->LoadSeriesMail(Series(1).id).value().status, "sent");
  got = server->Messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].rcpt_to, (std::vector<std::string>{"grey@example.org"}));  // the list once, not twice
  // The same message (its Message-ID too), dated when it is sent.
  auto undated = [](std::string m) {
    size_t at = m.find("\r\nDate: ");
    return at == std::string::npos ? m : m.erase(at, m.find("\r\n", at + 2) - at);
  };
  EXPECT_EQ(undated(got[1].content), undated(got[0].content));

  // A recipient refused for now a day long is given up, the series done.
  pw_.AddSeries(2, "[1/1] ghost", 1, GhostMbox());
  pw_.series[2]["submitter"]["email"] = "grey-forever@example.org";
  QueueAndWork(*loop, 2);
  EXPECT_EQ(Series(2).state, "reporting");
  model::SeriesMailRecord stuck = db_->LoadSeriesMail(Series(2).id).value();
  stuck.pending = {"nobody-ever@example.org"};  // refused on every round since
  ASSERT_TRUE(db_->SetSeriesMail(stuck).ok());
  clock_.Advance(std::chrono::hours(25));
  w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(2).state, "done");
  EXPECT_TRUE(Warned("never reached nobody-ever@example.org"));
  EXPECT_EQ(server->Messages().size(), 3u);  // series 2's first e-mail, to the list
  // Given up, not "sent": whom it never reached stays on record.
  model::SeriesMailRecord given_up = db_->LoadSeriesMail(Series(2).id).value();
  EXPECT_EQ(given_up.status, "given-up");
  EXPECT_EQ(given_up.pending, std::vector<std::string>{"nobody-ever@example.org"});
  EXPECT_EQ(given_up.pending_since, stuck.pending_since);
  shown = given_up;
  nlohmann::json shown_json = report::SeriesJson(Series(2), nullptr, &shown)["email"];
  EXPECT_EQ(shown_json["status"], "given-up");
  EXPECT_EQ(shown_json["never_reached"], nlohmann::json::array({"nobody-ever@example.org"}));
  EXPECT_FALSE(shown_json.contains("pending"));
  // And it is done: a later round sends nothing.
  clock_.Advance(std::chrono::minutes(2));
  w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(server->Messages().size(), 3u);
  EXPECT_EQ(db_->LoadSeriesMail(Series(2).id).value().status, "given-up");
}

// A later round whose pending recipients are refused apart: the one refused
// for good is dropped at once, the one refused for now stays pending, and
// the round after that reaches it alone.
TEST_F(PatchLoopTest, ALaterRoundDropsWhomItIsRefusedForGoodAndKeepsWhomForNow) {
  std::string why_not;
  auto server = sys::TestSmtpServer::Start(&why_not);
  if (!server) GTEST_SKIP() << why_not;
  EmailThrough(server->url(), R"(["list@example.org"])");
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  pw_.series[1]["submitter"]["email"] = "grey@example.org";
  auto loop = Loop(Options());
  QueueAndWork(*loop, 1);
  ASSERT_EQ(db_->LoadSeriesMail(Series(1).id).value().status, "partial");
  // As if the e-mail had two more recipients, which the first round's server
  // refused for now and which are pending with the submitter: this time one
  // is refused for now again, the other for good.
  model::SeriesRecord series = Series(1);
  nlohmann::json result = nlohmann::json::parse(series.result_json);
  result["email"]["cc"] = {{{"name", ""}, {"email", "grey-late@example.org"}},
                           {{"name", ""}, {"email", "refuse-late@example.org"}}};
  series.result_json = DumpJson(result);
  ASSERT_TRUE(db_->UpdateSeries(series).ok());
  model::SeriesMailRecord m = db_->LoadSeriesMail(Series(1).id).value();
  m.pending = {"grey-late@example.org", "refuse-late@example.org"};
  ASSERT_TRUE(db_->SetSeriesMail(m).ok());

  clock_.Advance(std::chrono::minutes(2));
  auto w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "reporting");
  m = db_->LoadSeriesMail(Series(1).id).value();
  EXPECT_EQ(m.status, "partial");
  EXPECT_EQ(m.pending, std::vector<std::string>{"grey-late@example.org"});
  EXPECT_TRUE(Warned("refuse-late@example.org"));
  auto got = server->Messages();
  EXPECT_EQ(got.size(), 1u);  // nobody took the second round's

  clock_.Advance(std::chrono::minutes(2));
  w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "done");
  EXPECT_EQ(db_->LoadSeriesMail(Series(1).id).value().status, "sent");
  got = server->Messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].rcpt_to, std::vector<std::string>{"grey-late@example.org"});
}

// Every recipient refused, the list for good and the submitter for now:
// nobody has it, and only the submitter gets it on a later round (before,
// the send "failed" and every round tried everyone again, for ever).
TEST_F(PatchLoopTest, AnEmailNobodyTookIsSentLaterOnlyToThoseWhoRefusedItForNow) {
  std::string why_not;
  auto server = sys::TestSmtpServer::Start(&why_not);
  if (!server) GTEST_SKIP() << why_not;
  EmailThrough(server->url(), R"(["refuse-list@example.org"])");
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  pw_.series[1]["submitter"]["email"] = "grey-first@example.org";
  auto loop = Loop(Options());
  QueueAndWork(*loop, 1);
  EXPECT_EQ(Series(1).state, "reporting");
  auto m = db_->LoadSeriesMail(Series(1).id).value();
  EXPECT_EQ(m.status, "partial");
  EXPECT_EQ(m.pending, std::vector<std::string>{"grey-first@example.org"});
  EXPECT_FALSE(m.pending_since.empty());
  EXPECT_TRUE(server->Messages().empty());

  clock_.Advance(std::chrono::minutes(2));
  auto w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "done");
  EXPECT_EQ(db_->LoadSeriesMail(Series(1).id).value().status, "sent");
  auto got = server->Messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rcpt_to, std::vector<std::string>{"grey-first@example.org"});
}

TEST_F(PatchLoopTest, APermanentErrorOnTheFinalCheckStopsWorkAndKeepsTheSeriesReporting) {
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  pw_.AddSeries(2, "[1/1] ghost too", 1, GhostMbox());
  pw_.final_post_status = 403;
  auto loop = Loop(Options());
  ASSERT_TRUE(loop->QueueSeries(1).ok());
  ASSERT_TRUE(loop->QueueSeries(2).ok());
  auto w = loop->Work();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kInvalidArgument) << w.status().ToString();
  EXPECT_NE(w.status().message().find("403"), std::string::npos) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "reporting");
  EXPECT_EQ(Series(2).state, "queued");  // stopped: the next series was not started
  EXPECT_EQ(pw_.Gets("/series/2/mbox/"), 0);
  EXPECT_TRUE(pw_.Finals(11).empty());

  // Permission granted: delivered without testing it again.
  pw_.final_post_status = 201;
  w = Loop(Options())->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(Series(1).state, "done");
  EXPECT_EQ(Series(2).state, "done");
  EXPECT_EQ(pw_.Gets("/series/1/mbox/"), 1);
  ASSERT_EQ(pw_.Finals(11).size(), 1u);
  EXPECT_EQ(pw_.Finals(11)[0]["state"], "fail");
}

TEST_F(PatchLoopTest, APermanentErrorOnThePendingCheckStopsBeforeTesting) {
  pw_.AddSeries(1, "[1/1] notes", 1, Mbox("main", "PATCH", {"echo one >> lib/notes"}));
  pw_.pending_post_status = 403;
  auto loop = Loop(Options());
  ASSERT_TRUE(loop->QueueSeries(1).ok());
  auto w = loop->Work();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kInvalidArgument) << w.status().ToString();
  EXPECT_NE(Series(1).state, "done");
  EXPECT_EQ(Runs(), 0);
  EXPECT_EQ(pw_.Gets("/series/1/mbox/"), 0);  // not even fetched
}

TEST_F(PatchLoopTest, APatchDeletedBeforeTestingEndsItsSeriesInErrorAndTheLoopGoesOn) {
  pw_.AddSeries(1, "[1/2] ghost", 2, GhostMbox());
  pw_.AddSeries(2, "[1/1] ghost too", 1, GhostMbox());
  pw_.gone_patches = {12};
  auto loop = Loop(Options());
  ASSERT_TRUE(loop->QueueSeries(1).ok());
  ASSERT_TRUE(loop->QueueSeries(2).ok());
  auto w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  model::SeriesRecord one = Series(1);
  EXPECT_EQ(one.state, "error");
  EXPECT_NE(one.conclusion.find("404 Not Found on POST /api/1.2/patches/12/checks/"), std::string::npos)
      << one.conclusion;
  // Patch 11's pending check is taken back, not left up for good.
  ASSERT_EQ(pw_.Finals(11).size(), 1u);
  EXPECT_EQ(pw_.Finals(11)[0]["state"], "warning");
  EXPECT_EQ(pw_.Finals(11)[0]["description"], "Not tested: the series changed on Patchwork (a patch is gone)");
  EXPECT_EQ(Series(2).state, "done");
  // Not taken up again.
  w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(w->empty());
}

TEST_F(PatchLoopTest, APatchDeletedAfterTestingGetsNoCheckAndTheSeriesIsReported) {
  pw_.AddSeries(1, "[1/2] ghost", 2, GhostMbox());
  pw_.finals_gone = {11};
  QueueAndWork(*Loop(Options()), 1);
  model::SeriesRecord s = Series(1);
  EXPECT_EQ(s.state, "done");
  EXPECT_TRUE(pw_.Finals(11).empty());
  EXPECT_EQ(pw_.Finals(12).size(), 1u);
  auto checks = db_->LoadSeriesChecks(s.id);
  ASSERT_TRUE(checks.ok());
  std::map<int64_t, std::string> final_status;
  for (const auto& c : *checks) {
    if (c.phase == "final") final_status[c.patch_id] = c.status;
  }
  EXPECT_EQ(final_status[11], "gone");
  EXPECT_EQ(final_status[12], "posted");
  int posts = pw_.Posts();
  auto w = Loop(Options())->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(pw_.Posts(), posts);  // not tried again
}

TEST_F(PatchLoopTest, ASeriesThatAppliesNowhereFailsWithGitsWords) {
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  auto loop = Loop(Options());
  QueueAndWork(*loop, 1);
  model::SeriesRecord s = Series(1);
  EXPECT_EQ(s.state, "done");
  EXPECT_EQ(s.tree, "");
  auto finals = pw_.Finals(11);
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_EQ(finals[0]["state"], "fail");
  std::string d = finals[0]["description"];
  EXPECT_TRUE(d.starts_with("Does not apply to net:")) << d;  // the last tree tried
  EXPECT_NE(d.find("ghost"), std::string::npos) << d;
  EXPECT_EQ(Runs(), 0);
  EXPECT_FALSE(fs::exists(fs::path(work_) / fmt::format("series-{}", s.id)));  // the checkout is gone
}

TEST_F(PatchLoopTest, ATaggedSeriesIsAppliedOnItsTreeOnly) {
  // Applies to both trees: the tag picks net (untagged, net-next would be first).
  pw_.AddSeries(1, "[net,1/1] notes", 1, Mbox("main", "PATCH net", {"echo one >> lib/notes"}));
  // Applies only to net, tagged net-next: not tried on net.
  pw_.AddSeries(2, "[net-next,1/1] netonly", 1, Mbox("net", "PATCH net-next", {"echo more >> lib/netonly"}));
  // Patchwork's name lost the tag; the first patch's mail has it.
  pw_.AddSeries(3, "[1/1] notes", 1, Mbox("main", "PATCH net", {"echo three >> lib/notes"}));
  auto loop = Loop(Options());
  for (int64_t id : {1, 2, 3}) ASSERT_TRUE(loop->QueueSeries(id).ok());
  auto w = loop->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  model::SeriesRecord one = Series(1);
  EXPECT_EQ(one.tree, "net");
  EXPECT_EQ(one.base_commit, Head("net"));
  model::SeriesRecord two = Series(2);
  EXPECT_EQ(two.tree, "");
  auto finals = pw_.Finals(21);
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_EQ(finals[0]["state"], "fail");
  EXPECT_TRUE(finals[0]["description"].get<std::string>().starts_with("Does not apply to net-next:"))
      << finals[0]["description"];
  EXPECT_EQ(Series(3).tree, "net");
}

// With [build] in two variants a series posts four pending checks; one that
// applies nowhere gets a final on each (before, only the first variant's
// test check: the others stayed pending on Patchwork for good).
TEST_F(PatchLoopTest, ASeriesThatDoesNotApplyEndsEveryPendingCheckOfABuildPipeline) {
  pipeline_.build.enabled = true;
  pipeline_.build.variants = {"normal", "debug"};
  pw_.AddSeries(2, "[net-next,1/1] netonly", 1, Mbox("net", "PATCH net-next", {"echo more >> lib/netonly"}));
  // The work directory named through a symlink (a /home that leads to
  // /var/home): the tree's checkout is still reused from series to series,
  // its build directories with it.
  std::filesystem::create_directories(work_);
  const std::string link = work_ + "-link";
  std::filesystem::create_directory_symlink(work_, link);
  PatchLoopOptions o = Options();
  o.work_dir = link;
  auto loop = Loop(o);
  QueueAndWork(*loop, 2);
  EXPECT_EQ(Series(2).state, "done");
  std::set<std::string> pending, final;
  for (const auto& c : pw_.checks[21]) {
    (c.value("state", "") == "pending" ? pending : final).insert(c.value("context", ""));
  }
  EXPECT_EQ(pending, (std::set<std::string>{"vigil-build-normal", "vigil-test-normal", "vigil-build-debug",
                                            "vigil-test-debug"}));
  EXPECT_EQ(final, pending);
  for (const auto& c : pw_.Finals(21)) {
    EXPECT_EQ(c["state"], "fail") << c;
    if (c["context"].get<std::string>().starts_with("vigil-build")) {
      EXPECT_TRUE(c["description"].get<std::string>().starts_with("Does not apply to net-next:")) << c;
    }
  }
  EXPECT_TRUE(Series(2).conclusion.starts_with("fail: Does not apply to net-next:")) << Series(2).conclusion;

  const auto kept = std::filesystem::path(work_) / "tree-net-next" / ".vigil-build-normal" / "kept";
  std::filesystem::create_directories(kept.parent_path());
  std::ofstream(kept) << "an object file\n";
  pw_.AddSeries(3, "[net-next,1/1] netonly again", 1, Mbox("net", "PATCH net-next", {"echo again >> lib/netonly"}));
  QueueAndWork(*loop, 3);
  EXPECT_EQ(Series(3).state, "done");
  EXPECT_TRUE(std::filesystem::exists(kept)) << "the checkout was made again";
  EXPECT_FALSE(Warned("made again"));
}

TEST_F(PatchLoopTest, TheBaseIsTestedOncePerTreePipelineAndCommit) {
  pw_.AddSeries(1, "[1/1] one", 1, Mbox("main", "PATCH", {"echo one >> lib/notes"}));
  pw_.AddSeries(2, "[1/1] two", 1, Mbox("main", "PATCH", {"echo two >> lib/notes"}));
  auto loop = Loop(Options());
  QueueAndWork(*loop, 1);
  EXPECT_EQ(Runs(), 2);
  auto base = db_->FindBaseline("net-next@" + pipeline_.hash, Head("main"));
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  QueueAndWork(*loop, 2);
  EXPECT_EQ(Runs(), 3);  // the second series' run only
  auto result = json::parse(Series(2).result_json, nullptr, false);
  EXPECT_EQ(result.value("base_run", int64_t{0}), *base);

  // A new commit on the tree: its base is tested again.
  Sh(repo_, "echo more > lib/extra && git add -A && git commit -qm more");
  pw_.AddSeries(3, "[1/1] three", 1, Mbox("main", "PATCH", {"echo three >> lib/notes"}));
  QueueAndWork(*loop, 3);
  EXPECT_EQ(Series(3).base_commit, Head("main"));
  EXPECT_EQ(Runs(), 5);

  // Another pipeline (its hash differs): the base is tested again under it.
  pipeline_ = MustParse(std::string(kPipeline) + "\n# changed\n");
  pw_.AddSeries(4, "[1/1] four", 1, Mbox("main", "PATCH", {"echo four >> lib/notes"}));
  QueueAndWork(*Loop(Options()), 4);
  EXPECT_EQ(Runs(), 7);
}

TEST_F(PatchLoopTest, ADryRunPostsNothingAndWritesTheEmail) {
  EnableEmail();
  pw_.AddSeries(1, "[1/1] ghost", 1, GhostMbox());
  PatchLoopOptions o = Options();
  o.dry_run = true;
  auto loop = Loop(o);
  QueueAndWork(*loop, 1);
  EXPECT_EQ(pw_.Posts(), 0);
  model::SeriesRecord s = Series(1);
  EXPECT_EQ(s.state, "done");
  auto mail = db_->LoadSeriesMail(s.id);
  ASSERT_TRUE(mail.ok()) << mail.status().ToString();
  EXPECT_EQ(mail->status, "written");
  EXPECT_EQ(fs::path(mail->path).parent_path(), fs::path(work_) / "mail");
  std::ifstream f(mail->path);
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_NE(text.str().find("In-Reply-To: <1.1@example.org>"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("Subject: Re: [PATCH 2/2] change 1"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("vigil-test: fail: Does not apply to net"), std::string::npos) << text.str();
  // Run again: written once, not again.
  s.state = "reporting";
  ASSERT_TRUE(db_->UpdateSeries(s).ok());
  fs::remove(mail->path);
  auto w = Loop(o)->Work();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_FALSE(fs::exists(mail->path));
}

}  // namespace
}  // namespace vigil::engine
