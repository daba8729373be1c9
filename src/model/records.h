// The records of the store: what ran where and what it did. Plain values,
// shared by the runner (which makes them), the store (which keeps them), the
// judgement layer and the reports (which read them).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::model {

struct Environment {
  std::string kernel_release;  // uname -r
  std::string uname;           // sysname release version machine
  std::string arch;
  int cpus = 0;
  int64_t memory_kb = 0;
  std::string where = "host";  // host | vm
  std::string accel;           // kvm | tcg | "" on the host
  std::map<std::string, std::string> tools;  // "ip" -> "ip utility, iproute2-6.1.0"
  // Hash of the kernel's configuration (/proc/config.gz or the config file
  // beside the image), "" when none was found.
  std::string kernel_config;

  // Stable across runs on the same machine and tool set, and across builds
  // (FNV-1a of the fields as JSON): the store's key for the environment.
  std::string Fingerprint() const;
};

struct RunRecord {
  int64_t id = 0;
  std::string started_at;  // ISO 8601 UTC
  std::string finished_at;
  std::string status;      // "" while running
  std::string host;
  std::string command;     // the command line
  std::string tests_dir;
  std::vector<std::string> plan;  // COLLECTION:TEST in order
  int64_t environment_id = 0;
  // A VM run: what it booted (kernel, modules, accel, ...) as JSON, so that
  // --resume boots the same; "" on the host.
  std::string vm_json;
  // The vigil process running it ("host pid start-time", sys::ProcessOwner),
  // "" once finished: `--resume` of a run whose owner is alive is refused.
  std::string owner;
  // The build it booted (vigil run --build), 0 when none: `--resume` boots
  // that build's kernel again.
  int64_t build_id = 0;
  // A run split across machines (vigil run --shard I/N --run-group ID): the
  // group's name and its number of shards (RunShardRecord); "" and 0 for a
  // run of one vigil.
  std::string run_group;
  int shards = 0;
  // The options `--resume` carries over, as JSON ({"retries": N, "config":
  // "/abs/vigil.toml"}); "" for a run recorded before they were kept.
  std::string options_json;
  // The run's name across stores: 32 random hex digits given when it is
  // created (kept by vigil merge and vigil migrate). What KCIDB ids and
  // merge know a run by; an id is only its number in one store.
  std::string uid;
};

// One shard of a run split across machines: its part of the plan, and
// which vigil ran it where. A shard is finished when finished_at is set;
// the run is finished (by the last of them) when all are.
struct RunShardRecord {
  int64_t run_id = 0;
  int shard = 1;                   // 1..N
  std::vector<std::string> tests;  // its part of the plan, in plan order
  std::string host, command, tests_dir;
  int64_t environment_id = 0;      // 0: none recorded
  std::string started_at;          // "" not started yet
  std::string finished_at;         // "" not finished
  std::string status;              // its tests' aggregate; INTERRUPTED when stopped; "" running or not started
  std::string owner;               // the vigil running it (sys::SelfOwner()), "" none
  std::string console_log;         // its VM's kernel console, "" none
};

struct SubtestRecord {
  std::string path;  // "sub > subsub"
  std::string status;
  std::optional<int64_t> duration_ms;
};

// A kernel report that appeared while an attempt ran (in a VM).
struct CrashRecord {
  std::string type;   // console::TypeName
  std::string title;
  bool fatal = false;
  std::string fingerprint;
  std::string guilty;
  std::string text;
};

struct AttemptRecord {
  std::string test_path;  // COLLECTION:TEST
  int attempt = 1;
  std::string status;     // PASS, FAIL, ...
  std::optional<int> exit_code;
  int signal = 0;
  bool timed_out = false;
  int64_t duration_ms = 0;
  std::string started_at;
  uint64_t output_bytes = 0;
  std::string output;      // already capped
  std::vector<std::string> environment_issues;
  std::vector<SubtestRecord> subtests;  // at most ktap::kMaxSubtests (and their parents)
  // Subtests beyond the cap: counted in `status`, not kept (the test is
  // reported as truncated).
  int64_t subtests_dropped = 0;
  std::vector<CrashRecord> crashes;
  // Cut short by a cancelled run (SIGINT/SIGTERM/SIGHUP to vigil): not a
  // result; `vigil run --resume` runs the test again and drops this attempt.
  bool interrupted = false;
};

// One attempt in brief (no subtests, output or crash texts): what a list of
// runs counts.
struct AttemptBrief {
  int64_t run_id = 0;
  std::string test_path;
  int attempt = 1;
  std::string status;
  int64_t duration_ms = 0;
  int crashes = 0;  // kernel reports seen while it ran
  bool interrupted = false;
};

// A test's result in one run across its attempts (model::SummarizeTest),
// kept by the store beside them: what reading many runs at once needs.
struct TestSummary {
  int64_t run_id = 0;
  std::string test_path;
  std::string status;       // final: FLAKY when it failed, then passed on a retry
  int attempts = 0;         // not interrupted
  int64_t duration_ms = 0;  // of the last of them
  int crashes = 0;          // kernel reports seen while they ran
  std::string subtests;     // final subtest verdicts, packed (model::PackedSubtests)
};

// One attempt of a test with the run it belongs to (a test's history).
struct RunAttempt {
  int64_t run_id = 0;
  AttemptRecord attempt;  // subtests and crash titles, no output or crash text
};

// A kernel report and where it was seen, without its text.
struct CrashSighting {
  int64_t id = 0;  // the report's own id (Store::LoadCrashText)
  int64_t run_id = 0;
  std::string test_path;
  int attempt = 1;
  std::string started_at;  // the attempt's
  CrashRecord crash;       // text empty
};

// One diagnostic of a build's output (kbuild::Diagnostic as stored).
struct BuildDiagnosticRecord {
  std::string tool;      // compiler, linker, make, modpost, kconfig
  std::string file;
  int64_t line = 0;      // 0: none
  int64_t column = 0;    // 0: none
  std::string severity;  // note, warning, error, fatal error
  std::string message;
  std::string flag;      // -Wunused-variable; "" none
  std::string function;  // "" none
  std::string target;    // make's failing target; "" none
  std::vector<std::string> notes;  // "file:line:col: message" of its notes
  std::string inlined_from;  // "g at x.c:9:3": the caller gcc inlined `function` into; "" none
};

// A kernel build (vigil build, vigil run --build, a bisection probe): what
// was built from what, with which configuration, and how it went.
struct BuildRecord {
  int64_t id = 0;
  std::string started_at, finished_at;  // ISO 8601 UTC
  // built, failed (compiler, linker or config error), interrupted, error
  // (vigil could not run the build: a tool missing, a directory unwritable).
  std::string status;
  std::string host;
  std::string command;      // the command line
  std::string tree;         // the source tree's real path
  std::string commit;       // HEAD's full hash, "" outside git
  std::string describe;     // git describe --always --dirty, "" outside git
  bool dirty = false;       // uncommitted changes in the tree
  std::string variant;      // normal, debug, or a user-defined one
  std::string output_dir;   // O=
  std::string config_hash;  // FNV-1a of the resulting .config, "" before olddefconfig
  std::string compiler;     // first line of `$CC --version`
  std::vector<std::string> collections;  // selftest collections built
  int64_t duration_ms = 0;
  int64_t steps = 0;        // compile and link steps make ran (0: nothing was rebuilt)
  // What it made, as JSON: {"kernel","vmlinux","modules","headers","tests","config","log","release",...}.
  std::string artifacts_json;
  // Each option asked for that .config did not get (kbuild::ConfigMismatch).
  std::vector<std::string> config_mismatches;
  int64_t warnings = 0, errors = 0;  // counted, also beyond the diagnostics kept
  int64_t diagnostics_dropped = 0;   // diagnostics seen beyond those kept
  std::string failure;               // why it failed, one line; "" when built
};

// A bisection (vigil bisect): what it searches, and every run it made, so an
// interrupted one resumes where it stopped.
struct BisectionRecord {
  int64_t id = 0;
  std::string repo;         // the repository's top directory
  std::string good, bad;    // full hashes
  std::string options_json; // the command, build, model options
  std::string status;       // running, done, aborted, reset
  std::string result_json;
  std::string started_at, finished_at;
};

struct BisectRunRecord {
  int position = 0;
  std::string commit;
  std::string outcome;  // pass, fail, skip
  std::optional<int> exit_code;
  int64_t duration_ms = 0;
  std::string at;
};

// A patch series (or a branch) queued for testing by the patch loop: where it
// came from, which round of it this is, and how far its test got.
struct SeriesRecord {
  int64_t id = 0;  // the store's id
  // Where it came from: "<patchwork base url>#<project>" or "branch:<repo path>".
  std::string source;
  int64_t series_id = 0;                 // Patchwork's series id (0 for a branch)
  int round = 1;                         // 1, then +1 each time the same series is queued again
  std::string name, version, submitter;  // submitter "Name <email>"
  std::string series_json;               // the series as fetched (patches, cover letter message-id, ...)
  std::string state;                     // queued, testing, reporting (tested; checks and e-mail being delivered), done, failed, error
  std::string tree, base_commit, head_commit;
  std::string conclusion;             // one line, e.g. "fail: 1 subtest newly failing"
  std::string result_json;            // per-context conclusions, run and build ids
  std::string queued_at, updated_at;  // ISO 8601 UTC
};

// A run a series' result names: the run that tested it ("tested") or the
// run of its tree it was compared with ("base"), for the series itself
// (result_json's "run" and "base_run") and for each build variant
// ("variants": [{"run", "base_run"}, ...]). Ids are positive; each (run,
// role) once, in that order. Text that is not such JSON names none.
struct SeriesRun {
  int64_t run = 0;
  std::string role;  // tested, base
  int64_t base = 0;  // a tested run's: the run of the tree the same object names as its base (0: none)
};
std::vector<SeriesRun> SeriesRuns(std::string_view result_json);
// What a run a series of `source` names came from: "branch" (a source
// "branch:<repo>", vigil watch --branch) or "series" (a Patchwork series).
std::string_view OriginKind(std::string_view source);

// A check of one patch of a series, as planned, being posted or posted: what
// makes a restart post it once.
struct SeriesCheckRecord {
  int64_t series = 0;  // SeriesRecord::id
  int64_t patch_id = 0;
  std::string phase;  // pending (work started) or final
  std::string context, state, description, target_url;
  std::string status;  // planned, posting, posted, gone (the patch was deleted)
  std::string posted_at;
};

// The report e-mail of a series: what makes a restart send it once.
struct SeriesMailRecord {
  int64_t series = 0;  // SeriesRecord::id
  std::string message_id;
  // sending, sent, failed (not sent: tried again), written (a dry run: path
  // holds the .eml), partial (sent, but some recipients refused it for now:
  // `pending` get it on a later round), given-up (done: `pending` refused it
  // for now for a day and never got it)
  std::string status;
  std::string path, updated_at;
  std::vector<std::string> pending;  // partial: the recipients still to send it to; given-up: never reached
  std::string pending_since;         // partial, given-up: when they first refused it (ISO 8601 UTC)
};

}  // namespace vigil::model
