// Text hygiene for reports: test output is arbitrary bytes.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

namespace vigil {

// True when `s` is valid UTF-8 (no overlongs, surrogates or code points
// beyond U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Returns `s` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view s);

// SanitizeUtf8, and C0 controls (but tab) and DEL become U+FFFD, so test
// output cannot move the cursor, recolor or rewrite a terminal line.
std::string SanitizeForTerminal(std::string_view s);

// One line of valid UTF-8 without control characters (as SanitizeForTerminal:
// a newline, CR, ESC become U+FFFD), for line-based formats such as KTAP
// result lines and the kselftest runner's `selftests: COLL: TEST` lines.
std::string SanitizeLine(std::string_view s);

// Escapes `s` for XML 1.0 text and attributes; characters XML can't carry
// (most C0 controls, NUL) become U+FFFD; invalid UTF-8 is replaced too.
std::string XmlEscape(std::string_view s);
// The appending forms of XmlEscape and SanitizeForTerminal, for writers of
// big documents.
void AppendXmlEscaped(std::string& out, std::string_view s);
void AppendForTerminal(std::string& out, std::string_view s);
// The Put forms write into memory that has room for what they may write
// (their Bound) and return the end of what they wrote. PutBytes copies `s`
// as it is.
inline char* PutBytes(char* out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}
// AppendForTerminal into memory with room for ForTerminalBound(s.size())
// bytes (U+FFFD for each byte at most); returns the end of what it wrote.
constexpr size_t ForTerminalBound(size_t n) { return 3 * n; }
char* PutForTerminal(char* out, std::string_view s);
// The most bytes AppendXmlEscaped writes for `n` bytes (&quot; for one).
constexpr size_t XmlEscapedBound(size_t n) { return 6 * n; }
// AppendXmlEscaped into memory with room for XmlEscapedBound(s.size())
// bytes; returns the end of what it wrote.
char* PutXmlEscaped(char* out, std::string_view s);
// `s` as a JSON string literal: each byte that is not part of valid UTF-8
// becomes U+FFFD, as SanitizeUtf8 does; the same bytes as
// DumpJson(SanitizeUtf8(s)) writes (a unit test holds it to that).
void AppendJsonString(std::string& out, std::string_view s);
// The most bytes AppendJsonString writes for `n` bytes: a control byte is
// six (\u00XX), an invalid one three (U+FFFD), and the quotes.
constexpr size_t JsonStringBound(size_t n) { return 6 * n + 2; }
// AppendJsonString into memory with room for JsonStringBound(s.size())
// bytes; returns the end of what it wrote.
char* PutJsonString(char* out, std::string_view s);
// The lines of `text` ('\n' ends each; the last may lack it) as JSON string
// literals with a comma between them, as PutJsonString writes each: nothing
// for an empty text. Room for JsonStringBound(text.size()) bytes is enough.
char* PutJsonLines(char* out, std::string_view text);

// Quotes `arg` for a shell, so that pasting it passes exactly these bytes as
// one word and runs nothing: plain words stay as they are, anything else goes
// in single quotes ('\'' for a quote inside). Control characters and bytes
// that are not valid UTF-8 (which a terminal would act on or a paste would
// mangle) are written as $'\xHH' pieces (bash, zsh, ksh, POSIX.1-2024 sh), so
// the quoted text is one printable line.
std::string ShellQuote(std::string_view arg);

// CommonMark/GitHub Markdown text: every ASCII punctuation character is
// backslash-escaped (no emphasis, links, images, HTML, entities, tables or
// headings can start in it), controls and invalid UTF-8 become U+FFFD (one
// line), and it is cut at `max_bytes` (at a character boundary, "..." added).
std::string EscapeMarkdown(std::string_view s, size_t max_bytes = 300);

// `s` as a Markdown code span, shown literally: the fence is one backquote
// longer than any run of them in `s`, controls and invalid UTF-8 become
// U+FFFD, cut at `max_bytes` like EscapeMarkdown.
std::string MarkdownCode(std::string_view s, size_t max_bytes = 300);

// GitHub workflow commands (::error file=F,title=T::MESSAGE): the message
// escapes % CR LF (%25 %0D %0A), a property value also : and , (%3A %2C);
// other controls and invalid UTF-8 become U+FFFD.
std::string EscapeWorkflowMessage(std::string_view s);
std::string EscapeWorkflowProperty(std::string_view s);

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

// The value of a hexadecimal digit (either case); -1 for any other byte.
inline int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace vigil
