// vigil build as a use case: a kernel build (kbuild/build.h) recorded in the
// store like any other result (tree, commit, variant, config, compiler,
// duration, status, every diagnostic), and compared with an earlier build of
// the same tree and variant for new warnings (what NIPA's build checks do).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "kbuild/build.h"
#include "model/records.h"
#include "store/store.h"

namespace vigil::engine {

struct BuildRequest {
  kbuild::BuildOptions options;
  std::string compare_to;  // "" none, "auto" the newest earlier built build of the tree and variant, or an id
  std::string command_line, host;
};

struct BuildOutcome {
  int64_t build_id = 0;
  model::BuildRecord record;
  kbuild::BuildResult result;
  // The comparison: the build compared with (0: none) and the warnings and
  // errors it did not have.
  int64_t base_build_id = 0;
  std::vector<kbuild::Diagnostic> new_diagnostics;
  std::string compare_note;  // why there was nothing to compare with
};

// The selftest collections a build makes for a run of `collections` and of
// `tests` (COLL:TEST): those, then each test's collection, once each.
std::vector<std::string> BuildCollections(const std::vector<std::string>& collections,
                                          const std::vector<std::string>& tests);

// The build's record and diagnostics as the store keeps them.
model::BuildRecord BuildRecordOf(const BuildRequest& request, const kbuild::BuildResult& result,
                                 const std::string& started_at, const std::string& finished_at);
std::vector<model::BuildDiagnosticRecord> DiagnosticRecordsOf(const std::vector<kbuild::Diagnostic>& diagnostics);
kbuild::Diagnostic DiagnosticOf(const model::BuildDiagnosticRecord& record);

// The build `spec` names ("auto" or an id) to compare a build of `tree` and
// `variant` with, among those recorded before `before` (0: all); 0 when
// "auto" finds none. InvalidArgument for a spec that is neither; NotFound
// for an id that is not recorded.
Result<int64_t> ResolveCompareTo(store::Store& db, const std::string& spec, const std::string& tree,
                                 const std::string& variant, int64_t before);

// Checks the build's environment, builds, records the result (also a failed
// or interrupted build), compares. An error for what stopped the build from
// being attempted (usage, environment); nothing is recorded then.
Result<BuildOutcome> BuildAndRecord(store::Store& db, const BuildRequest& request, kbuild::BuildObserver& observer);

}  // namespace vigil::engine
