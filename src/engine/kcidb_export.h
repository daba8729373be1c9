// vigil export kcidb: what a KCIDB report of a run, a run group or a series
// is made of, read from the store (report::KcidbReport renders it).
#pragma once

#include <string>

#include "base/status.h"
#include "report/kcidb.h"
#include "store/store.h"

namespace vigil::engine {

// `spec`: a run (RUN, last, last~N, group:ID) or series:ID (the patch
// loop's series: its run, or when its patches did not apply, the series
// alone as an invalid checkout). The run's attempts come with their output,
// its environment, the build it booted and the series that made it. A run
// still running (a group with shards to come) is refused unless `partial`:
// its tests not run yet would be reported MISS.
Result<report::KcidbInput> GatherKcidb(store::Store& db, const std::string& spec, const std::string& origin,
                                       bool partial = false);

}  // namespace vigil::engine
