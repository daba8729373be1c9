// The judgement layer's rules, on simulated histories with known truth.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "judge/compare.h"
#include "judge/environment_check.h"
#include "judge/flakes.h"
#include "judge/known_issues.h"
#include "judge/verdict.h"

namespace vigil::judge {
namespace {

// '.' pass, 'F' fail, 'f' failed then passed on a retry, 's' skip.
Series Make(const std::string& seq) {
  Series s;
  s.test = "coll:t.sh";
  s.env = "host 6.12";
  int64_t id = 1;
  for (char c : seq) {
    Point p;
    p.run_id = id++;
    p.status = model::ParseStatus(c == '.' ? "PASS" : c == 'F' ? "FAIL" : c == 'f' ? "FLAKY" : "SKIP");
    p.kind = KindOf(model::StatusName(p.status));
    p.retry_flake = c == 'f';
    s.points.push_back(p);
  }
  return s;
}

FlakeClass ClassOf(const std::string& seq) { return Classify(Make(seq), FlakeOptions{}).cls; }

TEST(KindOf, NamesAndStatusesAgree) {
  EXPECT_EQ(KindOf("PASS"), Kind::kPass);
  EXPECT_EQ(KindOf("XFAIL"), Kind::kPass);
  EXPECT_EQ(KindOf("FLAKY"), Kind::kPass);
  EXPECT_EQ(KindOf("SKIP"), Kind::kSkip);
  EXPECT_EQ(KindOf("MISSING"), Kind::kSkip);
  EXPECT_EQ(KindOf("NO_TESTS"), Kind::kSkip);
  EXPECT_EQ(KindOf("XPASS"), Kind::kFail);
  EXPECT_EQ(KindOf("KNOWN"), Kind::kFail);
  EXPECT_EQ(KindOf("bogus"), Kind::kFail);
  for (int i = 0; i <= static_cast<int>(model::TestStatus::kKnown); ++i) {
    auto s = static_cast<model::TestStatus>(i);
    EXPECT_EQ(KindOf(s), KindOf(model::StatusName(s))) << model::StatusName(s);
    // A failure as KTAP counts it, unless the judgement turned it to a pass or a skip.
    if (KindOf(s) != Kind::kSkip && s != model::TestStatus::kFlaky) {
      EXPECT_EQ(KindOf(s) == Kind::kFail, model::AttemptFailed(model::StatusName(s))) << model::StatusName(s);
    }
  }
}

TEST(Flakes, Rules) {
  EXPECT_EQ(ClassOf(".........."), FlakeClass::kStable);
  EXPECT_EQ(ClassOf("FFFFFFFFFF"), FlakeClass::kBroken);
  EXPECT_EQ(ClassOf("..........FFFFF"), FlakeClass::kRegressed);
  EXPECT_EQ(ClassOf(".........F"), FlakeClass::kRegressed);  // a fresh failure is not called flaky
  EXPECT_EQ(ClassOf(".F..F...F..F.F..."), FlakeClass::kFlaky);
  EXPECT_EQ(ClassOf("..f......."), FlakeClass::kFlaky);  // a retry flake alone makes it flaky
  EXPECT_EQ(ClassOf("FFFFF......."), FlakeClass::kFixed);
  EXPECT_EQ(ClassOf(".F"), FlakeClass::kNew);
  EXPECT_EQ(ClassOf("..F"), FlakeClass::kRegressed);  // was "flaky": too few runs before it
  EXPECT_EQ(ClassOf(".FF"), FlakeClass::kRegressed);
  EXPECT_EQ(ClassOf("sssss"), FlakeClass::kSkipped);
  // Skips are not results: a regression seen through skips.
  EXPECT_EQ(ClassOf("..s...s..ssFFsF"), FlakeClass::kRegressed);
  // A flaky test whose failures are dense at the end: 3 in a row after a
  // 50% history is not enough to call it a regression.
  EXPECT_EQ(ClassOf(".F.F.F..F.F.FFF"), FlakeClass::kFlaky);
}

TEST(Flakes, Counts) {
  FlakeEntry e = Classify(Make(".F.f.s.F"), FlakeOptions{});
  EXPECT_EQ(e.runs, 7);
  EXPECT_EQ(e.failures, 2);
  EXPECT_EQ(e.retry_flakes, 1);
  EXPECT_DOUBLE_EQ(e.fail_rate, 3.0 / 9.0);
  // results . F . . . . F (a retry flake passed): flips .F F. .F = 3 of 6
  EXPECT_DOUBLE_EQ(e.flip_rate, 3.0 / 6.0);
}

TEST(Flakes, QuarantineNeedsARetryFlakeAndIsLiftedByPasses) {
  FlakeOptions o;
  o.release_after = 5;
  // Failures without a same-run retry flake: never quarantined.
  EXPECT_FALSE(Classify(Make("..F..F..F"), o).quarantined);
  std::vector<bool> q = QuarantineStates(Make("..f..F....."), o);
  EXPECT_FALSE(q[1]);
  EXPECT_TRUE(q[2]);   // 1 failure... the retry flake at a rate above 5%
  EXPECT_TRUE(q[5]);
  EXPECT_TRUE(q[9]);   // 4 passes in a row
  EXPECT_FALSE(q[10]); // 5 passes: released
  // A low rate stays out: one retry flake in 60 runs is f = 1/62 < 5%.
  EXPECT_FALSE(Classify(Make(std::string(59, '.') + "f"), o).quarantined);
}

TEST(Flakes, AQuarantinedTestThatFailsInARowBeyondItsRateIsReleased) {
  // Quarantined at f = 1/3, then failing every run: the fifth failure in a
  // row is (1/3)^5 < 1% likely for a test that flaky; it fails now.
  std::vector<bool> q = QuarantineStates(Make("f..FFFFFFF"), FlakeOptions{});
  ASSERT_EQ(q.size(), 10u);
  EXPECT_TRUE(q[0]);
  EXPECT_TRUE(q[6]);   // four failures in a row: still within its rate
  EXPECT_FALSE(q[7]);  // the fifth: released
  EXPECT_FALSE(q[9]);  // and not quarantined again without a new retry flake
  FlakeEntry e = Classify(Make("f..FFFFFFF"), FlakeOptions{});
  EXPECT_FALSE(e.quarantined);
  EXPECT_EQ(e.cls, FlakeClass::kRegressed);
  // Failures interleaved with passes stay within a flaky test's rate.
  EXPECT_TRUE(Classify(Make("f.F.FF.F.FF.F"), FlakeOptions{}).quarantined);
}

// Simulated histories of 30 runs with known truth.
TEST(Flakes, SimulatedHistoriesAreClassifiedRight) {
  std::mt19937 rng(20261125);
  std::uniform_real_distribution<double> u(0, 1);
  const int kRuns = 30, kTrials = 500;
  int flaky_total = 0, flaky_called = 0;
  for (double f : {0.1, 0.2, 0.3, 0.5}) {
    int called = 0;
    for (int t = 0; t < kTrials; ++t) {
      std::string seq;
      for (int i = 0; i < kRuns; ++i) seq += u(rng) < f ? 'F' : '.';
      called += ClassOf(seq) == FlakeClass::kFlaky;
    }
    // At f = 10%, 4% of 30-run histories have no failure at all.
    EXPECT_GE(called, kTrials * 90 / 100) << "f=" << f;
    std::printf("flaky at f=%.2f over %d runs: %d of %d called flaky\n", f, kRuns, called, kTrials);
    flaky_total += kTrials;
    flaky_called += called;
  }
  EXPECT_GE(flaky_called * 100, flaky_total * 95) << flaky_called << " of " << flaky_total;

  int regressions_flaky = 0, regressions_right = 0;
  for (int k = 3; k < kRuns; ++k) {  // passes up to run k, fails from then on
    for (int t = 0; t < 20; ++t) {
      std::string seq = std::string(k, '.') + std::string(kRuns - k, 'F');
      FlakeClass c = ClassOf(seq);
      regressions_flaky += c == FlakeClass::kFlaky;
      regressions_right += c == FlakeClass::kRegressed;
    }
  }
  EXPECT_EQ(regressions_flaky, 0);
  EXPECT_EQ(regressions_right, 27 * 20);
  // A regression on top of a 5% background flake rate: never called flaky
  // once the failure streak is long enough (3 runs).
  int bg_flaky = 0;
  for (int t = 0; t < kTrials; ++t) {
    int k = 10 + t % 17;
    std::string seq;
    for (int i = 0; i < k; ++i) seq += u(rng) < 0.05 ? 'F' : '.';
    if (seq.back() == 'F') seq.back() = '.';
    seq += std::string(kRuns - k, 'F');
    bg_flaky += ClassOf(seq) == FlakeClass::kFlaky;
  }
  EXPECT_EQ(bg_flaky, 0);

  for (int k = 3; k < kRuns - 3; ++k) {
    EXPECT_EQ(ClassOf(std::string(k, 'F') + std::string(kRuns - k, '.')), FlakeClass::kFixed) << k;
  }
  EXPECT_EQ(ClassOf(std::string(kRuns, '.')), FlakeClass::kStable);
  EXPECT_EQ(ClassOf(std::string(kRuns, 'F')), FlakeClass::kBroken);
}

RunView View(int64_t id, std::map<std::string, std::string> statuses) {
  RunView v;
  v.run.id = id;
  v.run.finished_at = "2026-11-25T10:00:00Z";
  v.run.status = "PASS";
  v.env.kernel_release = "6.12.57+deb13-cloud-amd64";
  v.env.where = "vm";
  v.env.accel = "tcg";
  v.env_class = EnvClass(v.env);
  for (auto& [path, st] : statuses) {
    size_t c2 = path.find(':', path.find(':') + 1);
    std::string test = path.substr(0, c2);
    if (!v.tests.count(test)) {
      v.order.push_back(test);
      v.run.plan.push_back(test);
      v.tests[test].status = "PASS";
      v.tests[test].duration_ms = 1000;
    }
    if (c2 == std::string::npos) {
      v.tests[test].status = st;
    } else {
      v.tests[test].subtests.push_back({path.substr(c2 + 1), st, std::nullopt});
    }
  }
  return v;
}

TEST(Compare, FindsEveryKindOfChange) {
  RunView a = View(1, {{"c:a.sh", "PASS"}, {"c:b.sh", "FAIL"}, {"c:c.sh", "PASS"}, {"c:d.sh", "SKIP"},
                       {"c:gone.sh", "PASS"}, {"c:s.sh:one", "PASS"}, {"c:s.sh:two", "PASS"},
                       {"c:f.sh", "FAIL"}, {"c:n.sh", "PASS"}});
  RunView b = View(2, {{"c:a.sh", "FAIL"}, {"c:b.sh", "PASS"}, {"c:c.sh", "SKIP"}, {"c:d.sh", "PASS"},
                       {"c:new.sh", "PASS"}, {"c:s.sh:one", "PASS"}, {"c:f.sh", "SKIP"}, {"c:n.sh", "NO_TESTS"}});
  b.tests["c:b.sh"].duration_ms = 5000;
  b.env.tools["ss"] = "ss utility, iproute2-6.7.0";
  b.env.accel = "kvm";
  Comparison c = Compare(a, b);
  auto paths = [](const std::vector<Change>& v) {
    std::vector<std::string> p;
    for (const auto& x : v) p.push_back(x.path);
    return p;
  };
  EXPECT_EQ(paths(c.new_failures), std::vector<std::string>{"c:a.sh"});
  EXPECT_EQ(paths(c.fixes), std::vector<std::string>{"c:b.sh"});
  EXPECT_EQ(paths(c.pass_to_skip), (std::vector<std::string>{"c:c.sh", "c:n.sh"}));  // ran nothing: skipped too
  EXPECT_EQ(paths(c.skip_to_pass), std::vector<std::string>{"c:d.sh"});
  EXPECT_EQ(paths(c.fail_to_skip), std::vector<std::string>{"c:f.sh"});
  // Tests only one run ran are counted, not compared ...
  EXPECT_TRUE(paths(c.appeared).empty());
  EXPECT_EQ(paths(c.disappeared), std::vector<std::string>{"c:s.sh:two"}) << "a subtest of a test both ran";
  EXPECT_EQ(paths(c.only_in_a), std::vector<std::string>{"c:gone.sh"});
  EXPECT_EQ(paths(c.only_in_b), std::vector<std::string>{"c:new.sh"});
  // ... unless asked.
  CompareOptions all;
  all.include_missing = true;
  Comparison d = Compare(a, b, all);
  EXPECT_EQ(paths(d.appeared), std::vector<std::string>{"c:new.sh"});
  EXPECT_EQ(paths(d.disappeared), (std::vector<std::string>{"c:gone.sh", "c:s.sh:two"}));
  EXPECT_EQ(paths(d.only_in_a), std::vector<std::string>{"c:gone.sh"});
  EXPECT_EQ(paths(c.subtest_count), std::vector<std::string>{"c:s.sh"});
  EXPECT_EQ(paths(c.slower), std::vector<std::string>{"c:b.sh"});
  ASSERT_TRUE(c.environment.count("accel"));
  EXPECT_EQ(c.environment["accel"], (std::pair<std::string, std::string>{"tcg", "kvm"}));
  EXPECT_EQ(c.environment["tools.ss"].first, "(missing)");
}

TEST(KnownIssues, ParsesAndRejects) {
  auto k = ParseKnownIssues(R"(
[[issue]]
match = "net/mptcp:mptcp_join.sh:*link failure*"
reason = "no netem"
link = "https://example.org/1"
kernel = ">=6.1, <6.7"
where = "vm"
expires = 2027-01-31
)", "k.toml");
  ASSERT_TRUE(k.ok()) << k.status().message();
  ASSERT_EQ(k->entries.size(), 1u);
  EXPECT_EQ(k->entries[0].expires, "2027-01-31");
  EXPECT_EQ(k->entries[0].range.size(), 2u);
  for (const char* bad : {"[[issue]]\nreason = \"x\"\n", "[[issue]]\nmatch = \"a\"\n",
                          "[[issue]]\nmatch = \"a\"\nreason = \"x\"\nkernel = \"6.x\"\n",
                          "[[issue]]\nmatch = \"a\"\nreason = \"x\"\nwhere = \"cloud\"\n",
                          "[[issue]]\nmatch = \"a\"\nreason = \"x\"\ntypo = 1\n", "[issue]\nmatch = 1\n",
                          "[[issue]]\nmatch = \"a\"\nreason = \"x\"\nexpires = \"soon\"\n", "not toml ["}) {
    auto r = ParseKnownIssues(bad, "bad.toml");
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("bad.toml"), std::string::npos) << r.status().message();
    }
  }
}

TEST(KnownIssues, VersionRanges) {
  auto range = [](const char* text) {
    auto k = ParseKnownIssues(std::string("[[issue]]\nmatch = \"a\"\nreason = \"r\"\nkernel = \"") + text + "\"\n", "k");
    return k.value().entries[0].range;
  };
  EXPECT_TRUE(InRange(range(">=6.1, <6.7"), "6.1.0-56-cloud-amd64"));
  EXPECT_TRUE(InRange(range(">=6.1, <6.7"), "6.6.99"));
  EXPECT_FALSE(InRange(range(">=6.1, <6.7"), "6.12.57+deb13-amd64"));
  EXPECT_FALSE(InRange(range(">=6.1, <6.7"), "5.15.0"));
  EXPECT_TRUE(InRange(range("6.12"), "6.12.57+deb13-amd64"));
  EXPECT_FALSE(InRange(range("6.1"), "6.12.1"));
  EXPECT_TRUE(InRange(range("<=6.1"), "6.1.158"));
}

TEST(Verdict, ATestThatRanNothingWhereItPassedIsSkippedByAccident) {
  RunView base = View(1, {{"c:nt.sh", "PASS"}, {"c:nt.sh:a", "PASS"}});
  RunView run = View(2, {{"c:nt.sh", "NO_TESTS"}});
  VerdictInputs in;
  in.run = &run;
  in.baseline = &base;
  in.today = "2026-11-25";
  Verdict v = Judge(in);
  ASSERT_EQ(v.skipped_by_accident.size(), 1u);
  EXPECT_EQ(v.skipped_by_accident[0].path, "c:nt.sh");
  EXPECT_EQ(v.skipped_by_accident[0].status, "NO_TESTS");
  EXPECT_NE(v.level, Level::kSuccess);
}

TEST(Verdict, AFailingTestWhoseNameHasAColonIsNamedWhole) {
  RunView run = View(2, {{"c:a.sh", "PASS"}});
  run.order.push_back("c:we:ird.sh");
  run.run.plan.push_back("c:we:ird.sh");
  run.tests["c:we:ird.sh"].status = "FAIL";
  run.tests["c:we:ird.sh"].subtests = {{"s:1", "FAIL", std::nullopt}, {"s:2", "FAIL", std::nullopt}};
  VerdictInputs in;
  in.run = &run;
  in.today = "2026-11-25";
  Verdict v = Judge(in);
  ASSERT_EQ(v.failures.size(), 2u);
  EXPECT_EQ(v.failures[0].path, "c:we:ird.sh:s:1");
  EXPECT_EQ(v.conclusion.rfind("Unstable: 1 failed test(s): c:we:ird.sh", 0), 0u) << v.conclusion;
}

// A test that failed a subtest in the baseline and hangs now has a new
// failure (before, it was "failing in the baseline as well"); one that hung
// there too has not.
TEST(Verdict, AHangWhereTheBaselineOnlyFailedASubtestIsNew) {
  RunView base = View(1, {{"c:join.sh", "FAIL"}, {"c:join.sh:023 old", "FAIL"}, {"c:hang.sh", "TIMEOUT"}});
  RunView run = View(2, {{"c:join.sh", "TIMEOUT"}, {"c:hang.sh", "TIMEOUT"}});
  VerdictInputs in;
  in.run = &run;
  in.baseline = &base;
  in.today = "2026-11-25";
  Verdict v = Judge(in);
  ASSERT_EQ(v.failures.size(), 1u);
  EXPECT_EQ(v.failures[0].path, "c:join.sh");
  EXPECT_EQ(v.failures[0].status, "TIMEOUT");
  ASSERT_EQ(v.preexisting.size(), 1u);
  EXPECT_EQ(v.preexisting[0].path, "c:hang.sh");
  EXPECT_EQ(v.level, Level::kUnstable);
}

TEST(Verdict, KnownQuarantinedBaselineAndCrashes) {
  KnownIssues known = ParseKnownIssues(R"(
[[issue]]
match = "c:s.sh:*link*"
reason = "no netem"
[[issue]]
match = "c:old.sh"
reason = "fixed upstream"
expires = 2020-01-01
[[issue]]
match = "c:*"
crash = "WARNING in known_*"
reason = "tracked"
)", "k.toml").value();
  RunView base = View(1, {{"c:a.sh", "PASS"}, {"c:pre.sh", "FAIL"}, {"c:skip.sh", "PASS"}, {"c:old.sh", "PASS"}});
  RunView run = View(2, {{"c:a.sh", "PASS"}, {"c:pre.sh", "FAIL"}, {"c:skip.sh", "SKIP"}, {"c:old.sh", "FAIL"},
                         {"c:s.sh", "FAIL"}, {"c:s.sh:link up", "FAIL"}, {"c:q.sh", "FAIL"}});
  run.env.tools["ss"] = "ss utility, iproute2-6.7.0";
  VerdictInputs in;
  in.run = &run;
  in.known = &known;
  in.today = "2026-11-25";
  in.quarantined = {"c:q.sh"};
  Verdict v = Judge(in);
  EXPECT_EQ(v.level, Level::kUnstable);
  ASSERT_EQ(v.known.size(), 1u);
  EXPECT_EQ(v.known[0].path, "c:s.sh:link up");
  ASSERT_EQ(v.quarantined.size(), 1u);
  // Without a baseline c:pre.sh counts; the expired entry no longer hides c:old.sh.
  EXPECT_EQ(v.failures.size(), 2u);
  bool expired = false, tool = false;
  for (const auto& w : v.warnings) {
    expired |= w.find("expired") != std::string::npos;
    tool |= w.find("iproute2 6.7.0") != std::string::npos;
  }
  EXPECT_TRUE(expired);
  EXPECT_TRUE(tool);

  in.baseline = &base;
  v = Judge(in);
  ASSERT_EQ(v.failures.size(), 1u);
  EXPECT_EQ(v.failures[0].path, "c:old.sh");
  ASSERT_EQ(v.preexisting.size(), 1u);
  ASSERT_EQ(v.skipped_by_accident.size(), 1u);
  EXPECT_EQ(v.skipped_by_accident[0].path, "c:skip.sh");
  EXPECT_EQ(v.conclusion.rfind("Unstable: 1 failed test(s): c:old.sh; 1 skipped by accident: c:skip.sh", 0), 0u)
      << v.conclusion;
  EXPECT_EQ(ExitCode(v.level), 1);

  // A kernel report: Critical unless a known issue explains it.
  run.tests["c:a.sh"].crashes.push_back({"WARNING", "WARNING in mptcp_subflow_create", false, "f1", "", ""});
  run.tests["c:a.sh"].status = "FAIL";
  run.tests["c:q.sh"].crashes.push_back({"BUG", "BUG: KASAN: slab-use-after-free in q", false, "f3", "", ""});
  run.tests["c:pre.sh"].crashes.push_back({"WARNING", "WARNING in known_thing", false, "f2", "", ""});
  v = Judge(in);
  EXPECT_EQ(v.level, Level::kCritical);
  EXPECT_EQ(ExitCode(v.level), 3);
  EXPECT_EQ(v.crashes.size(), 2u);
  EXPECT_EQ(v.known_crashes.size(), 1u);
  EXPECT_EQ(v.conclusion.rfind("Critical: 2 kernel crash(es): WARNING in mptcp_subflow_create, BUG: KASAN", 0), 0u)
      << v.conclusion;
  // A crash is never quarantined: c:q.sh now counts.
  bool q_counted = false;
  for (const auto& f : v.failures) q_counted |= f.path == "c:q.sh";
  EXPECT_TRUE(q_counted);
}

TEST(Verdict, AutoBaselineNeedsAPlanThatCoversTheRunAndTheSameEnvironment) {
  RunView r1 = View(1, {{"c:a.sh", "PASS"}});
  RunView r2 = View(2, {{"c:a.sh", "PASS"}, {"c:b.sh", "PASS"}});
  RunView r3 = View(3, {{"c:a.sh", "PASS"}});
  r3.env.where = "host";
  r3.env_class = EnvClass(r3.env);
  RunView r4 = View(4, {{"c:a.sh", "FAIL"}});
  RunView r5 = View(5, {{"c:a.sh", "PASS"}});
  r5.run.finished_at.clear();  // interrupted
  RunView r6 = View(6, {{"c:b.sh", "PASS"}});  // another subset
  std::vector<RunView> h = {r1, r2, r3, r5, r6};
  EXPECT_EQ(AutoBaseline(h, r4), 2) << "the newest earlier complete run that ran c:a.sh, here a full run";
  RunView r7 = View(7, {{"c:a.sh", "PASS"}, {"c:b.sh", "FAIL"}});
  EXPECT_EQ(AutoBaseline(h, r7), 2) << "a run of the same tests";
  EXPECT_EQ(AutoBaseline({r1, r3, r5, r6}, r7), 0) << "no earlier run covers both tests";
}

TEST(Environment, KnownBadToolVersions) {
  EXPECT_EQ(PackageVersion("ss utility, iproute2-6.7.0", "iproute2"), "6.7.0");
  EXPECT_EQ(PackageVersion("ip utility, iproute2-6.1.0, libbpf 1.1.0", "iproute2"), "6.1.0");
  model::Environment env;
  env.tools["ss"] = "ss utility, iproute2-6.1.0";
  EXPECT_TRUE(EnvironmentWarnings(env).empty());
  env.tools["ss"] = "ss utility, iproute2-6.7.0";
  ASSERT_EQ(EnvironmentWarnings(env).size(), 1u);
}

TEST(History, EnvClassAndKernelLine) {
  EXPECT_EQ(KernelLine("6.12.57+deb13-cloud-amd64"), "6.12");
  EXPECT_EQ(KernelLine("6.1.0-56-cloud-amd64"), "6.1");
  EXPECT_EQ(KernelLine("weird"), "");
  model::Environment e;
  e.kernel_release = "6.1.0-56-cloud-amd64";
  e.where = "vm";
  e.accel = "tcg";
  EXPECT_EQ(EnvClass(e), "vm tcg 6.1");
  e.where = "host";
  e.accel = "";
  EXPECT_EQ(EnvClass(e), "host 6.1");
}

}  // namespace
}  // namespace vigil::judge
