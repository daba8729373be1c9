#include "sys/smtp.h"

#include <gtest/gtest.h>

#include <string>

#include "sys/test_smtp_server.h"

namespace vigil::sys {
namespace {

SmtpSettings Settings(std::string url, bool starttls = false, std::string user = "", std::string password = "") {
  SmtpSettings s;
  s.url = std::move(url);
  s.starttls = starttls;
  s.user = std::move(user);
  s.password = std::move(password);
  s.timeout_seconds = 10;
  return s;
}

// One server for the suite (starting one takes about half a second).
class SendMailTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = TestSmtpServer::Start(&why_not_).release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!server_) GTEST_SKIP() << why_not_;
    before_ = server_->Messages().size();
  }
  // The messages this test delivered.
  std::vector<TestSmtpServer::Received> Delivered() const {
    auto all = server_->Messages();
    return {all.begin() + static_cast<std::ptrdiff_t>(before_), all.end()};
  }
  static TestSmtpServer* server_;
  static std::string why_not_;
  size_t before_ = 0;
};
TestSmtpServer* SendMailTest::server_ = nullptr;
std::string SendMailTest::why_not_;

TEST_F(SendMailTest, DeliversTheBytesAsGivenWithDotLinesIntact) {
  auto* server = server_;
  // Lines starting with '.' (the first one included) and a lone "."
  // that would end DATA if libcurl did not stuff it.
  std::string message =
      ".starts with a dot\r\nSubject: dots\r\n\r\nbody\r\n.\r\n..two\r\n.x\r\n. \r\nlast\r\n";
  SmtpSettings smtp = Settings(server->url());
  Status s = SendMail(smtp, "ci@example.org", {"dev@example.org", "list@example.org"}, message);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto got = Delivered();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content, message);
  EXPECT_EQ(got[0].mail_from, "ci@example.org");
  EXPECT_EQ(got[0].rcpt_to, (std::vector<std::string>{"dev@example.org", "list@example.org"}));
}

TEST_F(SendMailTest, RefusedRecipientIsAnIOErrorWithTheServersWords) {
  auto* server = server_;
  SmtpSettings smtp = Settings(server->url());
  Status s = SendMail(smtp, "ci@example.org", {"dev@example.org", "refuse@example.org"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find(server->url()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("550 5.1.1 <refuse@example.org>: no such mailbox here"), std::string::npos)
      << s.message();
  EXPECT_TRUE(Delivered().empty());
}

TEST_F(SendMailTest, ARefusedRecipientIsPassedOverWhenAskedAndTheOthersGetIt) {
  auto* server = server_;
  SmtpSettings smtp = Settings(server->url());
  smtp.deliver_to_accepted = true;
  std::vector<SmtpRefusal> refusals;
  Status s = SendMail(smtp, "ci@example.org", {"refuse@example.org", "dev@example.org"}, "Subject: x\r\n\r\nx\r\n",
                      &refusals);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].recipient, "refuse@example.org");
  EXPECT_FALSE(refusals[0].temporary());
  EXPECT_NE(refusals[0].reply.find("550 5.1.1 <refuse@example.org>: no such mailbox here"), std::string::npos)
      << refusals[0].reply;
  auto got = Delivered();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rcpt_to, (std::vector<std::string>{"dev@example.org"}));
  // Every recipient refused for good (550): nothing sent, and sending
  // again would change nothing.
  s = SendMail(smtp, "ci@example.org", {"refuse@example.org", "refuse2@example.org"}, "Subject: x\r\n\r\nx\r\n",
               &refusals);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("every recipient was refused"), std::string::npos) << s.message();
  EXPECT_EQ(Delivered().size(), 1u);
}

// Greylisting: a recipient refused for now (4xx) is named as such, the
// others get the message; sent again, it is taken. Every recipient refused
// for now is no permanent refusal: the send fails, to be tried again.
TEST_F(SendMailTest, ARecipientRefusedForNowIsNamedAndTakesItLater) {
  SmtpSettings smtp = Settings(server_->url());
  smtp.deliver_to_accepted = true;
  std::vector<SmtpRefusal> refusals;
  Status s = SendMail(smtp, "ci@example.org", {"dev@example.org", "grey@example.org", "refuse@example.org"},
                      "Subject: x\r\n\r\nx\r\n", &refusals);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].recipient, "grey@example.org");
  EXPECT_TRUE(refusals[0].temporary());
  EXPECT_NE(refusals[0].reply.find("450 4.2.0"), std::string::npos) << refusals[0].reply;
  EXPECT_EQ(refusals[1].recipient, "refuse@example.org");
  EXPECT_FALSE(refusals[1].temporary());
  s = SendMail(smtp, "ci@example.org", {"grey@example.org"}, "Subject: x\r\n\r\nx\r\n", &refusals);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(refusals.empty());
  auto got = Delivered();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].rcpt_to, (std::vector<std::string>{"dev@example.org"}));
  EXPECT_EQ(got[1].rcpt_to, (std::vector<std::string>{"grey@example.org"}));
  s = SendMail(smtp, "ci@example.org", {"grey2@example.org"}, "Subject: x\r\n\r\nx\r\n", &refusals);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  // Nobody took it: each refusal is still named, for now or for good.
  s = SendMail(smtp, "ci@example.org", {"grey3@example.org", "refuse2@example.org"}, "Subject: x\r\n\r\nx\r\n",
               &refusals);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].recipient, "grey3@example.org");
  EXPECT_TRUE(refusals[0].temporary());
  EXPECT_EQ(refusals[1].recipient, "refuse2@example.org");
  EXPECT_FALSE(refusals[1].temporary());
  EXPECT_EQ(Delivered().size(), 2u);
}

TEST_F(SendMailTest, RequiredStarttlsThatTheServerLacksSendsNothing) {
  auto* server = server_;
  SmtpSettings smtp = Settings(server->url(), true);
  Status s = SendMail(smtp, "ci@example.org", {"dev@example.org"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find(server->url()), std::string::npos) << s.message();
  EXPECT_TRUE(Delivered().empty());
}

TEST_F(SendMailTest, UserThatTheServerDidNotAuthenticateSendsNothing) {
  // aiosmtpd as started offers no AUTH: libcurl alone would send anyway.
  SmtpSettings smtp = Settings(server_->url(), false, "ci", "hunter2-secret");
  Status s = SendMail(smtp, "ci@example.org", {"dev@example.org"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("did not authenticate user 'ci'"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
  EXPECT_TRUE(Delivered().empty());
}

TEST(SendMail, AuthenticatesWithUserAndPassword) {
  std::string why_not;
  auto server = TestSmtpServer::Start(&why_not, "ci", "right-secret");
  if (!server) GTEST_SKIP() << why_not;
  Status s = SendMail(Settings(server->url(), false, "ci", "right-secret"), "ci@example.org", {"dev@example.org"},
                      "Subject: authenticated\r\n\r\nx\r\n");
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(server->Messages().size(), 1u);
  EXPECT_EQ(server->Messages()[0].content, "Subject: authenticated\r\n\r\nx\r\n");

  s = SendMail(Settings(server->url(), false, "ci", "wrong-secret"), "ci@example.org", {"dev@example.org"},
               "Subject: refused\r\n\r\nx\r\n");
  ASSERT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("the server said: 535"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("wrong-secret"), std::string::npos) << s.message();
  EXPECT_EQ(server->Messages().size(), 1u);
}

TEST(SendMail, UnreachableServerNamesItButNeverThePassword) {
  int port = TestSmtpServer::FreePort();
  ASSERT_NE(port, 0);
  std::string server = "smtp://127.0.0.1:" + std::to_string(port);
  SmtpSettings smtp =
      Settings("smtp://someone:url-secret@127.0.0.1:" + std::to_string(port), false, "ci", "hunter2-secret");
  Status s = SendMail(smtp, "ci@example.org", {"dev@example.org"}, "Subject: x\r\n\r\nx\r\n");
  ASSERT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("cannot send mail through " + server + ": "), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("url-secret"), std::string::npos) << s.message();
}

TEST(SendMail, RefusesWhatCouldInjectCommandsOrLeakAPassword) {
  const std::string msg = "Subject: x\r\n\r\nx\r\n";
  SmtpSettings smtp = Settings("smtp://127.0.0.1:1");
  EXPECT_EQ(SendMail(smtp, "ci@example.org\r\nRCPT TO:<x@y>", {"a@b.c"}, msg).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(SendMail(smtp, "ci@example.org", {"a@b.c> NOTIFY=NEVER"}, msg).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(SendMail(smtp, "ci@example.org", {"a@b.c\n"}, msg).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(SendMail(smtp, "ci@example.org", {}, msg).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(SendMail(smtp, "", {"a@b.c"}, msg).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(SendMail(Settings("https://mail.example.org"), "ci@example.org", {"a@b.c"}, msg).code(),
            Status::Code::kInvalidArgument);
  // A password over plain smtp:// to another machine.
  SmtpSettings clear = Settings("smtp://mail.example.org:25", false, "ci", "hunter2-secret");
  Status s = SendMail(clear, "ci@example.org", {"a@b.c"}, msg);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace vigil::sys
