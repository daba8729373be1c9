#include "ktap/line.h"

#include <gtest/gtest.h>

#include "ktap/find_byte.h"

namespace vigil::ktap {
namespace {

Line Classify(std::string_view s) {
  Line l;
  ClassifyLine(s, &l);
  return l;
}

TEST(LineTest, VersionLines) {
  Line l = Classify("KTAP version 1");
  EXPECT_EQ(l.kind, LineKind::kVersion);
  EXPECT_TRUE(l.ktap);
  EXPECT_EQ(l.number, 1);
  l = Classify("TAP version 13");
  EXPECT_EQ(l.kind, LineKind::kVersion);
  EXPECT_FALSE(l.ktap);
  EXPECT_EQ(l.number, 13);
  EXPECT_EQ(Classify("TAP version 13 extra").kind, LineKind::kOther);
}

TEST(LineTest, PlanWithSkip) {
  Line l = Classify("1..0 # SKIP no netem");
  EXPECT_EQ(l.kind, LineKind::kPlan);
  EXPECT_EQ(l.number, 0);
  EXPECT_EQ(l.directive, Directive::kSkip);
  EXPECT_EQ(l.directive_text(), "no netem");
  EXPECT_EQ(Classify("1..22").number, 22);
  EXPECT_EQ(Classify("1..2x").kind, LineKind::kOther);
}

struct ResultCase {
  const char* text;
  bool ok;
  int64_t number;
  const char* name;
  Directive directive;
  const char* directive_text;
};

void PrintTo(const ResultCase& c, std::ostream* os) { *os << c.text; }

class ResultLineTest : public ::testing::TestWithParam<ResultCase> {};

TEST_P(ResultLineTest, Parses) {
  const ResultCase& c = GetParam();
  Line l = Classify(c.text);
  ASSERT_EQ(l.kind, LineKind::kResult) << c.text;
  EXPECT_EQ(l.ok, c.ok);
  EXPECT_EQ(l.number, c.number);
  EXPECT_EQ(l.name(), c.name);
  EXPECT_EQ(l.directive, c.directive);
  EXPECT_EQ(l.directive_text(), c.directive_text);
}

INSTANTIATE_TEST_SUITE_P(
    Results, ResultLineTest,
    ::testing::Values(
        ResultCase{"ok 1 - foo", true, 1, "foo", Directive::kNone, ""},
        ResultCase{"not ok 2 bar baz", false, 2, "bar baz", Directive::kNone, ""},
        ResultCase{"ok 3", true, 3, "", Directive::kNone, ""},
        ResultCase{"ok 4 - ", true, 4, "", Directive::kNone, ""},
        ResultCase{"ok 5 t # SKIP no root", true, 5, "t", Directive::kSkip, "no root"},
        ResultCase{"not ok 6 t # skip", false, 6, "t", Directive::kSkip, ""},
        ResultCase{"not ok 7 t # TODO later", false, 7, "t", Directive::kTodo, "later"},
        ResultCase{"ok 8 t # XFAIL known", true, 8, "t", Directive::kXfail, "known"},
        ResultCase{"not ok 9 t # XPASS", false, 9, "t", Directive::kXpass, ""},
        ResultCase{"not ok 10 selftests: net: x.sh # TIMEOUT 45 seconds", false, 10, "selftests: net: x.sh",
                   Directive::kTimeout, "45 seconds"},
        ResultCase{"not ok 11 t # error", false, 11, "t", Directive::kError, ""},
        ResultCase{"ok 12 3 selftests: net: foo.sh", true, 12, "selftests: net: foo.sh", Directive::kNone, ""},
        ResultCase{"ok 13 a \\# b", true, 13, "a \\# b", Directive::kNone, ""},
        ResultCase{"ok 14 t # Skip: reason", true, 14, "t", Directive::kSkip, "reason"},
        ResultCase{"not ok 15 t # tImEoUt", false, 15, "t", Directive::kTimeout, ""},
        ResultCase{"ok 16 t # Xfail", true, 16, "t", Directive::kXfail, ""},
        ResultCase{"ok 17 t # skipped", true, 17, "t", Directive::kNone, ""},
        ResultCase{"ok 18 t # TIME", true, 18, "t", Directive::kNone, ""},
        ResultCase{"ok 19 t # xpas", true, 19, "t", Directive::kNone, ""},
        ResultCase{"ok 20 t # s\xcbip", true, 20, "t", Directive::kNone, ""},
        ResultCase{"ok 21 t # [kip", true, 21, "t", Directive::kNone, ""},
        ResultCase{"ok 22 t # ERRORS", true, 22, "t", Directive::kNone, ""}),
    [](const ::testing::TestParamInfo<ResultCase>& info) { return "case" + std::to_string(info.index); });

TEST(LineTest, ExitCodeCaseAndNearMisses) {
  Line l = Classify("not ok 1 t # EXIT=-2 time=5ms");
  ASSERT_TRUE(l.exit_code().has_value());
  EXPECT_EQ(*l.exit_code(), -2);
  EXPECT_EQ(l.duration_ms(), 5);
  EXPECT_FALSE(Classify("not ok 1 t # exit 2").exit_code().has_value());
  EXPECT_FALSE(Classify("not ok 1 t # exi=2").exit_code().has_value());
  EXPECT_FALSE(Classify("not ok 1 t # exit=").exit_code().has_value());
  l = Classify("1..0 # sKiP no hardware");
  EXPECT_EQ(l.directive, Directive::kSkip);
  EXPECT_EQ(l.directive_text(), "no hardware");
  EXPECT_EQ(Classify("1..0 # skipped").directive, Directive::kNone);
}

TEST(LineTest, ExitCodeAndTime) {
  Line l = Classify("not ok 1 selftests: net/mptcp: mptcp_join.sh # exit=1");
  ASSERT_EQ(l.kind, LineKind::kResult);
  EXPECT_EQ(l.directive, Directive::kNone);
  ASSERT_TRUE(l.exit_code().has_value());
  EXPECT_EQ(*l.exit_code(), 1);
  l = Classify("ok 10 - pm_netlink: id limit # time=4523ms");
  ASSERT_TRUE(l.duration_ms().has_value());
  EXPECT_EQ(*l.duration_ms(), 4523);
  EXPECT_EQ(l.name(), "pm_netlink: id limit");
  EXPECT_EQ(FindDurationMs("x time=1.5s"), 1500);
  EXPECT_EQ(FindDurationMs("time=abc"), std::nullopt);
  EXPECT_EQ(FindDurationMs("time=7ms"), 7);
  EXPECT_EQ(FindDurationMs("a=b x= time=abc time=12ms"), 12);
  EXPECT_EQ(FindDurationMs("time=5"), std::nullopt);
  EXPECT_EQ(FindDurationMs("=time=3s"), 3000);
  EXPECT_EQ(FindDurationMs("time="), std::nullopt);
  EXPECT_EQ(FindDurationMs("ime=4ms"), std::nullopt);
  EXPECT_EQ(FindDurationMs(""), std::nullopt);
}

TEST(LineTest, NotResults) {
  EXPECT_EQ(Classify("okay 1").kind, LineKind::kOther);
  EXPECT_EQ(Classify("ok one").kind, LineKind::kOther);
  EXPECT_EQ(Classify("ok 1x").kind, LineKind::kOther);
  EXPECT_EQ(Classify("not okay").kind, LineKind::kOther);
}

TEST(LineTest, IndentationKeys) {
  EXPECT_EQ(Classify("    ok 1 a").key.ToString(), "    ");
  EXPECT_EQ(Classify("\tok 1 a").key.ToString(), "        ");
  EXPECT_EQ(Classify("  \tok 1 a").key.ToString(), "        ");
  EXPECT_EQ(Classify("        ok 1 a").key, Classify("\tok 1 a").key);
}

TEST(LineTest, KselftestPrefixNestsStructuralLinesOnly) {
  Line l = Classify("# ok 1 - pm_netlink: defaults addr list # time=4ms");
  EXPECT_EQ(l.kind, LineKind::kResult);
  EXPECT_EQ(l.key.ToString(), "#");
  l = Classify("# TAP version 13");
  EXPECT_EQ(l.kind, LineKind::kVersion);
  EXPECT_EQ(l.key.ToString(), "#");
  l = Classify("# # Subtest: inner");
  EXPECT_EQ(l.kind, LineKind::kSubtestHeader);
  EXPECT_EQ(l.key.ToString(), "#");
  EXPECT_EQ(l.name(), "inner");
  l = Classify("# selftests: net/mptcp: pm_netlink.sh");
  EXPECT_EQ(l.kind, LineKind::kDiagnostic);
  EXPECT_EQ(l.key.ToString(), "");
  l = Classify("# #   ok 2 deep");
  EXPECT_EQ(l.kind, LineKind::kResult);
  EXPECT_EQ(l.key.ToString(), "##  ");
  l = Classify("    # Subtest: suite");
  EXPECT_EQ(l.kind, LineKind::kSubtestHeader);
  EXPECT_EQ(l.key.ToString(), "    ");
  EXPECT_EQ(Classify("#").kind, LineKind::kDiagnostic);
}

TEST(NestKeyTest, PrefixAndFolding) {
  NestKey a, b;
  a.AddSpaces(2);
  b.AddSpaces(2);
  b.AddMarker();
  b.AddSpaces(4);
  EXPECT_TRUE(a.IsPrefixOf(b));
  EXPECT_FALSE(b.IsPrefixOf(a));
  NestKey c;
  c.AddMarker();
  EXPECT_FALSE(c.IsPrefixOf(b));  // '#' where b has a space
  b.Truncate(2);
  EXPECT_EQ(a, b);
  NestKey deep, deeper;
  deep.AddSpaces(1500);  // beyond kMaxColumns
  deeper.AddSpaces(2900);
  EXPECT_EQ(deep.size(), NestKey::kMaxColumns);
  EXPECT_EQ(deep, deeper);  // folded
  NestKey m;
  m.AddSpaces(80);
  m.AddMarker();
  NestKey n = m;
  n.AddSpaces(3);
  EXPECT_TRUE(m.IsPrefixOf(n));
  n.Truncate(80);
  EXPECT_FALSE(m == n);
  EXPECT_TRUE(n.IsPrefixOf(m));
}

TEST(LineTest, BailOut) {
  Line l = Classify("Bail out! no memory");
  EXPECT_EQ(l.kind, LineKind::kBailOut);
  EXPECT_EQ(l.name(), "no memory");
  EXPECT_EQ(Classify("# Bail out! x").key.ToString(), "#");
}

TEST(LineTest, HugeNumbersAreClamped) {
  Line l = Classify("ok 99999999999999999999999999 x");
  EXPECT_EQ(l.kind, LineKind::kResult);
  EXPECT_LE(l.number, 1'000'000'000'000LL);
}

TEST(FindByteTest, EveryLengthAndPosition) {
  for (size_t n = 0; n <= 70; ++n) {
    std::string s(n, 'a');
    EXPECT_EQ(FindByte(s.data(), n, '#'), n) << n;
    for (size_t at = 0; at < n; ++at) {
      std::string t = s;
      t[at] = '#';
      if (at + 3 < n) t[at + 3] = '#';  // only the first counts
      EXPECT_EQ(FindByte(t.data(), n, '#'), at) << n << " " << at;
    }
  }
}

// Word-at-a-time search: bytes one bit away from the needle, its high-bit
// twin, NUL and 0xff around it must never be taken for it.
TEST(FindByteTest, NeighbourBytesAreNotMatches) {
  const char needles[] = {'#', '\n', '=', '\x01', '\x7f', '\x80'};
  const char fillers[] = {'\0', '\x01', '\x22', '\x24', '\x7e', '\x80', '\xa3', '\xff', '\x0b', '<'};
  for (char needle : needles) {
    for (char filler : fillers) {
      if (filler == needle) continue;
      for (size_t n = 0; n <= 40; ++n) {
        std::string s(n, filler);
        for (size_t i = 0; i < n; i += 2) s[i] = static_cast<char>(needle ^ 1);
        EXPECT_EQ(FindByte(s.data(), n, needle), n) << n;
        for (size_t at = 0; at < n; ++at) {
          std::string t = s;
          t[at] = needle;
          EXPECT_EQ(FindByte(t.data(), n, needle), at) << n << " " << at;
        }
      }
    }
  }
}

}  // namespace
}  // namespace vigil::ktap
