// A real SMTP server for tests: Debian's aiosmtpd (python3 -m aiosmtpd) on
// a free port of 127.0.0.1, with a handler that keeps every message's bytes
// exactly as they arrived (after the server's dot-unstuffing) and refuses
// recipients whose address starts with "refuse". With a user, the server
// offers AUTH (PLAIN, LOGIN; without TLS) and accepts only that user and
// password.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace vigil::sys {

class TestSmtpServer {
 public:
  struct Received {
    std::string mail_from;
    std::vector<std::string> rcpt_to;
    std::string content;  // the DATA bytes, CRLF line ends as sent
  };

  // Starts the server and waits until it accepts connections; nullptr with
  // `why_not` set when python3 with aiosmtpd is missing or it did not start.
  static std::unique_ptr<TestSmtpServer> Start(std::string* why_not, const std::string& auth_user = "",
                                               const std::string& auth_password = "");
  ~TestSmtpServer();
  TestSmtpServer(const TestSmtpServer&) = delete;
  TestSmtpServer& operator=(const TestSmtpServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // The messages accepted so far, in order.
  std::vector<Received> Messages() const;

  // A port of 127.0.0.1 that nothing listens on (bound, then closed).
  static int FreePort();

 private:
  TestSmtpServer() = default;
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace vigil::sys
