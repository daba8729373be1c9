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

}  // namespace vigil
