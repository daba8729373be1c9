#include "engine/kcidb_export.h"

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/text.h"
#include "judge/history.h"

namespace vigil::engine {
namespace {

// The run a series' test made (its result's "run"), 0 when none.
int64_t RunOfSeries(const model::SeriesRecord& s) {
  nlohmann::json r = nlohmann::json::parse(s.result_json, nullptr, false);
  if (!r.is_object()) return 0;
  auto it = r.find("run");
  return it != r.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

Result<report::KcidbInput> GatherKcidb(store::Store& db, const std::string& spec, const std::string& origin,
                                       bool partial) {
  report::KcidbInput in;
  in.origin = origin;
  int64_t run_id = 0;
  if (spec.rfind("series:", 0) == 0) {
    std::string n = spec.substr(7);
    if (n.empty() || n.size() > 18 || n.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument(fmt::format("bad series '{}': series:ID", SanitizeForTerminal(spec)));
    }
    auto s = db.LoadSeries(std::stoll(n));
    if (!s.ok()) return s.status();
    in.series = *s;
    run_id = RunOfSeries(*s);
    if (run_id == 0) {
      // No run: its patches did not apply, or it is not tested yet.
      if (s->conclusion.find("apply") == std::string::npos) {
        return Status::InvalidArgument(fmt::format("series {} has no run yet (state {})", s->id,
                                                   SanitizeForTerminal(s->state)));
      }
      in.applied = false;
      return in;
    }
  } else {
    auto id = judge::ResolveRun(db, spec);
    if (!id.ok()) return id.status();
    run_id = *id;
  }
  auto run = db.LoadRun(run_id);
  if (!run.ok()) return run.status();
  if (run->status.empty() && !partial) {
    return Status::InvalidArgument(fmt::format(
        "run {} has not finished (its tests not run yet would be reported MISS): --partial exports what it has",
        run_id));
  }
  in.run = *run;
  // Without their outputs (up to 16 MiB each): the report takes the end of
  // each test's last attempt only, read one at a time.
  auto attempts = db.LoadAttempts(run_id, false);
  if (!attempts.ok()) return attempts.status();
  in.attempts = std::move(*attempts);
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < in.attempts.size(); ++i) last[in.attempts[i].test_path] = i;
  for (const auto& [path, i] : last) {
    model::AttemptRecord& a = in.attempts[i];
    auto output = db.LoadAttemptOutput(run_id, path, a.attempt);
    if (!output.ok()) return output.status();
    // Room enough for the excerpt's 16 KiB once invalid bytes are replaced.
    constexpr size_t kKept = 64 << 10;
    a.output = output->size() > kKept ? output->substr(output->size() - kKept) : std::move(output.value());
  }
  if (run->environment_id > 0) {
    auto env = db.LoadEnvironment(run->environment_id);
    if (!env.ok()) return env.status();
    in.environment = *env;
  }
  // A split run: each test in the environment of the shard that ran it.
  if (run->shards > 0) {
    auto shards = db.LoadRunShards(run_id);
    if (!shards.ok()) return shards.status();
    for (const auto& s : *shards) {
      if (s.environment_id <= 0) continue;
      auto env = db.LoadEnvironment(s.environment_id);
      if (!env.ok()) return env.status();
      for (const auto& t : s.tests) in.test_environments[t] = *env;
    }
  }
  if (run->build_id > 0) {
    auto build = db.LoadBuild(run->build_id);
    if (!build.ok()) return build.status();
    in.build = *build;
  }
  if (!in.series) {
    // A run the patch loop made belongs to the series whose result names it.
    auto series = db.ListSeries(store::SeriesQuery{});
    if (!series.ok()) return series.status();
    for (const auto& s : *series) {
      if (RunOfSeries(s) == run_id) {
        in.series = s;
        break;
      }
    }
  }
  return in;
}

}  // namespace vigil::engine
