#include "web/html.h"

#include <fmt/format.h>

#include "base/text.h"

namespace vigil::web {

std::string Escape(std::string_view raw) {
  std::string s = SanitizeUtf8(raw);
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '&': out += "&amp;"; continue;
      case '<': out += "&lt;"; continue;
      case '>': out += "&gt;"; continue;
      case '"': out += "&quot;"; continue;
      case '\'': out += "&#39;"; continue;
      case '\t':
      case '\n': out += static_cast<char>(c); continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += kReplacement;
      continue;
    }
    // C1 controls: U+0080..U+009F, encoded C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out += kReplacement;
      ++i;
      continue;
    }
    out += static_cast<char>(c);
  }
  return out;
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '.' || c == '_' || c == '~';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

bool UrlDecode(std::string_view s, std::string* out) {
  std::string r;
  r.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return false;
      int h = HexDigit(s[i + 1]);
      int l = HexDigit(s[i + 2]);
      if (h < 0 || l < 0) return false;
      r += static_cast<char>(h * 16 + l);
      i += 2;
    } else if (s[i] == '+') {
      r += ' ';
    } else {
      r += s[i];
    }
  }
  *out = std::move(r);
  return true;
}

std::string StripAnsi(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\x1b') {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.size()) break;
    char k = s[i + 1];
    if (k == '[') {
      // CSI: parameter and intermediate bytes (0x20..0x3f), then a final
      // byte (0x40..0x7e). Any other byte ends a broken sequence and stays:
      // a lone "ESC [" must not eat the text after it.
      size_t j = i + 2;
      while (j < s.size() && static_cast<unsigned char>(s[j]) >= 0x20 && static_cast<unsigned char>(s[j]) <= 0x3f) ++j;
      if (j < s.size() && static_cast<unsigned char>(s[j]) >= 0x40 && static_cast<unsigned char>(s[j]) <= 0x7e) {
        i = j;  // the whole sequence
      } else {
        i = j - 1;  // ESC [ and its parameters go; the byte that broke it stays
      }
    } else if (k == ']') {
      // OSC (a window title): up to BEL or ESC backslash, within 256 bytes;
      // one that does not end there is not one, and only its ESC goes.
      size_t j = i + 2;
      size_t limit = std::min(s.size(), i + 2 + 256);
      while (j < limit && s[j] != '\a' && s[j] != '\n' && !(s[j] == '\x1b' && j + 1 < s.size() && s[j + 1] == '\\')) ++j;
      if (j < limit && s[j] == '\a') {
        i = j;
      } else if (j < limit && s[j] == '\x1b') {
        i = j + 1;
      }
      // else: i stays at the ESC, which is dropped
    } else {
      // ESC and one more printable byte (ESC 7, ESC M, ...); a line break
      // or any other byte after a lone ESC stays.
      if (static_cast<unsigned char>(k) >= 0x20 && static_cast<unsigned char>(k) <= 0x7e) i += 1;
    }
  }
  return out;
}

std::string CapText(std::string_view s, size_t max_bytes, bool* cut) {
  if (cut) *cut = s.size() > max_bytes;
  if (s.size() <= max_bytes) return std::string(s);
  size_t n = max_bytes;
  // Back to the start of a UTF-8 character.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

std::string Duration(int64_t ms) {
  if (ms < 0) return "?";
  if (ms < 60'000) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

namespace {

void Attrs(std::string& out, std::initializer_list<std::string_view> attrs) {
  bool name = true;
  for (std::string_view a : attrs) {
    if (name) {
      out += ' ';
      out += a;
    } else {
      out += "=\"";
      out += Escape(a);
      out += '"';
    }
    name = !name;
  }
}

}  // namespace

Html& Html::Open(std::string_view tag, std::initializer_list<std::string_view> attrs) {
  out_ += '<';
  out_ += tag;
  Attrs(out_, attrs);
  out_ += '>';
  return *this;
}

Html& Html::Close(std::string_view tag) {
  out_ += "</";
  out_ += tag;
  out_ += '>';
  return *this;
}

Html& Html::Element(std::string_view tag, std::string_view text, std::initializer_list<std::string_view> attrs) {
  Open(tag, attrs);
  out_ += Escape(text);
  return Close(tag);
}

Html& Html::Link(std::string_view href, std::string_view text, std::initializer_list<std::string_view> attrs) {
  // No page to go to (a test an export did not write): the text alone, not
  // a link back to this page.
  if (href.empty()) {
    if (attrs.size() == 0) return Text(text);
    Open("span", attrs);
    out_ += Escape(text);
    return Close("span");
  }
  out_ += "<a href=\"";
  out_ += Escape(href);
  out_ += '"';
  Attrs(out_, attrs);
  out_ += '>';
  out_ += Escape(text);
  return Close("a");
}

Html& Html::Text(std::string_view text) {
  out_ += Escape(text);
  return *this;
}

Html& Html::Raw(std::string_view markup) {
  out_ += markup;
  return *this;
}

}  // namespace vigil::web
