#include "ktap/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil::ktap {
namespace {

// Compact rendering: name=STATUS{children}.
std::string Shape(const TestNode& n) {
  std::string s = n.name + "=" + std::string(StatusName(n.status));
  if (!n.subtests.empty()) {
    s += "{";
    for (size_t i = 0; i < n.subtests.size(); ++i) {
      if (i) s += ",";
      s += Shape(n.subtests[i]);
    }
    s += "}";
  }
  return s;
}

std::string Shape(const Document& d) { return Shape(d.root); }

// name=STATUS{children} of a flat tree's node.
std::string Shape(const Tree& t, Tree::Id id) {
  TreeNode n = t.node(id);
  std::string s = std::string(n.name) + "=" + std::string(StatusName(n.status));
  if (n.num_children > 0) {
    s += "{";
    for (uint32_t i = 0; i < n.num_children; ++i) {
      if (i) s += ",";
      s += Shape(t, n.children[i]);
    }
    s += "}";
  }
  return s;
}

TEST(TreeTest, EachTestKeepsExactlyTheValuesItHas) {
  // Every combination of the values most tests lack (plan, duration,
  // dropped results, dropped log lines, exit code), each test with a name,
  // a log and a child: a kept node reads back what was added, and a value
  // that was not there reads as absent and zero.
  TestNode root;
  for (int mask = 0; mask < 32; ++mask) {
    TestNode t;
    t.name = "t" + std::to_string(mask);
    t.number = mask + 1;
    t.has_result_line = true;
    if (mask & 1) t.plan = 1000 + mask;
    if (mask & 2) t.duration_ms = -(int64_t{1} << 40) - mask;
    if (mask & 4) t.dropped = 7 + mask;
    if (mask & 8) t.log.AddDropped(9 + mask);
    if (mask & 16) t.exit_code = -mask;
    t.log.Append("line " + std::to_string(mask), 10, 100);
    TestNode child;
    child.name = "c";
    child.number = 1;
    t.subtests.push_back(child);
    root.subtests.push_back(t);
  }
  Tree tree = Tree::FromNode(root);
  std::span<const Tree::Id> tops = tree.children(tree.root());
  ASSERT_EQ(tops.size(), 32u);
  for (int mask = 0; mask < 32; ++mask) {
    TreeNode n = tree.node(tops[mask]);
    SCOPED_TRACE(mask);
    EXPECT_EQ(n.name, "t" + std::to_string(mask));
    EXPECT_EQ(n.number, mask + 1);
    EXPECT_EQ(n.log, "line " + std::to_string(mask) + "\n");
    ASSERT_EQ(n.num_children, 1u);
    EXPECT_EQ(tree.node(n.children[0]).name, "c");
    EXPECT_EQ(n.has_plan, (mask & 1) != 0);
    EXPECT_EQ(n.plan, mask & 1 ? 1000 + mask : 0);
    EXPECT_EQ(n.has_duration, (mask & 2) != 0);
    EXPECT_EQ(n.duration_ms, mask & 2 ? -(int64_t{1} << 40) - mask : 0);
    EXPECT_EQ(n.dropped, mask & 4 ? 7 + mask : 0);
    EXPECT_EQ(n.log_dropped, mask & 8 ? 9 + mask : 0);
    EXPECT_EQ(n.has_exit_code, (mask & 16) != 0);
    EXPECT_EQ(n.exit_code, mask & 16 ? -mask : 0);
  }
}

TEST(ParserTest, TopLevelTestsHandedOutInBatches) {
  std::string log = "KTAP version 1\n1..5\n";
  for (int i = 1; i <= 4; ++i) {
    log += "  KTAP version 1\n  1..2\n  ok 1 x\n  # a line of output\n  not ok 2 y\n";
    log += "not ok " + std::to_string(i) + " top" + std::to_string(i) + "\n";
  }
  log += "  KTAP version 1\n  1..1\n  ok 1 open\n";  // the fifth top-level test's result never comes
  ParserOptions o;
  o.flat_tree = true;
  Document whole = ParseText(log, o);
  std::vector<std::string> expected;
  for (Tree::Id id : whole.tree.children(whole.tree.root())) expected.push_back(Shape(whole.tree, id));
  ASSERT_EQ(expected.size(), 5u);

  for (size_t batch_bytes : {size_t{0}, size_t{100}}) {
    Parser p(o);
    std::vector<std::string> handed;
    int batches = 0;
    p.HandTopsTo(
        [&](Tree tree, std::vector<Tree::Id> tops) {
          ++batches;
          for (Tree::Id id : tops) handed.push_back(Shape(tree, id));
          return Tree();
        },
        batch_bytes);
    p.Feed(log);
    p.Finish();
    Document d = p.TakeDocument();
    // Every top-level test once, in order: the handed ones, then the
    // document's (the open one is only complete at Finish()).
    for (Tree::Id id : d.tree.children(d.tree.root())) handed.push_back(Shape(d.tree, id));
    EXPECT_EQ(handed, expected) << batch_bytes;
    EXPECT_GE(batches, batch_bytes == 0 ? 4 : 1) << batch_bytes;
    EXPECT_EQ(d.root.status, whole.root.status);
    EXPECT_EQ(d.counts.Total(), whole.counts.Total());
  }
}

TEST(ParserTest, NoBatchPastTheBiggestOneAsked) {
  std::string log = "KTAP version 1\n1..4\n# small\nok 1 a\n";
  for (int i = 0; i < 100; ++i) log += "# a line of the big test's output, one of a hundred\n";
  log += "ok 2 big\n# small\nok 3 c\n# small\nok 4 d\n";
  ParserOptions o;
  o.flat_tree = true;
  Parser p(o);
  std::vector<std::string> handed;
  p.HandTopsTo(
      [&](Tree tree, std::vector<Tree::Id> tops) {
        for (Tree::Id id : tops) handed.push_back(std::string(tree.node(id).name));
        return Tree();
      },
      0, 1000);
  p.Feed(log);
  p.Finish();
  Document d = p.TakeDocument();
  // "big" weighs more than 1000 bytes: it and what follows stay.
  EXPECT_EQ(handed, std::vector<std::string>{"a"});
  std::vector<std::string> kept;
  for (Tree::Id id : d.tree.children(d.tree.root())) kept.push_back(std::string(d.tree.node(id).name));
  EXPECT_EQ(kept, (std::vector<std::string>{"big", "c", "d"}));
}

TEST(ParserTest, VersionLineReadAsDiagnosticStillStartsKtap) {
  // "#TAP version 14" starts KTAP (the '#' is read as the kselftest runner's
  // nesting) and is itself a line of the root's log: the results after it
  // are KTAP, not "NO_KTAP" with tests in it.
  Document d = ParseText("#TAP version 14\n1..2\nok 1 a\nok 2 b\n");
  EXPECT_TRUE(d.found_ktap);
  EXPECT_EQ(Shape(d), "=PASS{a=PASS,b=PASS}");
  EXPECT_EQ(DocumentStatusName(d), "PASS");
  EXPECT_EQ(d.error_count, 0);
}

TEST(ParserTest, FlatKtap) {
  Document d = ParseText("KTAP version 1\n1..3\nok 1 a\nnot ok 2 b\nok 3 c # SKIP why\n");
  EXPECT_TRUE(d.found_ktap);
  EXPECT_EQ(Shape(d), "=FAIL{a=PASS,b=FAIL,c=SKIP}");
  EXPECT_EQ(d.counts.Get(Status::kPass), 1);
  EXPECT_EQ(d.counts.Get(Status::kFail), 1);
  EXPECT_EQ(d.counts.Get(Status::kSkip), 1);
  EXPECT_EQ(d.error_count, 0);
  EXPECT_EQ(d.root.subtests[2].directive_text, "why");
}

TEST(ParserTest, NestedByIndentationWithSubtestHeaders) {
  Document d = ParseText(
      "KTAP version 1\n"
      "1..2\n"
      "    KTAP version 1\n"
      "    # Subtest: suite_a\n"
      "    1..2\n"
      "    ok 1 t1\n"
      "        KTAP version 1\n"
      "        # Subtest: params\n"
      "        ok 1 p0\n"
      "        ok 2 p1 # SKIP\n"
      "    ok 2 params\n"
      "ok 1 suite_a\n"
      "\t# Subtest: suite_b\n"
      "\t1..1\n"
      "\tnot ok 1 broken\n"
      "not ok 2 suite_b\n");
  EXPECT_EQ(Shape(d), "=FAIL{suite_a=PASS{t1=PASS,params=PASS{p0=PASS,p1=SKIP}},suite_b=FAIL{broken=FAIL}}");
  EXPECT_EQ(d.error_count, 0);
  EXPECT_EQ(d.counts.Total(), 4);
}

TEST(ParserTest, KselftestRunnerPrefixIsOneLevelDeeper) {
  Document d = ParseText(
      "TAP version 13\n"
      "1..2\n"
      "# timeout set to 1800\n"
      "# selftests: net/mptcp: pm_netlink.sh\n"
      "# 01 defaults addr list      [ OK ]\n"
      "# \n"
      "# TAP version 13\n"
      "# 1..2\n"
      "# ok 1 - pm_netlink: defaults addr list # time=4ms\n"
      "# not ok 2 - pm_netlink: dump addrs # time=6ms\n"
      "# # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0\n"
      "not ok 1 selftests: net/mptcp: pm_netlink.sh # exit=1\n"
      "# selftests: net/mptcp: diag.sh\n"
      "# plain output, no KTAP\n"
      "ok 2 selftests: net/mptcp: diag.sh # SKIP\n");
  EXPECT_EQ(Shape(d),
            "=FAIL{selftests: net/mptcp: pm_netlink.sh=FAIL{pm_netlink: defaults addr list=PASS,"
            "pm_netlink: dump addrs=FAIL},selftests: net/mptcp: diag.sh=SKIP}");
  const TestNode& pm = d.root.subtests[0];
  EXPECT_EQ(pm.exit_code, 1);
  EXPECT_EQ(pm.subtests[0].duration_ms, 4);
  EXPECT_EQ(pm.plan, 2);
  // The test's own output is its log.
  std::vector<std::string_view> log = pm.log.Lines();
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[0], "# timeout set to 1800");
  EXPECT_EQ(log[1], "# selftests: net/mptcp: pm_netlink.sh");
  EXPECT_EQ(d.error_count, 0);
}

TEST(ParserTest, ConsolePrefixLearnedFromVersionLine) {
  Document d = ParseText(
      "[    0.000000] Linux version 6.12.0\n"
      "[    0.060000] KTAP version 1\n"
      "[    0.060000] 1..1\n"
      "[    0.060001]     # Subtest: s\n"
      "[    0.060001]     1..2\n"
      "[    0.060002] random: crng init done\n"
      "[    0.060003]     ok 1 a\n"
      "userspace noise without prefix\n"
      "[12345.600004]     ok 2 b\n"
      "[12345.600005] ok 1 s\n");
  EXPECT_EQ(Shape(d), "=PASS{s=PASS{a=PASS,b=PASS}}");
  EXPECT_EQ(d.error_count, 0);
}

TEST(ParserTest, SyslogLevelAndCallerPrefixes) {
  EXPECT_EQ(Shape(ParseText("<6>KTAP version 1\n<6>1..1\n<4>ok 1 x\n")), "=PASS{x=PASS}");
  EXPECT_EQ(Shape(ParseText("[  T1] TAP version 14\n[  T1] 1..1\n[ T22] not ok 1 x\n")), "=FAIL{x=FAIL}");
}

TEST(ParserTest, TruncatedInputMakesMissingResultsCrash) {
  Document d = ParseText(
      "KTAP version 1\n"
      "1..3\n"
      "  KTAP version 1\n"
      "  # Subtest: suite\n"
      "  1..3\n"
      "  ok 1 a\n");
  // suite never got its result; its subtests 2 and 3 and top tests 2 and 3
  // are missing.
  EXPECT_EQ(Shape(d), "=CRASH{suite=CRASH{a=PASS,=CRASH,=CRASH},=CRASH,=CRASH}");
  EXPECT_EQ(d.counts.Get(Status::kCrash), 4);
  EXPECT_GT(d.error_count, 0);
}

TEST(ParserTest, NotOkParentWithPassingChildrenIsAFailure) {
  Document d = ParseText("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 a\nnot ok 1 s\n");
  EXPECT_EQ(Shape(d), "=FAIL{s=FAIL{a=PASS}}");
  EXPECT_EQ(d.counts.Get(Status::kFail), 1);
}

TEST(ParserTest, ParentStatusRules) {
  // all-skip = SKIP; no children = NO_TESTS; crash beats fail.
  EXPECT_EQ(Shape(ParseText("KTAP version 1\n1..2\nok 1 a # SKIP\nok 2 b # SKIP\n")), "=SKIP{a=SKIP,b=SKIP}");
  EXPECT_EQ(Shape(ParseText("KTAP version 1\n1..0\n")), "=NO_TESTS");
  EXPECT_EQ(Shape(ParseText("TAP version 13\n1..0 # SKIP not root\n")), "=SKIP");
  EXPECT_EQ(Shape(ParseText("KTAP version 1\n1..2\nnot ok 1 a\n")), "=CRASH{a=FAIL,=CRASH}");
}

TEST(ParserTest, KselftestTimeoutKeepsTimeout) {
  Document d = ParseText(
      "TAP version 13\n1..1\n# TAP version 13\n# 1..5\n# ok 1 a\n#\n"
      "not ok 1 selftests: net: slow.sh # TIMEOUT 45 seconds\n");
  EXPECT_EQ(d.root.subtests[0].status, Status::kTimeout);
  EXPECT_EQ(d.root.status, Status::kCrash);  // 4 subtests never reported
  EXPECT_EQ(d.counts.Get(Status::kCrash), 4);
}

TEST(ParserTest, WrongNumberingIsReportedAndParsingGoesOn) {
  Document d = ParseText("KTAP version 1\n1..3\nok 1 a\nok 3 c\nok 4 d\n");
  EXPECT_EQ(Shape(d), "=PASS{a=PASS,c=PASS,d=PASS}");
  ASSERT_GE(d.error_count, 1);
  EXPECT_NE(d.errors[0].message.find("expected test number 2"), std::string::npos);
}

TEST(ParserTest, LatePlan) {
  Document d = ParseText("TAP version 14\nok 1 a\nok 2 b\n1..2\n");
  EXPECT_EQ(Shape(d), "=PASS{a=PASS,b=PASS}");
  EXPECT_EQ(d.error_count, 0);
  d = ParseText("TAP version 14\nok 1 a\nok 2 b\n1..3\n");
  EXPECT_EQ(Shape(d), "=CRASH{a=PASS,b=PASS,=CRASH}");
}

TEST(ParserTest, SubtestWithoutPlanClosedByMatchingResult) {
  Document d = ParseText(
      "KTAP version 1\n1..2\n"
      "  # Subtest: params\n"
      "    ok 1 p0\n"
      "    ok 2 p1\n"
      "  ok 1 params\n"
      "  ok 2 other\n"
      "ok 1 suite\n"
      "ok 2 last\n");
  EXPECT_EQ(Shape(d), "=PASS{suite=PASS{params=PASS{p0=PASS,p1=PASS},other=PASS},last=PASS}");
}

TEST(ParserTest, FlatSubtestHeaderClosedByName) {
  Document d = ParseText(
      "KTAP version 1\n"
      "ok 1 first\n"
      "# Subtest: group\n"
      "ok 1 g1\n"
      "ok 2 g2\n"
      "ok 2 group\n");
  EXPECT_EQ(Shape(d), "=PASS{first=PASS,group=PASS{g1=PASS,g2=PASS}}");
}

TEST(ParserTest, BailOut) {
  Document d = ParseText("TAP version 13\n1..3\nok 1 a\nBail out! disk on fire\n");
  EXPECT_EQ(d.root.status, Status::kFail);
  EXPECT_EQ(d.root.subtests.size(), 1u);
}

TEST(ParserTest, NoKtap) {
  Document d = ParseText("hello\nworld\n");
  EXPECT_FALSE(d.found_ktap);
  EXPECT_EQ(DocumentStatusName(d), "NO_KTAP");
}

TEST(ParserTest, LongLinesAreTruncatedAndReported) {
  ParserOptions o;
  o.max_line_bytes = 16;
  std::string text = "KTAP version 1\n1..1\nok 1 " + std::string(100, 'x') + "\n";
  Document d = ParseText(text, o);
  ASSERT_EQ(d.root.subtests.size(), 1u);
  EXPECT_EQ(d.root.subtests[0].name, std::string(11, 'x'));
  ASSERT_EQ(d.error_count, 1);
  EXPECT_NE(d.errors[0].message.find("truncated"), std::string::npos);
}

TEST(ParserTest, ABigInputsTreeIsTheSameTree) {
  // big_input only changes where the flat tree's memory comes from.
  std::string log = "KTAP version 1\n1..300\n";
  for (int i = 1; i <= 300; ++i) {
    log += "    KTAP version 1\n    # Subtest: s" + std::to_string(i) + "\n    1..2\n    # a line\n";
    log += "    ok 1 a\n    not ok 2 b # time=" + std::to_string(i) + "ms\n";
    log += (i % 7 ? "ok " : "not ok ") + std::to_string(i) + " s" + std::to_string(i) + "\n";
  }
  ParserOptions small;
  small.flat_tree = true;
  ParserOptions big = small;
  big.big_input = true;
  Document a = ParseText(log, small);
  Document b = ParseText(log, big);
  ASSERT_EQ(a.tree.size(), b.tree.size());
  ASSERT_GT(a.tree.size(), 900u);
  for (Tree::Id id = 0; id < a.tree.size(); ++id) {
    TreeNode x = a.tree.node(id), y = b.tree.node(id);
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.log, y.log);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.duration_ms, y.duration_ms);
    EXPECT_EQ(std::vector<Tree::Id>(x.children, x.children + x.num_children),
              std::vector<Tree::Id>(y.children, y.children + y.num_children));
  }
}

TEST(ParserTest, FeedInTinyPiecesEqualsWhole) {
  std::string text =
      "[    1.0] KTAP version 1\n[    1.0] 1..1\n[    1.0]   KTAP version 1\n[    1.0]   1..2\n"
      "[    1.0]   ok 1 a\n[    1.0]   not ok 2 b\n[    1.0] not ok 1 s\n";
  Parser p;
  for (char c : text) p.Feed(std::string_view(&c, 1));
  p.Finish();
  EXPECT_EQ(Shape(p.root()), Shape(ParseText(text)));
}

TEST(ParserTest, NulBytesAndInvalidUtf8DoNotBreakParsing) {
  std::string text = std::string("KTAP version 1\n1..2\nok 1 a\0b\n", 27) + "\xff\xfe garbage\nok 2 \xc3\x28\n";
  Document d = ParseText(text);
  EXPECT_EQ(d.root.subtests.size(), 2u);
  EXPECT_EQ(d.root.status, Status::kPass);
}

TEST(ParserTest, AVersionLineAfterResetGarbageStartsKtap) {
  // A serial console's reset bytes before the version line, on its line.
  for (std::string garbage : {std::string("\0\0\xff\xff", 4), std::string("login: \xff\0", 9)}) {
    Document d = ParseText(garbage + "KTAP version 1\n1..2\nok 1 a\nnot ok 2 b\n");
    EXPECT_TRUE(d.found_ktap);
    ASSERT_EQ(d.root.subtests.size(), 2u);
    EXPECT_EQ(d.root.subtests[1].status, Status::kFail);
    EXPECT_EQ(d.error_count, 0);
  }
  Document t = ParseText(std::string("\xff\0[    1.0] KTAP version 1\n[    1.1] 1..1\n[    1.2] ok 1 a\n", 59));
  ASSERT_EQ(t.root.subtests.size(), 1u);
  EXPECT_EQ(t.root.status, Status::kPass);
}

TEST(ParserTest, HostilePlanIsCountedNotMaterialised) {
  Document d = ParseText("KTAP version 1\n1..999999999999\nok 1 a\n");
  EXPECT_EQ(d.counts.Get(Status::kCrash), 999999999998);
  EXPECT_LE(d.root.subtests.size(), 1001u);
}

TEST(ParserTest, StreamingModeKeepsOnlyCountsAndEmitsEvents) {
  struct Count : ParserListener {
    int finished = 0;
    void OnTestFinished(int, const TestNode&) override { ++finished; }
  } listener;
  ParserOptions o;
  o.keep_tree = false;
  Parser p(o, &listener);
  p.Feed("KTAP version 1\n1..2\n  KTAP version 1\n  1..2\n  ok 1 a\n  ok 2 b\nok 1 s\nok 2 t\n");
  p.Finish();
  EXPECT_EQ(listener.finished, 4);
  EXPECT_TRUE(p.root().subtests.empty());
  EXPECT_EQ(p.counts().Get(Status::kPass), 3);
  EXPECT_EQ(p.root().status, Status::kPass);
}

// Without a tree or a listener nobody sees a test, so leaves are only
// counted: counts, errors and the root must be those of a full parse.
TEST(ParserTest, StreamingWithoutListenerAgreesWithTheTree) {
  const std::string text =
      "noise before\n[ 1.0] TAP version 13\n[ 1.0] 1..4\n[ 1.0] # root diag\n"
      "[ 1.1]   KTAP version 1\n[ 1.1]   # Subtest: s1\n[ 1.1]   1..3\nstray line\n"
      "[ 1.1]   # case: detail\n[ 1.1]   ok 1 a # SKIP no hw\n[ 1.1]   not ok 2 b # TODO later\n"
      "[ 1.2] ok 1 s1\n[ 1.2]     1..0 # SKIP nothing\n[ 1.2] ok 2 empty\n"
      "[ 1.3] # Subtest: flat\n[ 1.3] ok 1 f1\n[ 1.3] ok 1 flat\n"
      "[ 1.4] not ok 5 late # exit=3 time=12ms\n[ 1.4] Bail out! gone\n[ 1.5] # trailing\n";
  Document tree = ParseText(text);
  ParserOptions o;
  o.keep_tree = false;
  Parser p(o);
  p.Feed(text);
  p.Finish();
  Document stream = p.TakeDocument();
  EXPECT_EQ(stream.counts.by_status, tree.counts.by_status);
  EXPECT_EQ(stream.counts.errors, tree.counts.errors);
  EXPECT_GE(tree.errors.size(), 3u);  // numbering, missing tests, 0 tests run
  ASSERT_EQ(stream.errors.size(), tree.errors.size());
  for (size_t i = 0; i < tree.errors.size(); ++i) {
    EXPECT_EQ(stream.errors[i].line, tree.errors[i].line);
    EXPECT_EQ(stream.errors[i].message, tree.errors[i].message);
  }
  EXPECT_EQ(stream.root.status, tree.root.status);
  EXPECT_EQ(stream.root.log.text(), tree.root.log.text());
  EXPECT_EQ(stream.root.log.text(), "Bail out! gone\n# trailing\n");
  EXPECT_TRUE(stream.root.subtests.empty());
}

// Without observers, result lines fill no names; an empty parent is still
// reported by the name a report would show (its result's, unescaped, else
// its `# Subtest:` header's).
TEST(ParserTest, EmptyParentsAreNamedAlikeWithAndWithoutObservers) {
  const std::string text =
      "KTAP version 1\n1..3\n  # Subtest: header1\n  1..0\nok 1 result\\#1\n"
      "  # Subtest: header2\n  1..0\nok 2\n  1..0\nok 3 - third # SKIP\n";
  Document tree = ParseText(text);
  Document stream = ParseText(text, ParserOptions{.keep_tree = false, .keep_logs = false});
  std::vector<std::string> want = {"0 tests run in result#1", "0 tests run in header2"};
  for (const Document* d : {&tree, &stream}) {
    ASSERT_GE(d->errors.size(), 2u);
    EXPECT_EQ(d->errors[0].message, want[0]);
    EXPECT_EQ(d->errors[1].message, want[1]);
    EXPECT_EQ(d->errors.size(), tree.errors.size());
  }
  EXPECT_EQ(stream.counts.by_status, tree.counts.by_status);
}

TEST(ParserTest, WithoutKeepLogsTestsHaveNoLogButTheRootDoes) {
  struct Logs : ParserListener {
    size_t lines = 0;
    int finished = 0;
    void OnTestFinished(int, const TestNode& t) override {
      lines += t.log.lines();
      ++finished;
    }
  } listener;
  ParserOptions o;
  o.keep_tree = false;
  o.keep_logs = false;
  Parser p(o, &listener);
  p.Feed("KTAP version 1\n1..1\n# top\n  KTAP version 1\n  1..1\n  # inner\n  ok 1 a\nok 1 s\n# end\n");
  p.Finish();
  EXPECT_EQ(listener.finished, 2);
  EXPECT_EQ(listener.lines, 0u);
  EXPECT_EQ(p.root().log.text(), "# end\n");
}

TEST(ParserTest, EventsInOrder) {
  struct Recorder : ParserListener {
    std::string log;
    void OnTestStarted(int depth, std::string_view name) override {
      log += "start:" + std::to_string(depth) + ":" + std::string(name) + " ";
    }
    void OnTestFinished(int depth, const TestNode& t) override {
      log += "done:" + std::to_string(depth) + ":" + t.name + "=" + std::string(StatusName(t.status)) + " ";
    }
    void OnPlan(int depth, int64_t count) override {
      log += "plan:" + std::to_string(depth) + ":" + std::to_string(count) + " ";
    }
    void OnError(const ParseError& e) override { log += "error@" + std::to_string(e.line) + " "; }
  } r;
  Parser p({}, &r);
  p.Feed("KTAP version 1\n1..2\n    # Subtest: s\n    ok 1 a\nok 1 s\nok 3 t\n");
  p.Finish();
  EXPECT_EQ(r.log,
            "plan:0:2 start:1:s done:2:a=PASS done:1:s=PASS error@6 done:1:t=PASS ");
}

// Regression: a `# Subtest:` header after the level's plan opens a new block
// instead of renaming the level.
TEST(ParserTest, SubtestHeaderAfterPlanOpensABlock) {
  Document d = ParseText("KTAP version 1\n1..2\n# Subtest: grp\nok 1 g1\nok 1 grp\nok 2 last\n");
  EXPECT_EQ(Shape(d), "=PASS{grp=PASS{g1=PASS},last=PASS}");
  EXPECT_EQ(d.error_count, 0);
}

// Regression: a kselftest that runs two TAP programs prints two documents
// one level down; neither is a crash.
TEST(ParserTest, TwoDocumentsInOneTest) {
  Document d = ParseText(
      "TAP version 13\n1..1\n# TAP version 13\n# 1..1\n# ok 1 a\n"
      "# TAP version 13\n# 1..1\n# ok 1 b\nok 1 selftests: x: two.sh\n");
  EXPECT_EQ(Shape(d), "=PASS{selftests: x: two.sh=PASS{a=PASS,b=PASS}}");
  EXPECT_EQ(d.error_count, 0);  // numbering restarts with the new document
}

// Regression: many short blocks with huge plans stay small.
TEST(ParserTest, ManyHostileBlocksAreBounded) {
  std::string text = "KTAP version 1\n";
  for (int i = 0; i < 5000; ++i) text += "  1..99999\nok " + std::to_string(i + 1) + "\n";
  Document d = ParseText(text);
  size_t nodes = 0;
  for (const auto& t : d.root.subtests) nodes += 1 + t.subtests.size();
  EXPECT_LE(nodes, 5000u + 1000u);
  EXPECT_EQ(d.counts.Get(Status::kCrash), 5000 * 99999LL);
}

TEST(ParserTest, LongNamesAreCapped) {
  Document d = ParseText("KTAP version 1\n1..1\nok 1 " + std::string(60000, 'n') + "\n");
  ASSERT_EQ(d.root.subtests.size(), 1u);
  EXPECT_EQ(d.root.subtests[0].name.size(), 1024u);
}

TEST(ParserTest, DeepNestingIsBounded) {
  std::string text = "KTAP version 1\n";
  for (int i = 1; i < 500; ++i) text += std::string(static_cast<size_t>(i) * 2, ' ') + "KTAP version 1\n";
  Document d = ParseText(text);
  EXPECT_GT(d.error_count, 0);
}

// Streaming without observers counts most results on a fast path; the counts,
// errors and status must be those of the whole tree.
TEST(ParserTest, StreamingCountsMatchTheTree) {
  const char* inputs[] = {
      "KTAP version 1\n1..3\nok 1 a\nnot ok 2 b # TIMEOUT\nok 3 c # SKIP\n",
      "KTAP version 1\n1..2\nok 1 a\nok 3 c\nok 3 d\n",  // numbering errors
      ("KTAP version 1\n1..2\n    KTAP version 1\n    1..2\n    ok 1 x\n    ok 2 y\nok 1 s\n"
       "    # Subtest: t\n    1..3\n    ok 1 x\n    not ok 2 y\nnot ok 2 t\n"),  // one missing
      "TAP version 13\n1..2\n# Subtest: flat\n1..2\nok 1 a\nok 2 b\nok 1 flat\nok 2 c\n",
      "TAP version 13\n1..1\n# TAP version 13\n# 1..2\n# ok 1 a\n# not ok 2 b\nnot ok 1 sel\n",
      "noise\nok 1 early\nok 2 more\n",  // no version line
      "KTAP version 1\n1..2\nok 1 a\n    ok 1 nested leaf\nok 2 b\nlog\n",
  };
  for (const char* in : inputs) {
    Document tree = ParseText(in);
    Document stream = ParseText(in, ParserOptions{.keep_tree = false, .keep_logs = false});
    EXPECT_EQ(StatusName(stream.root.status), StatusName(tree.root.status)) << in;
    for (int i = 0; i < kNumStatuses; ++i) {
      EXPECT_EQ(stream.counts.Get(static_cast<Status>(i)), tree.counts.Get(static_cast<Status>(i))) << in;
    }
    ASSERT_EQ(stream.errors.size(), tree.errors.size()) << in;
    for (size_t i = 0; i < tree.errors.size(); ++i) {
      EXPECT_EQ(stream.errors[i].line, tree.errors[i].line) << in;
      EXPECT_EQ(stream.errors[i].message, tree.errors[i].message) << in;
    }
    EXPECT_EQ(stream.root.log.text(), tree.root.log.text()) << in;
  }
}

// A chain of tests, each the only subtest of the one above, `depth` levels
// deep, indented by `unit` per level.
std::string NestedChain(size_t depth, const std::string& unit, bool headers) {
  std::string out = "KTAP version 1\n1..1\n";
  auto indent = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += unit;
    return s;
  };
  std::vector<std::string> tails;
  for (size_t level = 1; level <= depth; ++level) {
    if (level < depth) {
      std::string in = indent(level);
      out += in + "KTAP version 1\n";
      if (headers) out += in + "# Subtest: t" + std::to_string(level) + "\n";
      out += in + "1..1\n";
    }
    tails.push_back(indent(level - 1) + "ok 1 t" + std::to_string(level) + "\n");
  }
  for (size_t i = tails.size(); i-- > 0;) out += tails[i];
  return out;
}

size_t ChainDepth(const TestNode& root) {
  size_t depth = 0;
  for (const TestNode* n = &root; !n->subtests.empty(); n = &n->subtests.front()) ++depth;
  return depth;
}

// Regression: tabs are 8 columns, and keys told apart only 96 columns made
// tab-indented KTAP deeper than 12 levels fold into CRASH.
TEST(ParserTest, TabIndentedNestingReadsToTheDepthLimit) {
  for (const char* unit : {"\t", "  ", "    "}) {
    Document d = ParseText(NestedChain(kMaxNestingDepth, unit, true));
    EXPECT_EQ(d.error_count, 0) << (d.errors.empty() ? "" : d.errors[0].message);
    EXPECT_EQ(StatusName(d.root.status), "PASS");
    EXPECT_EQ(ChainDepth(d.root), kMaxNestingDepth);
    EXPECT_EQ(d.counts.Get(Status::kPass), 1);
  }
}

TEST(ParserTest, NestingBeyondTheLimitIsReported) {
  Document d = ParseText(NestedChain(kMaxNestingDepth + 3, "\t", false));
  ASSERT_FALSE(d.errors.empty());
  EXPECT_NE(d.errors[0].message.find("nesting deeper than 64"), std::string::npos) << d.errors[0].message;
  EXPECT_LE(ChainDepth(d.root), kMaxNestingDepth);
}

// Regression: one test printing `ok 1 x` forever kept a node per line.
TEST(ParserTest, ResultsBelowATopLevelTestBeyondTheCapAreCountedNotKept) {
  std::string text = "TAP version 13\n1..2\n# selftests: c: t\n# 1..1000\n";
  for (int i = 1; i <= 1000; ++i) text += (i == 900 ? "# not ok " : "# ok ") + std::to_string(i) + " x\n";
  text += "ok 1 selftests: c: t\n# selftests: c: u\n# ok 1 y\nok 2 selftests: c: u\n";
  ParserOptions options;
  options.max_subtests = 100;
  Document d = ParseText(text, options);
  ASSERT_EQ(d.root.subtests.size(), 2u);
  const TestNode& t = d.root.subtests[0];
  EXPECT_EQ(t.subtests.size(), 100u);
  EXPECT_EQ(t.dropped, 900);
  EXPECT_EQ(d.dropped, 900);
  EXPECT_EQ(StatusName(t.status), "FAIL");  // the failure beyond the cap still counts
  EXPECT_EQ(d.counts.Get(Status::kPass), 999 + 1);
  EXPECT_EQ(d.counts.Get(Status::kFail), 1);
  // The next top-level test keeps its own.
  EXPECT_EQ(d.root.subtests[1].subtests.size(), 1u);
  EXPECT_EQ(d.root.subtests[1].dropped, 0);
}

TEST(ParserTest, ParentsOfKeptSubtestsAreKeptBeyondTheCap) {
  std::string text = "KTAP version 1\n1..1\n  KTAP version 1\n  1..2\n    KTAP version 1\n    1..5\n";
  for (int i = 1; i <= 5; ++i) text += "    ok " + std::to_string(i) + " leaf\n";
  text += "  ok 1 inner\n  ok 2 after\nok 1 top\n";
  ParserOptions options;
  options.max_subtests = 3;
  Document d = ParseText(text, options);
  ASSERT_EQ(d.root.subtests.size(), 1u);
  const TestNode& top = d.root.subtests[0];
  ASSERT_EQ(top.subtests.size(), 1u);  // "after" went
  EXPECT_EQ(top.subtests[0].name, "inner");
  EXPECT_EQ(top.subtests[0].subtests.size(), 3u);
  EXPECT_EQ(top.subtests[0].dropped, 2);
  EXPECT_EQ(top.dropped, 3);
  EXPECT_EQ(d.counts.Get(Status::kPass), 6);
}

TEST(ParserTest, TestsBeyondTheDocumentCapAreCountedNotKept) {
  std::string text = "KTAP version 1\n1..500\n";
  for (int i = 1; i <= 500; ++i) text += (i == 400 ? "not ok " : "ok ") + std::to_string(i) + " t\n";
  ParserOptions options;
  options.max_tests = 50;
  Document d = ParseText(text, options);
  EXPECT_EQ(d.root.subtests.size(), 50u);
  EXPECT_EQ(d.dropped, 450);
  EXPECT_EQ(d.root.dropped, 450);
  EXPECT_EQ(StatusName(d.root.status), "FAIL");
  EXPECT_EQ(d.counts.Get(Status::kPass), 499);
}

TEST(ParserTest, KeptLogsHaveABudgetPerDocument) {
  std::string text = "KTAP version 1\n1..50\n";
  for (int i = 1; i <= 50; ++i) {
    for (int j = 0; j < 10; ++j) text += "# " + std::string(100, 'l') + "\n";
    text += "ok " + std::to_string(i) + " t\n";
  }
  ParserOptions options;
  options.max_total_log_bytes = 5000;
  Document d = ParseText(text, options);
  size_t kept = 0;
  int64_t dropped = 0;
  for (const auto& t : d.root.subtests) {
    kept += t.log.text().size();
    dropped += t.log.dropped();
  }
  EXPECT_LE(kept, 5000u + 200u);
  EXPECT_GT(dropped, 400);
  EXPECT_EQ(d.counts.Get(Status::kPass), 50);
}

}  // namespace
}  // namespace vigil::ktap
