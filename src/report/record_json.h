// Records of the store as JSON, one shape wherever they are shown: a series
// of the patch loop (`vigil series --json`, the dashboard's /api/v1/series)
// and a kernel build and its diagnostics (`vigil build --json`,
// /api/v1/builds).
#pragma once

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/records.h"

namespace vigil::report {

// {id, source, series_id, round, name, version, submitter, state, tree, base,
// head, conclusion, result, queued_at, updated_at}, with "checks" when
// `checks` is given and "email" (null when none; with "pending" and
// "pending_since" while some recipients have still to get it) when `mail`
// is.
nlohmann::json SeriesJson(const model::SeriesRecord& s, const std::vector<model::SeriesCheckRecord>* checks = nullptr,
                          const std::optional<model::SeriesMailRecord>* mail = nullptr);

// {build, status, tree, commit, describe, dirty, variant, output_dir,
// config_hash, compiler, collections, started_at, finished_at, duration_ms,
// steps, artifacts, config_mismatches, warnings, errors, diagnostics_dropped,
// failure, host, command}.
nlohmann::json BuildRecordJson(const model::BuildRecord& b);

// {tool, file, line, column, severity, message, flag, function, target,
// notes: ["file:line:col: message", ...]}: one diagnostic of a build.
nlohmann::json DiagnosticJson(const model::BuildDiagnosticRecord& d);

}  // namespace vigil::report
