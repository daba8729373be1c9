#include "web/html.h"

#include <gtest/gtest.h>

#include <string>

namespace vigil::web {
namespace {

TEST(Escape, EveryMarkupCharacterBecomesAnEntity) {
  EXPECT_EQ(Escape("<img src=x onerror=\"document.title='pwned'\">"),
            "&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;");
  EXPECT_EQ(Escape("a & b"), "a &amp; b");
  EXPECT_EQ(Escape("</script><script>alert(1)</script>"), "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(Escape("tab\tand\nnewline"), "tab\tand\nnewline");
}

TEST(Escape, ControlsAndInvalidUtf8BecomeTheReplacementCharacter) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(Escape(std::string("a\0b", 3)), "a" + r + "b");
  EXPECT_EQ(Escape("\x1b[31mred"), r + "[31mred");
  EXPECT_EQ(Escape("\x7f"), r);
  EXPECT_EQ(Escape("\xC2\x85"), r);        // NEL, a C1 control
  EXPECT_EQ(Escape("\xff\xfe"), r + r);    // not UTF-8
  EXPECT_EQ(Escape("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(Escape("\xC2\xA0"), "\xC2\xA0");  // NBSP is not a control
}

TEST(UrlEncode, OnlyUnreservedBytesStayAndDecodeRoundTrips) {
  EXPECT_EQ(UrlEncode("net/mptcp:mptcp_join.sh:001 a&b=c"), "net%2Fmptcp%3Amptcp_join.sh%3A001%20a%26b%3Dc");
  EXPECT_EQ(UrlEncode("javascript:alert(1)"), "javascript%3Aalert%281%29");
  EXPECT_EQ(UrlEncode("\"'<>#?"), "%22%27%3C%3E%23%3F");
  std::string weird = std::string("x\0y\xff%+ /", 8);
  std::string back;
  ASSERT_TRUE(UrlDecode(UrlEncode(weird), &back));
  EXPECT_EQ(back, weird);
  EXPECT_TRUE(UrlDecode("a+b%20c", &back));
  EXPECT_EQ(back, "a b c");
  EXPECT_FALSE(UrlDecode("%", &back));
  EXPECT_FALSE(UrlDecode("%4", &back));
  EXPECT_FALSE(UrlDecode("%zz", &back));
}

TEST(StripAnsi, RemovesColorsCursorMovesAndTitles) {
  EXPECT_EQ(StripAnsi("\x1b[1;31mFAIL\x1b[0m done"), "FAIL done");
  EXPECT_EQ(StripAnsi("a\x1b[2Kb\x1b[10;20Hc"), "abc");
  EXPECT_EQ(StripAnsi("\x1b]0;title\x07text"), "text");
  EXPECT_EQ(StripAnsi("\x1b]0;title\x1b\\text"), "text");
  // Broken sequences lose their escape, never the text after them.
  EXPECT_EQ(StripAnsi("a\x1b[\nFAIL: it broke\n"), "a\nFAIL: it broke\n");
  EXPECT_EQ(StripAnsi("\x1b[12\xc3\xa9t\xc3\xa9 lost?"), "\xc3\xa9t\xc3\xa9 lost?");
  EXPECT_EQ(StripAnsi("x\x1b]no end\nFAIL\n"), "x]no end\nFAIL\n");
  EXPECT_EQ(StripAnsi("a\x1b" "7b\x1b\nc"), "ab\nc");
  EXPECT_EQ(StripAnsi("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"), "link");
  EXPECT_EQ(StripAnsi("end\x1b"), "end");
  EXPECT_EQ(StripAnsi("\x1b[12;"), "");  // cut short
  EXPECT_EQ(StripAnsi("\x1b[unterminated"), "nterminated");  // u ends it
  EXPECT_EQ(StripAnsi("\x1b" "cX"), "X");
}

TEST(CapText, CutsAtACharacterBoundary) {
  bool cut = false;
  EXPECT_EQ(CapText("short", 10, &cut), "short");
  EXPECT_FALSE(cut);
  EXPECT_EQ(CapText("caf\xC3\xA9!", 4, &cut), "caf");
  EXPECT_TRUE(cut);
  EXPECT_EQ(CapText("caf\xC3\xA9!", 5, &cut), "caf\xC3\xA9");
}

TEST(Duration, ReadsLikeAPersonWouldWriteIt) {
  EXPECT_EQ(Duration(1234), "1.2s");
  EXPECT_EQ(Duration(185'000), "3m05s");
  EXPECT_EQ(Duration(3'720'000), "1h02m");
  EXPECT_EQ(Duration(-1), "?");
}

TEST(Html, TextAndAttributeValuesAreAlwaysEscaped) {
  Html h;
  h.Open("td", {"title", "\"><script>x</script>"}).Text("<b>").Close("td");
  h.Link("/tests?path=a%3Ab&x=\"", "<i>");
  EXPECT_EQ(h.str(),
            "<td title=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\">&lt;b&gt;</td>"
            "<a href=\"/tests?path=a%3Ab&amp;x=&quot;\">&lt;i&gt;</a>");
}

}  // namespace
}  // namespace vigil::web
