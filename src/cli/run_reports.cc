#include "cli/run_reports.h"

#include <cstdlib>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

#include "judge/render.h"

namespace vigil::cli {
bool WriteReportFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

Status PrintRunEnd(const report::FinishedRun& run, const ReportFiles& files, bool color) {
  fmt::print("{}", report::SummaryText(run, color));
  if (run.verdict) fmt::print("\n{}", judge::VerdictText(*run.verdict));
  bool ok = true;
  if (!files.json.empty()) ok &= WriteReportFile(files.json, report::RunJson(run));
  if (!files.ktap.empty()) ok &= WriteReportFile(files.ktap, report::RunnerLog(run));
  if (!files.junit.empty()) ok &= WriteReportFile(files.junit, report::RunJunit(run));
  if (!files.markdown.empty()) ok &= WriteReportFile(files.markdown, report::GithubSummary(run));
  if (const char* gh = std::getenv("GITHUB_STEP_SUMMARY"); gh && *gh) {
    std::ofstream md(gh, std::ios::app);
    md << report::GithubSummary(run);
    ok &= static_cast<bool>(md);
  }
  if (const char* gha = std::getenv("GITHUB_ACTIONS"); gha && std::string_view(gha) == "true") {
    fmt::print("{}", report::GithubAnnotations(run));
  }
  if (!ok) return Status::IOError("cannot write a report file");
  return Status::OK();
}

}  // namespace vigil::cli
