#include "base/text.h"

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
std::string Sanitize(std::string_view s, bool controls) {
  std::string out;
  out.reserve(s.size());
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
    if (n == 0 || (controls && n == 1 && ((c < 0x20 && c != '\t') || c == 0x7F))) {
      out += kReplacement;
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace

std::string SanitizeUtf8(std::string_view s) { return Sanitize(s, false); }

std::string SanitizeForTerminal(std::string_view s) { return Sanitize(s, true); }

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
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
  return out;
}

std::string ShellQuote(std::string_view a) {
  if (!a.empty() &&
      a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") ==
          std::string_view::npos) {
    return std::string(a);
  }
  std::string q = "'";
  for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace vigil
