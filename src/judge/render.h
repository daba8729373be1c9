// Text for people and JSON (format_version 1) for machines, for the verdict
// (shared by `vigil verdict` and `vigil run`).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "judge/verdict.h"

namespace vigil::judge {

nlohmann::json VerdictJson(const Verdict& v);
// The details, then the conclusion as the last line.
std::string VerdictText(const Verdict& v);

}  // namespace vigil::judge
