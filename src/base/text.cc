#include "base/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace vigil {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t ValidSequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned int cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return 0;
  }
  return n;
}

// Copies `s`, replacing invalid UTF-8 and, with `controls`, C0 controls but
// tab and DEL by U+FFFD.
void AppendSanitized(std::string& out, std::string_view s, bool controls) {
  for (size_t i = 0; i < s.size();) {
    // A run of plain ASCII is copied at once.
    size_t j = i;
    if (controls) {
      while (j < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[j]);
        if (c >= 0x7F || (c < 0x20 && c != '\t')) break;
        ++j;
      }
    } else {
      while (j < s.size() && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    }
    if (j > i) {
      out.append(s.data() + i, j - i);
      i = j;
      continue;
    }
    size_t n = ValidSequence(s, i);
    unsigned char c = static_cast<unsigned char>(s[i]);
    // C1 controls (U+0080..U+009F, e.g. CSI) act on terminals as ESC does.
    bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
    if (n == 0 || (controls && n == 1 && ((c < 0x20 && c != '\t') || c == 0x7F))) {
      out += kReplacement;
      ++i;
    } else if (controls && c1) {
      out += kReplacement;
      i += n;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
}

std::string Sanitize(std::string_view s, bool controls) {
  std::string out;
  out.reserve(s.size());
  AppendSanitized(out, s, controls);
  return out;
}

// `s` cut to at most `max` bytes at a character boundary, "..." added when cut.
std::string_view CutAt(std::string_view s, size_t max, bool* cut) {
  *cut = s.size() > max;
  if (!*cut) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t n = ValidSequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) { return Sanitize(s, false); }

std::string SanitizeForTerminal(std::string_view s) { return Sanitize(s, true); }

std::string SanitizeLine(std::string_view s) { return Sanitize(s, true); }

void AppendXmlEscaped(std::string& out, std::string_view s) {
  // Bytes that stand for themselves in XML text and attributes: printable
  // ASCII but the five markup characters, and line feed and tab.
  static constexpr auto kPlain = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x7F; ++c) t[c] = c != '&' && c != '<' && c != '>' && c != '"' && c != '\'';
    t['\n'] = t['\t'] = true;
    return t;
  }();
  for (size_t i = 0; i < s.size();) {
    // A run of them is copied at once.
    size_t j = i;
    while (j < s.size() && kPlain[static_cast<unsigned char>(s[j])]) ++j;
    if (j > i) {
      out.append(s.data() + i, j - i);
      i = j;
      continue;
    }
    size_t n = ValidSequence(s, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (n > 1) {
      // U+FFFE and U+FFFF are not XML characters.
      bool nonchar = n == 3 && static_cast<unsigned char>(s[i]) == 0xEF &&
                     static_cast<unsigned char>(s[i + 1]) == 0xBF &&
                     (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xBE;
      if (nonchar) {
        out += kReplacement;
      } else {
        out.append(s.data() + i, n);
      }
      i += n;
      continue;
    }
    char c = s[i++];
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\n': out += '\n'; break;
      case '\t': out += '\t'; break;
      case '\r': out += "&#13;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += kReplacement;
        } else {
          out += c;
        }
    }
  }
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  AppendXmlEscaped(out, s);
  return out;
}

void AppendForTerminal(std::string& out, std::string_view s) { AppendSanitized(out, s, true); }

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // A run of bytes that stand for themselves is copied at once; eight
    // bytes are looked at a time while none of them needs care.
    size_t j = i;
    while (j + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + j, 8);
      constexpr uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
      auto zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
      uint64_t care = (w & kHigh) | ((w - 0x20 * kOnes) & ~w & kHigh) | zero_byte(w ^ ('"' * kOnes)) |
                      zero_byte(w ^ ('\\' * kOnes));
      if (care != 0) break;
      j += 8;
    }
    while (j < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[j]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++j;
    }
    out.append(s.data() + i, j - i);
    i = j;
    if (i == s.size()) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = ValidSequence(s, i);
      if (n == 0) {
        out += kReplacement;
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out += '"';
}

std::string ShellQuote(std::string_view a) {
  // '#' starts a comment only at the start of a word.
  if (!a.empty() && a.front() != '#' &&
      a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%#") ==
          std::string_view::npos) {
    return std::string(a);
  }
  // Printable stretches go in '...'; controls, DEL and bytes outside valid
  // UTF-8 in $'\xHH' pieces; adjacent pieces make one word.
  std::string out;
  std::string plain;
  auto flush = [&] {
    if (plain.empty()) return;
    out += '\'';
    for (char c : plain) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
    plain.clear();
  };
  for (size_t i = 0; i < a.size();) {
    auto c = static_cast<unsigned char>(a[i]);
    size_t n = c < 0x80 ? 1 : ValidSequence(a, i);
    bool control = c < 0x20 || c == 0x7F;
    // C1 controls (U+0080..U+009F) act on terminals too.
    bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(a[i + 1]) < 0xA0;
    if (n == 0 || control || c1) {
      flush();
      out += "$'";
      for (size_t k = 0; k < std::max<size_t>(n, 1); ++k) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(a[i + k]));
      }
      out += "'";
      i += std::max<size_t>(n, 1);
    } else {
      plain.append(a.substr(i, n));
      i += n;
    }
  }
  flush();
  return out;
}

std::string EscapeMarkdown(std::string_view s, size_t max_bytes) {
  bool cut = false;
  std::string clean = SanitizeForTerminal(CutAt(s, max_bytes, &cut));
  std::string out;
  out.reserve(clean.size() + 16);
  for (char c : clean) {
    // CommonMark: any ASCII punctuation character may be backslash-escaped.
    if (c >= '!' && c <= '~' && !std::isalnum(static_cast<unsigned char>(c))) out += '\\';
    out += c;
  }
  if (cut) out += "\\.\\.\\.";
  return out;
}

std::string MarkdownCode(std::string_view s, size_t max_bytes) {
  bool cut = false;
  std::string clean = SanitizeForTerminal(CutAt(s, max_bytes, &cut));
  if (cut) clean += "...";
  size_t longest = 0, run = 0;
  for (char c : clean) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  std::string fence(longest + 1, '`');
  // One space inside each end is stripped by the reader: needed when the
  // text starts or ends with a backquote or a space.
  bool pad = !clean.empty() && clean.find_first_not_of(' ') != std::string::npos &&
             (clean.front() == '`' || clean.back() == '`' || clean.front() == ' ' || clean.back() == ' ');
  std::string out = fence;
  if (pad) out += ' ';
  out.append(clean.empty() ? std::string_view(" ") : std::string_view(clean));
  if (pad) out += ' ';
  out.append(fence);
  return out;
}

namespace {

std::string EscapeWorkflow(std::string_view s, bool property) {
  std::string out;
  // CR and LF are escaped; other controls and invalid UTF-8 go as on a terminal.
  auto piece = [&](std::string_view p) {
    for (char c : SanitizeForTerminal(p)) {
      if (c == '%') out += "%25";
      else if (property && c == ':') out += "%3A";
      else if (property && c == ',') out += "%2C";
      else out += c;
    }
  };
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\r' && s[i] != '\n') continue;
    piece(s.substr(start, i - start));
    out += s[i] == '\r' ? "%0D" : "%0A";
    start = i + 1;
  }
  piece(s.substr(start));
  return out;
}

}  // namespace

std::string EscapeWorkflowMessage(std::string_view s) { return EscapeWorkflow(s, false); }

std::string EscapeWorkflowProperty(std::string_view s) { return EscapeWorkflow(s, true); }

}  // namespace vigil
