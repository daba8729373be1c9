// Sending e-mail over SMTP (libcurl): one message, its envelope, a server.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::sys {

struct SmtpSettings {
  std::string url;          // smtp://host:port or smtps://host:port (implicit TLS)
  bool starttls = false;    // require STARTTLS on smtp:// (the transfer fails without it)
  std::string user;         // AUTH when non-empty
  std::string password;
  int timeout_seconds = 60; // the whole exchange; 0: no limit
  // Recipients the server refuses are passed over and the message goes to
  // the others (at least one must be accepted); false: one refusal and
  // nothing is sent.
  bool deliver_to_accepted = false;
};

// A recipient the server refused, with its reply ("450 4.2.0 <a@b>:
// greylisted"): 4xx for now (greylisting, a quota), 5xx for good.
struct SmtpRefusal {
  std::string recipient;  // as sent in RCPT TO; "" for a refusal of another command
  std::string reply;
  bool temporary() const { return !reply.empty() && reply[0] == '4'; }
};

// Sends `message` (a whole RFC 5322 message, CRLF line ends) from `from`
// (an addr-spec, without <>) to every recipient (addr-specs). The message
// goes as it is: libcurl dot-stuffs lines starting with '.' itself, so the
// caller must not. TLS certificates are verified. Errors: InvalidArgument for
// a URL that is not smtp:// or smtps://, no recipients, an address with
// whitespace, controls or <>, or a user to authenticate over plain smtp://
// without STARTTLS to another host than this one (the password would travel
// in clear text); IOError when a user is set and the server did not
// authenticate it (libcurl would send without AUTH to a server offering
// none: the message is held back); naming the server (scheme://host:port,
// credentials left out) with curl's words and the server's last reply, never
// the password. `refusals` (when given) gets each refusal of the server (at
// most 1000), whether it took the message or not: a RCPT TO's names its
// recipient (with deliver_to_accepted, those were passed over when the
// message was taken); another command's (AUTH, MAIL FROM, DATA) has none.
// With deliver_to_accepted, a message whose every recipient was refused for
// good (5xx) is InvalidArgument with those replies.
Status SendMail(const SmtpSettings& smtp, const std::string& from, const std::vector<std::string>& recipients,
                const std::string& message, std::vector<SmtpRefusal>* refusals = nullptr);

}  // namespace vigil::sys
