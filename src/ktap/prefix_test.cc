#include "ktap/prefix.h"

#include <gtest/gtest.h>

namespace vigil::ktap {
namespace {

TEST(ConsolePrefixTest, TimestampByShape) {
  ConsolePrefix p;
  p.Learn("[    0.060000] ");
  std::string_view rest;
  ASSERT_TRUE(p.Strip("[12345.678901] ok 1 x", &rest));
  EXPECT_EQ(rest, "ok 1 x");
  ASSERT_TRUE(p.Strip("[    1.000000] \t# Subtest: a", &rest));
  EXPECT_EQ(rest, "\t# Subtest: a");
  EXPECT_FALSE(p.Strip("ok 1 x", &rest));
  EXPECT_FALSE(p.Strip("[    1.000000]", &rest));
}

TEST(ConsolePrefixTest, TimestampAndCaller) {
  ConsolePrefix p;
  p.Learn("[    0.060000][    T1] ");
  std::string_view rest;
  ASSERT_TRUE(p.Strip("[    2.5][  T123] 1..3", &rest));
  EXPECT_EQ(rest, "1..3");
  ASSERT_TRUE(p.Strip("[    2.5][    C0] 1..3", &rest));
  EXPECT_FALSE(p.Strip("[    2.5] 1..3", &rest));
}

TEST(ConsolePrefixTest, LevelAndLiteral) {
  ConsolePrefix p;
  p.Learn("<6>");
  std::string_view rest;
  ASSERT_TRUE(p.Strip("<4>ok 1 a", &rest));
  EXPECT_EQ(rest, "ok 1 a");
  ConsolePrefix q;
  q.Learn(" ");
  ASSERT_TRUE(q.Strip(" \t# Subtest: x", &rest));
  EXPECT_EQ(rest, "\t# Subtest: x");
  ConsolePrefix none;
  EXPECT_TRUE(none.empty());
  ASSERT_TRUE(none.Strip("abc", &rest));
  EXPECT_EQ(rest, "abc");
}

TEST(ConsolePrefixTest, ResetGarbageIsNotAPrefix) {
  std::string_view rest;
  ConsolePrefix a;
  a.Learn(std::string_view("\0\0\xff\xff", 4));
  EXPECT_TRUE(a.empty());
  ConsolePrefix b;
  b.Learn(std::string_view("abc\0\xff[    1.234] ", 17));
  ASSERT_TRUE(b.Strip("[    9.876] ok 1 a", &rest));
  EXPECT_EQ(rest, "ok 1 a");
  EXPECT_FALSE(b.Strip("abc[    9.876] ok 1 a", &rest));
}

}  // namespace
}  // namespace vigil::ktap
