#include "report/kcidb.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "base/json.h"

namespace vigil::report {
namespace {

using nlohmann::json;

// What KCIDB I/O schema 5.3 requires (kcidb_io/schema/v05_03.py and the
// versions it extends): required fields, id and origin patterns, the status
// enum, the path pattern, no NUL outside misc, log excerpts of at most 16384
// characters, no properties but the schema's.
const std::regex kId("^[a-z0-9_]+:[^\\x00]*$");
const std::regex kOrigin("^[a-z0-9_]+$");
const std::regex kPath("^([a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*)?$");
const std::regex kSha1("^[0-9a-f]{40}$");
const std::regex kArch("^[a-z0-9_]*$");
const std::set<std::string> kStatuses = {"FAIL", "ERROR", "MISS", "PASS", "DONE", "SKIP"};

void ExpectOnly(const json& o, const std::set<std::string>& allowed, const std::string& what) {
  for (const auto& [k, v] : o.items()) EXPECT_TRUE(allowed.count(k)) << what << " has no property " << k;
}

void ExpectNoNul(const json& j, const std::string& where) {
  if (j.is_string()) {
    EXPECT_EQ(j.get<std::string>().find('\0'), std::string::npos) << where;
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k != "misc") ExpectNoNul(v, where + "." + k);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) ExpectNoNul(v, where + "[]");
  }
}

void ExpectCommon(const json& o, const std::string& what) {
  ASSERT_TRUE(o.contains("id") && o["id"].is_string()) << what;
  EXPECT_TRUE(std::regex_match(o["id"].get<std::string>(), kId)) << what << " id " << o["id"];
  ASSERT_TRUE(o.contains("origin") && o["origin"].is_string()) << what;
  EXPECT_TRUE(std::regex_match(o["origin"].get<std::string>(), kOrigin)) << what;
  if (o.contains("log_excerpt")) {
    EXPECT_LE(o["log_excerpt"].get<std::string>().size(), kKcidbMaxExcerpt) << what;
  }
  if (o.contains("status")) {
    EXPECT_TRUE(kStatuses.count(o["status"].get<std::string>())) << what << o["status"];
  }
  for (const auto& [k, v] : o.items()) EXPECT_FALSE(v.is_null()) << what << "." << k << " is null";
}

// Every rule above over a whole report.
void ExpectValid(const json& r) {
  ExpectOnly(r, {"version", "checkouts", "builds", "tests", "issues", "incidents"}, "report");
  ASSERT_TRUE(r.contains("version"));
  EXPECT_EQ(r["version"]["major"], 5);
  EXPECT_EQ(r["version"]["minor"], 3);
  ExpectNoNul(r, "report");
  for (const auto& c : r.value("checkouts", json::array())) {
    ExpectCommon(c, "checkout");
    ExpectOnly(c, {"id", "origin", "tree_name", "git_repository_url", "git_commit_hash", "git_commit_name",
                   "git_commit_tags", "git_commit_message", "git_repository_branch", "git_repository_branch_tip",
                   "patchset_files", "patchset_hash", "message_id", "comment", "start_time",
                   "origin_builds_finish_time", "origin_tests_finish_time", "log_url", "log_excerpt", "valid", "misc"},
               "checkout");
    if (c.contains("git_commit_hash")) {
      EXPECT_TRUE(std::regex_match(c["git_commit_hash"].get<std::string>(), kSha1));
    }
    if (c.contains("valid")) {
      EXPECT_TRUE(c["valid"].is_boolean());
    }
    for (const auto& f : c.value("patchset_files", json::array())) {
      ExpectOnly(f, {"name", "url"}, "resource");
      EXPECT_EQ(f["name"].get<std::string>().find('/'), std::string::npos);
      EXPECT_FALSE(f["name"].get<std::string>().empty());
    }
    if (c.contains("message_id")) {
      EXPECT_NE(c["message_id"].get<std::string>().find('@'), std::string::npos);
    }
  }
  for (const auto& b : r.value("builds", json::array())) {
    ExpectCommon(b, "build");
    ExpectOnly(b, {"checkout_id", "id", "origin", "comment", "start_time", "duration", "architecture", "command",
                   "compiler", "input_files", "output_files", "config_name", "config_url", "log_url", "log_excerpt",
                   "status", "misc"},
               "build");
    EXPECT_TRUE(std::regex_match(b["checkout_id"].get<std::string>(), kId));
    if (b.contains("architecture")) {
      EXPECT_TRUE(std::regex_match(b["architecture"].get<std::string>(), kArch));
    }
    if (b.contains("duration")) {
      EXPECT_TRUE(b["duration"].is_number());
    }
  }
  for (const auto& t : r.value("tests", json::array())) {
    ExpectCommon(t, "test");
    ExpectOnly(t, {"build_id", "id", "origin", "environment", "path", "comment", "log_url", "log_excerpt", "status",
                   "number", "start_time", "duration", "input_files", "output_files", "misc"},
               "test");
    EXPECT_TRUE(std::regex_match(t["build_id"].get<std::string>(), kId));
    if (t.contains("path")) {
      EXPECT_TRUE(std::regex_match(t["path"].get<std::string>(), kPath)) << t["path"];
    }
    if (t.contains("environment")) ExpectOnly(t["environment"], {"compatible", "comment", "misc"}, "environment");
  }
  for (const auto& i : r.value("issues", json::array())) {
    ExpectCommon(i, "issue");
    ExpectOnly(i, {"id", "version", "origin", "categories", "report_url", "report_subject", "culprit", "comment", "misc"},
               "issue");
    EXPECT_TRUE(i["version"].is_number_integer());
    EXPECT_GE(i["version"].get<int>(), 0);
    ExpectOnly(i["culprit"], {"code", "tool", "harness"}, "culprit");
  }
  for (const auto& n : r.value("incidents", json::array())) {
    ExpectCommon(n, "incident");
    ExpectOnly(n, {"id", "origin", "issue_id", "issue_version", "build_id", "test_id", "present", "comment", "misc"},
               "incident");
    EXPECT_TRUE(std::regex_match(n["issue_id"].get<std::string>(), kId));
    EXPECT_TRUE(n["issue_version"].is_number_integer());
  }
}

model::AttemptRecord Attempt(const std::string& path, const std::string& status, int n = 1) {
  model::AttemptRecord a;
  a.test_path = path;
  a.attempt = n;
  a.status = status;
  a.duration_ms = 1500;
  a.started_at = "2026-12-05T10:00:00Z";
  a.output = "TAP version 13\n";
  return a;
}

KcidbInput ARun() {
  KcidbInput in;
  in.origin = "vigil_ci";
  model::RunRecord run;
  run.id = 12;
  run.started_at = "2026-12-05T10:00:00Z";
  run.plan = {"net/mptcp:mptcp_join.sh", "net/mptcp:diag.sh", "net/mptcp:never.sh"};
  in.run = run;
  model::AttemptRecord join = Attempt("net/mptcp:mptcp_join.sh", "FAIL");
  join.subtests = {{"001 no JOIN", "PASS", 20}, {"002 single subflow > syn", "FAIL", std::nullopt}};
  join.crashes = {{"WARNING", "WARNING in mptcp_pm_nl_add_addr", false, "c0ffee", "mptcp_pm_nl_add_addr", "trace"}};
  in.attempts = {join, Attempt("net/mptcp:diag.sh", "FAIL"), Attempt("net/mptcp:diag.sh", "PASS", 2)};
  model::Environment env;
  env.kernel_release = "6.12.0";
  env.uname = "Linux 6.12.0 x86_64";
  env.arch = "x86_64";
  env.cpus = 2;
  env.where = "vm";
  env.accel = "tcg";
  in.environment = env;
  return in;
}

const json* FindTest(const json& r, const std::string& path) {
  for (const auto& t : r["tests"]) {
    if (t["path"] == path) return &t;
  }
  return nullptr;
}

TEST(Kcidb, ARunIsAValidReportWithItsTestsSubtestsAndKernelReports) {
  json r = KcidbReport(ARun());
  ExpectValid(r);
  ASSERT_EQ(r["checkouts"].size(), 1u);
  ASSERT_EQ(r["builds"].size(), 1u);
  EXPECT_EQ(r["builds"][0]["checkout_id"], r["checkouts"][0]["id"]);
  EXPECT_EQ(r["builds"][0]["architecture"], "x86_64");
  // 3 tests (one never ran) and 2 subtests.
  EXPECT_EQ(r["tests"].size(), 5u);
  const json* join = FindTest(r, "kselftest.net_mptcp.mptcp_join_sh");
  ASSERT_NE(join, nullptr);
  EXPECT_EQ((*join)["status"], "FAIL");
  EXPECT_EQ((*join)["build_id"], r["builds"][0]["id"]);
  EXPECT_EQ((*join)["duration"], 1.5);
  const json* sub = FindTest(r, "kselftest.net_mptcp.mptcp_join_sh.002_single_subflow.syn");
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ((*sub)["status"], "FAIL");
  EXPECT_EQ(FindTest(r, "kselftest.net_mptcp.mptcp_join_sh.001_no_JOIN")->at("duration"), 0.02);
  // Failed, then passed on a retry: PASS, vigil's FLAKY kept in misc.
  const json* diag = FindTest(r, "kselftest.net_mptcp.diag_sh");
  EXPECT_EQ((*diag)["status"], "PASS");
  EXPECT_EQ((*diag)["misc"]["vigil_status"], "FLAKY");
  EXPECT_EQ((*diag)["misc"]["attempts"], 2);
  EXPECT_EQ(FindTest(r, "kselftest.net_mptcp.never_sh")->at("status"), "MISS");
  // The WARNING: one issue, an incident tying it to the test.
  ASSERT_EQ(r["issues"].size(), 1u);
  EXPECT_EQ(r["issues"][0]["id"], "vigil_ci:crash.c0ffee");
  ASSERT_EQ(r["incidents"].size(), 1u);
  EXPECT_EQ(r["incidents"][0]["issue_id"], "vigil_ci:crash.c0ffee");
  EXPECT_EQ(r["incidents"][0]["test_id"], (*join)["id"]);
  EXPECT_EQ(r["incidents"][0]["issue_version"], 1);
}

TEST(Kcidb, IdsAreTheSameEachExportAndAGroupIsNamedByItsGroup) {
  KcidbInput in = ARun();
  EXPECT_EQ(DumpJson(KcidbReport(in)), DumpJson(KcidbReport(in)));
  // A group's run has another id in another store: its ids do not change.
  in.run->run_group = "gh-77/1";
  json a = KcidbReport(in);
  in.run->id = 3;
  json b = KcidbReport(in);
  ASSERT_EQ(a["tests"].size(), b["tests"].size());
  for (size_t i = 0; i < a["tests"].size(); ++i) EXPECT_EQ(a["tests"][i]["id"], b["tests"][i]["id"]);
  EXPECT_EQ(a["builds"][0]["id"], "vigil_ci:group.gh-77%2F1.kernel");
  // Every id differs from every other.
  std::set<std::string> ids;
  for (const auto& t : a["tests"]) EXPECT_TRUE(ids.insert(t["id"].get<std::string>()).second) << t["id"];
}

TEST(Kcidb, ARunIsNamedByItsUidNotItsNumberInOneStore) {
  KcidbInput in = ARun();
  in.run->uid = "0123456789abcdef0123456789abcdef";
  json a = KcidbReport(in);
  EXPECT_EQ(a["builds"][0]["id"], "vigil_ci:run.0123456789abcdef0123456789abcdef.kernel");
  // Run 1 of another CI job's fresh store: another run, other ids.
  in.run->uid = "fedcba9876543210fedcba9876543210";
  json b = KcidbReport(in);
  EXPECT_NE(a["builds"][0]["id"], b["builds"][0]["id"]);
  EXPECT_NE(a["tests"][0]["id"], b["tests"][0]["id"]);
  // The same run as numbered in a store it was merged into: the same ids.
  in.run->id = 7;
  json c = KcidbReport(in);
  EXPECT_EQ(c["builds"][0]["id"], b["builds"][0]["id"]);
  ASSERT_EQ(c["tests"].size(), b["tests"].size());
  for (size_t i = 0; i < c["tests"].size(); ++i) EXPECT_EQ(c["tests"][i]["id"], b["tests"][i]["id"]);
}

TEST(Kcidb, StatusesMapAsDocumented) {
  EXPECT_EQ(KcidbStatus("PASS"), "PASS");
  EXPECT_EQ(KcidbStatus("XFAIL"), "PASS");
  EXPECT_EQ(KcidbStatus("FLAKY"), "PASS");
  EXPECT_EQ(KcidbStatus("FAIL"), "FAIL");
  EXPECT_EQ(KcidbStatus("XPASS"), "FAIL");
  EXPECT_EQ(KcidbStatus("TIMEOUT"), "FAIL");
  EXPECT_EQ(KcidbStatus("CRASH"), "FAIL");
  EXPECT_EQ(KcidbStatus("ERROR"), "ERROR");
  EXPECT_EQ(KcidbStatus("SKIP"), "SKIP");
  EXPECT_EQ(KcidbStatus("MISSING"), "MISS");
  EXPECT_EQ(KcidbStatus("bogus"), "ERROR");
  for (const char* s : {"PASS", "FAIL", "SKIP", "XFAIL", "XPASS", "TIMEOUT", "ERROR", "CRASH", "NO_TESTS", "MISSING",
                        "FLAKY", "KNOWN", "", "\xff"}) {
    EXPECT_TRUE(kStatuses.count(KcidbStatus(s))) << s;
  }
}

TEST(Kcidb, PathsAndIdsOfHostileNamesStayInTheirPatterns) {
  EXPECT_EQ(KcidbTestPath("net/mptcp:mptcp_join.sh"), "kselftest.net_mptcp.mptcp_join_sh");
  EXPECT_EQ(KcidbTestPath("c:t#2", "a > b.c > "), "kselftest.c.t_2.a.b_c._");
  EXPECT_EQ(KcidbTestPath("", ""), "kselftest._._");
  // A colon in a test's name: one test, not a test and a subtest.
  EXPECT_EQ(KcidbTestPath("t4:a:b.sh"), "kselftest.t4.a_b_sh");
  EXPECT_NE(KcidbTestPath("t4:a:b.sh"), KcidbTestPath("t4:a:c.sh"));
  KcidbInput in = ARun();
  std::string evil = std::string("c:\0\xff<script>.. > \n", 17);
  in.run->plan.push_back(evil);
  model::AttemptRecord a = Attempt(evil, "FAIL");
  a.output = std::string(40000, 'x') + std::string("\0\xff\xfe end", 8);
  a.subtests = {{std::string("\0 > \xc3", 5), "FAIL", 1}, {"", "PASS", std::nullopt}};
  a.crashes = {{"BUG", std::string("BUG\0\xff", 5), true, std::string("fp\0/..", 6), "", ""}};
  in.attempts.push_back(a);
  in.run->run_group = std::string("g\0\n", 3);
  ExpectValid(KcidbReport(in));
  EXPECT_EQ(KcidbIdPart(std::string("a b/\0", 5)), "a%20b%2F%00");
}

TEST(Kcidb, ASeriesRunCarriesItsPatchesAndMessageIdAndOneThatDidNotApplyIsInvalid) {
  KcidbInput in = ARun();
  model::SeriesRecord s;
  s.id = 4;
  s.source = "https://patchwork.example.org/api/1.3#netdev";
  s.series_id = 912;
  s.name = "[PATCH net-next 0/2] mptcp: fixes";
  s.tree = "net-next";
  s.base_commit = "0123456789abcdef0123456789abcdef01234567";
  const std::string hash = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
  s.series_json = R"({"cover":{"msgid":"<cover.1@example.org>"},"patches":[
      {"id":11,"msgid":"<p1@example.org>","mbox_url":"https://patchwork.example.org/patch/11/mbox/"},
      {"id":12,"msgid":"<p2@example.org>","mbox_url":"file:///etc/passwd"}],"patchset_hash":")" +
                  hash + R"("})";
  in.series = s;
  model::BuildRecord b;
  b.started_at = "2026-12-05T09:00:00Z";
  b.status = "built";
  b.commit = "89abcdef0123456789abcdef0123456789abcdef";
  b.describe = "v6.12-5-g89abcdef0123";
  b.variant = "normal";
  b.compiler = "gcc 12";
  b.duration_ms = 600000;
  in.build = b;
  json r = KcidbReport(in);
  ExpectValid(r);
  const json& c = r["checkouts"][0];
  EXPECT_EQ(c["message_id"], "cover.1@example.org");
  // The base the patches go on, not the commit `git am` made of them (nor
  // that commit's name).
  EXPECT_EQ(c["git_commit_hash"], s.base_commit);
  EXPECT_FALSE(c.contains("git_commit_name"));
  EXPECT_EQ(c["patchset_hash"], hash);
  EXPECT_EQ(c["tree_name"], "net-next");
  EXPECT_EQ(c["valid"], true);
  ASSERT_EQ(c["patchset_files"].size(), 1u);  // only http(s) URLs
  EXPECT_EQ(c["patchset_files"][0]["name"], "11.mbox");
  EXPECT_EQ(r["builds"][0]["status"], "PASS");
  EXPECT_EQ(r["builds"][0]["duration"], 600.0);
  // The series alone, not applied: an invalid checkout, nothing built or tested.
  KcidbInput only;
  only.origin = "vigil_ci";
  only.series = s;
  only.applied = false;
  json n = KcidbReport(only);
  ExpectValid(n);
  EXPECT_EQ(n["checkouts"][0]["valid"], false);
  EXPECT_FALSE(n.contains("builds"));
  EXPECT_FALSE(n.contains("tests"));
  // A hash that is not one is left out.
  only.series->series_json = R"({"patches":[],"patchset_hash":"../x"})";
  EXPECT_FALSE(KcidbReport(only)["checkouts"][0].contains("patchset_hash"));
  only.series->series_json = "not json";
  EXPECT_FALSE(KcidbReport(only)["checkouts"][0].contains("patchset_hash"));

  // A run of a clean build, no series: its commit with no patches on it.
  KcidbInput plain;
  plain.origin = "vigil_ci";
  plain.build = b;
  json p = KcidbReport(plain);
  ExpectValid(p);
  EXPECT_EQ(p["checkouts"][0]["git_commit_hash"], b.commit);
  EXPECT_EQ(p["checkouts"][0]["git_commit_name"], b.describe);
  EXPECT_EQ(p["checkouts"][0]["patchset_hash"], "");
  // Uncommitted changes in the tree: patches no one can name.
  plain.build->dirty = true;
  json dirty = KcidbReport(plain);
  EXPECT_FALSE(dirty["checkouts"][0].contains("patchset_hash"));
  // ... and a checkout of its own, not the one a clean build of the commit shares.
  EXPECT_NE(dirty["checkouts"][0]["id"], p["checkouts"][0]["id"]);
}

TEST(Kcidb, Origins) {
  EXPECT_TRUE(ValidKcidbOrigin("vigil_mptcp"));
  EXPECT_FALSE(ValidKcidbOrigin(""));
  EXPECT_FALSE(ValidKcidbOrigin("Vigil"));
  EXPECT_FALSE(ValidKcidbOrigin("a:b"));
}

TEST(Kcidb, EachTestOfASplitRunCarriesItsShardsEnvironment) {
  KcidbInput in = ARun();
  model::Environment other = *in.environment;
  other.uname = "Linux 6.12.0 runner-2";
  other.cpus = 8;
  in.test_environments["net/mptcp:diag.sh"] = other;
  json r = KcidbReport(in);
  ExpectValid(r);
  EXPECT_NE(FindTest(r, "kselftest.net_mptcp.diag_sh")->at("environment")["comment"].get<std::string>().find("runner-2"),
            std::string::npos);
  EXPECT_EQ(FindTest(r, "kselftest.net_mptcp.mptcp_join_sh")->at("environment")["comment"].get<std::string>().find(
                "runner-2"),
            std::string::npos);
}

}  // namespace
}  // namespace vigil::report
