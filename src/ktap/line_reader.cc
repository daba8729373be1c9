#include "ktap/line_reader.h"

namespace vigil::ktap {

using line_reader_internal::TrimTrailing;

std::string_view LineReader::Continue(std::string_view piece) {
  size_t room = max_line_bytes_ > partial_.size() ? max_line_bytes_ - partial_.size() : 0;
  size_t take = piece.size() < room ? piece.size() : room;
  partial_.append(piece.data(), take);
  partial_dropped_ += piece.size() - take;
  return partial_;
}

const ReadLine& LineReader::Emit(std::string_view raw, size_t truncated) {
  ReadLine& out = scratch_;
  ++line_no_;
  out.truncated_bytes = truncated > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(truncated);
  out.starts_ktap = false;
  out.start_without_version = false;
  std::string_view text = TrimTrailing(raw);
  if (!started_) {
    out.kind = ReadLine::Kind::kBeforeKtap;
    TryStart(text, &out);
    return out;
  }
  std::string_view rest = text;
  if (!prefix_.empty() && !prefix_.Strip(text, &rest)) {
    out.kind = ReadLine::Kind::kNoise;
    out.line.set_body(text);
    return out;
  }
  out.kind = ReadLine::Kind::kKtap;
  ClassifyLine(rest, &out.line);
  return out;
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
