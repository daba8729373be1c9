#include "runner/timeout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace vigil::runner {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TimeoutTest, AcceptsZeroToSevenDays) {
  EXPECT_EQ(ParseTimeout("0").value(), seconds(0));
  EXPECT_EQ(ParseTimeout("45").value(), seconds(45));
  EXPECT_EQ(ParseTimeout(" 1800 \r").value(), seconds(1800));
  EXPECT_EQ(ParseTimeout("604800").value(), seconds(604800));
  EXPECT_EQ(CheckTimeout(604800).value(), kMaxTimeout);
}

// A settings file's timeout=9999999999 once overflowed into an instant TIMEOUT,
// vigil.toml's 4294967297 into 1 s and 2147483648 into none: all are refused.
TEST(TimeoutTest, RefusesWhatOverflowedBefore) {
  for (const char* text : {"9999999999", "4294967297", "2147483648", "604801", "99999999999999999999999"}) {
    auto t = ParseTimeout(text);
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_NE(t.status().message().find("0 (none) to 604800 (7 days)"), std::string::npos)
        << t.status().message();
  }
  EXPECT_FALSE(CheckTimeout(4294967297).ok());
  EXPECT_FALSE(CheckTimeout(-1).ok());
}

TEST(TimeoutTest, RefusesWhatIsNotWholeSeconds) {
  for (const char* text : {"", " ", "abc", "-5", "1.5", "45s", "0x10", "4 5"}) {
    auto t = ParseTimeout(text, "timeout");
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_NE(t.status().message().find("timeout must be whole seconds"), std::string::npos);
  }
}

TEST(TimeoutTest, StretchingMultipliesAndNeverOverflows) {
  EXPECT_EQ(StretchTimeout(seconds(45), 1.0), milliseconds(45000));
  EXPECT_EQ(StretchTimeout(seconds(45), 3.0), milliseconds(135000));  // TCG
  EXPECT_EQ(StretchTimeout(seconds(1), 0.01), milliseconds(10));
  EXPECT_EQ(StretchTimeout(seconds(0), 3.0), milliseconds(0));  // none stays none
  EXPECT_EQ(StretchTimeout(kMaxTimeout, 3.0), seconds(3 * 604800));
  // Beyond a year (the longest timeout times the largest --slowdown, a
  // slowdown from a damaged record) it is clamped there.
  EXPECT_EQ(StretchTimeout(kMaxTimeout, 1000.0), kMaxStretchedTimeout);
  EXPECT_EQ(StretchTimeout(kMaxTimeout, 1e300), kMaxStretchedTimeout);
  EXPECT_EQ(StretchTimeout(seconds(INT64_MAX / 2), 1.0), kMaxStretchedTimeout);
  // A slowdown that is no positive number counts as 1.
  EXPECT_EQ(StretchTimeout(seconds(10), 0.0), milliseconds(10000));
  EXPECT_EQ(StretchTimeout(seconds(10), -2.0), milliseconds(10000));
  EXPECT_EQ(StretchTimeout(seconds(10), std::nan("")), milliseconds(10000));
  // What the process waits, in nanoseconds, is still positive.
  EXPECT_GT(std::chrono::nanoseconds(StretchTimeout(kMaxTimeout, 1e300)).count(), 0);
  EXPECT_EQ(StretchTimeoutSeconds(seconds(45), 3.0), seconds(135));
  EXPECT_EQ(StretchTimeoutSeconds(seconds(1), 1.5), seconds(2));
}

}  // namespace
}  // namespace vigil::runner
