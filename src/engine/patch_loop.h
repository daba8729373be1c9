// The patch loop (vigil watch, test-series, test-branch): series from
// Patchwork (or a git range) applied to the right tree, their tests run
// sandboxed on the host and judged against the tree's own base commit, the
// conclusion posted as a check on every patch and sent as a reply in the
// series' e-mail thread.
//
// Every step is recorded before its effect, so a restart at any point
// (kill -9 included) loses no series and repeats no check or e-mail:
//   event accepted + series queued (one transaction, the cursor moves)
//   queued -> testing  (pending checks posted; applied, tested; killed
//                       here: tested again from the start)
//   testing -> reporting (the conclusion, every check and the e-mail
//                         composed and stored)
//   reporting -> done  (each check: planned -> posting -> posted; one
//                       found "posting" after a restart is looked up on
//                       Patchwork before it is posted again; the e-mail:
//                       sending -> sent, and one found "sending" is not
//                       sent again: at most once; sending -> partial when
//                       some recipients refused it for now: the series
//                       stays reporting and each later round sends it to
//                       them alone, for a day)
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "engine/pipeline_config.h"
#include "patchwork/client.h"
#include "store/store.h"

namespace vigil::sys {
class Cancellation;
}

namespace vigil::engine {

struct PatchLoopOptions {
  std::string source;      // "<patchwork url>#<project>" (the store's key); "" for branches
  std::string project;     // Patchwork's link name
  std::string repo;        // the git repository series are applied in
  std::string work_dir;    // worktrees, mboxes, .eml files
  std::string db_path;     // the store's file: hidden from the sandbox
  std::string token_file;  // hidden from the sandbox
  // The first poll's since when the store has no cursor: a date, "all"
  // (every event Patchwork has) or "" / "now" (the time of that poll).
  std::string since;
  bool dry_run = false;    // .eml files, no checks posted, nothing sent
  bool retest = false;     // a series completed again is tested again
  std::vector<std::string> base_env;  // vigil's environment (the tests get only its basics)
  const sys::Cancellation* cancel = nullptr;
};

class PatchLoopObserver {
 public:
  virtual ~PatchLoopObserver() = default;
  virtual void OnNote(const std::string& line) = 0;     // what is being done
  virtual void OnWarning(const std::string& line) = 0;  // what went wrong but did not stop it
};

// What one series came to (vigil watch prints one line per series).
struct SeriesOutcome {
  int64_t id = 0;  // the store's
  std::string state;
  std::string conclusion;
};

class PatchLoop {
 public:
  // `pw` may be null (test-branch: no Patchwork). All must outlive the loop.
  PatchLoop(store::Store& db, Clock& clock, const Pipeline& pipeline, patchwork::Client* pw, PatchLoopOptions options,
            PatchLoopObserver& observer);

  // New series-completed events since the cursor: each series queued once
  // (again only with retest). Returns how many were queued. A Patchwork
  // error leaves the cursor where it was; an event whose series has not all
  // its patches is not accepted and holds the cursor at its date (a later
  // poll sees it again).
  Result<int> Poll();
  // One series by hand (test-series): queued whatever the cursor says.
  Result<int64_t> QueueSeries(int64_t patchwork_series_id);
  // A git range (test-branch): queued as a series of its own.
  Result<int64_t> QueueBranch(const std::string& base, const std::string& head);
  // Every queued, testing or reporting series of the source taken to done
  // (without Patchwork, only branches: Patchwork's series wait). A permanent
  // Patchwork error (a bad token, no permission: InvalidArgument) stops it,
  // the series staying where it was; a transient one (IOError) leaves that
  // series for the next round and goes on. A series whose mbox Patchwork
  // refuses (404: deleted) ends in state "error" and the loop goes on.
  Result<std::vector<SeriesOutcome>> Work();

 private:
  Status Test(model::SeriesRecord* s);
  // The series or a patch of it is gone from Patchwork (`why`): it ends in
  // error, its own trouble, not a reason to stop every series behind it.
  Status Gone(model::SeriesRecord* s, const Status& why);
  Status Report(model::SeriesRecord* s);
  // What building and testing one checkout came to.
  struct Tested {
    int64_t run_id = 0;       // 0: no test ran (failure says why)
    std::string failure;
    int64_t build_id = 0;     // [build]: the build's record (0: none)
    std::string build_state;  // [build]: success, warning, fail
    std::string build_description;
    std::vector<std::string> build_lines;  // new warnings, errors, dropped options
  };
  // The base commit's run (of `variant` with [build]; "" without), found
  // in the store or made once.
  Result<int64_t> BaselineRun(const PipelineTree& tree, const std::string& base_commit, const std::string& variant);
  // [build]: the tree's own checkout, reused from series to series so its
  // build directory (<checkout>/.vigil-build-<variant>) stays incremental.
  std::string TreeCheckout(const std::string& tree) const;
  // Writes the checkout's .git link again from the repository's record of
  // its worktrees (sandboxed code may have replaced it). NotFound when the
  // checkout is not one of the repository's worktrees.
  Status RestoreGitLink(const std::string& checkout);
  // The checkout at `commit`: reused when `reuse` and it is one, else made.
  Status CheckoutAt(const std::string& checkout, const std::string& commit, bool reuse);
  Result<Tested> RunTests(const std::string& checkout, const std::string& label, int64_t base_build,
                          const std::string& variant);

  store::Store& db_;
  Clock& clock_;
  const Pipeline& pipeline_;
  patchwork::Client* pw_;
  PatchLoopOptions o_;
  PatchLoopObserver& observer_;
};

// The trees a series' subject names: "[net-next,1/2] x" (Patchwork's name)
// or "[PATCH net-next v2 1/2] x" (the mail's) gives "net-next" when a tree
// of that name exists; "" when none does.
std::string TaggedTree(const Pipeline& pipeline, const std::string& subject);

}  // namespace vigil::engine
