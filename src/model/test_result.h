// One test of a run with its attempts in order (more than one with retries).
#pragma once

#include <string>
#include <vector>

#include "model/records.h"

namespace vigil::model {

struct TestResult {
  std::string path;  // COLLECTION:TEST[#N]
  std::vector<AttemptRecord> attempts;
};

}  // namespace vigil::model
