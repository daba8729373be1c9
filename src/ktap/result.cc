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

bool IsFailure(Status s) {
  return s == Status::kFail || s == Status::kXpass || s == Status::kTimeout ||
         s == Status::kError || s == Status::kCrash;
}

int Severity(Status s) {
  switch (s) {
    case Status::kNoTests: return 0;
    case Status::kSkip: return 1;
    case Status::kXfail: return 2;
    case Status::kPass: return 2;
    case Status::kXpass: return 3;
    case Status::kFail: return 4;
    case Status::kError: return 5;
    case Status::kTimeout: return 6;
    case Status::kCrash: return 7;
  }
  return 0;
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

void Counts::Merge(const Counts& other) {
  for (int i = 0; i < kNumStatuses; ++i) by_status[i] += other.by_status[i];
  errors += other.errors;
}

int64_t Counts::Total() const {
  int64_t t = 0;
  for (int i = 0; i < kNumStatuses; ++i) {
    if (static_cast<Status>(i) != Status::kNoTests) t += by_status[i];
  }
  return t;
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

}  // namespace vigil::ktap
