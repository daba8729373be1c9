#include "ktap/prefix.h"

#include <cstring>

namespace vigil::ktap {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "[ <digits>.<digits>]"; returns the length matched or 0.
size_t MatchTimestamp(std::string_view s) {
  if (s.empty() || s[0] != '[') return 0;
  size_t i = 1;
  while (i < s.size() && s[i] == ' ') ++i;
  size_t d = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == d || i >= s.size() || s[i] != '.') return 0;
  ++i;
  d = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == d || i >= s.size() || s[i] != ']') return 0;
  return i + 1;
}

// "[ T123]" or "[ C1]" (CONFIG_PRINTK_CALLER).
size_t MatchCaller(std::string_view s) {
  if (s.empty() || s[0] != '[') return 0;
  size_t i = 1;
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size() || (s[i] != 'T' && s[i] != 'C')) return 0;
  ++i;
  size_t d = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == d || i >= s.size() || s[i] != ']') return 0;
  return i + 1;
}

// "<6>" syslog level.
size_t MatchLevel(std::string_view s) {
  if (s.empty() || s[0] != '<') return 0;
  size_t i = 1;
  size_t d = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == d || i >= s.size() || s[i] != '>') return 0;
  return i + 1;
}

// Control bytes (but tab) and bytes outside ASCII.
bool IsResetGarbage(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u >= 0x7f;
}

}  // namespace

void ConsolePrefix::Learn(std::string_view prefix) {
  tokens_.clear();
  // What a serial console emits at reset (NUL, 0xff, other bytes that are
  // not text), and anything before it, is not a prefix the lines carry.
  size_t i = 0;
  for (size_t k = 0; k < prefix.size(); ++k)
    if (IsResetGarbage(prefix[k])) i = k + 1;
  while (i < prefix.size()) {
    std::string_view rest = prefix.substr(i);
    size_t n;
    if ((n = MatchTimestamp(rest)) > 0) {
      tokens_.push_back({Kind::kTimestamp, {}});
    } else if ((n = MatchCaller(rest)) > 0) {
      tokens_.push_back({Kind::kCaller, {}});
    } else if ((n = MatchLevel(rest)) > 0) {
      tokens_.push_back({Kind::kLevel, {}});
    } else {
      n = 1;
      if (tokens_.empty() || tokens_.back().kind != Kind::kLiteral) {
        tokens_.push_back({Kind::kLiteral, {}});
      }
      tokens_.back().literal.push_back(prefix[i]);
    }
    i += n;
  }
}

bool ConsolePrefix::Strip(std::string_view line, std::string_view* rest) const {
  size_t pos = 0;
  for (const Token& t : tokens_) {
    std::string_view s = line.substr(pos);
    size_t n = 0;
    switch (t.kind) {
      case Kind::kTimestamp: n = MatchTimestamp(s); break;
      case Kind::kCaller: n = MatchCaller(s); break;
      case Kind::kLevel: n = MatchLevel(s); break;
      case Kind::kLiteral:
        if (s.size() >= t.literal.size() &&
            std::memcmp(s.data(), t.literal.data(), t.literal.size()) == 0) {
          n = t.literal.size();
        }
        break;
    }
    if (n == 0) return false;
    pos += n;
  }
  *rest = line.substr(pos);
  return true;
}

}  // namespace vigil::ktap
