#include <gtest/gtest.h>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "ktap/parser.h"
#include "report/reports.h"
#include "report/run_report.h"

namespace vigil::report {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// "name=STATUS{...}" of a tree, as the tests compare them.
std::string Shape(const ktap::TestNode& n) {
  std::string s = n.name + "=" + std::string(ktap::StatusName(n.status));
  if (!n.subtests.empty()) {
    s += "{";
    for (size_t i = 0; i < n.subtests.size(); ++i) s += (i ? "," : "") + Shape(n.subtests[i]);
    s += "}";
  }
  return s;
}

model::AttemptRecord Attempt(const std::string& path, const std::string& status) {
  model::AttemptRecord a;
  a.test_path = path;
  a.status = status;
  a.exit_code = status == "PASS" ? 0 : 1;
  a.duration_ms = 1500;
  return a;
}

FinishedRun OneTest(model::AttemptRecord a) {
  FinishedRun run;
  run.run_id = 1;
  run.status = a.status;
  run.results.push_back({a.test_path, {std::move(a)}});
  return run;
}

// Regression: the KTAP and JUnit of a run were made by parsing the capped
// output again: a test past the cap got phantom CRASH cases and lost results.
TEST(RunDocumentTest, KtapAndJunitComeFromTheRecordsNotTheOutput) {
  model::AttemptRecord a = Attempt("c:t.sh", "FAIL");
  // Output as the cap leaves it: the middle gone, a block cut in two.
  a.output = "TAP version 13\n1..900\nok 1 a\n[... 16 MiB not kept ...]\n  ok 3 half\nnot ok 700 z\n";
  a.subtests = {{"a", "PASS", 4}, {"grp", "FAIL", {}}, {"grp > b", "FAIL", {}}, {"grp > c", "PASS", {}},
                {"d", "SKIP", {}}};
  FinishedRun run = OneTest(a);

  ktap::Document doc = ktap::ParseText(RunnerLog(run));
  EXPECT_EQ(doc.error_count, 0) << RunnerLog(run);
  ASSERT_EQ(doc.root.subtests.size(), 1u);
  EXPECT_EQ(Shape(doc.root.subtests[0]), "selftests: c: t.sh=FAIL{a=PASS,grp=FAIL{b=FAIL,c=PASS},d=SKIP}");
  EXPECT_EQ(doc.root.subtests[0].exit_code, 1);

  std::string junit = RunJunit(run);
  EXPECT_EQ(Count(junit, "<testcase "), 4u) << junit;
  EXPECT_EQ(Count(junit, "CRASH"), 0u) << junit;
  EXPECT_EQ(Count(junit, "name=\"b\""), 1u);
  EXPECT_NE(junit.find("name=\"a\" classname=\"selftests: c: t.sh\" time=\"0.004\""), std::string::npos) << junit;
  EXPECT_NE(junit.find("<testsuite name=\"selftests: c: t.sh\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"1\" "
                       "time=\"1.500\""),
            std::string::npos)
      << junit;
}

// Regression: a test whose name has a colon lost the part after it, and a
// shard ("long.sh#2") that skipped read back as a pass.
TEST(RunDocumentTest, NamesWithAColonOrAHashComeBackWhole) {
  FinishedRun run = OneTest(Attempt("c:we:ird.sh", "FAIL"));
  model::AttemptRecord skip = Attempt("c:long.sh#2", "SKIP");
  skip.exit_code = 4;
  run.results.push_back({skip.test_path, {skip}});
  ktap::Document doc = ktap::ParseText(RunnerLog(run));
  ASSERT_EQ(doc.root.subtests.size(), 2u);
  EXPECT_EQ(Shape(doc.root.subtests[0]), "selftests: c: we:ird.sh=FAIL");
  EXPECT_EQ(Shape(doc.root.subtests[1]), "selftests: c: long.sh#2=SKIP");
}

// Regression: JUnit time was 0.000 for every test without `# time=`, and a
// timed-out test did not say TIMEOUT.
TEST(RunDocumentTest, JunitTimeIsTheMeasuredDurationAndTimeoutsSayTimeout) {
  model::AttemptRecord a = Attempt("c:slow.sh", "TIMEOUT");
  a.timed_out = true;
  a.exit_code.reset();
  a.signal = 15;
  a.duration_ms = 20250;
  FinishedRun run = OneTest(a);
  run.timeouts["c:slow.sh"] = std::chrono::seconds(20);
  std::string junit = RunJunit(run);
  EXPECT_NE(junit.find("<testcase name=\"selftests: c: slow.sh\" classname=\"selftests: c: slow.sh\" time=\"20.250\""),
            std::string::npos)
      << junit;
  EXPECT_NE(junit.find("<failure message=\"TIMEOUT: 20 seconds\" type=\"TIMEOUT\"/>"), std::string::npos) << junit;

  // With subtests, the one killed in flight among them.
  a.subtests = {{"first", "PASS", {}}, {"second", "CRASH", {}}};
  run = OneTest(a);
  run.timeouts["c:slow.sh"] = std::chrono::seconds(20);
  junit = RunJunit(run);
  EXPECT_NE(junit.find("type=\"TIMEOUT\""), std::string::npos) << junit;
  EXPECT_NE(junit.find("time=\"20.250\">"), std::string::npos) << junit;  // the suite
  ktap::Document doc = ktap::ParseText(RunnerLog(run));
  ASSERT_EQ(doc.root.subtests.size(), 1u);
  EXPECT_EQ(Shape(doc.root.subtests[0]), "selftests: c: slow.sh=TIMEOUT{first=PASS,second=CRASH}");
}

TEST(RunDocumentTest, TruncatedTestSaysSoInEveryReport) {
  model::AttemptRecord a = Attempt("c:many.sh", "FAIL");
  for (int i = 0; i < 3; ++i) a.subtests.push_back({"x", "PASS", {}});
  a.subtests_dropped = 2000000;
  FinishedRun run = OneTest(a);

  nlohmann::json j = nlohmann::json::parse(RunJson(run));
  EXPECT_EQ(j["tests"][0]["truncated"], true);
  EXPECT_EQ(j["tests"][0]["subtests_dropped"], 2000000);
  EXPECT_EQ(j["tests"][0]["attempts"][0]["subtests_dropped"], 2000000);

  std::string junit = RunJunit(run);
  EXPECT_NE(junit.find("<property name=\"subtests_dropped\" value=\"2000000\"/>"), std::string::npos) << junit;
  EXPECT_NE(junit.find("truncated: 2000000 more subtests"), std::string::npos) << junit;
  // The failure was among the results not kept: the test's own case says so.
  EXPECT_EQ(Count(junit, "<testcase "), 4u) << junit;
  EXPECT_NE(junit.find("name=\"selftests: c: many.sh (own result)\""), std::string::npos) << junit;

  std::string ktap = RunnerLog(run);
  EXPECT_NE(ktap.find("# 2000000 more results not kept"), std::string::npos) << ktap;
  ktap::Document doc = ktap::ParseText(ktap);
  EXPECT_EQ(doc.counts.Get(ktap::Status::kCrash), 0) << ktap;
  EXPECT_EQ(Shape(doc.root.subtests[0]), "selftests: c: many.sh=FAIL{x=PASS,x=PASS,x=PASS}");

  EXPECT_NE(SummaryText(run, false).find("truncated: 2000000 more subtests counted, not kept"), std::string::npos);
}

// Regression: a name with a newline printed raw into the runner log became a
// result line of its own.
TEST(RunDocumentTest, NamesWithLineBreaksCannotForgeResults) {
  model::AttemptRecord a = Attempt("c:x\nok 2 forged", "FAIL");
  a.subtests = {{"s\nok 9 forged\r", "FAIL", {}}, {"t\x1b[2J#", "PASS", {}}};
  FinishedRun run = OneTest(a);
  std::string ktap = RunnerLog(run);
  ktap::Document doc = ktap::ParseText(ktap);
  ASSERT_EQ(doc.root.subtests.size(), 1u) << ktap;
  const ktap::TestNode& t = doc.root.subtests[0];
  EXPECT_EQ(t.name, "selftests: c: x\\nok 2 forged");  // rewritten visibly
  ASSERT_EQ(t.subtests.size(), 2u) << ktap;
  EXPECT_EQ(t.subtests[0].name, "s\\nok 9 forged\\r");
  EXPECT_EQ(t.subtests[1].name, "t\\x1b[2J#");
  EXPECT_EQ(doc.counts.Get(ktap::Status::kPass), 1);
  EXPECT_EQ(doc.counts.Get(ktap::Status::kFail), 1);

  std::string junit = RunJunit(run);
  EXPECT_EQ(Count(junit, "<testcase "), 2u) << junit;
}

// A tree 64 levels deep (the test and 63 below it) goes through the records
// and comes back from the KTAP report whole.
TEST(RunDocumentTest, DeepSubtestsRoundTripToTheDepthLimit) {
  model::AttemptRecord a = Attempt("c:deep.sh", "PASS");
  std::string path;
  for (size_t level = 1; level < ktap::kMaxNestingDepth; ++level) {
    path += (path.empty() ? "" : " > ") + std::string("l") + std::to_string(level);
    a.subtests.push_back({path, "PASS", {}});
  }
  FinishedRun run = OneTest(a);
  ktap::Document doc = ktap::ParseText(RunnerLog(run));
  EXPECT_EQ(doc.error_count, 0) << (doc.errors.empty() ? "" : doc.errors[0].message);
  size_t depth = 0;
  for (const ktap::TestNode* n = &doc.root; !n->subtests.empty(); n = &n->subtests.front()) ++depth;
  EXPECT_EQ(depth, ktap::kMaxNestingDepth);
  EXPECT_EQ(ktap::StatusName(doc.root.status), "PASS");
  EXPECT_EQ(doc.counts.Get(ktap::Status::kPass), 1);
}

TEST(RunDocumentTest, SubtestTreeFromFlattenedPaths) {
  ktap::TestNode t;
  t.name = "t";
  AddSubtestTree({{"a", "PASS", {}}, {"a > b", "FAIL", {}}, {"a > b > c", "FAIL", {}}, {"a > d", "SKIP", {}},
                  {"e", "NO_TESTS", {}}, {"ab", "PASS", {}}},
                 &t);
  EXPECT_EQ(Shape(t), "t=CRASH{a=PASS{b=FAIL{c=FAIL},d=SKIP},e=NO_TESTS,ab=PASS}");
  // And the KTAP report of a run with them reads back the same.
  model::AttemptRecord a = Attempt("c:t", "FAIL");
  a.subtests = {{"a", "FAIL", {}}, {"a > b", "FAIL", {}}, {"a > b > c", "FAIL", {}}, {"a > d", "SKIP", {}},
                {"e", "NO_TESTS", {}}, {"ab", "PASS", {}}};
  ktap::Document doc = ktap::ParseText(RunnerLog(OneTest(a)));
  ASSERT_EQ(doc.root.subtests.size(), 1u);
  EXPECT_EQ(Shape(doc.root.subtests[0]), "selftests: c: t=FAIL{a=FAIL{b=FAIL{c=FAIL},d=SKIP},e=NO_TESTS,ab=PASS}");
}

// The summary shows what the kernel said, not the register dump its report ends with.
TEST(RunDocumentTest, CrashExcerptIsTheTitleAndTheCallTrace) {
  model::CrashRecord c;
  c.type = "null_deref";
  c.title = "BUG: kernel NULL pointer dereference in tcp_close";
  c.text =
      "[   12.1] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
      "[   12.1] RIP: 0010:tcp_close+0x1a/0x60\n"
      "[   12.1] RAX: 0000000000000000 RBX: ffff888003a1c000\n"
      "[   12.1] Call Trace:\n"
      "[   12.1]  <TASK>\n"
      "[   12.1]  inet_release+0x3c/0x80\n"
      "[   12.1]  __sock_release+0x3d/0xa0\n"
      "[   12.1]  </TASK>\n"
      "[   12.1] Modules linked in: mptcp_diag\n"
      "[   12.1] CR2: 0000000000000008\n"
      "[   12.1] ---[ end trace 0000000000000000 ]---\n"
      "[   12.1] RIP: 0010:tcp_close+0x1a/0x60\n"
      "[   12.1] R13: 0000000000000000 R14: 0000000000000000\n";
  std::vector<std::string> e = CrashExcerpt(c);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0], c.title);
  EXPECT_EQ(e[1], "Call Trace:");
  EXPECT_EQ(e[2], "  inet_release+0x3c/0x80");
  EXPECT_EQ(e[3], "  __sock_release+0x3d/0xa0");

  model::AttemptRecord a = Attempt("c:boom.sh", "CRASH");
  a.crashes.push_back(c);
  a.output = c.text;
  FinishedRun run = OneTest(a);
  std::string summary = SummaryText(run, false);
  EXPECT_NE(summary.find("      |   inet_release+0x3c/0x80"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("R13:"), std::string::npos) << summary;
  EXPECT_NE(summary.find("0 failed, 1 crashed, 0 timed out"), std::string::npos) << summary;
}

// A hung VM's output ends with its console's sysrq dump, whose lines end
// in CR LF: the CR is no character of the line to show as U+FFFD.
TEST(RunDocumentTest, SummaryShowsConsoleLinesWithoutTheirCarriageReturns) {
  model::AttemptRecord a = Attempt("c:silent.sh", "TIMEOUT");
  a.output = "going silent\n[  100.000001] sysrq: Show Blocked State\r\n[  100.000002] task:sleep state:S\r\n";
  std::string summary = SummaryText(OneTest(a), false);
  EXPECT_NE(summary.find("      | [  100.000002] task:sleep state:S\n"), std::string::npos) << summary;
  EXPECT_EQ(summary.find("\xef\xbf\xbd"), std::string::npos) << summary;
}

// A parse past the caps: the reports say what was dropped, and the KTAP
// report reads back without crashes for the results that were not kept.
TEST(CappedDocumentTest, AFailureNotKeptStillFailsItsParentInKtap) {
  std::string text = "KTAP version 1\n1..1\n  KTAP version 1\n  1..5\n";
  for (int i = 1; i <= 5; ++i) text += (i == 5 ? "  not ok " : "  ok ") + std::to_string(i) + " s\n";
  text += "ok 1 parent\n";  // its own line says ok; a subtest failed
  ktap::ParserOptions options;
  options.max_subtests = 2;
  ktap::Document d = ktap::ParseText(text, options);
  ASSERT_EQ(ktap::StatusName(d.root.subtests[0].status), "FAIL");
  ktap::Document back = ktap::ParseText(ToKtap(d));
  EXPECT_EQ(ktap::StatusName(back.root.subtests[0].status), "FAIL") << ToKtap(d);
  EXPECT_EQ(ktap::StatusName(back.root.status), "FAIL");
}

TEST(CappedDocumentTest, ReportsSayWhatWasNotKept) {
  std::string text = "KTAP version 1\n1..3\n  KTAP version 1\n  1..300\n";
  for (int i = 1; i <= 300; ++i) text += "  ok " + std::to_string(i) + " s\n";
  text += "ok 1 big\nok 2 b\nnot ok 3 c\n";
  ktap::ParserOptions options;
  options.max_subtests = 100;
  options.max_tests = 102;  // the top-level tests' subtests and 2 of them
  ktap::Document d = ktap::ParseText(text, options);
  ASSERT_EQ(d.root.subtests.size(), 2u);
  EXPECT_EQ(d.dropped, 201);
  nlohmann::json j = ToJson(d);
  EXPECT_EQ(j["dropped"], 201);
  EXPECT_EQ(j["tests"][0]["dropped"], 200);
  EXPECT_EQ(nlohmann::json::parse(ToJsonText(d)), j);
  std::string ktap = ToKtap(d);
  EXPECT_NE(ktap.find("  # 200 more results not kept"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("\n# 1 more results not kept"), std::string::npos) << ktap;
  ktap::Document back = ktap::ParseText(ktap);
  EXPECT_EQ(back.counts.Get(ktap::Status::kCrash), 0);
  EXPECT_EQ(ktap::StatusName(back.root.subtests[0].status), "PASS");
  EXPECT_EQ(back.root.subtests.size(), 2u);
  EXPECT_EQ(back.root.subtests[0].subtests.size(), 100u);
}

}  // namespace
}  // namespace vigil::report
