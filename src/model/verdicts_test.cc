#include "model/verdicts.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

namespace vigil::model {
namespace {

AttemptRecord Attempt(const std::string& status, std::vector<SubtestRecord> subtests, bool interrupted = false) {
  AttemptRecord a;
  a.test_path = "net:t.sh";
  a.status = status;
  a.duration_ms = static_cast<int64_t>(subtests.size()) * 10;
  a.subtests = std::move(subtests);
  a.interrupted = interrupted;
  return a;
}

TEST(FinalStatus, FailedThenPassedIsFlakyAndTheLastFailureStays) {
  EXPECT_EQ(FinalStatus({}), "MISSING");
  EXPECT_EQ(FinalStatus({"PASS"}), "PASS");
  EXPECT_EQ(FinalStatus({"FAIL", "PASS"}), "FLAKY");
  EXPECT_EQ(FinalStatus({"TIMEOUT", "SKIP"}), "FLAKY");
  EXPECT_EQ(FinalStatus({"PASS", "TIMEOUT"}), "TIMEOUT");
  EXPECT_EQ(FinalStatus({"SKIP", "XFAIL"}), "XFAIL");
  // A name KTAP has not is an error: a failure.
  EXPECT_EQ(FinalStatus({"bogus", "PASS"}), "FLAKY");
  EXPECT_TRUE(AttemptFailed("XPASS"));
  EXPECT_FALSE(AttemptFailed("NO_TESTS"));
}

TEST(SummarizeTest, LeavesInterruptedAttemptsOut) {
  std::vector<AttemptRecord> as = {Attempt("FAIL", {{"a", "FAIL", 3}, {"b", "PASS", std::nullopt}}),
                                   Attempt("PASS", {{"b", "FAIL", 1}}, true),
                                   Attempt("PASS", {{"a", "PASS", 9}, {"c", "SKIP", 2}})};
  as[0].crashes.push_back({"BUG", "BUG: x", true, "f", "g", "t"});
  as[1].crashes.push_back({"BUG", "BUG: y", true, "f", "g", "t"});
  TestSummary s = SummarizeTest(7, "net:t.sh", as);
  EXPECT_EQ(s.run_id, 7);
  EXPECT_EQ(s.status, "FLAKY");
  EXPECT_EQ(s.attempts, 2);
  EXPECT_EQ(s.crashes, 1);
  EXPECT_EQ(s.duration_ms, 20);
  auto subs = UnpackSubtests(s.subtests);
  ASSERT_EQ(subs.size(), 3u);
  EXPECT_EQ(subs[0].path, "a");
  EXPECT_EQ(subs[0].status, "FLAKY");
  EXPECT_EQ(subs[0].duration_ms, 3);
  EXPECT_EQ(subs[1].status, "PASS");  // the interrupted FAIL does not count
  EXPECT_EQ(subs[2].path, "c");
  TestSummary none = SummarizeTest(7, "net:t.sh", {Attempt("ERROR", {}, true)});
  EXPECT_EQ(none.attempts, 0);
  EXPECT_EQ(none.status, "");
  EXPECT_TRUE(none.subtests.empty());
}

TEST(PackedSubtests, AnyBytesAndDurationsComeBack) {
  std::string nul("a\0b", 3);
  std::vector<SubtestRecord> in = {{"", "", std::nullopt},
                                   {nul, "PASS", 0},
                                   {std::string(300, '\xff'), "FAIL", -1},
                                   {"x > y", "SKIP", INT64_MIN},
                                   {"z", "FLAKY", INT64_MAX}};
  std::string packed = PackSubtests(in);
  std::vector<SubtestRecord> out = UnpackSubtests(packed);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].path, in[i].path) << i;
    EXPECT_EQ(out[i].status, in[i].status) << i;
    EXPECT_EQ(out[i].duration_ms, in[i].duration_ms) << i;
  }
  EXPECT_TRUE(PackSubtests({}).empty());
}

TEST(PackedSubtests, DamagedBytesEndTheListWithoutReadingPastIt) {
  std::string packed = PackSubtests({{"first", "PASS", 5}, {"second", "FAIL", std::nullopt}});
  // Cut anywhere inside the second subtest: the first stays, then it ends.
  size_t first_len = PackSubtests({{"first", "PASS", 5}}).size();
  for (size_t cut = first_len + 1; cut < packed.size(); ++cut) {
    PackedSubtests p(std::string_view(packed).substr(0, cut));
    PackedSubtest s;
    ASSERT_TRUE(p.Next(&s));
    EXPECT_EQ(s.path, "first");
    EXPECT_FALSE(p.Next(&s)) << cut;
    EXPECT_TRUE(p.damaged());
  }
  // A length beyond the end, a bad flag, a varint that never ends.
  for (std::string bad : {std::string("\x7f" "ab"), std::string("\x01" "a" "\x01" "b" "\x07"),
                          std::string(12, '\x80')}) {
    PackedSubtests p(bad);
    PackedSubtest s;
    EXPECT_FALSE(p.Next(&s));
    EXPECT_TRUE(p.damaged());
  }
}

}  // namespace
}  // namespace vigil::model
