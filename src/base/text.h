// Text hygiene for reports: test output is arbitrary bytes.
#pragma once

#include <string>
#include <string_view>

namespace vigil {

// Returns `s` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view s);

// SanitizeUtf8, and C0 controls (but tab) and DEL become U+FFFD, so test
// output cannot move the cursor, recolor or rewrite a terminal line.
std::string SanitizeForTerminal(std::string_view s);

// Escapes `s` for XML 1.0 text and attributes; characters XML can't carry
// (most C0 controls, NUL) become U+FFFD; invalid UTF-8 is replaced too.
std::string XmlEscape(std::string_view s);

// Quotes `arg` for a POSIX shell: plain words stay as they are, anything else
// goes in single quotes ('\'' for a quote inside).
std::string ShellQuote(std::string_view arg);

// Calls `line` with each line of `text` (split on '\n', without it); a last
// line without '\n' counts, an empty text has no lines.
template <typename F>
void ForEachLine(std::string_view text, F&& line) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    line(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace vigil
