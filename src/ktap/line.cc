#include "ktap/line.h"

#include <bit>
#include <cstring>

#include "ktap/find_byte.h"

namespace vigil::ktap {
namespace {

constexpr int64_t kMaxNumber = 1'000'000'000'000LL;

bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Literal prefixes have their size known at compile time, so the comparison
// is inlined rather than a call to memcmp.
template <size_t N>
inline bool StartsWith(std::string_view s, const char (&p)[N]) {
  return s.size() >= N - 1 && std::memcmp(s.data(), p, N - 1) == 0;
}

bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

inline std::string_view TrimLeft(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  return s.substr(i);
}

inline std::string_view TrimRight(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && IsSpace(s[n - 1])) --n;
  return s.substr(0, n);
}

// Parses a decimal number at the start of `*s`, advancing it. Values above
// kMaxNumber are clamped so hostile input can't overflow.
inline bool ParseNumber(std::string_view* s, int64_t* out) {
  size_t i = 0;
  int64_t v = 0;
  while (i < s->size() && IsDigit((*s)[i])) {
    if (v <= kMaxNumber) v = v * 10 + ((*s)[i] - '0');
    ++i;
  }
  if (i == 0) return false;
  *out = v > kMaxNumber ? kMaxNumber : v;
  s->remove_prefix(i);
  return true;
}

bool IsWordEnd(std::string_view s, size_t at) {
  return at >= s.size() || !IsAlnum(s[at]);
}

// Whether `t` starts with `word` (lower-case letters) in any case. OR-ing
// 0x20 lower-cases 'A'-'Z' and maps no other byte onto a lower-case letter.
template <size_t N>
inline bool StartsWithLetters(std::string_view t, const char (&word)[N]) {
  if (t.size() < N - 1) return false;
  for (size_t i = 0; i < N - 1; ++i) {
    if ((t[i] | 0x20) != word[i]) return false;
  }
  return true;
}

// ... as a whole word.
template <size_t N>
inline bool KeywordAt(std::string_view t, const char (&word)[N]) {
  return StartsWithLetters(t, word) && IsWordEnd(t, N - 1);
}

// Parses the text after '#' on a result line: a directive keyword, matched
// case-insensitively ("# skip" and "# SKIP"), kselftest's `exit=N`, and a
// `time=` annotation anywhere.
void ParseDirective(std::string_view text, Line* out) {
  std::string_view t = TrimLeft(text);
  if (t.empty()) return;
  Directive directive = Directive::kNone;
  size_t len = 0;
  switch (t[0] | 0x20) {
    case 's':
      if (KeywordAt(t, "skip")) directive = Directive::kSkip, len = 4;
      break;
    case 't':
      if (KeywordAt(t, "todo")) {
        directive = Directive::kTodo, len = 4;
      } else if (KeywordAt(t, "timeout")) {
        directive = Directive::kTimeout, len = 7;
      }
      break;
    case 'x':
      if (KeywordAt(t, "xfail")) {
        directive = Directive::kXfail, len = 5;
      } else if (KeywordAt(t, "xpass")) {
        directive = Directive::kXpass, len = 5;
      }
      break;
    case 'e':
      if (KeywordAt(t, "error")) {
        directive = Directive::kError, len = 5;
      } else if (StartsWithLetters(t, "exit") && t.size() > 4 && t[4] == '=') {
        std::string_view rest = t.substr(5);
        bool neg = !rest.empty() && rest[0] == '-';
        if (neg) rest.remove_prefix(1);
        int64_t code = 0;
        if (ParseNumber(&rest, &code)) {
          if (code > 1'000'000) code = 1'000'000;
          out->set_exit_code(static_cast<int>(neg ? -code : code));
        }
      }
      break;
    default:
      break;
  }
  if (directive == Directive::kNone) {
    out->set_duration_ms(FindDurationMs(t));
    return;
  }
  out->directive = directive;
  std::string_view rest = t.substr(len);
  if (!rest.empty() && rest[0] == ':') rest.remove_prefix(1);
  out->set_directive_text(TrimRight(TrimLeft(rest)));
  out->set_duration_ms(FindDurationMs(rest));
}

// ok|not ok N [N2 ]["- "]DESC[ # DIRECTIVE]
bool ParseResult(std::string_view s, Line* out) {
  bool ok;
  if (StartsWith(s, "ok")) {
    ok = true;
    s.remove_prefix(2);
  } else if (StartsWith(s, "not ok")) {
    ok = false;
    s.remove_prefix(6);
  } else {
    return false;
  }
  if (s.empty() || s[0] != ' ') return false;
  s = TrimLeft(s);
  int64_t number = 0;
  if (!ParseNumber(&s, &number)) return false;
  if (!s.empty() && !IsSpace(s[0])) return false;  // "ok 1x" is not a result
  out->kind = LineKind::kResult;
  out->ok = ok;
  out->number = number;
  s = TrimLeft(s);
  // Newer kselftest runners print a second number: "ok 12 3 selftests: ...".
  if (!s.empty() && IsDigit(s[0])) {
    std::string_view t = s;
    int64_t second = 0;
    if (ParseNumber(&t, &second) && StartsWith(t, " selftests: ")) s = t.substr(1);
  }
  if (StartsWith(s, "- ")) {
    s.remove_prefix(2);
  } else if (s == "-") {
    s = {};
  }
  // The description ends at the first '#' that starts a directive or comment
  // ("\#" is an escaped hash and stays in the description).
  size_t hash = FindByte(s.data(), s.size(), '#');
  while (hash < s.size() && hash > 0 && s[hash - 1] == '\\') {
    hash += 1 + FindByte(s.data() + hash + 1, s.size() - hash - 1, '#');
  }
  if (hash >= s.size()) {
    out->set_name(TrimRight(s));
  } else {
    out->set_name(TrimRight(s.substr(0, hash)));
    ParseDirective(s.substr(hash + 1), out);
  }
  return true;
}

bool ParsePlan(std::string_view s, Line* out) {
  if (!StartsWith(s, "1..")) return false;
  s.remove_prefix(3);
  int64_t n = 0;
  if (!ParseNumber(&s, &n)) return false;
  s = TrimLeft(s);
  if (!s.empty() && s[0] != '#') return false;
  out->kind = LineKind::kPlan;
  out->number = n;
  if (!s.empty()) {
    std::string_view t = TrimLeft(s.substr(1));
    if (KeywordAt(t, "skip")) {
      out->directive = Directive::kSkip;
      out->set_directive_text(TrimLeft(t.substr(4)));
    } else {
      out->set_directive_text(t);
    }
  }
  return true;
}

bool ParseVersion(std::string_view s, Line* out) {
  bool ktap;
  if (StartsWith(s, "KTAP version ")) {
    ktap = true;
    s.remove_prefix(13);
  } else if (StartsWith(s, "TAP version ")) {
    ktap = false;
    s.remove_prefix(12);
  } else {
    return false;
  }
  int64_t v = 0;
  if (!ParseNumber(&s, &v) || !s.empty()) return false;
  out->kind = LineKind::kVersion;
  out->ktap = ktap;
  out->number = v;
  return true;
}

}  // namespace

void NestKey::Truncate(uint32_t len) {
  if (len >= len_) return;
  len_ = len;
  marks_lo_ &= LowBits64(len);
  marks_hi_ &= len > 64 ? LowBits32(len - 64) : 0;
}

std::string NestKey::ToString() const {
  std::string s(len_, ' ');
  for (uint32_t i = 0; i < len_; ++i) {
    if (IsMarker(i)) s[i] = '#';
  }
  return s;
}

void Line::set_duration_ms(std::optional<int64_t> ms) {
  if (!ms) {
    duration_ms_ = -1;
  } else {
    duration_ms_ = *ms > INT32_MAX ? INT32_MAX : static_cast<int32_t>(*ms);
  }
}

std::optional<int64_t> FindDurationMs(std::string_view text) {
  // Found by its '=', which is rare in directive text ('t' is not).
  if (text.size() < 5) return std::nullopt;
  for (size_t eq = 4;; ++eq) {
    eq += FindByte(text.data() + eq, text.size() - eq, '=');
    if (eq >= text.size()) break;
    if (std::memcmp(text.data() + eq - 4, "time", 4) != 0) continue;
    std::string_view t = text.substr(eq + 1);
    int64_t whole = 0;
    if (!ParseNumber(&t, &whole)) continue;
    int64_t frac_num = 0, frac_den = 1;
    if (!t.empty() && t[0] == '.') {
      t.remove_prefix(1);
      while (!t.empty() && IsDigit(t[0])) {
        if (frac_den < 1'000'000) {
          frac_num = frac_num * 10 + (t[0] - '0');
          frac_den *= 10;
        }
        t.remove_prefix(1);
      }
    }
    if (StartsWith(t, "ms")) return whole + frac_num / frac_den;
    if (StartsWith(t, "s") && IsWordEnd(t, 1)) {
      return whole * 1000 + frac_num * 1000 / frac_den;
    }
  }
  return std::nullopt;
}

namespace {

// ClassifyBody(), inlined into ClassifyLine().
[[gnu::always_inline]] inline LineKind ClassifyBodyInline(std::string_view s, Line* out) {
  out->kind = LineKind::kOther;
  out->set_body(s);
  out->directive = Directive::kNone;
  if (s.empty()) {
    out->kind = LineKind::kBlank;
    return out->kind;
  }
  switch (s[0]) {
    case 'o':
    case 'n':
      ParseResult(s, out);
      break;
    case '1':
      ParsePlan(s, out);
      break;
    case 'K':
    case 'T':
      ParseVersion(s, out);
      break;
    case 'B':
      if (StartsWith(s, "Bail out!")) {
        out->kind = LineKind::kBailOut;
        out->set_name(TrimLeft(s.substr(9)));
      }
      break;
    case '#':
      if (StartsWith(s, "# Subtest: ")) {
        out->kind = LineKind::kSubtestHeader;
        out->set_name(TrimRight(TrimLeft(s.substr(11))));
      } else if (s == "# Subtest:") {
        out->kind = LineKind::kSubtestHeader;
      } else {
        out->kind = LineKind::kDiagnostic;
      }
      break;
    default:
      break;
  }
  return out->kind;
}

}  // namespace

LineKind ClassifyBody(std::string_view s, Line* out) { return ClassifyBodyInline(s, out); }

namespace {

// Leading spaces of `p[0..n)`, eight at a time where the bytes allow.
size_t CountSpaces(const char* p, size_t n) {
  size_t i = 0;
  if constexpr (std::endian::native == std::endian::little) {
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      uint64_t diff = w ^ 0x2020202020202020ULL;
      if (diff != 0) return i + static_cast<size_t>(std::countr_zero(diff)) / 8;
    }
  }
  while (i < n && p[i] == ' ') ++i;
  return i;
}

// Whether ClassifyBody() can find a version, plan, result or Bail out! in a
// body starting with `c`: only such lines make `# ` markers nesting.
bool MayBeStructural(char c) {
  return c == 'o' || c == 'n' || c == '1' || c == 'K' || c == 'T' || c == 'B';
}

}  // namespace

void ClassifyLine(std::string_view text, Line* out) {
  if (text.size() > Line::kMaxBytes) text = text.substr(0, Line::kMaxBytes);
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  // The key is built in a local: stores through `out` could alias `text`.
  NestKey key;
  std::string_view body = text;  // the common case: no indentation, no marker
  // Set while the last `# ` marker may still be nesting (what follows it
  // might be structural).
  const char* last_marker = nullptr;
  NestKey key_before_last_marker;
  if (begin != end && (*begin == ' ' || *begin == '\t' || *begin == '#')) {
    const char* p = begin + CountSpaces(begin, text.size());
    key.AddSpaces(static_cast<uint32_t>(p - begin));
    // Walk the leading whitespace and `# ` markers once. A marker is nesting
    // (kselftest runner prefix) only when what finally follows is structural;
    // otherwise the last '#' starts a diagnostic or a `# Subtest:` header.
    size_t col = static_cast<size_t>(p - begin);
    for (; p != end; ++p) {
      if (*p == ' ') {
        key.AddSpaces(1);
        ++col;
      } else if (*p == '\t') {
        size_t next = (col / 8 + 1) * 8;
        key.AddSpaces(static_cast<uint32_t>(next - col));
        col = next;
      } else if (*p == '#' && p + 1 != end && p[1] == ' ') {
        key_before_last_marker = key;
        last_marker = p;
        key.AddMarker();
        col += 2;
        ++p;
      } else {
        break;
      }
    }
    body = std::string_view(p, static_cast<size_t>(end - p));
    if (last_marker != nullptr && (p == end || !MayBeStructural(*p))) {
      // The last marker belongs to the line itself: "# diag", "# Subtest: x".
      key = key_before_last_marker;
      body = std::string_view(last_marker, static_cast<size_t>(end - last_marker));
      last_marker = nullptr;
    }
  }
  out->key = key;
  LineKind kind = ClassifyBodyInline(body, out);
  if (last_marker == nullptr) return;
  switch (kind) {
    case LineKind::kVersion:
    case LineKind::kPlan:
    case LineKind::kResult:
    case LineKind::kBailOut:
      return;  // every marker was nesting
    default:
      break;
  }
  // Not structural after all: the last marker belongs to the line itself.
  out->key = key_before_last_marker;
  ClassifyBody(std::string_view(last_marker, static_cast<size_t>(end - last_marker)), out);
}

}  // namespace vigil::ktap
