// Writing HTML from untrusted text: test names, subtest names, logs and
// crash reports are written by programs vigil does not trust, so every byte
// of them goes through one of these for the context it lands in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::web {

// Text and attribute values (double-quoted): & < > " ' are entities; invalid
// UTF-8, C0 controls but tab and newline, DEL and the C1 controls become
// U+FFFD. Safe in element content and in any quoted attribute.
std::string Escape(std::string_view s);

// A URL query value or path segment: every byte but A-Z a-z 0-9 - . _ ~ is
// percent-encoded (a '/' too), so the value cannot end the parameter, start
// another or change the scheme.
std::string UrlEncode(std::string_view s);
// The inverse; false (and *out untouched) on a bad escape.
bool UrlDecode(std::string_view s, std::string* out);

// Terminal escape sequences (CSI, OSC, two-byte ESC sequences) removed, as
// the log of a test that colors its output shows without them.
std::string StripAnsi(std::string_view s);

// `s` cut at `max_bytes` at a character boundary; *cut says whether it was.
std::string CapText(std::string_view s, size_t max_bytes, bool* cut = nullptr);

// "1.2s", "3m05s", "1h02m": a duration a person reads.
std::string Duration(int64_t ms);

// A small HTML writer: tags are written from constants, text and attribute
// values always through Escape.
class Html {
 public:
  // <tag attr="value" ...>; `attrs` alternate names (constants) and values
  // (escaped).
  Html& Open(std::string_view tag, std::initializer_list<std::string_view> attrs = {});
  Html& Close(std::string_view tag);
  // <tag attrs>text</tag>
  Html& Element(std::string_view tag, std::string_view text, std::initializer_list<std::string_view> attrs = {});
  // <a href="href" attrs>text</a>; href is escaped as an attribute (callers
  // build it from UrlEncode'd parts).
  Html& Link(std::string_view href, std::string_view text, std::initializer_list<std::string_view> attrs = {});
  Html& Text(std::string_view text);
  // Markup that is constant or was written by another Html: not escaped.
  Html& Raw(std::string_view markup);
  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace vigil::web
