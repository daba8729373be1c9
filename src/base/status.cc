#include "base/status.h"

namespace vigil {

std::string Status::ToString() const {
  const char* prefix = "";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: prefix = "invalid argument: "; break;
    case Code::kNotFound: prefix = "not found: "; break;
    case Code::kIOError: prefix = "IO error: "; break;
    case Code::kCorruption: prefix = "corruption: "; break;
    case Code::kInternal: prefix = "internal error: "; break;
  }
  return prefix + message_;
}

}  // namespace vigil
