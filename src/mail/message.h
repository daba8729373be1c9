// A plain-text e-mail (RFC 5322, MIME text/plain UTF-8, 8bit) made from
// values that may come from strangers (subjects and names from Patchwork):
// nothing in them can add, end or break a header.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "sys/smtp.h"

namespace vigil::mail {

struct Address {
  std::string name;   // display name, any bytes (may be empty)
  std::string email;  // addr-spec: local@domain
};

struct Message {
  Address from;
  std::vector<Address> to, cc;
  std::string subject;
  std::string message_id;                // without <>; empty: no Message-ID
  std::string in_reply_to;               // without <>; empty: none
  std::vector<std::string> references;   // without <>
  std::time_t date = 0;                  // 0: the time of Render
  std::string body;                      // UTF-8, '\n' line ends
  std::vector<std::pair<std::string, std::string>> extra_headers;  // e.g. X-Vigil-Series
};

// The whole message, CRLF line ends, ready for SMTP (not dot-stuffed).
// Headers: From, To, Cc, Subject, Date (RFC 5322, UTC), Message-ID,
// In-Reply-To, References, the extra headers, MIME-Version, Content-Type:
// text/plain; charset=utf-8, Content-Transfer-Encoding: 8bit. In every
// header: invalid UTF-8 replaced, CR/LF/tab runs folded into one space, NUL
// dropped; a subject, value or display name that is not plain printable
// ASCII (or looks like an encoded word) is RFC 2047-encoded (=?UTF-8?B?..?=,
// words of at most 75 characters); display names are quoted when they need
// it; lines are folded under 78 characters where there is room to and are
// never longer than 998. Addresses that are not plain addr-specs
// (IsValidAddrSpec) are left out of To and Cc, an address given twice is
// written once; a From that is not one has its stray characters removed (Send
// refuses it). Message ids are cut to their printable characters and dropped
// when nothing is left. Extra headers with an invalid name or the name of a
// header written here are left out. A To or Cc that would be empty is not
// written. Body: invalid UTF-8 replaced, NUL dropped, CR, LF and CRLF line
// ends made CRLF, lines longer than 998 octets wrapped at a character
// boundary, a last line end added.
std::string Render(const Message& m);

// "Re: " + subject unless it already starts with "Re:" (any case); runs of
// whitespace (CR and LF included) folded into one space, trimmed.
std::string ReplySubject(std::string_view subject);

// A header value as read from a mail (a Patchwork mbox's Subject), its RFC
// 2047 encoded words ("=?UTF-8?B?...?=", "=?iso-8859-1?Q?...?=") decoded:
// UTF-8 and US-ASCII as they are, ISO-8859-1 made UTF-8; a word in another
// charset, or one that does not decode, is left as it was. The whitespace
// between two encoded words goes (RFC 2047 6.2). The result is not checked
// for valid UTF-8.
std::string DecodeHeader(std::string_view value);

// "vigil.<unique>@<domain>": `unique` with every character that is not atext
// made '-' (dots kept, never two in a row), `domain` reduced to letters,
// digits, '-' and '.' ("localhost.invalid" when nothing is left).
std::string NewMessageId(std::string_view unique, std::string_view domain);

// True for a plain addr-spec as SMTP and every mail reader take it: a
// dot-atom local part (at most 64 octets), '@', a dot-atom domain, ASCII,
// at most 254 octets. Quoted local parts and address literals are refused.
bool IsValidAddrSpec(std::string_view email);

// `s` with ASCII letters in lower case: how addresses are compared here.
std::string LowerAscii(std::string_view s);

// The addr-specs of To and Cc that are valid, each once (compared without
// regard to case), in order.
std::vector<std::string> Recipients(const Message& m);

// Renders `m` and sends it with sys::SendMail from m.from.email to
// Recipients(m), or only to those of them in `only` when given (the ones a
// server refused for now the first time; the headers stay the message's).
// InvalidArgument when From is not a valid addr-spec or no recipient is
// left. `refusals`: as sys::SendMail gives them.
Status Send(const sys::SmtpSettings& smtp, const Message& m, std::vector<sys::SmtpRefusal>* refusals = nullptr,
            const std::vector<std::string>* only = nullptr);

}  // namespace vigil::mail
