// The judgement commands' outputs: `vigil flakes`, `vigil history` and
// `vigil compare` as JSON (format_version 1, one line) and as text for people.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "judge/tables.h"

namespace vigil::report {

std::string FlakesJson(const judge::FlakesTable& t);
// The same as a value (every string valid UTF-8); without `all`, only the
// entries that need attention, and "hidden": {class: how many were left out}.
nlohmann::json FlakesJsonValue(const judge::FlakesTable& t, bool all = true);
// Without `all` only what needs attention (flaky, broken, regressed, fixed,
// quarantined) is listed, the rest counted in one line ("457 new, 1203
// stable: --all lists them"); the JSON has every entry.
std::string FlakesText(const judge::FlakesTable& t, bool all);

std::string HistoryJson(const judge::TestHistory& h);
// `path` as the user wrote it, for the heading.
std::string HistoryText(const judge::TestHistory& h, const std::string& path);

std::string CompareJson(const judge::RunComparison& c);
std::string CompareText(const judge::RunComparison& c);

}  // namespace vigil::report
