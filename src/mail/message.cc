#include "mail/message.h"

#include <fmt/format.h>

#include <array>
#include <algorithm>
#include <cstdint>
#include <set>

#include "base/text.h"

namespace vigil::mail {
namespace {

constexpr size_t kFoldAt = 78;          // the line length folding keeps under (RFC 5322 2.1.1)
constexpr size_t kMaxLine = 998;        // the hard limit, headers and body
constexpr size_t kMaxEncodedWord = 75;  // RFC 2047 2
constexpr size_t kMaxPlainWord = 900;   // longer unbreakable words are encoded (and so split)
constexpr size_t kMaxQuotedPhrase = 60; // longer quoted names are encoded (and so folded)
constexpr size_t kMaxIdBytes = 900;     // a longer message id is dropped
constexpr size_t kMaxExtraName = 60;
constexpr std::string_view kEncodedPrefix = "=?UTF-8?B?";
constexpr std::string_view kEncodedSuffix = "?=";

// Headers Render writes itself: an extra header may not repeat them.
constexpr std::array<std::string_view, 13> kOwnHeaders = {
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references",
    "mime-version", "content-type", "content-transfer-encoding", "sender"};

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsAtext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool IsFoldableSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Length of the UTF-8 sequence led by `c` in valid UTF-8.
size_t CharLength(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  return 2;
}

// Header text from anywhere: valid UTF-8, no NUL, every run of spaces, tabs,
// CRs and LFs one space, trimmed. Other controls stay (they make the text
// encoded).
std::string CleanText(std::string_view raw) {
  std::string s = SanitizeUtf8(raw);
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (c == '\0') continue;
    if (IsFoldableSpace(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Printable ASCII that no reader would decode as an encoded word.
bool IsPlainAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return s.find("=?") == std::string_view::npos;
}

bool WordsFit(std::string_view s) {
  size_t word = 0;
  for (char c : s) {
    word = c == ' ' ? 0 : word + 1;
    if (word > kMaxPlainWord) return false;
  }
  return true;
}

std::string Base64(std::string_view in) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += kDigits[(v >> 6) & 63];
    out += kDigits[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kDigits[(v >> 18) & 63];
    out += kDigits[(v >> 12) & 63];
    out += i + 1 < in.size() ? kDigits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// One header field, built from tokens that are never split; a space before
// a token becomes a fold (CRLF SP) when the line would pass 78 characters.
class Field {
 public:
  explicit Field(std::string_view name) : text_(name) {
    text_ += ':';
    column_ = text_.size();
  }

  void Token(std::string_view token) {
    if (tokens_on_line_ > 0 && column_ + 1 + token.size() > kFoldAt) Fold();
    text_ += ' ';
    text_ += token;
    column_ += 1 + token.size();
    ++tokens_on_line_;
  }

  // `utf8` (valid UTF-8) as RFC 2047 B-encoded words of whole characters:
  // text that fits one word is kept whole (on the next line if need be:
  // some readers, Python's email among them, put a space between adjacent
  // encoded words of a display name); longer text fills what is left of the
  // line, then words of up to 75 characters.
  void Encoded(std::string_view utf8) {
    constexpr size_t kOverhead = kEncodedPrefix.size() + kEncodedSuffix.size();
    constexpr size_t kWordBytes = (kMaxEncodedWord - kOverhead) / 4 * 3;
    while (!utf8.empty()) {
      size_t room = column_ + 1 < kFoldAt ? kFoldAt - column_ - 1 : 0;
      room = std::min(room, kMaxEncodedWord);
      size_t max_bytes = room > kOverhead ? (room - kOverhead) / 4 * 3 : 0;
      if (utf8.size() > max_bytes && utf8.size() <= kWordBytes && tokens_on_line_ > 0) {
        Fold();
        continue;
      }
      if (max_bytes < 4) {
        if (tokens_on_line_ > 0) {
          Fold();
          continue;
        }
        max_bytes = kWordBytes;  // a long field name: its first line runs long
      }
      size_t n = 0;
      while (n < utf8.size()) {
        size_t len = CharLength(static_cast<unsigned char>(utf8[n]));
        if (n + len > max_bytes) break;
        n += len;
      }
      std::string word(kEncodedPrefix);
      word += Base64(utf8.substr(0, n));
      word += kEncodedSuffix;
      Token(word);
      utf8.remove_prefix(n);
    }
  }

  std::string Finish() && {
    text_ += "\r\n";
    return std::move(text_);
  }

 private:
  void Fold() {
    text_ += "\r\n";
    column_ = 0;
    tokens_on_line_ = 0;
  }

  std::string text_;
  size_t column_ = 0;
  int tokens_on_line_ = 0;
};

// Plain words, one token each (CleanText left single spaces between them).
void PlainWords(Field& f, std::string_view text) {
  while (!text.empty()) {
    size_t space = text.find(' ');
    f.Token(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
}

// Free text (a subject, an extra header's value).
void Unstructured(Field& f, std::string_view raw) {
  std::string text = CleanText(raw);
  if (text.empty()) return;
  if (IsPlainAscii(text) && WordsFit(text)) {
    PlainWords(f, text);
  } else {
    f.Encoded(text);
  }
}

// A display name: atoms as they are, other printable ASCII quoted, the rest
// (and long quoted names, which could not fold) encoded.
void Phrase(Field& f, std::string_view raw) {
  std::string text = CleanText(raw);
  if (text.empty()) return;
  if (!IsPlainAscii(text) || !WordsFit(text)) {
    f.Encoded(text);
    return;
  }
  bool atoms = true;
  for (char c : text) atoms = atoms && (c == ' ' || IsAtext(c));
  if (atoms) {
    PlainWords(f, text);
    return;
  }
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  if (quoted.size() > kMaxQuotedPhrase) {
    f.Encoded(text);
  } else {
    f.Token(quoted);
  }
}

// What is left of an address that is not an addr-spec: atext, dots and @.
std::string StripAddress(std::string_view email) {
  std::string out;
  for (char c : email.substr(0, 254)) {
    if (IsAtext(c) || c == '.' || c == '@') out += c;
  }
  return out;
}

void Mailbox(Field& f, const Address& a, bool last) {
  std::string spec = IsValidAddrSpec(a.email) ? a.email : StripAddress(a.email);
  std::string name = CleanText(a.name);
  if (name.empty()) {
    if (!spec.empty()) f.Token(last ? spec : spec + ",");
    return;
  }
  Phrase(f, name);
  if (!spec.empty()) f.Token("<" + spec + (last ? ">" : ">,"));
}

// A message id's printable characters but <> (and nothing when that leaves
// nothing, or too much).
std::string CleanId(std::string_view id) {
  std::string out;
  for (unsigned char c : id) {
    if (c > 0x20 && c < 0x7F && c != '<' && c != '>') out += static_cast<char>(c);
  }
  if (out.size() > kMaxIdBytes) out.clear();
  return out;
}

std::string RfcDate(std::time_t t) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900) {
    std::time_t zero = 0;
    gmtime_r(&zero, &tm);
  }
  return fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} +0000", kDays[tm.tm_wday % 7], tm.tm_mday,
                     kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

bool ValidFieldName(std::string_view name) {
  if (name.empty() || name.size() > kMaxExtraName) return false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7F || c == ':') return false;
  }
  std::string lower = LowerAscii(name);
  for (std::string_view own : kOwnHeaders) {
    if (lower == own) return false;
  }
  return true;
}

// Lines ending CRLF, each at most 998 octets (longer ones wrapped at a
// character boundary), valid UTF-8, no NUL.
std::string Body(std::string_view raw) {
  std::string text = SanitizeUtf8(raw);
  std::string out;
  out.reserve(text.size() + text.size() / 32 + 2);
  size_t line = 0;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '\0') {
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      out += "\r\n";
      line = 0;
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      continue;
    }
    size_t len = CharLength(static_cast<unsigned char>(c));
    if (line + len > kMaxLine) {
      out += "\r\n";
      line = 0;
    }
    out.append(text, i, len);
    line += len;
    i += len;
  }
  if (line > 0) out += "\r\n";
  return out;
}

}  // namespace

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string Render(const Message& m) {
  std::string out;
  {
    Field f("From");
    Mailbox(f, m.from, true);
    out += std::move(f).Finish();
  }
  std::set<std::string> seen;
  for (const auto* list : {&m.to, &m.cc}) {
    std::vector<const Address*> keep;
    for (const auto& a : *list) {
      if (IsValidAddrSpec(a.email) && seen.insert(LowerAscii(a.email)).second) keep.push_back(&a);
    }
    if (keep.empty()) continue;
    Field f(list == &m.to ? "To" : "Cc");
    for (size_t i = 0; i < keep.size(); ++i) Mailbox(f, *keep[i], i + 1 == keep.size());
    out += std::move(f).Finish();
  }
  {
    Field f("Subject");
    Unstructured(f, m.subject);
    out += std::move(f).Finish();
  }
  out += "Date: " + RfcDate(m.date != 0 ? m.date : std::time(nullptr)) + "\r\n";
  if (std::string id = CleanId(m.message_id); !id.empty()) {
    Field f("Message-ID");
    f.Token("<" + id + ">");
    out += std::move(f).Finish();
  }
  if (std::string id = CleanId(m.in_reply_to); !id.empty()) {
    Field f("In-Reply-To");
    f.Token("<" + id + ">");
    out += std::move(f).Finish();
  }
  {
    Field f("References");
    bool any = false;
    for (const auto& r : m.references) {
      if (std::string id = CleanId(r); !id.empty()) {
        f.Token("<" + id + ">");
        any = true;
      }
    }
    if (any) out += std::move(f).Finish();
  }
  for (const auto& [name, value] : m.extra_headers) {
    if (!ValidFieldName(name)) continue;
    Field f(name);
    Unstructured(f, value);
    out += std::move(f).Finish();
  }
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: 8bit\r\n";
  out += "\r\n";
  out += Body(m.body);
  return out;
}

std::string ReplySubject(std::string_view subject) {
  std::string folded;
  bool space = false;
  for (char c : subject) {
    if (IsFoldableSpace(c)) {
      space = true;
      continue;
    }
    if (space && !folded.empty()) folded += ' ';
    space = false;
    folded += c;
  }
  if (folded.size() >= 3 && LowerAscii(folded.substr(0, 3)) == "re:") return folded;
  return "Re: " + folded;
}

std::string NewMessageId(std::string_view unique, std::string_view domain) {
  std::string left = "vigil";
  if (!unique.empty()) left += '.';
  for (char c : unique) {
    if (c == '.') {
      if (left.back() != '.') left += '.';
    } else {
      left += IsAtext(c) ? c : '-';
    }
  }
  while (left.back() == '.') left.pop_back();
  std::string right;
  for (char c : domain) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (ok) {
      right += c;
    } else if (c == '.' && !right.empty() && right.back() != '.') {
      right += '.';
    }
  }
  while (!right.empty() && right.back() == '.') right.pop_back();
  if (right.empty()) right = "localhost.invalid";
  return left + "@" + right;
}

bool IsValidAddrSpec(std::string_view email) {
  if (email.empty() || email.size() > 254) return false;
  size_t at = email.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  auto dot_atom = [](std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '.') {
        if (s[i - 1] == '.') return false;
      } else if (!IsAtext(s[i])) {
        return false;
      }
    }
    return true;
  };
  return local.size() <= 64 && dot_atom(local) && dot_atom(domain);
}

namespace {

// One encoded word's text decoded, as `charset` says; false when it cannot be.
bool DecodeWord(std::string_view charset, char encoding, std::string_view text, std::string* out) {
  std::string cs = LowerAscii(charset.substr(0, charset.find('*')));  // RFC 2231 language dropped
  bool latin1 = cs == "iso-8859-1" || cs == "latin1";
  if (cs != "utf-8" && cs != "us-ascii" && !latin1) return false;
  std::string bytes;
  if (encoding == 'b' || encoding == 'B') {
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
      int v;
      if (c >= 'A' && c <= 'Z') v = c - 'A';
      else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
      else if (c >= '0' && c <= '9') v = c - '0' + 52;
      else if (c == '+') v = 62;
      else if (c == '/') v = 63;
      else if (c == '=') break;
      else return false;
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes += static_cast<char>((acc >> bits) & 0xFF);
      }
    }
  } else if (encoding == 'q' || encoding == 'Q') {
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '_') {
        bytes += ' ';
      } else if (text[i] == '=') {
        if (i + 2 >= text.size()) return false;
        int hi = HexDigit(text[i + 1]), lo = HexDigit(text[i + 2]);
        if (hi < 0 || lo < 0) return false;
        bytes += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        bytes += text[i];
      }
    }
  } else {
    return false;
  }
  if (latin1) {
    for (unsigned char c : bytes) {
      if (c < 0x80) {
        *out += static_cast<char>(c);
      } else {
        *out += static_cast<char>(0xC0 | (c >> 6));
        *out += static_cast<char>(0x80 | (c & 0x3F));
      }
    }
  } else {
    *out += bytes;
  }
  return true;
}

}  // namespace

std::string DecodeHeader(std::string_view value) {
  std::string out;
  size_t pending_space = std::string_view::npos;  // where the whitespace after a decoded word starts in `out`
  size_t i = 0;
  while (i < value.size()) {
    if (value.compare(i, 2, "=?") == 0) {
      // =?charset?e?text?=
      // Looked for within a bound (RFC 2047 allows 75 bytes a word), so a
      // header of unfinished words costs linear time, not quadratic.
      std::string_view word = value.substr(i, 512);
      size_t q1 = word.find('?', 2);
      size_t q2 = q1 == std::string_view::npos ? q1 : word.find('?', q1 + 1);
      size_t end = q2 == std::string_view::npos ? q2 : word.find("?=", q2 + 1);
      if (end != std::string_view::npos && q2 == q1 + 2) {
        q1 += i, q2 += i, end += i;
        std::string decoded;
        if (DecodeWord(value.substr(i + 2, q1 - i - 2), value[q1 + 1], value.substr(q2 + 1, end - q2 - 1),
                       &decoded)) {
          if (pending_space != std::string_view::npos) out.resize(pending_space);  // between two encoded words
          out += decoded;
          i = end + 2;
          pending_space = out.size();
          continue;
        }
      }
    }
    char c = value[i++];
    out += c;
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') pending_space = std::string_view::npos;
  }
  return out;
}

std::vector<std::string> Recipients(const Message& m) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto* list : {&m.to, &m.cc}) {
    for (const auto& a : *list) {
      if (IsValidAddrSpec(a.email) && seen.insert(LowerAscii(a.email)).second) out.push_back(a.email);
    }
  }
  return out;
}

Status Send(const sys::SmtpSettings& smtp, const Message& m, std::vector<sys::SmtpRefusal>* refusals,
            const std::vector<std::string>* only) {
  if (!IsValidAddrSpec(m.from.email)) {
    return Status::InvalidArgument(fmt::format("mail sender '{}': not an address", SanitizeLine(m.from.email)));
  }
  std::vector<std::string> recipients = Recipients(m);
  if (only) {
    std::erase_if(recipients, [&](const std::string& r) {
      return std::none_of(only->begin(), only->end(), [&](const std::string& o) { return LowerAscii(o) == LowerAscii(r); });
    });
  }
  if (recipients.empty()) return Status::InvalidArgument("mail without a valid recipient");
  return sys::SendMail(smtp, m.from.email, recipients, Render(m), refusals);
}

}  // namespace vigil::mail
