// How a bisection's result and a simulation read, as text for people and as
// JSON (format_version 1), for any front-end.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "bisect/search.h"

namespace vigil::report {

// The result a bisection recorded (BisectOutcome::result, or {"error": why}
// for one that ended in an error), for people.
std::string ConclusionText(const nlohmann::json& result);

// A simulation of `o` that gave `r`, stopping at `confidence`.
nlohmann::json SimulationJson(const bisect::SimOptions& o, const bisect::SimResult& r, double confidence);
std::string SimulationText(const bisect::SimOptions& o, const bisect::SimResult& r, double confidence);

}  // namespace vigil::report
