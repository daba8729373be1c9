#include "mail/message.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "base/text.h"
#include "sys/test_smtp_server.h"

namespace vigil::mail {
namespace {

// A rendered message taken apart as a reader would: header fields unfolded
// (CRLF before a space or tab removed), the body as sent.
struct Parsed {
  std::vector<std::string> lines;  // the header section's physical lines
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;

  int Count(std::string_view name) const {
    int n = 0;
    for (const auto& f : fields) n += f.first == name;
    return n;
  }
  std::string Value(std::string_view name) const {
    for (const auto& f : fields) {
      if (f.first == name) return f.second;
    }
    return "<absent>";
  }
};

Parsed Parse(const std::string& message) {
  Parsed p;
  size_t end = message.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos);
  std::string_view head(message.data(), end + 2);
  p.body = message.substr(end + 4);
  while (!head.empty()) {
    size_t crlf = head.find("\r\n");
    std::string_view line = head.substr(0, crlf);
    head.remove_prefix(crlf + 2);
    p.lines.emplace_back(line);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      EXPECT_FALSE(p.fields.empty());
      if (!p.fields.empty()) p.fields.back().second += line;
      continue;
    }
    size_t colon = line.find(':');
    EXPECT_NE(colon, std::string_view::npos) << line;
    std::string value(line.substr(colon + 1));
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    p.fields.emplace_back(std::string(line.substr(0, colon)), value);
  }
  return p;
}

std::string DecodeBase64(std::string_view in) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int d = digit(c);
    if (d < 0) break;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// RFC 2047 decoding of an unfolded value: encoded words decoded, the space
// between two of them dropped. Fails the test on a word over 75 characters
// or one that does not hold whole characters.
std::string Decode(std::string_view v) {
  std::string out;
  bool last_encoded = false;
  std::string pending_space;
  while (!v.empty()) {
    size_t sp = v.find(' ');
    std::string_view word = v.substr(0, sp);
    bool encoded = word.starts_with("=?UTF-8?B?") && word.ends_with("?=") && word.size() >= 12;
    if (encoded) {
      EXPECT_LE(word.size(), 75u) << word;
      std::string text = DecodeBase64(word.substr(10, word.size() - 12));
      EXPECT_TRUE(IsValidUtf8(text)) << word;
      if (!last_encoded) out += pending_space;
      out += text;
    } else {
      out += pending_space;
      out += word;
    }
    last_encoded = encoded;
    pending_space = " ";
    if (sp == std::string_view::npos) break;
    v.remove_prefix(sp + 1);
  }
  return out;
}

void ExpectWellFormed(const std::string& message) {
  for (size_t i = 0; i < message.size(); ++i) {
    ASSERT_NE(message[i], '\0') << "NUL at " << i;
    if (message[i] == '\n') {
      ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
    }
    if (message[i] == '\r') {
      ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  size_t start = 0;
  for (size_t crlf; (crlf = message.find("\r\n", start)) != std::string::npos; start = crlf + 2) {
    ASSERT_LE(crlf - start, 998u) << message.substr(start, 80);
  }
  EXPECT_TRUE(IsValidUtf8(message));
}

sys::SmtpSettings Server(std::string url) {
  sys::SmtpSettings smtp;
  smtp.url = std::move(url);
  return smtp;
}

Message Basic() {
  Message m;
  m.from = {"Vigil CI", "ci@example.org"};
  m.to = {{"Jane Doe", "jane@example.org"}};
  m.cc = {{"", "netdev@vger.kernel.org"}};
  m.subject = "Re: [PATCH net-next 0/3] mptcp: fixes";
  m.message_id = "vigil.series-42@ci.example.org";
  m.in_reply_to = "20261205.cover@example.org";
  m.references = {"20261205.cover@example.org"};
  m.date = 1796437256;
  m.body = "Hello,\n\nAll good.\n";
  m.extra_headers = {{"X-Vigil-Series", "42"}};
  return m;
}

TEST(Render, WritesEveryHeaderOfAPlainReply) {
  EXPECT_EQ(Render(Basic()),
            "From: Vigil CI <ci@example.org>\r\n"
            "To: Jane Doe <jane@example.org>\r\n"
            "Cc: netdev@vger.kernel.org\r\n"
            "Subject: Re: [PATCH net-next 0/3] mptcp: fixes\r\n"
            "Date: Sat, 05 Dec 2026 02:20:56 +0000\r\n"
            "Message-ID: <vigil.series-42@ci.example.org>\r\n"
            "In-Reply-To: <20261205.cover@example.org>\r\n"
            "References: <20261205.cover@example.org>\r\n"
            "X-Vigil-Series: 42\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Hello,\r\n\r\nAll good.\r\n");
}

TEST(Render, SubjectWithCrLfStaysOneSubjectHeader) {
  Message m = Basic();
  m.subject = "x\r\nBcc: evil@example.org\r\n\r\nbody";
  std::string out = Render(m);
  ExpectWellFormed(out);
  Parsed p = Parse(out);
  EXPECT_EQ(p.Count("Subject"), 1);
  EXPECT_EQ(p.Count("Bcc"), 0);
  EXPECT_EQ(p.Value("Subject"), "x Bcc: evil@example.org body");
  EXPECT_EQ(p.body, "Hello,\r\n\r\nAll good.\r\n");
}

TEST(Render, NamesAndValuesWithLineBreaksCannotAddHeaders) {
  Message m = Basic();
  m.to = {{"Jane\r\nBcc: evil@example.org", "jane@example.org"}};
  m.from.name = "CI\nX-Injected: 1";
  m.extra_headers = {{"X-Vigil-Series", "42\r\nBcc: evil@example.org"}};
  Parsed p = Parse(Render(m));
  EXPECT_EQ(p.Count("Bcc"), 0);
  EXPECT_EQ(p.Count("X-Injected"), 0);
  EXPECT_EQ(p.Value("To"), "\"Jane Bcc: evil@example.org\" <jane@example.org>");
  EXPECT_EQ(p.Value("From"), "\"CI X-Injected: 1\" <ci@example.org>");
  EXPECT_EQ(p.Value("X-Vigil-Series"), "42 Bcc: evil@example.org");
}

TEST(Render, AddressesThatAreNotAddrSpecsAreLeftOut) {
  Message m = Basic();
  m.to = {{"A", "a@example.org\r\nBcc: evil@example.org"}, {"B", "b@example.org>, evil@example.org"},
          {"C", "c@example.org"}};
  m.cc = {{"", "no-at-sign"}, {"", "C@Example.org"}, {"", "d@example.org"}};
  Parsed p = Parse(Render(m));
  EXPECT_EQ(p.Value("To"), "C <c@example.org>");
  EXPECT_EQ(p.Value("Cc"), "d@example.org");
  EXPECT_EQ(Recipients(m), (std::vector<std::string>{"c@example.org", "d@example.org"}));
}

TEST(Render, EmptyToAndCcAreNotWritten) {
  Message m = Basic();
  m.to.clear();
  m.cc = {{"", "bad address"}};
  Parsed p = Parse(Render(m));
  EXPECT_EQ(p.Count("To"), 0);
  EXPECT_EQ(p.Count("Cc"), 0);
}

TEST(Render, DisplayNamesAreQuotedWhenTheyNeedIt) {
  Message m = Basic();
  m.to = {{"Doe, Jane", "jane@example.org"}, {"Say \"hi\" \\o/", "say@example.org"},
          {"O'Neil Jr", "oneil@example.org"}, {"J. Doe", "jd@example.org"}};
  Parsed p = Parse(Render(m));
  EXPECT_EQ(p.Value("To"),
            "\"Doe, Jane\" <jane@example.org>, \"Say \\\"hi\\\" \\\\o/\" <say@example.org>, O'Neil Jr "
            "<oneil@example.org>, \"J. Doe\" <jd@example.org>");
}

TEST(Render, NonAsciiSubjectAndNamesAreEncodedWords) {
  Message m = Basic();
  m.subject = "Résumé";
  m.to = {{"Jörg Müller", "joerg@example.org"}};
  Parsed p = Parse(Render(m));
  EXPECT_EQ(p.Value("Subject"), "=?UTF-8?B?UsOpc3Vtw6k=?=");
  EXPECT_EQ(Decode(p.Value("To")), "Jörg Müller <joerg@example.org>");
  EXPECT_TRUE(p.Value("To").starts_with("=?UTF-8?B?"));
}

TEST(Render, ControlCharactersAndLiteralEncodedWordsAreEncoded) {
  Message m = Basic();
  m.subject = "red \x1b[31m alert";
  Parsed p = Parse(Render(m));
  EXPECT_TRUE(p.Value("Subject").starts_with("=?UTF-8?B?"));
  EXPECT_EQ(Decode(p.Value("Subject")), "red \x1b[31m alert");
  // A subject that shows "=?...?=" must not be decoded by the reader.
  m.subject = "=?UTF-8?B?ZXZpbA==?= x";
  p = Parse(Render(m));
  EXPECT_EQ(Decode(p.Value("Subject")), "=?UTF-8?B?ZXZpbA==?= x");
}

TEST(Render, InvalidUtf8AndNulInHeadersAreReplacedOrDropped) {
  Message m = Basic();
  m.subject = std::string("bad \xff\xfe byte\0s", 13);
  std::string out = Render(m);
  ExpectWellFormed(out);
  EXPECT_EQ(Decode(Parse(out).Value("Subject")), "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

TEST(Render, LongUtf8SubjectFoldsIntoWholeCharacterWordsUnder78) {
  Message m = Basic();
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "é€😀 ";
  subject += "end";
  m.subject = subject;
  std::string out = Render(m);
  ExpectWellFormed(out);
  Parsed p = Parse(out);
  for (const auto& line : p.lines) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_GT(p.lines.size(), 10u);
  EXPECT_EQ(Decode(p.Value("Subject")), subject);  // Decode checks each word's size and characters
}

TEST(Render, LongAsciiSubjectFoldsAtSpacesAndUnfoldsToItself) {
  Message m = Basic();
  std::string subject;
  for (int i = 0; i < 30; ++i) subject += "[PATCH net-next v" + std::to_string(i) + "] word ";
  subject += "end";
  m.subject = subject;
  std::string out = Render(m);
  ExpectWellFormed(out);
  Parsed p = Parse(out);
  for (const auto& line : p.lines) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(p.Value("Subject"), subject);
}

TEST(Render, AnUnbreakableWordLongerThanALineIsEncodedAndFolded) {
  Message m = Basic();
  m.subject = "see " + std::string(2000, 'x');
  std::string out = Render(m);
  ExpectWellFormed(out);
  Parsed p = Parse(out);
  for (const auto& line : p.lines) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(Decode(p.Value("Subject")), m.subject);
}

TEST(Render, LongAddressListsFoldBetweenAddresses) {
  Message m = Basic();
  m.cc.clear();
  for (int i = 0; i < 20; ++i) m.cc.push_back({"Maintainer " + std::to_string(i), "m" + std::to_string(i) + "@example.org"});
  std::string out = Render(m);
  Parsed p = Parse(out);
  for (const auto& line : p.lines) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_TRUE(p.Value("Cc").starts_with("Maintainer 0 <m0@example.org>, Maintainer 1 <m1@example.org>,"));
  EXPECT_TRUE(p.Value("Cc").ends_with(", Maintainer 19 <m19@example.org>"));
}

TEST(Render, ReferencesAreCleanedAndFolded) {
  Message m = Basic();
  m.in_reply_to = "<cover@example.org>\r\nBcc: x";
  m.references = {"first@example.org", "", " \r\n", "<second@example.org>"};
  for (int i = 0; i < 6; ++i) m.references.push_back("20261205." + std::to_string(i) + ".long-message-id@example.org");
  std::string out = Render(m);
  ExpectWellFormed(out);
  Parsed p = Parse(out);
  EXPECT_EQ(p.Value("In-Reply-To"), "<cover@example.orgBcc:x>");
  std::string refs = p.Value("References");
  EXPECT_TRUE(refs.starts_with("<first@example.org> <second@example.org> <20261205.0.long-message-id@example.org>"))
      << refs;
  for (const auto& line : p.lines) EXPECT_LE(line.size(), 78u) << line;
  m.in_reply_to = "\r\n";
  m.message_id = "";
  m.references.clear();
  p = Parse(Render(m));
  EXPECT_EQ(p.Count("In-Reply-To"), 0);
  EXPECT_EQ(p.Count("Message-ID"), 0);
  EXPECT_EQ(p.Count("References"), 0);
}

TEST(Render, ExtraHeadersMayNotRepeatOrBreakTheOwnOnes) {
  Message m = Basic();
  m.extra_headers = {{"Subject", "second subject"}, {"bcc", "evil@example.org"}, {"X-A:B", "v"},
                     {"X A", "v"}, {"", "v"}, {"X-Vigil-Check", "Success: 472 subtests passed"}};
  Parsed p = Parse(Render(m));
  EXPECT_EQ(p.Count("Subject"), 1);
  EXPECT_EQ(p.Count("bcc"), 0);
  EXPECT_EQ(p.Value("X-Vigil-Check"), "Success: 472 subtests passed");
  EXPECT_EQ(p.fields.size(), 12u);  // the 11 own (Basic() has them all) and X-Vigil-Check
}

TEST(Render, BodyLineEndsBecomeCrLfAndNulIsDropped) {
  Message m = Basic();
  m.body = std::string("a\nb\r\nc\rd\n\ne\0f", 14);
  EXPECT_EQ(Parse(Render(m)).body, "a\r\nb\r\nc\r\nd\r\n\r\nef\r\n");
}

TEST(Render, BodyDotLinesAreLeftForTheTransportToStuff) {
  Message m = Basic();
  m.body = ".\n..\n.leading\n";
  EXPECT_EQ(Parse(Render(m)).body, ".\r\n..\r\n.leading\r\n");
}

TEST(Render, BodyLinesOver998OctetsWrapAtACharacterBoundary) {
  Message m = Basic();
  std::string line;
  for (int i = 0; i < 700; ++i) line += "é";  // 1400 octets
  m.body = "x" + line + "\nshort\n";
  std::string out = Render(m);
  ExpectWellFormed(out);  // every line <= 998, valid UTF-8 (so no character split)
  std::string body = Parse(out).body;
  EXPECT_EQ(body.find("\r\n"), 997u);  // "x" + 498 two-octet characters
  std::string joined;
  ForEachLine(body, [&](std::string_view l) {
    if (l.ends_with('\r')) l.remove_suffix(1);
    joined += l;
  });
  EXPECT_EQ(joined, "x" + line + "short");
}

TEST(Render, BodyInvalidUtf8IsReplaced) {
  Message m = Basic();
  m.body = "ok \xc3\x28 \xff";
  EXPECT_EQ(Parse(Render(m)).body, "ok \xEF\xBF\xBD( \xEF\xBF\xBD\r\n");
}

TEST(ReplySubject, AddsReOnceAndFoldsWhitespace) {
  EXPECT_EQ(ReplySubject("[PATCH net 0/2] mptcp: fix"), "Re: [PATCH net 0/2] mptcp: fix");
  EXPECT_EQ(ReplySubject("Re: [PATCH] x"), "Re: [PATCH] x");
  EXPECT_EQ(ReplySubject("RE: [PATCH] x"), "RE: [PATCH] x");
  EXPECT_EQ(ReplySubject("re:x"), "re:x");
  EXPECT_EQ(ReplySubject("  [PATCH]\r\n\tlong\n  subject  "), "Re: [PATCH] long subject");
  EXPECT_EQ(ReplySubject("Reply needed"), "Re: Reply needed");
  EXPECT_EQ(ReplySubject(""), "Re: ");
}

TEST(NewMessageId, SanitizesToAtext) {
  EXPECT_EQ(NewMessageId("series-42.1", "ci.example.org"), "vigil.series-42.1@ci.example.org");
  EXPECT_EQ(NewMessageId("a b<c>@d..e.", "ci.example.org"), "vigil.a-b-c--d.e@ci.example.org");
  EXPECT_EQ(NewMessageId("x", "bad host\r\n>"), "vigil.x@badhost");
  EXPECT_EQ(NewMessageId("x", ""), "vigil.x@localhost.invalid");
  EXPECT_TRUE(IsValidAddrSpec(NewMessageId("\xff\x01 ...", "..")));
}

TEST(IsValidAddrSpec, TakesPlainAddressesOnly) {
  EXPECT_TRUE(IsValidAddrSpec("jane@example.org"));
  EXPECT_TRUE(IsValidAddrSpec("jane.doe+ci@sub.example.org"));
  EXPECT_TRUE(IsValidAddrSpec("o'neil@example.org"));
  EXPECT_FALSE(IsValidAddrSpec("jane"));
  EXPECT_FALSE(IsValidAddrSpec("@example.org"));
  EXPECT_FALSE(IsValidAddrSpec("jane@"));
  EXPECT_FALSE(IsValidAddrSpec("jane..doe@example.org"));
  EXPECT_FALSE(IsValidAddrSpec(".jane@example.org"));
  EXPECT_FALSE(IsValidAddrSpec("jane doe@example.org"));
  EXPECT_FALSE(IsValidAddrSpec("jane@example.org\r\n"));
  EXPECT_FALSE(IsValidAddrSpec("jane@exa<mple.org"));
  EXPECT_FALSE(IsValidAddrSpec("jörg@example.org"));
  EXPECT_FALSE(IsValidAddrSpec(std::string(65, 'a') + "@example.org"));
}

TEST(Send, RefusesAnInvalidSenderOrNoRecipients) {
  sys::SmtpSettings smtp = Server("smtp://127.0.0.1:1");
  Message m = Basic();
  m.from.email = "ci@example.org\r\nRCPT TO:<x@y>";
  EXPECT_EQ(Send(smtp, m).code(), Status::Code::kInvalidArgument);
  m = Basic();
  m.to = {{"", "not an address"}};
  m.cc.clear();
  EXPECT_EQ(Send(smtp, m).code(), Status::Code::kInvalidArgument);
}

// Python's email package (policy.default: RFC 2047, folding, address
// parsing) as an independent reader (one that shows a space between two
// encoded words of a display name, so a name that fits one word must be one): each header it sees, decoded, one line
// "Name: value" (addresses as "display name|addr-spec"), then its defects.
std::string ReadWithPython(const std::string& message) {
  if (std::system("/usr/bin/python3 -c 'import email.policy' >/dev/null 2>&1") != 0) return "";
  std::string tmpl = ::testing::TempDir() + "vigil-mail-XXXXXX";
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return "";
  close(fd);
  std::ofstream(tmpl, std::ios::binary) << message;
  std::string script =
      "import sys, email, email.policy\n"
      "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n"
      "for k in m.keys():\n"
      "    v = m[k]\n"
      "    if hasattr(v, 'addresses'):\n"
      "        v = ', '.join(a.display_name + '|' + a.addr_spec for a in v.addresses)\n"
      "    print(k + ': ' + str(v))\n"
      "    for d in getattr(m[k], 'defects', []): print('defect in ' + k + ': ' + type(d).__name__)\n"
      "for d in m.defects: print('defect: ' + type(d).__name__)\n"
      "print('body: ' + repr(m.get_content()))\n";
  std::string command = "/usr/bin/python3 -c \"" + script + "\" '" + tmpl + "'";
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    pclose(p);
  }
  unlink(tmpl.c_str());
  return out;
}

TEST(Render, PythonsEmailPackageReadsHostileFieldsBackAsMeant) {
  Message m = Basic();
  m.from = {"Vigil CI \"bot\"", "ci@example.org"};
  m.to = {{"Doe, Jane\r\nBcc: evil@example.org", "jane@example.org"}, {"Jörg Müller-Lüdenscheidt von Überhausen", "j@example.org"}};
  m.cc = {{"", "netdev@vger.kernel.org"}};
  m.subject = "Re: [PATCH net-next v3 07/12] mptcp: pm: évite\r\nBcc: evil@example.org un sujet très long qui doit être plié";
  m.body = "ok\n.\nnot ok 2 \xff\n";
  std::string read = ReadWithPython(Render(m));
  if (read.empty()) GTEST_SKIP() << "/usr/bin/python3 is missing";
  EXPECT_EQ(read,
            "From: Vigil CI \"bot\"|ci@example.org\n"
            "To: Doe, Jane Bcc: evil@example.org|jane@example.org, Jörg Müller-Lüdenscheidt von Überhausen|j@example.org\n"
            "Cc: |netdev@vger.kernel.org\n"
            "Subject: Re: [PATCH net-next v3 07/12] mptcp: pm: évite Bcc: evil@example.org un sujet très long qui doit "
            "être plié\n"
            "Date: Sat, 05 Dec 2026 02:20:56 +0000\n"
            "Message-ID: <vigil.series-42@ci.example.org>\n"
            "In-Reply-To: <20261205.cover@example.org>\n"
            "References: <20261205.cover@example.org>\n"
            "X-Vigil-Series: 42\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=\"utf-8\"\n"
            "Content-Transfer-Encoding: 8bit\n"
            "body: 'ok\\n.\\nnot ok 2 \xEF\xBF\xBD\\n'\n");
}

// A real SMTP server (aiosmtpd) receives exactly the rendered bytes: the
// UTF-8 subject and name, the "." line and the envelope from the headers.
TEST(Send, RoundTripThroughARealServer) {
  std::string why_not;
  auto server = sys::TestSmtpServer::Start(&why_not);
  if (!server) GTEST_SKIP() << why_not;
  Message m = Basic();
  m.subject = "Re: [PATCH net-next] mptcp: réparer le délai";
  m.to = {{"Jörg Müller", "joerg@example.org"}};
  m.cc = {{"", "netdev@example.org"}, {"Jörg again", "JOERG@example.org"}};
  m.body = "Results:\n.\n..\n.hidden\nend\n";
  Status s = Send(Server(server->url()), m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto got = server->Messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content, Render(m));
  EXPECT_EQ(got[0].mail_from, "ci@example.org");
  EXPECT_EQ(got[0].rcpt_to, (std::vector<std::string>{"joerg@example.org", "netdev@example.org"}));
  Parsed p = Parse(got[0].content);
  EXPECT_EQ(Decode(p.Value("Subject")), m.subject);
  EXPECT_EQ(Decode(p.Value("To")), "Jörg Müller <joerg@example.org>");
  EXPECT_EQ(p.Value("Cc"), "netdev@example.org");
  EXPECT_EQ(p.body, "Results:\r\n.\r\n..\r\n.hidden\r\nend\r\n");
}

TEST(DecodeHeader, DecodesEncodedWordsAsPatchworksMboxHasThem) {
  // git send-email and Patchwork write a non-ASCII subject this way.
  EXPECT_EQ(DecodeHeader("=?UTF-8?q?=5BPATCH=5D=20fix=20f=C3=BCr=20x?="), "[PATCH] fix f\u00fcr x");
  EXPECT_EQ(DecodeHeader("[PATCH] =?utf-8?B?ZsO8cg==?= x"), "[PATCH] f\u00fcr x");
  EXPECT_EQ(DecodeHeader("=?iso-8859-1?Q?J=F6rg_S?="), "J\u00f6rg S");
  // The whitespace between two encoded words goes; around plain text it stays.
  EXPECT_EQ(DecodeHeader("=?UTF-8?Q?a?= =?UTF-8?Q?b?= c =?UTF-8?Q?d?="), "ab c d");
  EXPECT_EQ(DecodeHeader("=?UTF-8*en?Q?x?="), "x");  // RFC 2231 language
}

TEST(DecodeHeader, LeavesWhatDoesNotDecodeAsItWas) {
  for (const char* s : {"plain [PATCH] x", "=?", "=?UTF-8?Q?", "=?UTF-8?X?abc?=", "=?koi8-r?B?2sQ=?=",
                        "=?UTF-8?B?*bad*?=", "=?UTF-8?Q?=4?=", "=?UTF-8?Q?=ZZ?=", "a = ?b?= c", ""}) {
    EXPECT_EQ(DecodeHeader(s), s) << s;
  }
  // Many unfinished words: each looked for within a bound, left as they were.
  std::string unfinished;
  for (int i = 0; i < 20000; ++i) unfinished += "=?a?b";
  EXPECT_EQ(DecodeHeader(unfinished), unfinished);
  // A reply to a decoded subject is the text, not the encoded words.
  EXPECT_EQ(ReplySubject(DecodeHeader("=?UTF-8?Q?f=C3=BCr?=")), "Re: f\u00fcr");
}

}  // namespace
}  // namespace vigil::mail
