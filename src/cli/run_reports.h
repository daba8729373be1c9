// The end of a run as `vigil run` prints it, shared by the commands that
// show a whole run (vigil run, vigil group wait).
#pragma once

#include <string>

#include "base/status.h"
#include "report/run_report.h"

namespace vigil::cli {

struct ReportFiles {
  std::string json, junit, ktap, markdown;  // "" none
};

// Writes `text` to `path` (replaced); false when it could not.
bool WriteReportFile(const std::string& path, const std::string& text);

// The summary and verdict on standard output, the report files, and inside
// GitHub Actions the job summary ($GITHUB_STEP_SUMMARY) and ::error
// annotations. IOError when a file could not be written.
Status PrintRunEnd(const report::FinishedRun& run, const ReportFiles& files, bool color);

}  // namespace vigil::cli
