#include "model/test_path.h"

#include <gtest/gtest.h>

namespace vigil::model {
namespace {

TEST(TestPathTest, SplitsCollectionTestAndSubtest) {
  TestPath p = TestPath::Parse("net/mptcp:mptcp_join.sh:add_addr > signal");
  EXPECT_EQ(p.collection(), "net/mptcp");
  EXPECT_EQ(p.test(), "mptcp_join.sh");
  EXPECT_EQ(p.subtest(), "add_addr > signal");
  EXPECT_EQ(p.TestId(), "net/mptcp:mptcp_join.sh");
  EXPECT_EQ(p.ToString(), "net/mptcp:mptcp_join.sh:add_addr > signal");
  // A subtest name may hold colons: only the first two split.
  EXPECT_EQ(TestPath::Parse("c:t:a: b").subtest(), "a: b");
}

TEST(TestPathTest, ShardsAreHashDigitsOnly) {
  TestPath s = TestPath::Parse("net/mptcp:mptcp_join.sh#2");
  EXPECT_EQ(s.shard(), 2);
  EXPECT_EQ(s.test_base(), "mptcp_join.sh");
  EXPECT_EQ(s.BaseTestId(), "net/mptcp:mptcp_join.sh");
  for (const char* plain : {"c:a#b", "c:a#", "c:a", "c:#x1"}) {
    TestPath p = TestPath::Parse(plain);
    EXPECT_FALSE(p.shard().has_value()) << plain;
    EXPECT_EQ(p.BaseTestId(), plain);
  }
  EXPECT_FALSE(TestPath::Parse("c:a#99999999999999999999").shard().has_value());  // out of range: no shard
}

TEST(TestPathTest, ChildrenJoinWithTheStoresSeparator) {
  TestPath t("c", "t.sh");
  EXPECT_EQ(t.Child("one").ToString(), "c:t.sh:one");
  EXPECT_EQ(t.Child("one").Child("two").ToString(), "c:t.sh:one > two");
  EXPECT_EQ(TestPath::Parse("c:t.sh"), t);
}

TEST(TestPathTest, WithoutAColonTheWholeTextIsTheTest) {
  TestPath p = TestPath::Parse("loose");
  EXPECT_FALSE(p.has_collection());
  EXPECT_EQ(p.TestId(), "loose");
  EXPECT_EQ(p.ToString(), "loose");
}

}  // namespace
}  // namespace vigil::model
