#include "ktap/result.h"

namespace vigil::ktap {

std::string_view StatusName(Status s) {
  switch (s) {
    case Status::kPass: return "PASS";
    case Status::kFail: return "FAIL";
    case Status::kSkip: return "SKIP";
    case Status::kXfail: return "XFAIL";
    case Status::kXpass: return "XPASS";
    case Status::kTimeout: return "TIMEOUT";
    case Status::kError: return "ERROR";
    case Status::kCrash: return "CRASH";
    case Status::kNoTests: return "NO_TESTS";
  }
  return "?";
}

std::string_view DirectiveName(Directive d) {
  switch (d) {
    case Directive::kNone: return "";
    case Directive::kSkip: return "SKIP";
    case Directive::kTodo: return "TODO";
    case Directive::kXfail: return "XFAIL";
    case Directive::kXpass: return "XPASS";
    case Directive::kTimeout: return "TIMEOUT";
    case Directive::kError: return "ERROR";
  }
  return "";
}

void TestLog::Append(std::string_view line, size_t max_lines, size_t max_line_bytes, size_t max_bytes) {
  if (lines_ >= max_lines || text_.size() >= max_bytes) {
    ++dropped_;
    return;
  }
  if (line.size() > max_line_bytes) {
    text_.append(line.data(), max_line_bytes);
    text_ += " [...]";
  } else {
    text_.append(line.data(), line.size());
  }
  text_.push_back('\n');
  ++lines_;
}

void TestLog::Splice(TestLog& other, size_t max_lines) {
  dropped_ += other.dropped_;
  other.dropped_ = 0;
  if (other.lines_ == 0) return;
  if (lines_ == 0 && other.lines_ <= max_lines) {
    if (other.text_.size() <= 4096 && text_.capacity() < other.text_.size()) {
      // A small log is copied into an exact allocation so that `other` keeps
      // its grown buffer for the next test, instead of growing a new one.
      text_.reserve(other.text_.size());
      text_.assign(other.text_);
      other.text_.clear();
    } else {
      text_.clear();
      text_.swap(other.text_);
    }
    lines_ = other.lines_;
  } else if (lines_ + other.lines_ <= max_lines) {
    text_ += other.text_;
    lines_ += other.lines_;
  } else {
    size_t pos = 0;
    while (pos < other.text_.size()) {
      size_t nl = other.text_.find('\n', pos);
      if (lines_ >= max_lines) {
        ++dropped_;
      } else {
        text_.append(other.text_, pos, nl - pos + 1);
        ++lines_;
      }
      pos = nl + 1;
    }
  }
  other.text_.clear();
  other.lines_ = 0;
  other.dropped_ = 0;
}

std::vector<std::string_view> TestLog::Lines() const {
  std::vector<std::string_view> out;
  out.reserve(lines_);
  std::string_view t = text_;
  while (!t.empty()) {
    size_t nl = t.find('\n');
    out.push_back(t.substr(0, nl));
    t.remove_prefix(nl + 1);
  }
  return out;
}

void TestNode::Reset() {
  name.clear();
  number = 0;
  status = Status::kCrash;
  directive = Directive::kNone;
  directive_text.clear();
  exit_code.reset();
  duration_ms.reset();
  has_result_line = false;
  ok = false;
  is_parent = false;
  bail_out = false;
  plan.reset();
  subtests.clear();
  dropped = 0;
  log.Clear();
  line = 0;
}

Status Counts::Aggregate() const {
  if (Total() == 0) return Status::kNoTests;
  if (Get(Status::kCrash) > 0) return Status::kCrash;
  if (Get(Status::kFail) + Get(Status::kTimeout) + Get(Status::kError) + Get(Status::kXpass) > 0) {
    return Status::kFail;
  }
  if (Get(Status::kPass) + Get(Status::kXfail) > 0) return Status::kPass;
  return Status::kSkip;
}

std::string DisplayName(std::string_view name, int64_t number, bool has_result_line) {
  if (!name.empty()) return std::string(name);
  std::string shown = "test " + std::to_string(number);
  return has_result_line ? shown : shown + " (no result)";
}

std::string DisplayName(const TestNode& n) { return DisplayName(n.name, n.number, n.has_result_line); }

}  // namespace vigil::ktap
