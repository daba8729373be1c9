#include "report/record_json.h"

namespace vigil::report {

nlohmann::json SeriesJson(const model::SeriesRecord& s, const std::vector<model::SeriesCheckRecord>* checks,
                          const std::optional<model::SeriesMailRecord>* mail) {
  nlohmann::json result = nlohmann::json::parse(s.result_json.empty() ? "{}" : s.result_json, nullptr, false);
  nlohmann::json j = {{"id", s.id},
                      {"source", s.source},
                      {"series_id", s.series_id},
                      {"round", s.round},
                      {"name", s.name},
                      {"version", s.version},
                      {"submitter", s.submitter},
                      {"state", s.state},
                      {"tree", s.tree},
                      {"base", s.base_commit},
                      {"head", s.head_commit},
                      {"conclusion", s.conclusion},
                      {"result", result.is_discarded() ? nlohmann::json::object() : result},
                      {"queued_at", s.queued_at},
                      {"updated_at", s.updated_at}};
  if (checks) {
    nlohmann::json cj = nlohmann::json::array();
    for (const auto& c : *checks) {
      cj.push_back({{"patch", c.patch_id},
                    {"phase", c.phase},
                    {"context", c.context},
                    {"state", c.state},
                    {"description", c.description},
                    {"target_url", c.target_url},
                    {"status", c.status},
                    {"posted_at", c.posted_at}});
    }
    j["checks"] = cj;
  }
  if (mail) {
    j["email"] = mail->has_value() ? nlohmann::json{{"message_id", (*mail)->message_id},
                                                    {"status", (*mail)->status},
                                                    {"updated_at", (*mail)->updated_at}}
                                   : nlohmann::json();
    // Partial: who has still to get it, since when.
    if (mail->has_value() && (*mail)->status == "partial") {
      j["email"]["pending"] = (*mail)->pending;
      j["email"]["pending_since"] = (*mail)->pending_since;
    }
    // Given up: whom it never reached, refused for now since when.
    if (mail->has_value() && (*mail)->status == "given-up") {
      j["email"]["never_reached"] = (*mail)->pending;
      j["email"]["refused_since"] = (*mail)->pending_since;
    }
  }
  return j;
}

nlohmann::json BuildRecordJson(const model::BuildRecord& b) {
  nlohmann::json artifacts = nlohmann::json::parse(b.artifacts_json.empty() ? "{}" : b.artifacts_json, nullptr, false);
  return {{"build", b.id},
          {"status", b.status},
          {"tree", b.tree},
          {"commit", b.commit},
          {"describe", b.describe},
          {"dirty", b.dirty},
          {"variant", b.variant},
          {"output_dir", b.output_dir},
          {"config_hash", b.config_hash},
          {"compiler", b.compiler},
          {"collections", b.collections},
          {"started_at", b.started_at},
          {"finished_at", b.finished_at},
          {"duration_ms", b.duration_ms},
          {"steps", b.steps},
          {"artifacts", artifacts.is_discarded() ? nlohmann::json::object() : artifacts},
          {"config_mismatches", b.config_mismatches},
          {"warnings", b.warnings},
          {"errors", b.errors},
          {"diagnostics_dropped", b.diagnostics_dropped},
          {"failure", b.failure},
          {"host", b.host},
          {"command", b.command}};
}

nlohmann::json DiagnosticJson(const model::BuildDiagnosticRecord& d) {
  return {{"tool", d.tool},         {"file", d.file},       {"line", d.line},   {"column", d.column},
          {"severity", d.severity}, {"message", d.message}, {"flag", d.flag},   {"function", d.function},
          {"inlined_from", d.inlined_from}, {"target", d.target}, {"notes", d.notes}};
}

}  // namespace vigil::report
