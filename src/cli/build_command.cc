// vigil build --tree DIR [-c COLL]... [--base-config X] [--config FILE]...
//             [--set CONFIG_X=V]... [--variant NAME] [--output DIR] [-j N]
//             [--compare-to BUILD|auto] [--db FILE] [--json FILE] [-v]
// Flags in, engine::BuildAndRecord, the build shown as it goes (a live
// progress line on a terminal, phase and progress lines off one), then what
// came out, the options that were dropped, the new warnings, or, when it
// failed, the failing target and command and its diagnostics.
#include "cli/build_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"
#include "cli/command.h"
#include "report/record_json.h"
#include "sys/cancel.h"
#include "sys/process.h"

namespace vigil::cli {

namespace {

std::string Seconds(int64_t ms) {
  int64_t s = ms / 1000;
  if (s < 60) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  return fmt::format("{}m{:02}s", s / 60, s % 60);
}

}  // namespace

// Shows a build: on a terminal one line redrawn in place ("[kernel] 812
// steps · CC net/mptcp/protocol.o · 2m13s"); off one, a line per phase and one
// each `report_every`; with `verbose` every output line.
class BuildPrinter final : public kbuild::BuildObserver {
 public:
  BuildPrinter(bool live, bool verbose, std::chrono::seconds report_every, int64_t expected_steps)
      : live_(live), verbose_(verbose), report_every_(report_every), expected_(expected_steps),
        start_(std::chrono::steady_clock::now()), last_(start_) {}
  ~BuildPrinter() override { Clear(); }

  void Phase(std::string_view name) override {
    Clear();
    // Each build starts with its configuration: the time is the build's own
    // (a bisection shows one printer a build per probe).
    if (name == "config") start_ = std::chrono::steady_clock::now();
    phase_ = std::string(name);
    fmt::print("[{}] {}\n", phase_, Elapsed());
    std::fflush(stdout);
  }
  void Step(std::string_view line, int64_t steps) override {
    auto now = std::chrono::steady_clock::now();
    if (live_) {
      if (now - last_ < std::chrono::milliseconds(100)) return;
      last_ = now;
      std::string shown = SanitizeForTerminal(line);
      std::string count = expected_ > 0 ? fmt::format("{}/~{}", steps, expected_) : std::to_string(steps);
      std::string text = fmt::format("[{}] {} steps · {} · {}", phase_, count, shown, Elapsed());
      if (text.size() > 110) text = text.substr(0, 107) + "...";
      fmt::print("\r\033[K{}", text);
      std::fflush(stdout);
      drawn_ = true;
    } else if (report_every_.count() > 0 && now - last_ >= report_every_) {
      last_ = now;
      fmt::print("[{}] {} steps, {}\n", phase_, steps, Elapsed());
      std::fflush(stdout);
    }
  }
  void Output(std::string_view line) override {
    if (!verbose_) return;
    Clear();
    fmt::print("  {}\n", SanitizeForTerminal(line));
  }
  void Clear() {
    if (drawn_) {
      fmt::print("\r\033[K");
      std::fflush(stdout);
      drawn_ = false;
    }
  }

 private:
  std::string Elapsed() const {
    return Seconds(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_)
                       .count());
  }
  bool live_, verbose_;
  std::chrono::seconds report_every_;
  int64_t expected_;
  std::chrono::steady_clock::time_point start_, last_;
  std::string phase_ = "build";
  bool drawn_ = false;
};

std::unique_ptr<kbuild::BuildObserver> MakeBuildPrinter(bool verbose) {
  return std::make_unique<BuildPrinter>(isatty(STDOUT_FILENO) == 1, verbose, std::chrono::seconds(60), 0);
}

void AddBuildOptions(CLI::App* app, BuildFlags* f, const std::string& group, bool in_run) {
  app->add_option("--base-config", f->base_config,
                  "The configuration to start from: a make target (defconfig, tinyconfig, allnoconfig, ...) or a "
                  ".config file")
      ->capture_default_str()
      ->group(group);
  app->add_option(in_run ? "--fragment" : "--config,--fragment", f->config_files,
                  "A config fragment merged after the collections' (repeatable; later ones win)")
      ->check(CLI::ExistingFile)
      ->group(group);
  app->add_option("--set", f->set, "One option, CONFIG_X=VALUE (y, m, n, a number or a quoted string; repeatable)")
      ->group(group);
  app->add_option("--variant", f->variant,
                  "normal, debug (the tree's kernel/configs/debug.config and vigil's KASAN/lockdep fragment), or a "
                  "variant of --variants; each builds in its own output directory")
      ->capture_default_str()
      ->group(group);
  app->add_option("--variants", f->variants_file,
                  "TOML file of [variant.NAME] tables: fragments = [FILES], set = [\"CONFIG_X=y\"], base = \"debug\"")
      ->check(CLI::ExistingFile)
      ->group(group);
  app->add_option(in_run ? "--build-output" : "--output", f->output_dir,
                  "The build directory (O=); default ~/.cache/vigil/build/<tree>-<hash>/<variant>")
      ->group(group);
  app->add_option(in_run ? "--build-jobs" : "-j,--jobs", f->jobs, "make -j (default: the CPUs)")->check(CLI::Range(1, 1024))->group(group);
  app->add_option("--cc", f->cc, "The compiler (default gcc)")->group(group);
  app->add_flag("--no-ccache", f->no_ccache, "Do not compile through ccache (used by default when installed)")
      ->group(group);
  app->add_flag("--no-vm-fragment", f->no_vm_fragment,
                "Do not merge vigil's VM fragment (serial console, virtio, virtiofs/9p, PANIC_ON_OOPS, ...)")
      ->group(group);
  app->add_option("--compare-to", f->compare_to,
                  "Report the warnings and errors a build has that BUILD (an id, or auto: the newest earlier "
                  "successful build of the same tree and variant) did not")
      ->group(group);
}

Result<kbuild::BuildOptions> BuildOptionsOf(const BuildFlags& f, const std::vector<std::string>& collections,
                                            const sys::Cancellation* cancel) {
  kbuild::BuildOptions o;
  o.tree = f.tree;
  o.output_dir = f.output_dir;
  o.base_config = f.base_config;
  auto variant = kbuild::FindVariant(f.variant, f.variants_file);
  if (!variant.ok()) return variant.status();
  o.variant = *variant;
  o.vm_fragment = !f.no_vm_fragment;
  o.collections = collections;
  o.config_files = f.config_files;
  o.set = f.set;
  for (const auto& s : f.set) {
    auto p = kbuild::ParseSetArgument(s);
    if (!p.ok()) return Status::InvalidArgument("--set " + s + ": " + p.status().message());
  }
  o.jobs = f.jobs;
  o.cc = f.cc;
  o.ccache = !f.no_ccache;
  o.cancel = cancel;
  return o;
}

Result<engine::BuildOutcome> RunBuild(store::Store& db, const engine::BuildRequest& request, bool verbose) {
  // The steps the last build of this tree and variant made: the progress
  // line's estimate.
  int64_t expected = 0;
  store::BuildQuery q;
  q.tree = request.options.tree;
  q.variant = request.options.variant.name;
  q.status = "built";
  q.newest = 5;
  if (auto prior = db.ListBuilds(q); prior.ok())
    for (const auto& b : *prior) expected = std::max(expected, b.steps);
  BuildPrinter printer(isatty(STDOUT_FILENO) == 1, verbose, std::chrono::seconds(60), expected);
  auto out = engine::BuildAndRecord(db, request, printer);
  printer.Clear();
  return out;
}

void PrintBuild(const engine::BuildOutcome& o, size_t max_diagnostics, bool run_hint) {
  const auto& r = o.result;
  const auto& b = o.record;
  std::string what = b.describe.empty() ? SanitizeForTerminal(b.tree) : SanitizeForTerminal(b.describe);
  if (!r.mismatches.empty()) {
    fmt::print("config: {} option{} not as asked (make olddefconfig dropped or changed them):\n", r.mismatches.size(),
               r.mismatches.size() == 1 ? "" : "s");
    for (const auto& m : r.mismatches) fmt::print("  {}\n", SanitizeForTerminal(m.ToString()));
  }
  if (r.state == kbuild::BuildResult::State::kBuilt) {
    fmt::print("build {} ({}, {}): built in {}: {} step{}{}, {} warning{}, {} error{}\n", o.build_id, what, b.variant,
               Seconds(r.duration_ms), r.steps, r.steps == 1 ? "" : "s", r.steps == 0 ? " (nothing to rebuild)" : "",
               r.warnings, r.warnings == 1 ? "" : "s", r.errors, r.errors == 1 ? "" : "s");
    if (!r.kernel.empty())
      fmt::print("  kernel   {}{}\n", SanitizeForTerminal(r.kernel),
                 r.release.empty() ? "" : " (" + SanitizeForTerminal(r.release) + ")");
    if (!r.modules.empty()) fmt::print("  modules  {}\n", SanitizeForTerminal(r.modules));
    if (!r.tests.empty()) fmt::print("  tests    {}\n", SanitizeForTerminal(r.tests));
    fmt::print("  config   {} ({})\n", SanitizeForTerminal(r.config), r.config_hash);
    if (!r.kernel.empty() && run_hint) {
      std::string cmd = "vigil run --kernel " + ShellQuote(r.kernel);
      if (!r.modules.empty()) cmd += " --modules " + ShellQuote(r.modules);
      if (!r.tests.empty()) cmd += " --tests " + ShellQuote(r.tests);
      fmt::print("  run it:  {}\n", SanitizeForTerminal(cmd));
    }
  } else {
    fmt::print("build {} ({}, {}) {} after {}: {}\n", o.build_id, what, b.variant,
               r.state == kbuild::BuildResult::State::kInterrupted ? "INTERRUPTED" : "FAILED", Seconds(r.duration_ms),
               SanitizeForTerminal(r.failure));
    if (!r.failed_command.empty()) fmt::print("  failing command: {}\n", SanitizeForTerminal(r.failed_command));
    size_t shown = 0, errors = 0;
    for (const auto& d : r.diagnostics) {
      if (d.severity < kbuild::Severity::kError || d.tool == kbuild::Tool::kMake) continue;
      ++errors;
      if (shown < max_diagnostics) {
        fmt::print("  {}\n", SanitizeForTerminal(kbuild::FormatDiagnostic(d)));
        for (const auto& n : d.notes)
          if (shown < max_diagnostics) fmt::print("    note: {}\n", SanitizeForTerminal(n.message));
        ++shown;
      }
    }
    if (errors > shown) fmt::print("  ... {} more error{}\n", errors - shown, errors - shown == 1 ? "" : "s");
    if (errors == 0 && r.state == kbuild::BuildResult::State::kFailed) {
      // Nothing parsed: the end of the output says what happened.
      for (const auto& line : r.tail) fmt::print("  | {}\n", SanitizeForTerminal(line));
    }
    fmt::print("  the whole output: {}\n", SanitizeForTerminal(r.log));
  }
  if (o.base_build_id > 0) {
    if (o.new_diagnostics.empty()) {
      fmt::print("no new warnings against build {}\n", o.base_build_id);
    } else {
      fmt::print("{} new warning{} against build {}:\n", o.new_diagnostics.size(),
                 o.new_diagnostics.size() == 1 ? "" : "s", o.base_build_id);
      size_t n = 0;
      for (const auto& d : o.new_diagnostics) {
        if (n++ == max_diagnostics) {
          fmt::print("  ... {} more\n", o.new_diagnostics.size() - max_diagnostics);
          break;
        }
        fmt::print("  {}\n", SanitizeForTerminal(kbuild::FormatDiagnostic(d)));
      }
    }
  } else if (!o.compare_note.empty()) {
    fmt::print("{}\n", o.compare_note);
  }
  std::fflush(stdout);
}

std::string BuildJson(const engine::BuildOutcome& o) {
  const auto& b = o.record;
  // As the store keeps them and the dashboard shows them, notes included.
  nlohmann::json diagnostics = nlohmann::json::array(), fresh = nlohmann::json::array();
  for (const auto& d : engine::DiagnosticRecordsOf(o.result.diagnostics)) diagnostics.push_back(report::DiagnosticJson(d));
  for (const auto& d : engine::DiagnosticRecordsOf(o.new_diagnostics)) fresh.push_back(report::DiagnosticJson(d));
  nlohmann::json j = {{"format_version", 1}};
  j.update(report::BuildRecordJson(b));
  j["build"] = o.build_id;
  j["diagnostics"] = diagnostics;
  if (o.base_build_id > 0) {
    j["compared_to"] = o.base_build_id;
    j["new_warnings"] = fresh;
  }
  return DumpJson(j) + "\n";
}

namespace {

struct Flags {
  BuildFlags build;
  std::vector<std::string> collections;
  std::string db_path = "vigil.db";
  std::string json_path;
  bool verbose = false;
  bool no_kernel = false;
};

int Run(const Flags& f) {
  sys::Cancellation cancel;
  sys::SignalCanceller signals(cancel, [](int signo, sys::Cancellation::Level level) {
    const char* name = sigabbrev_np(signo);
    fmt::print(stderr, "\nvigil build: SIG{}: {}\n", name ? name : "?",
               level == sys::Cancellation::Level::kStop
                   ? "stopping the build (it is recorded as interrupted; a second signal kills make at once)"
                   : "killing make");
  });
  auto options = BuildOptionsOf(f.build, f.collections, &cancel);
  if (!options.ok()) {
    fmt::print(stderr, "vigil build: {}\n", SanitizeForTerminal(options.status().message()));
    return kExitUsage;
  }
  options->kernel = !f.no_kernel;
  auto db = store::Store::Open(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil build: {}\n", db.status().message());
    return kExitUsage;
  }
  engine::BuildRequest req;
  req.options = *options;
  req.compare_to = f.build.compare_to;
  req.command_line = CommandLine();
  req.host = sys::HostName();
  auto out = RunBuild(**db, req, f.verbose);
  if (!out.ok()) {
    fmt::print(stderr, "vigil build: {}\n", SanitizeForTerminal(out.status().message()));
    return kExitUsage;
  }
  PrintBuild(*out, 20, true);
  if (!f.json_path.empty()) {
    std::ofstream j(f.json_path, std::ios::binary | std::ios::trunc);
    j << BuildJson(*out);
    if (!j) {
      fmt::print(stderr, "vigil build: cannot write {}\n", SanitizeForTerminal(f.json_path));
      return kExitUsage;
    }
  }
  switch (out->result.state) {
    case kbuild::BuildResult::State::kBuilt: return 0;
    case kbuild::BuildResult::State::kFailed: return 1;
    case kbuild::BuildResult::State::kInterrupted: return 128 + (cancel.signal() > 0 ? cancel.signal() : 15);
  }
  return 1;
}

}  // namespace

Runner SetupBuildCommand(CLI::App* app) {
  auto f = std::make_shared<Flags>();
  app->description(
      "Build a kernel tree for testing: the configuration is the base (--base-config, default defconfig), vigil's\n"
      "VM fragment, the `config` file of every collection (-c net/mptcp), --config fragments, --set options and\n"
      "the variant's fragments, settled by make olddefconfig; every option asked for that .config did not get\n"
      "is reported with the value it got. Then, out of tree in a directory of the tree and variant, with ccache\n"
      "when installed: the kernel, its modules (installed to a staging directory), the headers and the\n"
      "collections' kselftests (installed with kselftest-list.txt): what `vigil run --kernel --modules --tests`\n"
      "takes, and what `vigil run --build` builds and boots in one step.\n\n"
      "The build is recorded in the store (--db): tree, commit, variant, config hash, compiler, duration, status\n"
      "and every compiler, linker, modpost and Kconfig diagnostic; --compare-to reports new warnings.\n\n"
      "Exit status: 0 built, 1 the build failed (compiler, linker or config error), 2 usage or environment\n"
      "(a tool or header missing: named, with the apt-get line), 130/143 interrupted.");
  app->add_option("--tree", f->build.tree, "The kernel source tree (not configured in place)")->required();
  app->add_option("-c,--collection", f->collections,
                  "A kselftest collection (net/mptcp): its config fragment is merged, its tests built and installed "
                  "(repeatable)");
  AddBuildOptions(app, &f->build, "Build", false);
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI (created if missing)")->capture_default_str();
  app->add_option("--json", f->json_path, "Write the build and its diagnostics as JSON (format_version 1) to FILE");
  app->add_flag("-v,--verbose", f->verbose, "Print make's output as it comes");
  app->add_flag("--no-kernel", f->no_kernel, "Only the headers and the collections' kselftests");
  return [f] { return Run(*f); };
}

}  // namespace vigil::cli
