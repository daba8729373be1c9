#include "base/text.h"

#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include <random>

#include "base/json.h"

namespace vigil {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(TextTest, IsValidUtf8) {
  EXPECT_TRUE(IsValidUtf8("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("bad\xff.sh"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // cut short
}

TEST(TextTest, SanitizeLineMakesOneLine) {
  EXPECT_EQ(SanitizeLine("nl\nok 9 forged\r\x1b"), "nl" + kFffd + "ok 9 forged" + kFffd + kFffd);
}

TEST(TextTest, TerminalReplacesEscapesNewlinesAndC1Controls) {
  EXPECT_EQ(SanitizeForTerminal("esc\x1b[31mred\nok 9 forged"), "esc" + kFffd + "[31mred" + kFffd + "ok 9 forged");
  EXPECT_EQ(SanitizeForTerminal("csi\xc2\x9b" "2J"), "csi" + kFffd + "2J");  // U+009B
  EXPECT_EQ(SanitizeForTerminal("\xc2\xa0nbsp stays"), "\xc2\xa0nbsp stays");
  EXPECT_EQ(SanitizeForTerminal("bad\xff"), "bad" + kFffd);
}

// What bash makes of ShellQuote(arg): the very bytes, as one word, running nothing.
std::string BashEcho(const std::string& quoted, const std::string& dir) {
  std::string script = dir + "/script.sh";
  {
    std::ofstream f(script, std::ios::binary);
    f << "cd " << ShellQuote(dir) << " && printf '%s' " << quoted << " > out\n";
  }
  EXPECT_EQ(std::system(("bash " + script).c_str()), 0);
  std::ifstream in(dir + "/out", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(TextTest, ShellQuoteRoundTripsThroughBashAndRunsNothing) {
  char tmpl[] = "/tmp/vigil-shellquote-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  for (std::string arg : {std::string("x$(touch PWNED);.sh"), std::string("it's `touch PWNED`"),
                          std::string("nl\ntouch PWNED"), std::string("bad\xff\x1b[31m.sh"), std::string("a\\b\"c'd"),
                          std::string(""), std::string("csi\xc2\x9b;"), std::string("#comment"), std::string("a#b")}) {
    std::string q = ShellQuote(arg);
    EXPECT_EQ(BashEcho(q, dir), arg) << q;
    // The quoted form is one printable line: nothing a terminal acts on.
    EXPECT_EQ(SanitizeForTerminal(q), q);
    EXPECT_EQ(q.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/PWNED"));
  EXPECT_EQ(ShellQuote("net/mptcp:mptcp_join.sh"), "net/mptcp:mptcp_join.sh");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("c:long.sh#3"), "c:long.sh#3");
  EXPECT_EQ(ShellQuote("#x"), "'#x'");
  EXPECT_EQ(ShellQuote("a\xff"), "'a'$'\\xff'");
  std::system(("rm -rf " + ShellQuote(dir)).c_str());
}

TEST(TextTest, EscapeMarkdownEscapesEveryAsciiPunctuation) {
  EXPECT_EQ(EscapeMarkdown("\\<img src=x onerror=alert(1)>"), "\\\\\\<img src\\=x onerror\\=alert\\(1\\)\\>");
  EXPECT_EQ(EscapeMarkdown("[x](javascript:alert(1))"), "\\[x\\]\\(javascript\\:alert\\(1\\)\\)");
  EXPECT_EQ(EscapeMarkdown("![i](http://x)"), "\\!\\[i\\]\\(http\\:\\/\\/x\\)");
  EXPECT_EQ(EscapeMarkdown("a | b & c"), "a \\| b \\& c");
  EXPECT_EQ(EscapeMarkdown("two\nlines"), "two" + kFffd + "lines");
  EXPECT_EQ(EscapeMarkdown("plain words 123"), "plain words 123");
  // Cut at a character boundary, never inside U+00E9.
  EXPECT_EQ(EscapeMarkdown("ab\xc3\xa9", 3), "ab\\.\\.\\.");
}

TEST(TextTest, MarkdownCodeFenceOutgrowsBackquotes) {
  EXPECT_EQ(MarkdownCode("net/mptcp:x.sh"), "`net/mptcp:x.sh`");
  EXPECT_EQ(MarkdownCode("a`b"), "``a`b``");
  EXPECT_EQ(MarkdownCode("``x"), "``` ``x ```");
  EXPECT_EQ(MarkdownCode(" a "), "`  a  `");
  EXPECT_EQ(MarkdownCode("x\ny"), "`x" + kFffd + "y`");
  EXPECT_EQ(MarkdownCode(""), "` `");
}

TEST(TextTest, WorkflowCommandEscapes) {
  EXPECT_EQ(EscapeWorkflowMessage("100% a:b,c\r\nd"), "100%25 a:b,c%0D%0Ad");
  EXPECT_EQ(EscapeWorkflowProperty("net/x:a,b%\n"), "net/x%3Aa%2Cb%25%0A");
  EXPECT_EQ(EscapeWorkflowProperty("e\x1b[2J\xff"), "e" + kFffd + "[2J" + kFffd);
  // A title cannot end the properties and start a message of its own.
  EXPECT_EQ(EscapeWorkflowProperty("t::warning x"), "t%3A%3Awarning x");
}

TEST(TextTest, AppendJsonStringWritesWhatNlohmannWrites) {
  // The writer of big JSON reports escapes strings itself; nlohmann's dump
  // of the sanitized string is the reference, byte for byte.
  auto reference = [](std::string_view s) { return DumpJson(nlohmann::json(SanitizeUtf8(s))); };
  auto mine = [](std::string_view s) {
    std::string out;
    AppendJsonString(out, s);
    return out;
  };
  for (std::string_view s : {std::string_view(""), std::string_view("plain ascii, longer than eight bytes"),
                             std::string_view("q\"uo\\te\b\f\n\r\t\x01\x1f\x7f end"),
                             std::string_view("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                             std::string_view("bad \xff\xfe \xc3 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80"),
                             std::string_view("\0nul\0", 6)}) {
    EXPECT_EQ(mine(s), reference(s)) << s;
  }
  std::mt19937 rng(7);
  const std::string alphabet = std::string("ab\"\\\n\t\x01\x7f\x80\xbf\xc3\xa9\xe2\xf0\xff", 15) + std::string(1, '\0');
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 40, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    ASSERT_EQ(mine(s), reference(s)) << i;
  }
}

}  // namespace
TEST(TextTest, EveryByteAtEveryOffsetOfALongRunIsEscapedAsAlone) {
  // Long runs are scanned many bytes at a time: whichever byte comes at
  // whichever offset of them, the escapers must treat it as they treat it
  // alone (a short string goes byte by byte), and the JSON writer must write
  // what nlohmann writes.
  auto json = [](std::string_view s) {
    std::string out;
    AppendJsonString(out, s);
    return out;
  };
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    for (size_t at = 0; at < 40; ++at) {
      const std::string before(at, 'a'), after(47 - at, 'z');
      const std::string s = before + byte + after;
      ASSERT_EQ(XmlEscape(s), XmlEscape(before) + XmlEscape(byte) + XmlEscape(after)) << b << " at " << at;
      ASSERT_EQ(SanitizeUtf8(s), before + SanitizeUtf8(byte) + after) << b << " at " << at;
      ASSERT_EQ(SanitizeForTerminal(s), before + SanitizeForTerminal(byte) + after) << b << " at " << at;
      ASSERT_EQ(json(s), DumpJson(nlohmann::json(SanitizeUtf8(s)))) << b << " at " << at;
    }
  }
}

TEST(TextTest, PutJsonLinesWritesEachLineAsPutJsonString) {
  // A '\n'-terminated text, line by line with commas between, whatever the
  // bytes: what the JSON report's "log" arrays are made of.
  auto reference = [](std::string_view text) {
    std::string out;
    for (bool first = true; !text.empty(); first = false) {
      size_t nl = text.find('\n');
      if (!first) out += ',';
      AppendJsonString(out, text.substr(0, nl));
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
    return out;
  };
  auto mine = [](std::string_view text) {
    std::string out(JsonStringBound(text.size()), '\0');
    out.resize(static_cast<size_t>(PutJsonLines(out.data(), text) - out.data()));
    return out;
  };
  EXPECT_EQ(mine(""), "");
  EXPECT_EQ(mine("\n"), "\"\"");
  EXPECT_EQ(mine("a\n\nb\n"), "\"a\",\"\",\"b\"");
  EXPECT_EQ(mine("no end"), "\"no end\"");
  std::mt19937 rng(11);
  const std::string alphabet = std::string("ab\"\\\n\n\n\t\x01\x7f\x80\xc3\xa9\xe2\xff", 15) + std::string(1, '\0');
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 60, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    if (rng() % 2) s += '\n';
    ASSERT_EQ(mine(s), reference(s)) << i;
  }
}

}  // namespace vigil
