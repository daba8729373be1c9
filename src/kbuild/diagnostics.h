// Diagnostics of a kernel build's output. Fed the merged output of make as it
// arrives (any chunks, or line by line), it extracts every diagnostic of the
// tools a kernel build runs: gcc and clang ("file:line:col: warning: msg
// [-Wflag]", with gcc's "In function 'f':" context and the `note:` lines that
// follow a diagnostic attached to it), the linker ("ld: x.o: in function
// `f':" then "x.c:(.text+0x5): undefined reference to `g'", ld.lld's
// "error: ..." with its ">>> referenced by" lines), make ("make[2]: ***
// [scripts/Makefile.build:243: fs/x.o] Error 1": the failing target), modpost
// ("ERROR: modpost: ...") and Kconfig ("Kconfig:12:warning: ..."). Everything
// else (quiet command lines, source excerpts and carets) is skipped. No I/O,
// never throws; memory is bounded by the options.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::kbuild {

enum class Severity : uint8_t { kNote, kWarning, kError, kFatalError };
// "note", "warning", "error", "fatal error".
std::string_view SeverityName(Severity severity);

// Which tool said it.
enum class Tool : uint8_t { kCompiler, kLinker, kMake, kModpost, kKconfig };
std::string_view ToolName(Tool tool);  // "compiler", "linker", "make", ...

// A `note:` attached to the diagnostic it followed.
struct Note {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string message;
};

struct Diagnostic {
  Tool tool = Tool::kCompiler;
  std::string file;     // as printed; the program ("cc1", "collect2") for its own
                        // errors; "" when the tool gave none
  uint32_t line = 0;    // 0: none (linker without debug info, modpost, ...)
  uint32_t column = 0;  // 0: none
  Severity severity = Severity::kError;
  std::string message;   // without the trailing [-Wflag]
  std::string flag;      // "-Wunused-variable", "-Werror=format="; "" if none
  std::string function;  // gcc's "In function 'f':" / the linker's `f'; "" if none
  std::string target;    // make: the failing target ("fs/x.o"); else ""
  std::vector<Note> notes;
  // gcc's last (outermost) "inlined from 'g' at x.c:9:3" under "In function 'f',", as
  // "g at x.c:9:3": where a header's inline function (fortify's memcpy
  // checks, say) was called from; "" if none.
  std::string inlined_from;
};

// "file:line:col: severity: message [flag]", the parts that are known.
std::string FormatDiagnostic(const Diagnostic& diagnostic);

// What is kept. Errors have a budget of their own, so the error that
// failed a build is kept after any number of warnings; past a budget
// diagnostics are only counted. The byte budget counts the text kept
// (files, messages, notes): the output comes from strangers' code.
struct DiagnosticsOptions {
  size_t max_diagnostics = 10000;  // warnings and notes standing alone
  size_t max_errors = 1000;        // errors (and make's failing lines)
  size_t max_bytes = 8 << 20;      // the text of the kept warnings
  size_t max_error_bytes = 2 << 20;  // ... and errors
  size_t max_line_bytes = 4096;    // longer lines are cut
  size_t max_notes = 8;            // notes kept per diagnostic
};

class DiagnosticsParser {
 public:
  explicit DiagnosticsParser(DiagnosticsOptions options = {});

  // Output bytes, in any chunks.
  void Feed(std::string_view bytes);
  // One whole line, without its '\n'.
  void FeedLine(std::string_view line);
  // End of input: reads a last line without '\n'.
  void Finish();

  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  std::vector<Diagnostic> TakeDiagnostics() { return std::move(diagnostics_); }
  // Diagnostics seen beyond max_diagnostics.
  uint64_t dropped() const { return dropped_; }
  // Diagnostics of this severity seen, kept or dropped (attached notes excluded).
  uint64_t count(Severity severity) const { return counts_[static_cast<size_t>(severity)]; }
  // Errors (and fatal errors) seen of the tools, make's own lines excluded.
  uint64_t tool_errors() const { return tool_errors_; }
  uint64_t line_count() const { return lines_; }

 private:
  void Add(Diagnostic diagnostic);
  void AddNote(Note note);

  DiagnosticsOptions options_;
  std::vector<Diagnostic> diagnostics_;
  std::string partial_;   // a line not yet ended, at most max_line_bytes
  bool cutting_ = false;  // dropping the rest of an overlong line
  uint64_t dropped_ = 0;
  uint64_t counts_[4] = {};
  uint64_t tool_errors_ = 0;
  size_t errors_kept_ = 0, others_kept_ = 0;
  size_t error_bytes_ = 0, other_bytes_ = 0;  // text kept of each kind
  uint64_t lines_ = 0;
  bool last_kept_ = false;    // the last diagnostic was kept (notes go to it)
  bool last_error_ = false;   // ... and was an error
  std::string context_file_;  // gcc "FILE: In function 'f':" ("": any file)
  std::string context_function_;
  std::string context_inlined_;  // its last "inlined from" line, as Diagnostic::inlined_from
  std::string link_function_;  // ld "x.o: in function `f':", for the next line
  bool link_context_ = false;
  bool lld_open_ = false;  // ">>> " lines continue an ld.lld error
};

// Whole text at once.
std::vector<Diagnostic> ParseDiagnostics(std::string_view text, DiagnosticsOptions options = {});

// The key NewWarnings matches on: tool, file, severity, flag, function, the
// message with quotes unified (‘x’, `x' and 'x' alike) and numbers replaced
// by "N" (sizes, offsets, counts; digits inside identifiers stay), and the
// outermost caller it was inlined from, without gcc's clone suffixes (so a fortify warning in a new driver is not
// the one an old driver had in the same header). Lines and columns are not
// part of it.
std::string MatchKey(const Diagnostic& diagnostic);

// The diagnostics of `current` that `base` does not have, in `current`'s
// order: matched on MatchKey as multisets, so one more copy of a warning the
// base already had is new, and a warning that only moved is not.
std::vector<Diagnostic> NewWarnings(const std::vector<Diagnostic>& base,
                                    const std::vector<Diagnostic>& current);

}  // namespace vigil::kbuild
