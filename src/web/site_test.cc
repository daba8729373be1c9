#include "web/site.h"
#include "web/html.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/memory_store.h"
#include "sys/process.h"
#include "web/export.h"

namespace vigil::web {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* const kXssName = "<img src=x onerror=\"document.title='pwned'\">";
const char* const kXssLog = "</script><script>document.title='pwned'</script>";

model::AttemptRecord Attempt(const std::string& path, const std::string& status, int attempt = 1) {
  model::AttemptRecord a;
  a.test_path = path;
  a.attempt = attempt;
  a.status = status;
  a.exit_code = status == "PASS" ? 0 : 1;
  a.duration_ms = 1500;
  a.started_at = "2026-12-01T10:00:00Z";
  a.output = "ok\n";
  a.output_bytes = a.output.size();
  return a;
}

model::Environment Env(const std::string& where) {
  model::Environment e;
  e.kernel_release = "6.12.1";
  e.uname = "Linux 6.12.1 x86_64";
  e.arch = "x86_64";
  e.cpus = 2;
  e.memory_kb = 1 << 20;
  e.where = where;
  e.accel = where == "vm" ? "tcg" : "";
  return e;
}

class SiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = store::NewMemoryStore();
    int64_t host = db_->EnsureEnvironment(Env("host")).value();
    int64_t vm = db_->EnsureEnvironment(Env("vm")).value();
    // Run 1 (host): all pass. Run 2 (host): a subtest fails, one test is
    // flaky, a hostile test name and log. Run 3 (vm): a kernel report twice.
    Record(host, {{"net:a.sh", "PASS", {{"one", "PASS"}, {"two", "PASS"}}, 1}, {"net:b.sh", "PASS", {}, 1},
                  {std::string("net:") + kXssName, "PASS", {}, 1}});
    Record(host, {{"net:a.sh", "FAIL", {{"one", "PASS"}, {"two", "FAIL"}}, 1}, {"net:b.sh", "PASS", {}, 2},
                  {std::string("net:") + kXssName, "FAIL", {{kXssLog, "FAIL"}}, 1}});
    int64_t r3 = db_->CreateRun(Run(vm)).value();
    model::AttemptRecord c = Attempt("net:a.sh", "FAIL");
    c.crashes = {{"WARNING", "WARNING in tcp_sendmsg", false, "fp-tcp", "tcp_sendmsg",
                  std::string("WARNING: CPU: 0 PID: 1 at net/ipv4/tcp.c:1 tcp_sendmsg\n") + kXssLog},
                 {"WARNING", "WARNING in tcp_sendmsg", false, "fp-tcp", "tcp_sendmsg", "again"}};
    c.output = std::string("\x1b[31mred\x1b[0m ") + kXssLog + "\n";
    ASSERT_TRUE(db_->RecordAttempt(r3, c).ok());
    ASSERT_TRUE(db_->FinishRun(r3, "FAIL", "2026-12-01T10:05:00Z").ok());
    site_ = std::make_unique<Site>(*db_, SiteOptions{});
  }

  struct T {
    std::string path, status;
    std::vector<std::pair<std::string, std::string>> subtests;
    int attempts;
  };
  model::RunRecord Run(int64_t env) {
    model::RunRecord r;
    r.started_at = "2026-12-01T10:00:00Z";
    r.host = "h";
    r.command = "vigil run";
    r.tests_dir = "/nonexistent-tests";
    r.plan = {"net:a.sh", "net:b.sh", std::string("net:") + kXssName};
    r.environment_id = env;
    return r;
  }
  void Record(int64_t env, const std::vector<T>& tests) {
    int64_t id = db_->CreateRun(Run(env)).value();
    for (const auto& t : tests) {
      for (int i = 1; i <= t.attempts; ++i) {
        bool last = i == t.attempts;
        model::AttemptRecord a = Attempt(t.path, last ? t.status : "FAIL", i);
        for (const auto& [p, s] : t.subtests) a.subtests.push_back({p, s, 10});
        if (t.path.find("img") != std::string::npos) a.output = std::string(kXssLog) + "\n";
        ASSERT_TRUE(db_->RecordAttempt(id, a).ok());
      }
    }
    ASSERT_TRUE(db_->FinishRun(id, "PASS", "2026-12-01T10:01:00Z").ok());
  }
  Response Get(const std::string& path, std::map<std::string, std::string> q = {}) { return site_->Get(path, q); }

  std::unique_ptr<store::Store> db_;
  std::unique_ptr<Site> site_;
};

// No payload reaches a page as markup.
void ExpectNoPayload(const std::string& body, const std::string& where) {
  EXPECT_EQ(body.find("<img"), std::string::npos) << where;
  EXPECT_EQ(body.find("<script>"), std::string::npos) << where;
  EXPECT_EQ(body.find("onerror=\""), std::string::npos) << where;
  EXPECT_EQ(body.find("\x1b"), std::string::npos) << where;
}

TEST_F(SiteTest, EveryPageIsServedAndCarriesNoPayload) {
  for (const char* p : {"/", "/runs/1", "/runs/2", "/runs/3", "/flakes", "/crashes", "/builds", "/series"}) {
    Response r = Get(p);
    EXPECT_EQ(r.status, 200) << p << ": " << r.body.substr(0, 500);
    EXPECT_NE(r.body.find("<!DOCTYPE html>"), std::string::npos) << p;
    ExpectNoPayload(r.body, p);
  }
  for (const std::string& t : std::vector<std::string>{"net:a.sh", "net:a.sh:two", std::string("net:") + kXssName}) {
    Response r = Get("/tests", {{"path", t}});
    EXPECT_EQ(r.status, 200) << t << ": " << r.body.substr(0, 500);
    ExpectNoPayload(r.body, t);
  }
  Response c = Get("/compare", {{"a", "1"}, {"b", "2"}});
  EXPECT_EQ(c.status, 200) << c.body.substr(0, 300);
  ExpectNoPayload(c.body, "compare");
  // The escaped name is there, as text.
  EXPECT_NE(Get("/runs/2").body.find("&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;"),
            std::string::npos);
}

TEST_F(SiteTest, TheRunPageShowsTheFailingSubtestFirstAndTheVerdict) {
  std::string b = Get("/runs/2").body;
  EXPECT_NE(b.find("class=\"verdict"), std::string::npos);
  size_t fail = b.find("net:a.sh");
  size_t pass = b.find("net:b.sh");
  ASSERT_NE(fail, std::string::npos);
  ASSERT_NE(pass, std::string::npos);
  EXPECT_LT(fail, pass);  // failures first
  EXPECT_NE(b.find(">two</a>"), std::string::npos);
  EXPECT_NE(b.find("st st-FLAKY"), std::string::npos);  // b.sh: failed, then passed
  std::string r3 = Get("/runs/3").body;
  EXPECT_NE(r3.find("WARNING in tcp_sendmsg"), std::string::npos);
  EXPECT_NE(r3.find("red "), std::string::npos);  // the output, its colors stripped
  EXPECT_NE(r3.find("net/ipv4/tcp.c:1 tcp_sendmsg"), std::string::npos);  // the report's text
}

TEST_F(SiteTest, ARunWhereEverythingFailedShowsSoManyOutputsAndReportTexts) {
  model::RunRecord r = Run(db_->EnsureEnvironment(Env("vm")).value());
  r.plan.clear();
  for (int i = 0; i < 80; ++i) r.plan.push_back(fmt::format("net:t{}.sh", i));
  int64_t id = db_->CreateRun(r).value();
  for (int i = 0; i < 80; ++i) {
    model::AttemptRecord a = Attempt(fmt::format("net:t{}.sh", i), "FAIL", 1);
    a.output = fmt::format("output of t{}\n", i);
    a.crashes = {{"WARNING", "WARNING in f", false, "fp", "f", fmt::format("report text {}", i)}};
    ASSERT_TRUE(db_->RecordAttempt(id, a).ok());
  }
  ASSERT_TRUE(db_->FinishRun(id, "FAIL", "2026-12-01T10:05:00Z").ok());
  auto j = json::parse(Get(fmt::format("/api/v1/runs/{}", id)).body);
  size_t tails = 0, texts = 0, reports = 0;
  for (const auto& t : j["tests"]) {
    for (const auto& a : t["attempts"]) tails += a.contains("output_tail");
    for (const auto& c : t["crashes"]) {
      ++reports;
      texts += c.contains("text");
    }
  }
  EXPECT_EQ(tails, 50u);
  EXPECT_EQ(texts, 50u);
  EXPECT_EQ(reports, 80u);  // every report is listed, by title
  // Each output is still a click away.
  EXPECT_NE(Get(fmt::format("/runs/{}/output", id), {{"test", "net:t79.sh"}, {"attempt", "1"}}).body.find("output of t79"),
            std::string::npos);
}

// A long coloured output: the page shows its end without escapes, cut, and
// the failing test is marked as what counts in the verdict (its failing
// subtest is what the verdict names).
TEST_F(SiteTest, ALongColouredOutputShowsItsEndAndTheCountedTestIsMarked) {
  model::RunRecord r = Run(db_->EnsureEnvironment(Env("vm")).value());
  r.plan = {"net:long.sh"};
  int64_t id = db_->CreateRun(r).value();
  model::AttemptRecord a = Attempt("net:long.sh", "FAIL", 1);
  for (int i = 0; i < 20000; ++i) a.output += fmt::format("\x1b[31mline {}\x1b[0m\n", i);
  a.output += "the end\n";
  a.output_bytes = a.output.size();
  a.subtests = {{"one", "FAIL", std::nullopt}};
  ASSERT_TRUE(db_->RecordAttempt(id, a).ok());
  ASSERT_TRUE(db_->FinishRun(id, "FAIL", "2026-12-01T10:05:00Z").ok());
  auto j = json::parse(Get(fmt::format("/api/v1/runs/{}", id)).body);
  ASSERT_EQ(j["tests"].size(), 1u);
  const json& t = j["tests"][0];
  EXPECT_TRUE(t["counted"].get<bool>()) << t;
  const std::string tail = t["attempts"][0]["output_tail"];
  EXPECT_TRUE(t["attempts"][0]["output_cut"].get<bool>());
  EXPECT_EQ(tail.size(), 16u * 1024u);
  EXPECT_TRUE(tail.ends_with("line 19999\nthe end\n")) << tail.substr(tail.size() - 40);
  EXPECT_EQ(tail.find('\x1b'), std::string::npos);
}

TEST_F(SiteTest, AnAttemptsOutputHasAPageOfItsOwn) {
  Response r = Get("/runs/3/output", {{"test", "net:a.sh"}, {"attempt", "1"}});
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_NE(r.body.find("net:a.sh attempt 1 of run 3"), std::string::npos);
  EXPECT_NE(r.body.find("red "), std::string::npos);
  ExpectNoPayload(r.body, "output");
  EXPECT_EQ(Get("/runs/3/output", {{"test", "net:a.sh"}, {"attempt", "2"}}).status, 404);
  EXPECT_EQ(Get("/runs/3/output", {{"test", "net:nope.sh"}}).status, 404);
}

TEST_F(SiteTest, TheMatrixHasALetteredCellPerRunAndSubtest) {
  Response r = Get("/tests", {{"path", "net:b.sh"}});
  EXPECT_NE(r.body.find("title=\"run 2: FLAKY\""), std::string::npos) << r.body;
  auto j = json::parse(Get("/api/v1/tests", {{"path", "net:a.sh"}}).body);
  ASSERT_EQ(j["runs"].size(), 3u);
  ASSERT_EQ(j["rows"].size(), 3u);  // the test, one, two
  EXPECT_EQ(j["rows"][2]["subtest"], "two");
  EXPECT_EQ(j["rows"][2]["cells"], (json{"PASS", "FAIL", nullptr}));
  EXPECT_EQ(j["runs"][2]["crashes"], 2);
}

TEST_F(SiteTest, AnUnexpectedPassIsShownAsTheFailureItIs) {
  Record(db_->EnsureEnvironment(Env("host")).value(), {{"net:a.sh", "XPASS", {}, 1}});
  Response r = Get("/tests", {{"path", "net:a.sh"}});
  EXPECT_NE(r.body.find("class=\"c st-XPASS\" title=\"run 4: XPASS\"><a href=\"/runs/4\">U</a>"), std::string::npos)
      << r.body;
  // Its style is a failure's.
  std::string css = Get("/static/vigil.css").body;
  EXPECT_NE(css.find("table.matrix td.st-FAIL, table.matrix td.st-XPASS,"), std::string::npos);
}

TEST_F(SiteTest, ATestWhoseNameHasAColonHasItsHistoryAndIsExported) {
  Record(db_->EnsureEnvironment(Env("host")).value(), {{"net:we:ird.sh", "FAIL", {{"s:1", "FAIL"}}, 1}});
  Response whole = Get("/tests", {{"path", "net:we:ird.sh"}});
  EXPECT_EQ(whole.status, 200) << whole.body.substr(0, 300);
  auto j = json::parse(Get("/api/v1/tests", {{"path", "net:we:ird.sh:s:1"}}).body);
  EXPECT_EQ(j["test"], "net:we:ird.sh") << j.dump();
  ASSERT_EQ(j["rows"].size(), 1u) << j.dump();  // only the subtest asked for
  EXPECT_EQ(j["rows"][0]["subtest"], "s:1");
  // A name no run has is still not found, not taken for another test.
  EXPECT_EQ(Get("/tests", {{"path", "net:we:nothing"}}).status, 404);
  // Two tests that differ after their second colon have a page each.
  Record(db_->EnsureEnvironment(Env("host")).value(), {{"net:we:other.sh", "PASS", {}, 1}});
  auto tests = std::make_shared<std::set<std::string>>(
      std::set<std::string>{"net:a.sh", "net:we:ird.sh", "net:we:other.sh"});
  Links links = Links::Files(1, std::make_shared<std::set<int64_t>>(), 1, tests);
  EXPECT_NE(links.TestFile("net:we:ird.sh"), links.TestFile("net:we:other.sh"));
  EXPECT_EQ(links.TestFile("net:we:ird.sh:s:1"), links.TestFile("net:we:ird.sh"));
  EXPECT_EQ(links.TestFile("net:a.sh:one"), links.TestFile("net:a.sh"));
  EXPECT_EQ(links.TestFile("net:gone.sh"), "");  // not exported: no link
  EXPECT_EQ(links.Test("net:gone.sh:one"), "");
  EXPECT_EQ(links.Test("net:we:other.sh"), "../" + links.TestFile("net:we:other.sh"));
  ExportOptions eo;
  eo.dir = fs::temp_directory_path() / fmt::format("vigil-export-colon-{}", getpid());
  auto st = ExportHtml(*db_, eo);
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  auto page = [&](const std::string& test) {
    std::ifstream in(fs::path(eo.dir) / links.TestFile(test));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  EXPECT_NE(page("net:we:ird.sh").find("s:1"), std::string::npos);
  EXPECT_NE(page("net:we:other.sh").find("net:we:other.sh"), std::string::npos);
  EXPECT_EQ(page("net:we:other.sh").find("s:1"), std::string::npos);
  fs::remove_all(eo.dir);
}

TEST_F(SiteTest, CrashesAreGroupedByFingerprint) {
  auto j = json::parse(Get("/api/v1/crashes").body);
  ASSERT_EQ(j["crashes"].size(), 1u);
  EXPECT_EQ(j["crashes"][0]["count"], 2);
  EXPECT_EQ(j["crashes"][0]["title"], "WARNING in tcp_sendmsg");
  EXPECT_EQ(j["crashes"][0]["kernels"], json{"6.12.1"});
  std::string page = Get("/crashes").body;
  EXPECT_NE(page.find("×2 in 1 runs"), std::string::npos);
}

TEST_F(SiteTest, CrashesShowTheTextsOfTheMostRecentKindsOnly) {
  // 60 more kinds, one run each, the newest last: the page reads the text of
  // the 50 most recent kinds and points to the run of the others.
  for (int i = 0; i < 60; ++i) {
    int64_t r = db_->CreateRun(Run(2)).value();
    model::AttemptRecord a = Attempt("net:a.sh", "FAIL");
    a.crashes = {{"BUG", fmt::format("BUG in f{}", i), true, fmt::format("fp-{}", i), fmt::format("f{}", i),
                  fmt::format("BUG: text of kind {}\n", i)}};
    ASSERT_TRUE(db_->RecordAttempt(r, a).ok());
    ASSERT_TRUE(db_->FinishRun(r, "FAIL", "2026-12-01T11:00:00Z").ok());
  }
  auto j = json::parse(Get("/api/v1/crashes").body);
  ASSERT_EQ(j["crashes"].size(), 61u);
  EXPECT_EQ(j["crashes"][0]["title"], "BUG in f59");
  EXPECT_EQ(j["crashes"][0]["example"]["text"], "BUG: text of kind 59\n");
  EXPECT_FALSE(j["crashes"][0]["example"].contains("text_not_shown"));
  EXPECT_EQ(j["crashes"][49]["example"]["text"], "BUG: text of kind 10\n");
  for (size_t i = 50; i < 61; ++i) {
    EXPECT_FALSE(j["crashes"][i]["example"].contains("text")) << i;
    EXPECT_EQ(j["crashes"][i]["example"]["text_not_shown"], true) << i;
  }
  std::string page = Get("/crashes").body;
  EXPECT_NE(page.find("BUG: text of kind 10"), std::string::npos);
  EXPECT_EQ(page.find("BUG: text of kind 9\n"), std::string::npos);
  // An export has no page of most runs: it keeps every text.
  json all = site_->CrashesData(true).value();
  EXPECT_EQ(all["crashes"][59]["example"]["text"], "BUG: text of kind 0\n");
  EXPECT_FALSE(all["crashes"][60]["example"].contains("text_not_shown"));  // the oldest kind
  int64_t oldest = j["crashes"][60]["example"]["run"];
  EXPECT_NE(page.find(fmt::format("Its text is on <a href=\"/runs/{}\">run {}</a>", oldest, oldest)), std::string::npos);
}

TEST_F(SiteTest, TheRunsListCountsAndFilters) {
  auto j = json::parse(Get("/api/v1/runs").body);
  ASSERT_EQ(j["runs"].size(), 3u);
  EXPECT_EQ(j["runs"][0]["id"], 3);  // newest first
  EXPECT_EQ(j["runs"][1]["failed"], 2);
  EXPECT_EQ(j["runs"][1]["flaky"], 1);
  EXPECT_EQ(j["runs"][1]["passed"], 0);  // the flaky one is not counted twice
  EXPECT_DOUBLE_EQ(j["runs"][1]["pass_rate"].get<double>(), 1.0 / 3.0);
  EXPECT_EQ(j["runs"][2]["passed"], 3);
  EXPECT_EQ(j["runs"][0]["crashes"], 2);
  auto vm = json::parse(Get("/api/v1/runs", {{"env", "vm"}}).body);
  ASSERT_EQ(vm["runs"].size(), 1u);
  EXPECT_EQ(vm["runs"][0]["id"], 3);
  auto failed = json::parse(Get("/api/v1/runs", {{"status", "FAIL"}}).body);
  EXPECT_EQ(failed["total"], 1);
  auto manual = json::parse(Get("/api/v1/runs", {{"origin", "manual"}}).body);
  EXPECT_EQ(manual["total"], 3);
  // The page's JSON link has its filters.
  EXPECT_NE(Get("/runs", {{"env", "vm"}}).body.find("href=\"/api/v1/runs?env=vm\""), std::string::npos);
}

TEST_F(SiteTest, WhatIsKeptIsReadAgainOnceTheStoreChanges) {
  EXPECT_EQ(json::parse(Get("/api/v1/runs").body)["total"], 3);
  EXPECT_EQ(json::parse(Get("/api/v1/runs").body)["total"], 3);
  int64_t id = db_->CreateRun(Run(1)).value();
  auto j = json::parse(Get("/api/v1/runs").body);
  EXPECT_EQ(j["total"], 4);
  EXPECT_EQ(j["runs"][0]["status"], "running");
  ASSERT_TRUE(db_->FinishRun(id, "PASS", "2026-12-01T10:09:00Z").ok());
  EXPECT_EQ(json::parse(Get("/api/v1/runs").body)["runs"][0]["status"], "PASS");
}

// An edit of the known-issues file judges the kept pages again: what is
// known changed, though the store did not.
TEST_F(SiteTest, AnEditOfTheKnownIssuesIsSeenAtOnce) {
  std::string path = ::testing::TempDir() + "/site-known-" + std::to_string(getpid()) + ".toml";
  auto write = [&](const std::string& match) {
    std::ofstream(path, std::ios::trunc) << "[[issue]]\nmatch = \"" << match << "\"\nreason = \"r\"\n";
  };
  write("net:c.sh");
  SiteOptions o;
  o.known_issues = path;
  site_ = std::make_unique<Site>(*db_, o);
  auto verdict = [&] { return json::parse(Get("/api/v1/runs/2").body)["verdict"]; };
  json before = verdict();
  ASSERT_TRUE(before.is_object()) << before.dump();
  EXPECT_EQ(before.dump().find("KNOWN"), std::string::npos) << before.dump();
  EXPECT_EQ(verdict(), before);  // kept
  write("net:a.sh:two");
  json after = verdict();
  EXPECT_NE(after, before);
  EXPECT_NE(after.dump().find("net:a.sh"), std::string::npos) << after.dump();
  EXPECT_NE(after["known"].dump().find("two"), std::string::npos) << after.dump();
  std::remove(path.c_str());
}

// Parameters no page reads are not part of what is kept: a visitor adding
// junk to every request neither fills the cache nor pushes pages out.
TEST_F(SiteTest, ParametersNoPageReadsAreNotKeptApart) {
  EXPECT_EQ(Get("/flakes").status, 200);
  EXPECT_EQ(Get("/runs", {{"status", "FAIL"}}).status, 200);
  EXPECT_EQ(site_->cached_pages(), 2u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(Get("/flakes", {{"utm_source", std::to_string(i)}}).status, 200);
  EXPECT_EQ(site_->cached_pages(), 2u);
  EXPECT_EQ(Get("/runs", {{"status", "PASS"}}).status, 200);  // a parameter the page reads
  EXPECT_EQ(site_->cached_pages(), 3u);

}

TEST_F(SiteTest, FlakesListWhatNeedsAttentionAndCountTheRest) {
  // Two more host runs where b.sh fails, then passes on a retry: flaky.
  Record(1, {{"net:a.sh", "PASS", {}, 1}, {"net:b.sh", "PASS", {}, 2}});
  Record(1, {{"net:a.sh", "PASS", {}, 1}, {"net:b.sh", "PASS", {}, 2}});
  json every = json::parse(Get("/api/v1/flakes", {{"all", "1"}}).body);
  json some = json::parse(Get("/api/v1/flakes").body);
  ASSERT_TRUE(some.contains("hidden"));
  EXPECT_FALSE(every.contains("hidden"));
  size_t hidden = 0;
  for (const auto& [cls, n] : some["hidden"].items()) {
    EXPECT_NE(cls, "flaky");
    hidden += n.get<size_t>();
  }
  EXPECT_EQ(some["entries"].size() + hidden, every["entries"].size());
  bool flaky_b = false;
  for (const auto& e : some["entries"]) {
    EXPECT_NE(e["class"], "stable");
    flaky_b |= e["test"] == "net:b.sh" && e["subtest"].is_null() && e["class"] == "flaky";
  }
  EXPECT_TRUE(flaky_b) << some.dump();
  std::string page = Get("/flakes").body;
  EXPECT_NE(page.find(fmt::format("{} more are stable, new or always skipped", hidden)), std::string::npos);
  EXPECT_NE(page.find("/flakes?all=1"), std::string::npos);
  std::string all_page = Get("/flakes", {{"all", "1"}}).body;
  EXPECT_EQ(all_page.find("more are stable"), std::string::npos);
  EXPECT_NE(all_page.find("cls new"), std::string::npos);  // what the default leaves out
  EXPECT_EQ(Get("/flakes", {{"all", "yes"}}).status, 400);
}

TEST_F(SiteTest, BadRequestsAreErrorPagesNotCrashes) {
  EXPECT_EQ(Get("/runs/999").status, 404);
  EXPECT_EQ(Get("/runs/abc").status, 404);
  EXPECT_EQ(Get("/runs/-1").status, 404);
  EXPECT_EQ(Get("/runs/99999999999999999999999").status, 404);
  EXPECT_EQ(Get("/nope").status, 404);
  EXPECT_EQ(Get("/runs/1/nope").status, 404);
  EXPECT_EQ(Get("/static/../../etc/passwd").status, 404);
  EXPECT_EQ(Get("/runs", {{"page", "99999999999"}}).status, 404);
  EXPECT_EQ(Get("/runs", {{"page", "2"}}).status, 404);
  EXPECT_EQ(Get("/runs", {{"page", "0"}}).status, 400);
  EXPECT_EQ(Get("/runs", {{"page", "x"}}).status, 400);
  EXPECT_EQ(Get("/runs", {{"env", "<b>"}}).status, 400);
  EXPECT_EQ(Get("/tests").status, 400);
  EXPECT_EQ(Get("/tests", {{"path", "nocolon"}}).status, 400);
  EXPECT_EQ(Get("/tests", {{"path", "net:never.sh"}}).status, 404);
  EXPECT_EQ(Get("/compare", {{"a", "1"}}).status, 400);
  EXPECT_EQ(Get("/compare", {{"a", "1"}, {"b", "77"}}).status, 404);
  EXPECT_EQ(Get("/builds/5").status, 404);
  EXPECT_EQ(Get("/series/5").status, 404);
  EXPECT_EQ(Get("/runs/1/console.txt").status, 404);  // no console log
  Response bad = Get("/runs", {{"env", "<script>x</script>"}});
  ExpectNoPayload(bad.body, "400 page");
  Response api = Get("/api/v1/runs/999");
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(api.content_type, "application/json");
  EXPECT_EQ(json::parse(api.body)["error"], "no run 999");
}

TEST_F(SiteTest, TheApiIsJsonWhateverTheBytes) {
  model::RunRecord r = Run(1);
  r.plan = {std::string("net:bad\xff\xfe")};
  int64_t id = db_->CreateRun(r).value();
  ASSERT_TRUE(db_->RecordAttempt(id, Attempt(std::string("net:bad\xff\xfe"), "FAIL")).ok());
  for (const std::string& p : std::vector<std::string>{fmt::format("/api/v1/runs/{}", id), "/api/v1/runs"}) {
    Response res = Get(p);
    EXPECT_EQ(res.status, 200) << p;
    EXPECT_FALSE(json::parse(res.body, nullptr, false).is_discarded()) << p;
  }
  EXPECT_EQ(Get(fmt::format("/runs/{}", id)).status, 200);
}

// A test's name is bytes: every page's link to it (the verdict's failures
// among them) carries those bytes, not the U+FFFD its text shows.
TEST_F(SiteTest, LinksToATestWhoseNameIsNotUtf8LeadToIt) {
  const std::string bad = "net:bad\xff.sh";
  std::vector<int64_t> ids;
  for (int i = 0; i < 2; ++i) {
    model::RunRecord r = Run(1);
    r.plan = {bad};
    int64_t id = db_->CreateRun(r).value();
    model::AttemptRecord a = Attempt(bad, "FAIL");
    a.subtests.push_back({"x\xfe", "FAIL", 10});
    ASSERT_TRUE(db_->RecordAttempt(id, a).ok());
    ASSERT_TRUE(db_->FinishRun(id, "FAIL", "2026-12-01T11:00:00Z").ok());
    ids.push_back(id);
  }
  size_t links = 0;
  for (const std::string& page : {fmt::format("/runs/{}", ids[1]), std::string("/flakes"),
                                  fmt::format("/compare?a={}&b={}", ids[0], ids[1])}) {
    size_t q = page.find('?');
    std::map<std::string, std::string> query;
    if (q != std::string::npos) query = {{"a", std::to_string(ids[0])}, {"b", std::to_string(ids[1])}};
    Response r = Get(page.substr(0, q), query);
    ASSERT_EQ(r.status, 200) << page;
    const std::string prefix = "href=\"/tests?path=net%3Abad";
    for (size_t at = r.body.find(prefix); at != std::string::npos; at = r.body.find(prefix, at + 1)) {
      size_t start = at + std::string("href=\"/tests?path=").size();
      std::string encoded = r.body.substr(start, r.body.find('"', start) - start);
      std::string path;
      ASSERT_TRUE(UrlDecode(encoded, &path)) << encoded;
      EXPECT_EQ(path.substr(0, bad.size()), bad) << page << ": " << encoded;
      EXPECT_EQ(Get("/tests", {{"path", path}}).status, 200) << page << ": " << encoded;
      ++links;
    }
  }
  EXPECT_GE(links, 3u);
}

TEST_F(SiteTest, StaticFilesAndTheJunitAreServed) {
  Response css = Get("/static/vigil.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(Get("/static/vigil.js").content_type, "text/javascript; charset=utf-8");
  Response x = Get("/runs/2/junit.xml");
  EXPECT_EQ(x.status, 200);
  // The totals count every testcase written, subtests included.
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = x.body.find(what); at != std::string::npos; at = x.body.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<testcase "), 6u) << x.body;
  EXPECT_EQ(count("<failure "), 4u) << x.body;
  EXPECT_NE(x.body.find("tests=\"6\" failures=\"4\" skipped=\"0\""), std::string::npos) << x.body;
  EXPECT_EQ(x.body.find("<img"), std::string::npos);
}

TEST_F(SiteTest, ServerLinksHonourTheBaseUrl) {
  Links l = Links::Server("/vigil/");
  EXPECT_EQ(l.Run(3), "/vigil/runs/3");
  EXPECT_EQ(l.Test("net/mptcp:x.sh:sub 1"), "/vigil/tests?path=net%2Fmptcp%3Ax.sh%3Asub%201");
  EXPECT_EQ(l.Runs(1), "/vigil/");
  EXPECT_EQ(l.Runs(2, {{"env", "vm"}}), "/vigil/runs?env=vm&page=2");
  SiteOptions o;
  o.base_url = "https://ci.example.org/vigil/";
  Site s(*db_, o);
  EXPECT_NE(s.Get("/runs/1", {}).body.find("href=\"/vigil/static/vigil.css\""), std::string::npos);
}

// Every relative link of every exported page leads to a file of the export.
TEST_F(SiteTest, TheExportIsSelfContained) {
  fs::path dir = fs::temp_directory_path() / fmt::format("vigil-export-test-{}", getpid());
  fs::remove_all(dir);
  ExportOptions o;
  o.dir = dir.string();
  o.runs = 2;  // runs 2 and 3; run 1 is linked nowhere
  auto r = ExportHtml(*db_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->runs, 2);
  EXPECT_TRUE(fs::exists(dir / "index.html"));
  EXPECT_TRUE(fs::exists(dir / "runs/3.html"));
  EXPECT_TRUE(fs::exists(dir / "runs/3.json"));
  EXPECT_FALSE(fs::exists(dir / "runs/1.html"));
  std::regex href("(?:href|src)=\"([^\"]*)\"");
  int pages = 0, checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.path().extension() != ".html") continue;
    ++pages;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string body = ss.str();
    ExpectNoPayload(body, e.path().string());
    for (auto it = std::sregex_iterator(body.begin(), body.end(), href); it != std::sregex_iterator(); ++it) {
      std::string target = (*it)[1];
      EXPECT_NE(target.rfind("/", 0), 0u) << e.path() << " links " << target << " absolutely";
      if (target.rfind("http", 0) == 0 || target.rfind("#", 0) == 0 || target.rfind("data:", 0) == 0) continue;
      target = target.substr(0, target.find('#'));
      EXPECT_TRUE(fs::exists(e.path().parent_path() / target)) << e.path() << " links " << target;
      ++checked;
    }
  }
  EXPECT_GT(pages, 8);
  EXPECT_GT(checked, 50);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::web

namespace vigil::web {
namespace {

// The patch loop's and the builds' pages over what they record.
TEST_F(SiteTest, SeriesAndBuildsShowWhatThePatchLoopRecorded) {
  model::BuildRecord base;
  base.started_at = "2026-12-01T09:00:00Z";
  base.status = "built";
  base.tree = "/src/linux";
  base.variant = "normal";
  base.describe = "v6.12";
  model::BuildDiagnosticRecord old_warning{"compiler", "net/a.c", 10, 5, "warning", "unused variable 'x'",
                                           "-Wunused-variable", "f", "", {}, ""};
  int64_t b1 = db_->RecordBuild(base, {old_warning}).value();
  model::BuildRecord next = base;
  next.started_at = "2026-12-01T09:30:00Z";
  next.describe = "v6.12-1-g<b>";
  next.warnings = 2;
  model::BuildDiagnosticRecord fresh{"compiler", "net/<b>.c", 3, 1, "warning", "comparison <always> true",
                                     "-Wtautological-compare", "g", "", {}, ""};
  old_warning.line = 12;  // moved, not new
  int64_t b2 = db_->RecordBuild(next, {old_warning, fresh}).value();

  model::SeriesRecord s;
  s.source = "http://pw#netdev";
  s.series_id = 7;
  s.name = "[PATCH net-next 0/2] mptcp: <script>fix</script>";
  s.submitter = "Ann <ann@example.org>";
  s.state = "queued";
  s.series_json = R"({"patches":[{"id":11,"name":"[1/2] mptcp: one"},{"id":12,"name":"[2/2] <img src=x>"}]})";
  int64_t sid = db_->QueueSeries(s).value();
  s.id = sid;
  s.state = "done";
  s.conclusion = "fail: 1 subtest newly failing";
  s.result_json = fmt::format(R"({{"run":2,"base_run":1,"variants":[{{"variant":"normal","build":{},"run":2,"base_run":1}}]}})", b2);
  ASSERT_TRUE(db_->UpdateSeries(s).ok());
  ASSERT_TRUE(db_->SetSeriesCheck({sid, 11, "final", "vigil-test", "fail", "Failed: net:a.sh:two", "", "posted",
                                   "2026-12-01T10:00:00Z"}).ok());
  ASSERT_TRUE(db_->SetSeriesCheck({sid, 12, "final", "vigil-build", "success", "Built", "", "posted",
                                   "2026-12-01T10:00:00Z"}).ok());
  // Its e-mail, given up for a recipient (of a stranger's choosing) that
  // refused it for now for a day.
  model::SeriesMailRecord mail;
  mail.series = sid;
  mail.message_id = "<vigil-7@example.org>";
  mail.status = "given-up";
  mail.updated_at = "2026-12-02T10:00:00Z";
  mail.pending = {"<b>grey</b>@example.org"};
  mail.pending_since = "2026-12-01T10:00:00Z";
  ASSERT_TRUE(db_->SetSeriesMail(mail).ok());

  Response list = Get("/series");
  EXPECT_EQ(list.status, 200);
  ExpectNoPayload(list.body, "series list");
  EXPECT_NE(list.body.find("&lt;script&gt;fix&lt;/script&gt;"), std::string::npos);
  Response page = Get(fmt::format("/series/{}", sid));
  EXPECT_EQ(page.status, 200) << page.body;
  ExpectNoPayload(page.body, "series page");
  EXPECT_NE(page.body.find("[1/2] mptcp: one"), std::string::npos);
  EXPECT_NE(page.body.find("Failed: net:a.sh:two"), std::string::npos);
  EXPECT_NE(page.body.find("given-up"), std::string::npos);
  EXPECT_NE(page.body.find("Never reached &lt;b&gt;grey&lt;/b&gt;@example.org (since 2026-12-01T10:00:00Z)"),
            std::string::npos);
  EXPECT_NE(page.body.find(fmt::format("href=\"/builds/{}\"", b2)), std::string::npos);
  EXPECT_NE(page.body.find("href=\"/compare?a=1&amp;b=2\""), std::string::npos);
  // The run a series tested says where it came from.
  auto runs = json::parse(Get("/api/v1/runs").body);
  EXPECT_EQ(runs["runs"][1]["origin"]["kind"], "series");
  EXPECT_EQ(runs["runs"][1]["origin"]["role"], "tested");
  EXPECT_EQ(runs["runs"][2]["origin"]["role"], "base");
  EXPECT_EQ(json::parse(Get("/api/v1/runs", {{"origin", "series"}}).body)["total"], 2);
  EXPECT_EQ(json::parse(Get("/api/v1/runs", {{"origin", "manual"}}).body)["total"], 1);
  // So does its column on a test's page, with a link to its series.
  auto tj = json::parse(Get("/api/v1/tests", {{"path", "net:a.sh"}}).body);
  ASSERT_EQ(tj["runs"].size(), 3u);
  EXPECT_FALSE(tj["runs"][0].contains("series"));
  EXPECT_EQ(tj["runs"][1]["series"], sid);
  EXPECT_FALSE(tj["runs"][2].contains("series"));
  Response test_page = Get("/tests", {{"path", "net:a.sh"}});
  EXPECT_NE(test_page.body.find(fmt::format("<th title=\"run 2 tested series {} (a patch applied to the tree)\"><a "
                                            "href=\"/series/{}\">S</a></th>",
                                            sid, sid)),
            std::string::npos)
      << test_page.body;

  // The build: its new warning against the build before it, not the one that moved.
  auto bj = json::parse(Get(fmt::format("/api/v1/builds/{}", b2)).body);
  EXPECT_EQ(bj["compared_to"], b1);
  ASSERT_EQ(bj["new_diagnostics"].size(), 1u);
  EXPECT_EQ(bj["new_diagnostics"][0]["file"], "net/<b>.c");
  Response build = Get(fmt::format("/builds/{}", b2));
  EXPECT_EQ(build.status, 200);
  ExpectNoPayload(build.body, "build page");
  EXPECT_NE(build.body.find("net/&lt;b&gt;.c:3:1: warning: comparison &lt;always&gt; true"), std::string::npos);
  EXPECT_EQ(Get("/builds").status, 200);
}

// A run a series tested is judged against the base commit's run its result
// names, as its checks were: the newest earlier run (run 2, another
// series' run that broke the same subtest) would call the failure old.
TEST_F(SiteTest, ASeriesRunIsJudgedAgainstItsBaseRun) {
  int64_t host = db_->EnsureEnvironment(Env("host")).value();
  Record(host, {{"net:a.sh", "FAIL", {{"one", "PASS"}, {"two", "FAIL"}}, 1}, {"net:b.sh", "PASS", {}, 1},
                {std::string("net:") + kXssName, "PASS", {}, 1}});  // run 4
  model::SeriesRecord s;
  s.source = "http://pw#netdev";
  s.series_id = 8;
  s.name = "[PATCH 0/1] breaks two again";
  s.state = "queued";
  s.series_json = "{}";
  s.id = db_->QueueSeries(s).value();
  s.state = "done";
  s.result_json = R"({"run":4,"base_run":1})";
  ASSERT_TRUE(db_->UpdateSeries(s).ok());
  auto j = json::parse(Get("/api/v1/runs/4").body);
  EXPECT_EQ(j["verdict"]["baseline"], 1) << j["verdict"];
  ASSERT_EQ(j["verdict"]["failures"].size(), 1u) << j["verdict"];
  EXPECT_EQ(j["verdict"]["failures"][0]["path"], "net:a.sh:two");
  // A run no series tested: the newest earlier run, as before.
  EXPECT_EQ(json::parse(Get("/api/v1/runs/2").body)["verdict"]["baseline"], 1);
}

// The runs list's next pages are pinned to the runs the first page saw: a
// run recorded meanwhile does not show a run of page 1 again on page 2.
TEST_F(SiteTest, TheRunsPagesAfterTheFirstStayWhereTheFirstWas) {
  SiteOptions o;
  o.runs_per_page = 2;
  site_ = std::make_unique<Site>(*db_, o);
  auto first = json::parse(Get("/api/v1/runs").body);
  ASSERT_EQ(first["runs"].size(), 2u);
  EXPECT_EQ(first["runs"][0]["id"], 3);
  EXPECT_EQ(first["up_to"], 3);
  std::string html = Get("/").body;
  EXPECT_NE(html.find("href=\"/runs?page=2&amp;up_to=3\""), std::string::npos) << html.substr(html.find("pager"), 300);
  Record(db_->EnsureEnvironment(Env("host")).value(), {{"net:a.sh", "PASS", {}, 1}});  // run 4
  auto second = json::parse(Get("/api/v1/runs", {{"page", "2"}, {"up_to", "3"}}).body);
  ASSERT_EQ(second["runs"].size(), 1u) << second;
  EXPECT_EQ(second["runs"][0]["id"], 1);
  EXPECT_EQ(second["total"], 3);
  // Unpinned, run 2 would be there again.
  EXPECT_EQ(json::parse(Get("/api/v1/runs", {{"page", "2"}}).body)["runs"][0]["id"], 2);
  EXPECT_EQ(Get("/api/v1/runs", {{"up_to", "x"}}).status, 400);
}

TEST_F(SiteTest, EachShardOfASplitRunShowsItsState) {
  model::RunRecord run = Run(db_->EnsureEnvironment(Env("host")).value());
  run.run_group = "g<1>";
  run.shards = 5;
  int64_t id = db_->CreateGroupRun(run, {{"net:a.sh"}, {"net:b.sh"}, {std::string("net:") + kXssName}, {}, {}}).value();
  auto start = [&](int shard, const std::string& owner) {
    model::RunShardRecord s;
    s.run_id = id;
    s.shard = shard;
    s.host = "h";
    s.started_at = "2026-12-01T10:00:00Z";
    s.owner = owner;
    ASSERT_TRUE(db_->StartShard(s, "").value());
  };
  start(1, sys::SelfOwner());
  ASSERT_TRUE(db_->EndShard(id, 1, "PASS", "2026-12-01T10:01:00Z").ok());
  start(2, sys::SelfOwner());
  ASSERT_TRUE(db_->EndShard(id, 2, "FAIL", "").ok());  // stopped (--on-crash stop)
  // Shard 3 not started; 4 run by this process; 5 by a process that is gone
  // (this host, a pid whose start time is not the one recorded).
  start(4, sys::SelfOwner());
  start(5, fmt::format("{} 1 99999999999", sys::HostName()));

  auto shards = json::parse(Get(fmt::format("/api/v1/runs/{}", id)).body)["run_group"]["shards"];
  ASSERT_EQ(shards.size(), 5u);
  std::vector<std::string> states;
  for (const auto& s : shards) states.push_back(s["state"]);
  EXPECT_EQ(states, (std::vector<std::string>{"finished", "stopped", "waiting", "running", "died"}));
  Response page = Get(fmt::format("/runs/{}", id));
  EXPECT_EQ(page.status, 200);
  ExpectNoPayload(page.body, "split run");
  for (const char* shown : {"<td>PASS</td>", "<td>stopped (FAIL)</td>", "<td>waiting</td>", "<td>running</td>",
                            "<td>died</td>"}) {
    EXPECT_NE(page.body.find(shown), std::string::npos) << shown;
  }
}

}  // namespace
}  // namespace vigil::web
