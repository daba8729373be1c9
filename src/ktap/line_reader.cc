#include "ktap/line_reader.h"

#include <cstring>

#include "ktap/find_byte.h"

namespace vigil::ktap {
namespace {

inline std::string_view TrimTrailing(std::string_view s) {
  size_t n = s.size();
  // Every byte trimmed is <= ' ': most lines end in a byte above it.
  while (n > 0 && static_cast<unsigned char>(s[n - 1]) <= ' ' &&
         (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
    --n;
  }
  return s.substr(0, n);
}

}  // namespace

size_t LineReader::ReadUnprefixed(std::string_view bytes, LineBatch* batch, size_t max_lines) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  const size_t max_len = max_line_bytes_;
  size_t lines = 0;
  while (lines < max_lines) {
    size_t len = FindByte(p, static_cast<size_t>(end - p), '\n');
    if (p + len == end || len > max_len) break;  // for the general loop
    ReadLine& out = batch->Next();
    out.truncated_bytes = 0;
    out.kind = ReadLine::Kind::kKtap;
    out.starts_ktap = false;
    out.start_without_version = false;
    ClassifyLine(TrimTrailing(std::string_view(p, len)), &out.line);
    p += len + 1;
    ++lines;
  }
  line_no_ += lines;
  return static_cast<size_t>(p - bytes.data());
}

size_t LineReader::Read(std::string_view bytes, LineBatch* batch, size_t max_lines) {
  size_t consumed = 0;
  size_t lines = 0;
  while (!bytes.empty() && lines < max_lines) {
    if (started_ && prefix_.empty() && partial_.empty()) {
      // The common case: whole lines of unprefixed KTAP, in a tight loop.
      size_t before = batch->size;
      size_t n = ReadUnprefixed(bytes, batch, max_lines - lines);
      lines += batch->size - before;
      consumed += n;
      bytes.remove_prefix(n);
      if (bytes.empty() || lines >= max_lines) break;
    }
    const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
    size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - bytes.data()) : bytes.size();
    std::string_view piece = bytes.substr(0, len);
    if (partial_.empty() && nl && piece.size() <= max_line_bytes_) {
      Emit(piece, 0, false, batch);
    } else {
      size_t room = max_line_bytes_ > partial_.size() ? max_line_bytes_ - partial_.size() : 0;
      size_t take = piece.size() < room ? piece.size() : room;
      partial_.append(piece.data(), take);
      partial_dropped_ += piece.size() - take;
      if (nl) {
        Emit(partial_, partial_dropped_, true, batch);
        partial_.clear();
        partial_dropped_ = 0;
      }
    }
    if (!nl) {
      consumed += bytes.size();
      break;
    }
    ++lines;
    bytes.remove_prefix(len + 1);
    consumed += len + 1;
  }
  return consumed;
}

void LineReader::ReadOne(std::string_view line, LineBatch* batch) {
  size_t dropped = 0;
  if (line.size() > max_line_bytes_) {
    dropped = line.size() - max_line_bytes_;
    line = line.substr(0, max_line_bytes_);
  }
  Emit(line, dropped, false, batch);
}

void LineReader::Flush(LineBatch* batch) {
  if (partial_.empty() && partial_dropped_ == 0) return;
  Emit(partial_, partial_dropped_, true, batch);
  partial_.clear();
  partial_dropped_ = 0;
}

void LineReader::Emit(std::string_view raw, size_t truncated, bool spill, LineBatch* batch) {
  if (spill) {
    batch->spill.emplace_back(raw);
    raw = batch->spill.back();
  }
  ReadLine& out = batch->Next();
  ++line_no_;
  out.truncated_bytes = truncated > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(truncated);
  out.starts_ktap = false;
  out.start_without_version = false;
  std::string_view text = TrimTrailing(raw);
  if (!started_) {
    out.kind = ReadLine::Kind::kBeforeKtap;
    TryStart(text, &out);
    return;
  }
  std::string_view rest = text;
  if (!prefix_.empty() && !prefix_.Strip(text, &rest)) {
    out.kind = ReadLine::Kind::kNoise;
    out.line.set_body(text);
    return;
  }
  out.kind = ReadLine::Kind::kKtap;
  ClassifyLine(rest, &out.line);
}

// Looks for the first KTAP line in console output: a version line anywhere in
// the line (what precedes it becomes the console prefix), or failing that a
// result or plan at the start of a line.
void LineReader::TryStart(std::string_view text, ReadLine* out) {
  size_t from = 0;
  while (true) {
    size_t pos = text.find("TAP version ", from);
    if (pos == std::string_view::npos) break;
    size_t start = (pos > 0 && text[pos - 1] == 'K') ? pos - 1 : pos;
    if (ClassifyBody(text.substr(start), &out->line) == LineKind::kVersion) {
      std::string_view prefix = text.substr(0, start);
      // "# TAP version 13": the kselftest runner's nesting, not a console prefix.
      bool nesting = prefix.find('#') != std::string_view::npos &&
                     prefix.find_first_not_of(" \t#") == std::string_view::npos;
      if (!nesting) prefix_.Learn(prefix);
      started_ = true;
      std::string_view rest = text;
      if (!prefix_.empty()) prefix_.Strip(text, &rest);
      out->kind = ReadLine::Kind::kKtap;
      out->starts_ktap = true;
      ClassifyLine(rest, &out->line);
      return;
    }
    from = pos + 1;
  }
  LineKind kind = ClassifyBody(text, &out->line);
  if (kind == LineKind::kResult || kind == LineKind::kPlan) {
    started_ = true;
    out->kind = ReadLine::Kind::kKtap;
    out->starts_ktap = true;
    out->start_without_version = true;
    ClassifyLine(text, &out->line);
  }
}

}  // namespace vigil::ktap
