// A run as KCIDB I/O JSON, version 5.3: the report format of KernelCI's
// common database. One checkout (the tree and commit, with the series'
// patches and Message-ID when the patch loop made the run), one build (the
// build the run booted, or the prebuilt kernel it booted), a test per test
// and per subtest (path kselftest.<collection>.<test>[.<subtest>...]), an
// issue per kernel report fingerprint and an incident for each test that hit
// it. Ids are <origin>:... and derived from what they stand for, so the same
// run exported twice (or from another store: a split run is named by its
// group) gives the same ids. Everything from strangers (names, logs) is
// valid UTF-8 without NULs, as the schema requires outside `misc`.
//
// Status mapping (vigil -> KCIDB): PASS, XFAIL -> PASS; FLAKY (failed, then
// passed on a retry) -> PASS; FAIL, XPASS, TIMEOUT, CRASH -> FAIL; ERROR ->
// ERROR; SKIP -> SKIP; NO_TESTS (a parent that ran no subtests) -> DONE; a
// planned test that never ran -> MISS. The vigil status is kept in
// misc.vigil_status.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/records.h"

namespace vigil::report {

inline constexpr int kKcidbMajor = 5;
inline constexpr int kKcidbMinor = 3;
inline constexpr size_t kKcidbMaxExcerpt = 16384;  // log_excerpt's maxLength

struct KcidbInput {
  std::string origin;  // [a-z0-9_]+
  // The run (with its plan) and its attempts with output; unset when only a
  // series is exported (one that did not apply: no run).
  std::optional<model::RunRecord> run;
  std::vector<model::AttemptRecord> attempts;
  std::optional<model::Environment> environment;
  // A split run's tests ran on their shards' machines: each test's
  // environment by path (the run's `environment` for the others).
  std::map<std::string, model::Environment> test_environments;
  std::optional<model::BuildRecord> build;   // the build the run booted
  std::optional<model::SeriesRecord> series;  // the patch loop's series the run tested
  bool applied = true;                        // false: the series did not apply
};

// The report, {"version": {"major": 5, "minor": 3}, "checkouts": [...], ...}.
nlohmann::json KcidbReport(const KcidbInput& in);

// vigil's status name -> KCIDB's (the mapping above; a name vigil never
// writes is ERROR).
std::string KcidbStatus(const std::string& vigil_status);

// "kselftest.<collection>.<test>[.<level>...]" of COLLECTION:TEST and a
// subtest path ("a > b"), every character outside [a-zA-Z0-9_-] of each
// part mapped to '_', '/' in the collection too (net/mptcp -> net_mptcp);
// an empty part is "_".
std::string KcidbTestPath(const std::string& test_path, const std::string& subtest = "");

// An id part for any bytes: [A-Za-z0-9_.-] kept, everything else %XX.
std::string KcidbIdPart(const std::string& bytes);

// Whether `origin` is a KCIDB origin ([a-z0-9_]+).
bool ValidKcidbOrigin(const std::string& origin);

}  // namespace vigil::report
