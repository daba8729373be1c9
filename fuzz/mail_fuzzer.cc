// libFuzzer target for the e-mail renderer: arbitrary bytes as the subject,
// display names, addresses, message ids, an extra header and the body.
// The message must stay well-formed whatever they hold: CRLF line ends only
// (no bare LF or CR), no NUL, no line over 998 octets, valid UTF-8, every
// header line a field or its continuation, each of the headers Render owns
// present at most once (the mandatory ones exactly once), no Bcc; the
// recipients valid addr-specs; a new message id dot-atom text around one @;
// the subject decoded (RFC 2047) as a mail's is, and replied to, the same.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/text.h"
#include "mail/message.h"

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

void CheckMessage(const std::string& out) {
  Check(out.find('\0') == std::string::npos);
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\n') Check(i > 0 && out[i - 1] == '\r');
    if (out[i] == '\r') Check(i + 1 < out.size() && out[i + 1] == '\n');
  }
  Check(vigil::IsValidUtf8(out));
  size_t end = out.find("\r\n\r\n");
  Check(end != std::string::npos);
  std::map<std::string, int> count;
  size_t start = 0;
  bool first = true;
  for (size_t crlf; (crlf = out.find("\r\n", start)) != std::string::npos; start = crlf + 2) {
    Check(crlf - start <= 998);
    if (start > end) continue;  // the body: only line length and ends
    std::string_view line(out.data() + start, crlf - start);
    if (line.empty()) continue;  // the blank line ending the headers
    if (line[0] == ' ' || line[0] == '\t') {
      Check(!first);
      continue;
    }
    first = false;
    size_t colon = line.find(':');
    Check(colon != std::string_view::npos && colon > 0);
    for (char c : line.substr(0, colon)) Check(c > 0x20 && c < 0x7F);
    ++count[Lower(line.substr(0, colon))];
  }
  for (const char* one : {"from", "subject", "date", "mime-version", "content-type", "content-transfer-encoding"}) {
    Check(count[one] == 1);
  }
  for (const char* most_one : {"to", "cc", "message-id", "in-reply-to", "references"}) Check(count[most_one] <= 1);
  Check(count["bcc"] == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::mail;
  FuzzedDataProvider in(data, size);
  Message m;
  m.from = {in.ConsumeRandomLengthString(200), in.ConsumeBool() ? "ci@example.org" : in.ConsumeRandomLengthString(80)};
  m.to = {{in.ConsumeRandomLengthString(300), "dev@example.org"}, {"", in.ConsumeRandomLengthString(80)}};
  m.cc = {{in.ConsumeRandomLengthString(100), in.ConsumeRandomLengthString(80)}, {"List", "dev@example.org"}};
  m.subject = in.ConsumeRandomLengthString(2000);
  m.message_id = in.ConsumeRandomLengthString(100);
  m.in_reply_to = in.ConsumeRandomLengthString(100);
  m.references = {in.ConsumeRandomLengthString(100), m.in_reply_to};
  m.date = in.ConsumeIntegral<std::time_t>();
  std::string name = in.ConsumeRandomLengthString(80);
  m.extra_headers = {{name, in.ConsumeRandomLengthString(300)}, {"X-Vigil-Series", m.subject}};
  m.body = in.ConsumeRemainingBytesAsString();
  if (m.date == 0) m.date = 1;  // 0 means "now"

  CheckMessage(Render(m));
  for (const auto& r : Recipients(m)) Check(IsValidAddrSpec(r));

  std::string reply = ReplySubject(m.subject);
  Check(reply.find_first_of("\r\n\t") == std::string::npos);
  m.subject = reply;
  CheckMessage(Render(m));

  std::string id = NewMessageId(m.message_id, m.in_reply_to);
  Check(id.find('@') != std::string::npos && id.find('@') == id.rfind('@'));
  Check(id.find("..") == std::string::npos && id.back() != '.' && id.find(".@") == std::string::npos);
  for (char c : id) Check(c > 0x20 && c < 0x7F && std::string_view("()<>[]:;\\,\" ").find(c) == std::string_view::npos);

  // A subject read from a stranger's mail, decoded, then replied to: never
  // longer than what it decoded (encoded words only shrink, Latin-1 at most
  // doubles a byte of text that took three), and its reply well-formed.
  std::string decoded = DecodeHeader(m.subject);
  Check(decoded.size() <= 2 * m.subject.size());
  m.subject = ReplySubject(vigil::SanitizeUtf8(decoded));
  CheckMessage(Render(m));
  return 0;
}
