#include "base/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>

namespace vigil {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Eight bytes at a time: which of them need care. Each test is exact for
// the word as a whole (nonzero iff some byte matches), which is all the
// callers ask.
constexpr uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
uint64_t Word(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
constexpr uint64_t AnyZero(uint64_t w) { return (w - kOnes) & ~w & kHigh; }
constexpr uint64_t AnyEqual(uint64_t w, unsigned char c) { return AnyZero(w ^ (c * kOnes)); }
// Any byte below `n` (n <= 0x80).
constexpr uint64_t AnyBelow(uint64_t w, unsigned char n) { return (w - n * kOnes) & ~w & kHigh; }

#if defined(__SSE2__)
// Sixteen bytes at a time: a mask with bit k set when byte k needs care.
// Unlike the word tests, these are exact: their set of bytes is the
// complement of the caller's `plain`. A signed compare below 0x20 also
// catches every byte from 0x80 up.
using Vec = __m128i;
Vec Splat(char c) { return _mm_set1_epi8(c); }
Vec Eq(Vec v, char c) { return _mm_cmpeq_epi8(v, Splat(c)); }
Vec Or(Vec a, Vec b) { return _mm_or_si128(a, b); }
// Below 0x20 or from 0x80 up.
Vec ControlOrHigh(Vec v) { return _mm_cmplt_epi8(v, Splat(0x20)); }
unsigned Mask(Vec v) { return static_cast<unsigned>(_mm_movemask_epi8(v)); }
#endif

// The end of the run of bytes from s[i] on that `plain` passes: sixteen at
// a time while `care_vec` finds none of them (where SSE2 is there), then
// whole words that `care_word` passes and single bytes that `plain` does.
template <typename CareVec, typename CareWord, typename Plain>
size_t PlainRun(std::string_view s, size_t i, [[maybe_unused]] CareVec care_vec, CareWord care_word, Plain plain) {
#if defined(__SSE2__)
  for (; i + 16 <= s.size(); i += 16) {
    unsigned m = care_vec(_mm_loadu_si128(reinterpret_cast<const Vec*>(s.data() + i)));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
  }
#endif
  while (true) {
    while (i + 8 <= s.size() && care_word(Word(s.data() + i)) == 0) i += 8;
    if (i < s.size() && plain(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    return i;
  }
}

// An Append form: room for `bound` more bytes, `put` writes into it, the
// string is cut to what it wrote.
template <typename PutFn>
void AppendPut(std::string& out, size_t bound, PutFn put) {
  size_t old = out.size();
  out.resize(old + bound);
  out.resize(static_cast<size_t>(put(out.data() + old) - out.data()));
}

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
// tab and DEL by U+FFFD. Room for 3 bytes a byte is enough.
char* PutSanitized(char* out, std::string_view s, bool controls) {
  for (size_t i = 0; i < s.size();) {
    // A run of plain ASCII is copied at once.
    size_t j;
    if (controls) {
      j = PlainRun(
          s, i,
          [](auto v) {
#if defined(__SSE2__)
            return Mask(Or(_mm_andnot_si128(Eq(v, '\t'), ControlOrHigh(v)), Eq(v, 0x7F)));
#endif
          },
          [](uint64_t w) { return (w & kHigh) | AnyBelow(w, 0x20) | AnyEqual(w, 0x7F); },
          [](unsigned char c) { return c < 0x7F && (c >= 0x20 || c == '\t'); });
    } else {
      j = PlainRun(
          s, i,
          [](auto v) {
#if defined(__SSE2__)
            return Mask(v);
#endif
          },
          [](uint64_t w) { return w & kHigh; }, [](unsigned char c) { return c < 0x80; });
    }
    if (j > i) {
      out = PutBytes(out, s.substr(i, j - i));
      i = j;
      continue;
    }
    size_t n = ValidSequence(s, i);
    unsigned char c = static_cast<unsigned char>(s[i]);
    // C1 controls (U+0080..U+009F, e.g. CSI) act on terminals as ESC does.
    bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
    if (n == 0 || (controls && n == 1 && ((c < 0x20 && c != '\t') || c == 0x7F))) {
      out = PutBytes(out, kReplacement);
      ++i;
    } else if (controls && c1) {
      out = PutBytes(out, kReplacement);
      i += n;
    } else {
      out = PutBytes(out, s.substr(i, n));
      i += n;
    }
  }
  return out;
}

void AppendSanitized(std::string& out, std::string_view s, bool controls) {
  AppendPut(out, 3 * s.size(), [&](char* p) { return PutSanitized(p, s, controls); });
}

std::string Sanitize(std::string_view s, bool controls) {
  std::string out;
  AppendSanitized(out, s, controls);
  // Room was made for the worst case.
  if (out.capacity() > out.size() + out.size() / 2 + 64) out.shrink_to_fit();
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

char* PutXmlEscaped(char* out, std::string_view s) {
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
    size_t j = PlainRun(
        s, i,
        [](auto v) {
#if defined(__SSE2__)
          Vec control = _mm_andnot_si128(Or(Eq(v, '\n'), Eq(v, '\t')), ControlOrHigh(v));
          Vec markup = Or(Or(Eq(v, '&'), Eq(v, '<')), Or(Or(Eq(v, '>'), Eq(v, '"')), Eq(v, '\'')));
          return Mask(Or(Or(control, Eq(v, 0x7F)), markup));
#endif
        },
        [](uint64_t w) {
          return (w & kHigh) | AnyBelow(w, 0x20) | AnyEqual(w, 0x7F) | AnyEqual(w, '&') | AnyEqual(w, '<') |
                 AnyEqual(w, '>') | AnyEqual(w, '"') | AnyEqual(w, '\'');
        },
        [](unsigned char c) { return kPlain[c]; });
    if (j > i) {
      out = PutBytes(out, s.substr(i, j - i));
      i = j;
      continue;
    }
    size_t n = ValidSequence(s, i);
    if (n == 0) {
      out = PutBytes(out, kReplacement);
      ++i;
      continue;
    }
    if (n > 1) {
      // U+FFFE and U+FFFF are not XML characters.
      bool nonchar = n == 3 && static_cast<unsigned char>(s[i]) == 0xEF &&
                     static_cast<unsigned char>(s[i + 1]) == 0xBF &&
                     (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xBE;
      out = PutBytes(out, nonchar ? kReplacement : s.substr(i, n));
      i += n;
      continue;
    }
    char c = s[i++];
    switch (c) {
      case '&': out = PutBytes(out, "&amp;"); break;
      case '<': out = PutBytes(out, "&lt;"); break;
      case '>': out = PutBytes(out, "&gt;"); break;
      case '"': out = PutBytes(out, "&quot;"); break;
      case '\'': out = PutBytes(out, "&apos;"); break;
      case '\r': out = PutBytes(out, "&#13;"); break;
      default:
        // The other controls and DEL; line feed and tab are plain.
        out = PutBytes(out, kReplacement);
    }
  }
  return out;
}

void AppendXmlEscaped(std::string& out, std::string_view s) {
  AppendPut(out, XmlEscapedBound(s.size()), [&](char* p) { return PutXmlEscaped(p, s); });
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  AppendXmlEscaped(out, s);
  return out;
}

void AppendForTerminal(std::string& out, std::string_view s) { AppendSanitized(out, s, true); }

char* PutForTerminal(char* out, std::string_view s) { return PutSanitized(out, s, true); }

namespace {

// PutJsonString, or with `kLines` the '\n'-terminated lines of `s` as
// string literals with commas between them.
template <bool kLines>
char* PutJson(char* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out++ = '"';
  size_t i = 0;
  while (i < s.size()) {
    // A run of bytes that stand for themselves is copied at once.
    size_t j = PlainRun(
        s, i,
        [](auto v) {
#if defined(__SSE2__)
          return Mask(Or(ControlOrHigh(v), Or(Eq(v, '"'), Eq(v, '\\'))));
#endif
        },
        [](uint64_t w) { return (w & kHigh) | AnyBelow(w, 0x20) | AnyEqual(w, '"') | AnyEqual(w, '\\'); },
        [](unsigned char c) { return c >= 0x20 && c != '"' && c != '\\' && c < 0x80; });
    out = PutBytes(out, s.substr(i, j - i));
    i = j;
    if (i == s.size()) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = ValidSequence(s, i);
      out = PutBytes(out, n == 0 ? kReplacement : s.substr(i, n));
      i += n == 0 ? 1 : n;
      continue;
    }
    ++i;
    if (kLines && c == '\n') {
      // A line ends: the next one starts unless this was the last.
      if (i == s.size()) break;
      out = PutBytes(out, "\",\"");
      continue;
    }
    *out++ = '\\';
    switch (c) {
      case '"': *out++ = '"'; break;
      case '\\': *out++ = '\\'; break;
      case '\b': *out++ = 'b'; break;
      case '\f': *out++ = 'f'; break;
      case '\n': *out++ = 'n'; break;
      case '\r': *out++ = 'r'; break;
      case '\t': *out++ = 't'; break;
      default:
        out = PutBytes(out, "u00");
        *out++ = kHex[c >> 4];
        *out++ = kHex[c & 0xf];
    }
  }
  *out++ = '"';
  return out;
}

}  // namespace

char* PutJsonString(char* out, std::string_view s) { return PutJson<false>(out, s); }

char* PutJsonLines(char* out, std::string_view text) { return text.empty() ? out : PutJson<true>(out, text); }

void AppendJsonString(std::string& out, std::string_view s) {
  AppendPut(out, JsonStringBound(s.size()), [&](char* p) { return PutJsonString(p, s); });
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
