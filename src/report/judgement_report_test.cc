#include "report/judgement_report.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace vigil::report {
namespace {
using judge::FlakeClass;

judge::FlakeEntry Entry(const std::string& subtest, FlakeClass cls, bool quarantined = false) {
  judge::FlakeEntry e;
  e.test = "net:t.sh";
  e.subtest = subtest;
  e.env = "host 6.12";
  e.runs = 3;
  e.cls = cls;
  e.quarantined = quarantined;
  if (quarantined) e.quarantine_reason = "retry flakes";
  return e;
}

int Lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(FlakesText, ListsOnlyWhatNeedsAttentionAndCountsTheRestInOneLine) {
  judge::FlakesTable t;
  t.runs = 3;
  t.entries = {Entry("regressed", FlakeClass::kRegressed), Entry("flaky", FlakeClass::kFlaky),
               Entry("broken", FlakeClass::kBroken), Entry("fixed", FlakeClass::kFixed),
               Entry("watched", FlakeClass::kNew, true)};
  for (int i = 0; i < 457; ++i) t.entries.push_back(Entry("new" + std::to_string(i), FlakeClass::kNew));
  t.entries.push_back(Entry("skipped", FlakeClass::kSkipped));
  for (int i = 0; i < 1203; ++i) t.entries.push_back(Entry("ok" + std::to_string(i), FlakeClass::kStable));
  std::string out = FlakesText(t, false);
  for (const char* shown : {"net:t.sh:regressed", "net:t.sh:flaky", "net:t.sh:broken", "net:t.sh:fixed",
                            "net:t.sh:watched  [QUARANTINED]"}) {
    EXPECT_NE(out.find(shown), std::string::npos) << shown << "\n" << out;
  }
  EXPECT_EQ(out.find("net:t.sh:new0"), std::string::npos);
  EXPECT_EQ(out.find("net:t.sh:ok0"), std::string::npos);
  EXPECT_NE(out.find("\n457 new, 1 skipped, 1203 stable: --all lists them\n"), std::string::npos) << out;
  // Heading, column names, 5 entries, the count, the quarantine (heading, blank line, 1).
  EXPECT_EQ(Lines(out), 2 + 5 + 1 + 3) << out;
  std::string all = FlakesText(t, true);
  EXPECT_NE(all.find("net:t.sh:new456"), std::string::npos);
  EXPECT_NE(all.find("net:t.sh:ok1202"), std::string::npos);
  EXPECT_EQ(all.find("--all lists them"), std::string::npos);
  // JSON keeps every entry.
  auto j = nlohmann::json::parse(FlakesJson(t));
  EXPECT_EQ(j["entries"].size(), t.entries.size());
}

TEST(FlakesText, SaysSoWhenNothingNeedsAttention) {
  judge::FlakesTable t;
  t.entries = {Entry("b", FlakeClass::kNew), Entry("a", FlakeClass::kStable)};
  std::string out = FlakesText(t, false);
  EXPECT_NE(out.find("(nothing flaky, broken, regressed, fixed or quarantined)"), std::string::npos) << out;
  EXPECT_NE(out.find("1 new, 1 stable: --all lists them"), std::string::npos) << out;
}

judge::RunComparison SubsetAgainstFull(bool include_missing) {
  judge::RunComparison c;
  c.a.run.id = 1;
  c.b.run.id = 2;
  for (int i = 0; i < 459; ++i) {
    std::string p = "net:t" + std::to_string(i) + ".sh";
    c.a.order.push_back(p);
    c.a.tests[p].status = "PASS";
  }
  c.b.order = {"net:t0.sh", "net:extra.sh"};
  c.b.tests["net:t0.sh"].status = "FAIL";
  c.b.tests["net:extra.sh"].status = "FAIL";
  judge::CompareOptions o;
  o.include_missing = include_missing;
  c.changes = judge::Compare(c.a, c.b, o);
  return c;
}

TEST(CompareText, ASubsetRunIsComparedOnTheTestsBothRanWithTheRestCounted) {
  judge::RunComparison c = SubsetAgainstFull(false);
  std::string out = CompareText(c);
  EXPECT_NE(out.find("new failures (1):\n  net:t0.sh  PASS -> FAIL\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("disappeared"), std::string::npos) << out;
  EXPECT_EQ(out.find("net:extra.sh"), std::string::npos) << out;
  EXPECT_NE(
      out.find("not compared: 458 test(s) only in run 1, 1 only in run 2 (1 failing): --all compares them\n"),
      std::string::npos)
      << out;
  EXPECT_LE(Lines(out), 5) << out;
  auto j = nlohmann::json::parse(CompareJson(c));
  EXPECT_EQ(j["disappeared"].size(), 0u);
  EXPECT_EQ(j["only_in_a"].size(), 458u);
  EXPECT_EQ(j["only_in_b"], nlohmann::json::array({"net:extra.sh"}));
  EXPECT_EQ(j["include_missing"], false);
}

TEST(CompareText, IncludeMissingListsTheTestsOfOneSide) {
  judge::RunComparison c = SubsetAgainstFull(true);
  std::string out = CompareText(c);
  EXPECT_NE(out.find("disappeared (458):"), std::string::npos) << out;
  EXPECT_NE(out.find("appeared (1):\n  net:extra.sh"), std::string::npos) << out;
  EXPECT_NE(out.find("new failures (2):"), std::string::npos) << out;
  EXPECT_EQ(out.find("not compared"), std::string::npos) << out;
}

}  // namespace
}  // namespace vigil::report
