#include "kbuild/diagnostics.h"

#include <cstring>
#include <unordered_map>
#include <utility>

namespace vigil::kbuild {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsIdent(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || IsDigit(c); }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Drops terminal escapes: CSI ("\e[01;35m", colours) and OSC ("\e]8;;url\e\\",
// the hyperlinks of newer compilers), which a build on a TTY carries.
std::string StripEscapes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\x1b') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '[') {
      size_t j = i + 2;
      while (j < s.size() && !(s[j] >= 0x40 && s[j] <= 0x7e)) ++j;
      i = j;  // the final byte
    } else if (i + 1 < s.size() && s[i + 1] == ']') {
      size_t j = i + 2;
      while (j < s.size() && s[j] != '\a' && !(s[j] == '\x1b' && j + 1 < s.size() && s[j + 1] == '\\')) ++j;
      i = j < s.size() && s[j] == '\x1b' ? j + 1 : j;
    } else {
      ++i;  // a two-byte escape
    }
  }
  return out;
}

// Digits at s[*pos], at most 9 of them (so no overflow); false if none.
bool ReadNumber(std::string_view s, size_t* pos, uint32_t* value) {
  size_t i = *pos;
  uint32_t v = 0;
  while (i < s.size() && IsDigit(s[i]) && i - *pos < 9) v = v * 10 + static_cast<uint32_t>(s[i++] - '0');
  if (i == *pos || (i < s.size() && IsDigit(s[i]))) return false;
  *pos = i;
  *value = v;
  return true;
}

struct Located {
  std::string_view file;
  uint32_t line = 0;
  uint32_t column = 0;
  std::string_view rest;  // after "line[:col]:" and one space
};

// "FILE:LINE[:COL]:REST": the first ":digits:" ends the file name. The file
// neither starts with a blank (gcc's "    inlined from", "  from x.c:1:") nor
// holds ": " (a tool's prefix).
bool ParseLocated(std::string_view s, Located* out) {
  if (s.empty() || IsSpace(s.front())) return false;
  for (size_t i = s.find(':', 1); i != std::string_view::npos; i = s.find(':', i + 1)) {
    if (i + 1 < s.size() && s[i + 1] == ' ') return false;
    size_t j = i + 1;
    uint32_t line = 0;
    if (!ReadNumber(s, &j, &line) || j >= s.size() || s[j] != ':') continue;
    out->file = s.substr(0, i);
    out->line = line;
    out->column = 0;
    size_t k = j + 1;
    uint32_t column = 0;
    if (ReadNumber(s, &k, &column) && k < s.size() && s[k] == ':') {
      out->column = column;
      j = k;
    }
    out->rest = s.substr(j + 1);
    if (!out->rest.empty() && out->rest.front() == ' ') out->rest.remove_prefix(1);
    return true;
  }
  return false;
}

// "fatal error: ", "error: ", "warning: ", "note: " (the space is optional:
// Kconfig writes "warning:msg"). Moves `rest` past it.
bool ReadSeverity(std::string_view* rest, Severity* severity) {
  static constexpr std::pair<std::string_view, Severity> kWords[] = {
      {"fatal error:", Severity::kFatalError},
      {"error:", Severity::kError},
      {"warning:", Severity::kWarning},
      {"note:", Severity::kNote},
  };
  for (const auto& [word, value] : kWords) {
    if (StartsWith(*rest, word)) {
      rest->remove_prefix(word.size());
      if (!rest->empty() && rest->front() == ' ') rest->remove_prefix(1);
      *severity = value;
      return true;
    }
  }
  return false;
}

// Splits a trailing " [-Wflag]" off the message.
void SplitFlag(std::string_view message, std::string* text, std::string* flag) {
  message = Trim(message);
  if (EndsWith(message, "]")) {
    size_t open = message.rfind(" [");
    if (open != std::string_view::npos && open + 2 < message.size() && message[open + 2] == '-') {
      *flag = std::string(message.substr(open + 2, message.size() - open - 3));
      *text = std::string(Trim(message.substr(0, open)));
      return;
    }
  }
  *text = std::string(message);
  flag->clear();
}

// A name between quotes of any style: ‘f’, 'f', `f', "f".
std::string Unquote(std::string_view s) {
  s = Trim(s);
  for (std::string_view q : {"\xe2\x80\x98", "'", "`", "\""})
    if (StartsWith(s, q)) {
      s.remove_prefix(q.size());
      break;
    }
  for (std::string_view q : {"\xe2\x80\x99", "'", "\""})
    if (EndsWith(s, q)) {
      s.remove_suffix(q.size());
      break;
    }
  return std::string(s);
}

std::string_view BaseName(std::string_view file) {
  size_t slash = file.rfind('/');
  return slash == std::string_view::npos ? file : file.substr(slash + 1);
}

bool IsKconfigFile(std::string_view file) {
  std::string_view base = BaseName(file);
  return StartsWith(base, "Kconfig") || EndsWith(base, "config");
}

// The linker's name before ": " ("ld", "/usr/bin/ld", "x86_64-linux-gnu-ld.bfd",
// "ld.lld"); "" when the line is not the linker's.
std::string_view LinkerPrefix(std::string_view line) {
  size_t colon = line.find(": ");
  if (colon == std::string_view::npos || colon == 0) return {};
  std::string_view tool = line.substr(0, colon);
  if (tool.find(' ') != std::string_view::npos) return {};
  size_t slash = tool.rfind('/');
  std::string_view base = slash == std::string_view::npos ? tool : tool.substr(slash + 1);
  for (std::string_view suffix : {".bfd", ".gold", ".lld"})
    if (EndsWith(base, suffix)) base.remove_suffix(suffix.size());
  if (base == "ld" || EndsWith(base, "-ld")) return tool;
  return {};
}

// "x.c:(.text+0x5): msg": the location of an object's section.
bool ParseSectionLocated(std::string_view s, std::string_view* file, std::string_view* message) {
  size_t open = s.find(":(");
  if (open == std::string_view::npos || open == 0 || IsSpace(s.front())) return false;
  size_t close = s.find("): ", open);
  if (close == std::string_view::npos) return false;
  *file = s.substr(0, open);
  *message = s.substr(close + 3);
  return true;
}

bool IsLinkerMessage(std::string_view message) {
  return message.find("undefined reference to") != std::string_view::npos ||
         message.find("multiple definition of") != std::string_view::npos ||
         message.find("relocation truncated") != std::string_view::npos;
}

// "make", "make[3]", "gmake[1]" then ": "; returns what follows or false.
bool ReadMakePrefix(std::string_view line, std::string_view* rest) {
  size_t i = 0;
  if (StartsWith(line, "make"))
    i = 4;
  else if (StartsWith(line, "gmake"))
    i = 5;
  else
    return false;
  if (i < line.size() && line[i] == '[') {
    size_t close = line.find(']', i);
    if (close == std::string_view::npos) return false;
    for (size_t k = i + 1; k < close; ++k)
      if (!IsDigit(line[k])) return false;
    i = close + 1;
  }
  if (line.substr(i, 2) != ": ") return false;
  *rest = line.substr(i + 2);
  return true;
}

// gcc's context line: "FILE: In function ‘f’:", "FILE: In member function
// ‘g’,", "FILE: At top level:". Sets *function ("" at top level).
bool ParseContext(std::string_view line, std::string_view* file, std::string* function) {
  if (line.empty() || IsSpace(line.front())) return false;
  size_t at = line.find(": At top level:");
  if (at != std::string_view::npos && at > 0 && at + 15 == line.size()) {
    *file = line.substr(0, at);
    function->clear();
    return true;
  }
  std::string_view tail;
  if (StartsWith(line, "In ") && !StartsWith(line, "In file included from")) {
    // "In function 'f',\n    inlined from 'g' at x.c:5:9:": gcc names no
    // file; the context is the next diagnostic's, whatever its file.
    *file = {};
    tail = line.substr(3);
  } else {
    size_t in = line.find(": In ");
    if (in == std::string_view::npos || in == 0) return false;
    *file = line.substr(0, in);
    tail = line.substr(in + 5);
  }
  if (tail.empty() || (tail.back() != ':' && tail.back() != ',')) return false;
  size_t word = tail.find("function ");
  if (word == std::string_view::npos) return false;
  *function = Unquote(tail.substr(word + 9, tail.size() - word - 10));
  return true;
}

bool IsSourceExcerpt(std::string_view line) {
  // gcc: "    6 |   return foo(x);", "      |          ^~~".
  size_t i = 0;
  while (i < line.size() && IsSpace(line[i])) ++i;
  while (i < line.size() && IsDigit(line[i])) ++i;
  while (i < line.size() && IsSpace(line[i])) ++i;
  return i > 0 && i < line.size() && line[i] == '|';
}

}  // namespace

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kNote:
      return "note";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
    case Severity::kFatalError:
      return "fatal error";
  }
  return "error";
}

std::string_view ToolName(Tool tool) {
  switch (tool) {
    case Tool::kCompiler:
      return "compiler";
    case Tool::kLinker:
      return "linker";
    case Tool::kMake:
      return "make";
    case Tool::kModpost:
      return "modpost";
    case Tool::kKconfig:
      return "kconfig";
  }
  return "compiler";
}

std::string FormatDiagnostic(const Diagnostic& d) {
  std::string out;
  if (!d.file.empty()) {
    out += d.file;
    if (d.line > 0) out += ":" + std::to_string(d.line);
    if (d.column > 0) out += ":" + std::to_string(d.column);
    out += ": ";
  } else if (d.tool != Tool::kCompiler) {
    out += std::string(ToolName(d.tool)) + ": ";
  }
  out += SeverityName(d.severity);
  out += ": ";
  out += d.message;
  if (!d.flag.empty()) out += " [" + d.flag + "]";
  if (!d.target.empty()) out += " (target " + d.target + ")";
  if (!d.inlined_from.empty()) out += " (inlined from " + d.inlined_from + ")";
  return out;
}

DiagnosticsParser::DiagnosticsParser(DiagnosticsOptions options) : options_(options) {
  if (options_.max_line_bytes == 0) options_.max_line_bytes = 1;
}

void DiagnosticsParser::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const char* nl = static_cast<const char*>(std::memchr(bytes.data(), '\n', bytes.size()));
    size_t take = nl ? static_cast<size_t>(nl - bytes.data()) : bytes.size();
    if (!cutting_) {
      size_t room = options_.max_line_bytes - partial_.size();
      partial_.append(bytes.data(), std::min(take, room));
      if (take > room) cutting_ = true;
    }
    if (!nl) return;
    bytes.remove_prefix(take + 1);
    FeedLine(partial_);
    partial_.clear();
    cutting_ = false;
  }
}

void DiagnosticsParser::Finish() {
  if (!partial_.empty()) FeedLine(partial_);
  partial_.clear();
  cutting_ = false;
}

void DiagnosticsParser::Add(Diagnostic diagnostic) {
  ++counts_[static_cast<size_t>(diagnostic.severity)];
  const bool error = diagnostic.severity >= Severity::kError;
  if (error && diagnostic.tool != Tool::kMake) ++tool_errors_;
  size_t bytes = diagnostic.file.size() + diagnostic.message.size() + diagnostic.flag.size() +
                 diagnostic.function.size() + diagnostic.target.size() + diagnostic.inlined_from.size();
  size_t& kept = error ? errors_kept_ : others_kept_;
  size_t& kept_bytes = error ? error_bytes_ : other_bytes_;
  if (kept >= (error ? options_.max_errors : options_.max_diagnostics) ||
      kept_bytes + bytes > (error ? options_.max_error_bytes : options_.max_bytes)) {
    ++dropped_;
    last_kept_ = false;
    return;
  }
  ++kept;
  kept_bytes += bytes;
  last_error_ = error;
  diagnostics_.push_back(std::move(diagnostic));
  last_kept_ = true;
}

void DiagnosticsParser::AddNote(Note note) {
  if (last_kept_ && !diagnostics_.empty()) {
    auto& notes = diagnostics_.back().notes;
    size_t bytes = note.file.size() + note.message.size();
    size_t& kept_bytes = last_error_ ? error_bytes_ : other_bytes_;
    if (notes.size() < options_.max_notes &&
        kept_bytes + bytes <= (last_error_ ? options_.max_error_bytes : options_.max_bytes)) {
      kept_bytes += bytes;
      notes.push_back(std::move(note));
    }
    return;
  }
  if (!diagnostics_.empty() || dropped_ > 0) return;  // its diagnostic was dropped
  // A note that follows nothing stands alone.
  Diagnostic d;
  d.file = std::move(note.file);
  d.line = note.line;
  d.column = note.column;
  d.severity = Severity::kNote;
  d.message = std::move(note.message);
  Add(std::move(d));
  last_kept_ = false;  // later notes do not attach to a note
}

void DiagnosticsParser::FeedLine(std::string_view raw) {
  ++lines_;
  if (raw.size() > options_.max_line_bytes) raw = raw.substr(0, options_.max_line_bytes);
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  std::string cleaned;
  if (raw.find('\x1b') != std::string_view::npos) {
    cleaned = StripEscapes(raw);
    raw = cleaned;
  }
  std::string_view line = raw;

  // ld.lld's ">>> referenced by x.c:5" lines belong to its last error.
  if (lld_open_ && StartsWith(line, ">>> ")) {
    AddNote(Note{"", 0, 0, std::string(Trim(line.substr(4)))});
    return;
  }
  lld_open_ = false;
  if (line.empty() || IsSourceExcerpt(line)) return;

  std::string_view rest;
  if (ReadMakePrefix(line, &rest)) {
    link_context_ = false;
    context_file_.clear();
    context_function_.clear();
    context_inlined_.clear();
    if (StartsWith(rest, "*** ")) {
      rest.remove_prefix(4);
      if (StartsWith(rest, "Waiting for unfinished jobs")) return;
      Diagnostic d;
      d.tool = Tool::kMake;
      d.severity = Severity::kError;
      size_t close = rest.rfind("] ");
      if (!rest.empty() && rest.front() == '[' && close != std::string_view::npos) {
        std::string_view inside = rest.substr(1, close - 1);
        Located at;
        if (ParseLocated(inside, &at)) {
          d.file = std::string(at.file);
          d.line = at.line;
          d.target = std::string(at.rest);
        } else {
          d.target = std::string(inside);
        }
        d.message = std::string(Trim(rest.substr(close + 2)));
      } else {
        d.message = std::string(Trim(rest));
      }
      Add(std::move(d));
    } else if (StartsWith(rest, "warning: ")) {
      Diagnostic d;
      d.tool = Tool::kMake;
      d.severity = Severity::kWarning;
      d.message = std::string(Trim(rest.substr(9)));
      Add(std::move(d));
    }
    return;
  }

  for (auto [prefix, severity] : {std::pair{std::string_view("ERROR: modpost: "), Severity::kError},
                                  std::pair{std::string_view("WARNING: modpost: "), Severity::kWarning}}) {
    if (!StartsWith(line, prefix)) continue;
    Diagnostic d;
    d.tool = Tool::kModpost;
    d.severity = severity;
    d.message = std::string(Trim(line.substr(prefix.size())));
    // ERROR: modpost: "sym" [drivers/x.ko] undefined!
    size_t open = d.message.find(" [");
    size_t close = open == std::string::npos ? open : d.message.find(']', open);
    if (close != std::string::npos) d.file = d.message.substr(open + 2, close - open - 2);
    Add(std::move(d));
    return;
  }
  if (StartsWith(line, "WARNING: unmet direct dependencies detected for ")) {
    Diagnostic d;
    d.tool = Tool::kKconfig;
    d.severity = Severity::kWarning;
    d.message = std::string(Trim(line.substr(9)));
    Add(std::move(d));
    return;
  }

  if (std::string_view tool = LinkerPrefix(line); !tool.empty()) {
    rest = line.substr(tool.size() + 2);
    Diagnostic d;
    d.tool = Tool::kLinker;
    Severity severity = Severity::kError;
    if (ReadSeverity(&rest, &severity)) {
      // ld.lld: "error: undefined symbol: foo"; ld: "warning: ...".
      d.severity = severity;
      d.message = std::string(Trim(rest));
      lld_open_ = true;
      link_context_ = false;
      Add(std::move(d));
      return;
    }
    size_t in = rest.find(": in function ");
    if (in != std::string_view::npos && EndsWith(rest, ":")) {
      link_context_ = true;
      link_function_ = Unquote(rest.substr(in + 14, rest.size() - in - 15));
      return;
    }
    d.severity = Severity::kError;
    std::string_view file, message;
    Located at;
    if (ParseSectionLocated(rest, &file, &message)) {
      // "ld: x.c:(.text+0x9): undefined reference to `h'": GNU ld's second
      // and later references in the function named above, prefixed again.
      // One from a data section is in no function, and ends it.
      d.file = std::string(file);
      d.message = std::string(Trim(message));
      bool code = rest.substr(file.size()).rfind(":(.text", 0) == 0;
      if (!code) link_context_ = false;
      if (link_context_) d.function = link_function_;
    } else {
      link_context_ = false;  // another message of the linker's ends it
      if (ParseLocated(rest, &at)) {
        d.file = std::string(at.file);
        d.line = at.line;
        d.message = std::string(Trim(at.rest));
      } else {
        d.message = std::string(Trim(rest));
      }
    }
    Add(std::move(d));
    return;
  }

  std::string_view file;
  std::string function;
  if (ParseContext(line, &file, &function)) {
    context_file_ = std::string(file);
    context_function_ = std::move(function);
    context_inlined_.clear();
    link_context_ = false;
    return;
  }
  // "    inlined from 'g' at x.c:9:3:" (or ',' when more follow) under a
  // file-less "In function 'f',": gcc lists the callers innermost first, so
  // the last names the outermost one, the driver's function (the first may
  // be another header wrapper, memcpy_toio).
  if (std::string_view t = Trim(line); StartsWith(t, "inlined from ") && context_file_.empty() &&
                                         !context_function_.empty()) {
    if (t.back() == ':' || t.back() == ',') {
      t = t.substr(13, t.size() - 14);
      size_t at = t.rfind(" at ");
      if (at != std::string_view::npos) context_inlined_ = Unquote(t.substr(0, at)) + std::string(t.substr(at));
    }
    return;
  }

  Located at;
  if (ParseLocated(line, &at)) {
    Severity severity;
    rest = at.rest;
    if (ReadSeverity(&rest, &severity)) {
      link_context_ = false;
      if (severity == Severity::kNote) {
        Note note{std::string(at.file), at.line, at.column, {}};
        std::string flag;
        SplitFlag(rest, &note.message, &flag);
        AddNote(std::move(note));
        return;
      }
      Diagnostic d;
      d.tool = IsKconfigFile(at.file) ? Tool::kKconfig : Tool::kCompiler;
      d.file = std::string(at.file);
      d.line = at.line;
      d.column = at.column;
      d.severity = severity;
      SplitFlag(rest, &d.message, &d.flag);
      if (context_file_.empty() || at.file == context_file_) {
        d.function = context_function_;
        d.inlined_from = context_inlined_;
      }
      Add(std::move(d));
      return;
    }
    if (StartsWith(BaseName(at.file), "Kconfig")) {
      // Kconfig's parser: "net/Kconfig:12: syntax error".
      Diagnostic d;
      d.tool = Tool::kKconfig;
      d.file = std::string(at.file);
      d.line = at.line;
      d.message = std::string(Trim(at.rest));
      Add(std::move(d));
      return;
    }
    if (link_context_ || IsLinkerMessage(at.rest)) {
      // The line after "ld: x.o: in function `f':", with debug info.
      Diagnostic d;
      d.tool = Tool::kLinker;
      d.file = std::string(at.file);
      d.line = at.line;
      d.message = std::string(Trim(at.rest));
      if (link_context_) d.function = link_function_;
      Add(std::move(d));
      return;
    }
  }
  std::string_view message;
  if (ParseSectionLocated(line, &file, &message) && (link_context_ || IsLinkerMessage(message))) {
    Diagnostic d;
    d.tool = Tool::kLinker;
    d.file = std::string(file);
    d.message = std::string(Trim(message));
    if (link_context_) d.function = link_function_;
    Add(std::move(d));
    return;
  }

  // A program's own diagnostic, without a file: "cc1: error: ...",
  // "gcc: error: unrecognized command-line option", "collect2: error: ...".
  size_t colon = line.find(": ");
  if (colon != std::string_view::npos && colon > 0 &&
      line.substr(0, colon).find(' ') == std::string_view::npos) {
    rest = line.substr(colon + 2);
    Severity severity;
    if (ReadSeverity(&rest, &severity) && severity != Severity::kNote) {
      Diagnostic d;
      d.file = std::string(line.substr(0, colon));
      d.severity = severity;
      SplitFlag(rest, &d.message, &d.flag);
      link_context_ = false;
      Add(std::move(d));
      return;
    }
  }
  // Anything else is not a diagnostic. A quiet command ("  CC      x.o") or
  // a line at the margin ("compilation terminated.", "1 warning generated.")
  // ends a compiler's output, and its function context with it; an include
  // chain or gcc's indented "inlined from" lines do not.
  bool quiet_command = StartsWith(line, "  ") && line.size() > 2 && line[2] >= 'A' && line[2] <= 'Z';
  if (quiet_command || (!IsSpace(line.front()) && !StartsWith(line, "In file included from"))) {
    context_file_.clear();
    context_function_.clear();
    context_inlined_.clear();
    link_context_ = false;
  }
}

std::vector<Diagnostic> ParseDiagnostics(std::string_view text, DiagnosticsOptions options) {
  DiagnosticsParser parser(options);
  parser.Feed(text);
  parser.Finish();
  return parser.TakeDiagnostics();
}

std::string MatchKey(const Diagnostic& d) {
  std::string key;
  key += ToolName(d.tool);
  key += '\x1f';
  std::string_view file = d.file;
  while (StartsWith(file, "./")) file.remove_prefix(2);
  key += file;
  key += '\x1f';
  key += SeverityName(d.severity);
  key += '\x1f';
  key += d.flag;
  key += '\x1f';
  key += d.function;
  // The caller without gcc's clone suffixes (f.constprop.0, f.isra.0,
  // f.part.0: which one depends on optimisation elsewhere in the file).
  std::string caller = d.inlined_from;
  if (size_t at = caller.find(" at "); at != std::string::npos) {
    size_t dot = caller.substr(0, at).find('.');
    if (dot != std::string::npos) caller.erase(dot, at - dot);
  }
  // The message, then the caller, each with quotes unified and numbers as N.
  for (std::string_view m : {std::string_view(d.message), std::string_view(caller)}) {
    key += '\x1f';
    for (size_t i = 0; i < m.size();) {
      char c = m[i];
      bool after_ident = !key.empty() && IsIdent(key.back()) && key.back() != '\x1f';
      if (StartsWith(m.substr(i), "\xe2\x80\x98") || StartsWith(m.substr(i), "\xe2\x80\x99")) {
        key += '\'';
        i += 3;
      } else if (c == '`') {
        key += '\'';
        ++i;
      } else if (c == '0' && i + 2 < m.size() && (m[i + 1] == 'x' || m[i + 1] == 'X') && IsHex(m[i + 2]) &&
                 !after_ident) {
        key += 'N';
        i += 2;
        while (i < m.size() && IsHex(m[i])) ++i;
      } else if (IsDigit(c) && !after_ident) {
        key += 'N';
        while (i < m.size() && IsDigit(m[i])) ++i;
      } else {
        key += c;
        ++i;
      }
    }
  }
  return key;
}

std::vector<Diagnostic> NewWarnings(const std::vector<Diagnostic>& base,
                                    const std::vector<Diagnostic>& current) {
  std::unordered_map<std::string, size_t> seen;
  for (const Diagnostic& d : base) ++seen[MatchKey(d)];
  std::vector<Diagnostic> out;
  for (const Diagnostic& d : current) {
    auto it = seen.find(MatchKey(d));
    if (it != seen.end() && it->second > 0) {
      --it->second;
      continue;
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace vigil::kbuild
