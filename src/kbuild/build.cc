#include "kbuild/build.h"

#include <fcntl.h>
#include <cerrno>
#include <cstring>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "base/hash.h"
#include "base/toml_check.h"
#include "sys/cancel.h"
#include "sys/process.h"
#include "sys/sandbox.h"

namespace vigil::kbuild {

// The fragments of configs/, generated into the build (fragments.cc.in).
extern const char* const kVmFragment;
extern const char* const kDebugFragment;

namespace fs = std::filesystem;

namespace {

constexpr size_t kTailLines = 40;
constexpr uint64_t kMaxLogBytes = 256ull << 20;

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string FirstLine(std::string_view s) {
  size_t nl = s.find('\n');
  return std::string(TrimRight(s.substr(0, nl)));
}

bool ReadFile(const fs::path& p, std::string* out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return static_cast<bool>(f) || f.eof();
}

bool WriteFileAtomically(const fs::path& p, std::string_view text) {
  fs::path tmp = p.string() + ".vigil-tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) return false;
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  return !ec;
}

// The first directory of PATH holding an executable `name`, "" when none.
std::string FindProgram(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + std::string(name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return "";
    rest.remove_prefix(colon + 1);
  }
}

int CpuCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

std::string Compiler(const BuildOptions& o) { return o.cc.empty() ? "gcc" : o.cc; }

// Builds one make command line: the tree, the output directory, the
// compiler (through ccache), the fixed build identity, then `args`.
class Make {
 public:
  Make(const BuildOptions& o, std::string out, bool ccache) : o_(o), out_(std::move(out)) {
    std::string cc = Compiler(o);
    cc_ = ccache ? "ccache " + cc : cc;
    hostcc_ = ccache ? "ccache gcc" : "gcc";
    env_ = sys::CurrentEnvironment();
    if (o.clean_env) {
      std::vector<std::string> basics;
      for (auto& e : env_) {
        std::string name = e.substr(0, e.find('='));
        if (name == "PATH" || name == "HOME" || name == "LANG" || name.rfind("LC_", 0) == 0 || name == "TERM" ||
            name == "TMPDIR") {
          basics.push_back(std::move(e));
        }
      }
      env_ = std::move(basics);
    }
    std::map<std::string, std::string> set = {
        // The same bytes for the same sources: ccache hits, and a no-change
        // rebuild that links nothing.
        {"KBUILD_BUILD_TIMESTAMP", "1970-01-01 00:00:00 UTC"},
        {"KBUILD_BUILD_USER", "vigil"},
        {"KBUILD_BUILD_HOST", "vigil"},
        {"KBUILD_BUILD_VERSION", "1"},
    };
    if (ccache) {
      // Paths made relative and the working directory left out of the hash:
      // a fresh output directory beside an old one hits the cache.
      set.emplace("CCACHE_BASEDIR", "/");
      set.emplace("CCACHE_NOHASHDIR", "1");
    }
    for (const auto& [k, v] : o.env) set[k] = v;
    std::vector<std::string> kept;
    for (auto& e : env_) {
      std::string name = e.substr(0, e.find('='));
      // Variables kbuild reads that would change what is built.
      if (set.count(name) || name == "ARCH" || name == "CROSS_COMPILE" || name == "KBUILD_OUTPUT" || name == "O" ||
          name == "KCONFIG_CONFIG" || name == "MAKEFLAGS" || name == "MFLAGS" || name == "MAKELEVEL")
        continue;
      kept.push_back(std::move(e));
    }
    for (const auto& [k, v] : set) kept.push_back(k + "=" + v);
    env_ = std::move(kept);
  }
  std::vector<std::string> Argv(const std::string& out, const std::vector<std::string>& args, int jobs) const {
    std::vector<std::string> argv = o_.wrapper;
    argv.insert(argv.end(), {"make", "-C", o_.tree, "O=" + out, "CC=" + cc_, "HOSTCC=" + hostcc_});
    if (jobs > 0) argv.push_back("-j" + std::to_string(jobs));
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  std::vector<std::string> Argv(const std::vector<std::string>& args, int jobs) const { return Argv(out_, args, jobs); }
  const std::vector<std::string>& env() const { return env_; }
  const std::string& cc() const { return cc_; }

 private:
  const BuildOptions& o_;
  std::string out_;
  std::string cc_, hostcc_;
  std::vector<std::string> env_;
};

// Reads make's output: diagnostics, steps, the log, the last lines.
class OutputReader final : public sys::OutputSink {
 public:
  OutputReader(BuildObserver& observer, std::ofstream& log, DiagnosticsParser& parser, int64_t* steps)
      : observer_(observer), log_(log), parser_(parser), steps_(steps) {}

  void OnOutput(std::string_view bytes) override {
    parser_.Feed(bytes);
    if (log_bytes_ < kMaxLogBytes) {
      size_t n = std::min<uint64_t>(bytes.size(), kMaxLogBytes - log_bytes_);
      log_.write(bytes.data(), static_cast<std::streamsize>(n));
      log_bytes_ += n;
      if (log_bytes_ >= kMaxLogBytes) log_ << "\n[vigil: the log stops here: " << kMaxLogBytes << " bytes]\n";
      log_.flush();  // people follow it with tail -f
    }
    for (char c : bytes) {
      if (c == '\n') {
        Line();
        continue;
      }
      if (partial_.size() < 4096) partial_.push_back(c);
    }
  }
  void Finish() {
    if (!partial_.empty()) Line();
    parser_.Finish();
    log_.flush();
  }
  std::vector<std::string> Tail() const { return {tail_.begin(), tail_.end()}; }

 private:
  void Line() {
    std::string_view line = TrimRight(partial_);
    observer_.Output(line);
    if (IsStepLine(line) && IsBuildStep(line)) observer_.Step(line.substr(2), ++*steps_);
    tail_.emplace_back(line);
    if (tail_.size() > kTailLines) tail_.pop_front();
    partial_.clear();
  }
  BuildObserver& observer_;
  std::ofstream& log_;
  DiagnosticsParser& parser_;
  int64_t* steps_;
  std::string partial_;
  std::deque<std::string> tail_;
  uint64_t log_bytes_ = 0;
};

// What kconfig reads besides the request: every Kconfig* file of the tree
// and the base configurations (arch/*/configs, kernel/configs), by path,
// size and modification time. A checkout that changes one changes this.
uint64_t KconfigInputs(const fs::path& tree) {
  uint64_t h = kFnvOffset;
  std::error_code ec;
  fs::recursive_directory_iterator it(tree, fs::directory_options::skip_permission_denied, ec), end;
  std::vector<std::string> entries;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (it->is_directory(ec)) {
      if (name == ".git" || (!name.empty() && name[0] == '.')) it.disable_recursion_pending();
      continue;
    }
    std::string parent = p.parent_path().filename().string();
    if (name.rfind("Kconfig", 0) != 0 && parent != "configs") continue;
    auto size = it->file_size(ec);
    auto time = it->last_write_time(ec);
    entries.push_back(fmt::format("{}\t{}\t{}", p.lexically_relative(tree).string(), size,
                                  time.time_since_epoch().count()));
  }
  std::sort(entries.begin(), entries.end());  // directory order is not stable
  for (const auto& e : entries) h = Fnv1a(e + "\n", h);
  return h;
}

// A --base-config that names a file, not a make target: one with a '/', an
// existing file (base.config here is that file, though kbuild has targets
// named *.config too), or a name that is not that of a *config target.
bool IsBaseFile(const std::string& base) {
  if (base.find('/') != std::string::npos) return true;
  std::error_code ec;
  if (fs::is_regular_file(base, ec)) return true;
  bool target = base.size() > 6 && base.compare(base.size() - 6, 6, "config") == 0 &&
                base.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") == std::string::npos;
  return !target;
}

class Builder {
 public:
  Builder(BuildOptions o, BuildObserver& observer) : o_(std::move(o)), observer_(observer) {}

  Result<BuildResult> Run();

 private:
  Result<BuildResult> RunAsOwner();
  // Runs make with `args` (in the output directory `out`, or the build's);
  // false when it failed or was cancelled (r_ says which).
  bool RunMake(const std::vector<std::string>& args, int jobs, const std::string& out = "");
  Status Configure();
  // The request met by `config`: what it did not get, its hash.
  void Settle(const ConfigRequest& request, const std::string& config);
  void FindFailedCommand();
  // Whether `path`, its links followed, is in the output directory: what
  // make (code from strangers) named or left there must not lead vigil,
  // and the VM it boots, to a file of the host.
  bool Inside(const std::string& path) const {
    std::error_code ec;
    std::string real = fs::weakly_canonical(path, ec).string();
    return !ec && real.rfind(r_.output_dir + "/", 0) == 0;
  }
  bool Failed(std::string failure) {
    r_.state = BuildResult::State::kFailed;
    r_.failure = std::move(failure);
    return false;
  }

  BuildOptions o_;  // the tree made absolute
  BuildObserver& observer_;
  BuildResult r_;
  std::unique_ptr<Make> make_;
  std::ofstream log_;
  DiagnosticsParser parser_;         // the build's output
  DiagnosticsParser config_parser_;  // kconfig's
  DiagnosticsParser* active_ = &config_parser_;
  std::vector<std::string> last_tail_;
  std::vector<Diagnostic> config_diagnostics_;
  bool config_modules_ = false;
  // With owner_uid: the user's own files (--config, the variant's
  // fragments, a base config file), read as vigil before it takes on the
  // owner's identity, which may not read them.
  std::map<std::string, Result<ConfigFile>> user_files_;
  std::optional<std::string> base_text_;
};

bool Builder::RunMake(const std::vector<std::string>& args, int jobs, const std::string& out) {
  sys::ProcessOptions p;
  p.argv = make_->Argv(out.empty() ? r_.output_dir : out, args, jobs);
  p.env = make_->env();
  p.max_output_bytes = 64 << 10;  // read as it comes; the log has all of it
  p.kill_grace = std::chrono::milliseconds(10000);
  p.cancel = o_.cancel;
  std::string shown;
  for (const auto& a : p.argv) shown += (shown.empty() ? "" : " ") + a;
  log_ << "$ " << shown << "\n";
  log_.flush();
  OutputReader reader(observer_, log_, *active_, &r_.steps);
  auto ran = sys::RunProcess(p, &reader);
  reader.Finish();
  last_tail_ = reader.Tail();
  if (!ran.ok()) return Failed("cannot start make: " + ran.status().message());
  if (ran->cancelled) {
    r_.state = BuildResult::State::kInterrupted;
    r_.failure = "interrupted";
    return false;
  }
  if (!ran->status.exited() || ran->status.exit_code() != 0) {
    r_.tail = last_tail_;
    std::string target;
    // The first: the innermost make names the object, the outer ones name
    // the directories and make's own targets around it.
    for (const auto& d : active_->diagnostics())
      if (d.tool == Tool::kMake && !d.target.empty()) {
        target = d.target;
        break;
      }
    r_.failed_target = target;
    return Failed(fmt::format("make {} failed ({}){}", args.empty() ? "" : args.back(), ran->status.ToString(),
                              target.empty() ? "" : ": " + target));
  }
  return true;
}

// With the failing target known, make it alone again with V=1: the command
// that failed is the line that names the target (kbuild hides commands).
void Builder::FindFailedCommand() {
  const std::string& t = r_.failed_target;
  if (t.empty() || t.find_first_of(" \t") != std::string::npos) return;
  // Only a file one command makes: a directory target would rebuild all
  // that is left in it, one job at a time.
  auto ends = [&](std::string_view suffix) {
    return t.size() > suffix.size() && t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::string base = fs::path(t).filename().string();
  if (!ends(".o") && !ends(".ko") && !ends(".a") && base.rfind("vmlinux", 0) != 0) return;
  sys::ProcessOptions p;
  p.argv = make_->Argv({"V=1", r_.failed_target}, 1);
  p.env = make_->env();
  p.timeout = std::chrono::minutes(2);
  p.max_output_bytes = 4 << 20;
  p.cancel = o_.cancel;
  auto ran = sys::RunProcess(p);
  if (!ran.ok()) return;
  std::istringstream in(ran->output);
  std::string line, found;
  while (std::getline(in, line)) {
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.rfind("make", 0) == 0 || l.empty()) continue;
    if (l.find(r_.failed_target) != std::string_view::npos &&
        (l.find(" -o ") != std::string_view::npos || l.find(" -c ") != std::string_view::npos ||
         l.rfind("ld ", 0) == 0 || l.find("ld ") != std::string_view::npos))
      found = std::string(l);
  }
  if (found.size() > 8192) found = found.substr(0, 8192) + " ...";
  r_.failed_command = found;
}

Status Builder::Configure() {
  observer_.Phase("config");
  fs::path scratch = fs::path(r_.output_dir) / ".vigil" / "config";
  std::error_code ec;
  fs::create_directories(scratch, ec);
  if (ec) return Status::IOError(fmt::format("cannot create {}: {}", scratch.string(), ec.message()));

  // The request, in the order its parts win: VM, collections, --config,
  // --set, the variant.
  ConfigRequest request;
  auto add_text = [&](std::string_view text, const std::string& name) { request.Add(ParseConfig(text, name)); };
  auto add_file = [&](const std::string& path) -> Status {
    auto known = user_files_.find(path);
    auto f = known != user_files_.end() ? known->second : ReadConfigFile(path);
    if (!f.ok()) return f.status();
    if (!f->ok()) return Status::InvalidArgument(f->errors.front().ToString());
    request.Add(*f);
    return Status::OK();
  };
  if (o_.vm_fragment) add_text(kVmFragment, "vigil:vm.config");
  // The tree's own files: what is wrong with them is the tree's, and fails
  // its build (exit 1, recorded) like a compiler error would. A tree of
  // strangers' (owner_uid) that lacks a collection fails its build too.
  auto tree_file = [&](const std::string& path) -> bool {
    Status s = add_file(path);
    if (s.ok()) return true;
    Failed("config: " + s.message());
    return false;
  };
  for (const auto& c : o_.collections) {
    auto path = CollectionConfigPath(o_.tree, c);
    if (!path.ok()) {
      if (o_.owner_uid < 0) return path.status();
      Failed("config: " + path.status().message());
      return Status::OK();
    }
    if (!path->empty() && !tree_file(*path)) return Status::OK();
  }
  for (const auto& f : o_.config_files)
    if (Status s = add_file(f); !s.ok()) return s;
  for (const auto& s : o_.set) {
    auto setting = ParseSetArgument(s);
    if (!setting.ok()) return setting.status();
    request.Add(*setting);
  }
  if (o_.variant.tree_debug_config) {
    fs::path tree_debug = fs::path(o_.tree) / "kernel/configs/debug.config";
    if (fs::exists(tree_debug, ec) && !tree_file(tree_debug.string())) return Status::OK();
  }
  for (const auto& name : o_.variant.builtin) add_text(BuiltinFragment(name), "vigil:" + name + ".config");
  for (const auto& f : o_.variant.fragments)
    if (Status s = add_file(f); !s.ok()) return s;
  for (const auto& s : o_.variant.set) {
    auto setting = ParseSetArgument(s);
    if (!setting.ok()) return setting.status();
    request.Add(*setting);
  }

  // The same request on the same Kconfig files with the same compiler
  // (kconfig asks it what it supports) gives the same .config: the one the
  // last build settled is used again without running kconfig.
  const std::string& base = o_.base_config;
  std::string base_text;
  if (base_text_) {
    base_text = *base_text_;
  } else if (IsBaseFile(base) && !ReadFile(base, &base_text)) {
    return Status::IOError("cannot read the base config " + base);
  }
  std::string fragment = request.ToFragment();
  std::string key = fmt::format(
      "{:016x}", Fnv1a(fmt::format("{}\n{}\n{}\n{}\n{}\n{:016x}", base, base_text, fragment, make_->cc(),
                                   r_.compiler, KconfigInputs(o_.tree))));
  fs::path key_file = fs::path(r_.output_dir) / ".vigil" / "config.key";
  fs::path dot_config = fs::path(r_.output_dir) / ".config";
  std::string old_key, old_config;
  if (ReadFile(key_file, &old_key) && ReadFile(dot_config, &old_config) &&
      old_key == key + " " + ConfigHash(old_config) + "\n") {
    Settle(request, old_config);
    r_.config_reused = true;
    return Status::OK();
  }

  // The base, in the scratch directory: the build's .config changes only
  // when the result does, so an unchanged configuration rebuilds nothing.
  if (IsBaseFile(base)) {
    if (!WriteFileAtomically(scratch / ".config", base_text)) return Status::IOError("cannot write " + scratch.string());
  } else if (!RunMake({base}, 0, scratch.string())) {
    if (r_.state == BuildResult::State::kInterrupted) return Status::OK();
    r_.failure = fmt::format("config: make {} failed", base);
    return Status::OK();
  }
  {
    std::ofstream f(scratch / ".config", std::ios::app | std::ios::binary);
    f << "\n# vigil build: the requested options\n" << fragment;
    if (!f) return Status::IOError("cannot write " + (scratch / ".config").string());
  }
  if (!RunMake({"olddefconfig"}, 0, scratch.string())) {
    if (r_.state != BuildResult::State::kInterrupted) r_.failure = "config: make olddefconfig failed";
    return Status::OK();
  }
  std::string config;
  if (!ReadFile(scratch / ".config", &config)) return Status::IOError("cannot read the resulting .config");
  Settle(request, config);
  if (old_config != config) {
    if (!WriteFileAtomically(dot_config, config)) return Status::IOError("cannot write " + dot_config.string());
  }
  if (!WriteFileAtomically(key_file, key + " " + r_.config_hash + "\n"))
    return Status::IOError("cannot write " + key_file.string());
  return Status::OK();
}

void Builder::Settle(const ConfigRequest& request, const std::string& config) {
  ConfigFile result = ParseConfig(config, ".config");
  r_.mismatches = CheckConfig(request, result);
  r_.config_hash = ConfigHash(config);
  for (const auto& s : result.settings)
    if (s.name == "CONFIG_MODULES" && s.value == "y") config_modules_ = true;
  r_.config = r_.output_dir + "/.config";
  r_.state = BuildResult::State::kBuilt;  // so far
}

Result<BuildResult> Builder::Run() {
  if (o_.owner_uid < 0) return RunAsOwner();
  // make runs as the owner, in an output directory it writes: what vigil
  // does there itself (the log, the scratch config, reading results,
  // removing stale modules) it does as that user too, so that a symlink
  // make left there cannot lead vigil, as root, to write, read or delete a
  // file of the host. What it creates is then the owner's already.
  for (const auto* list : {&o_.config_files, &o_.variant.fragments}) {
    for (const auto& f : *list) user_files_.emplace(f, ReadConfigFile(f));
  }
  if (IsBaseFile(o_.base_config)) {
    std::string text;
    if (!ReadFile(o_.base_config, &text)) return Status::IOError("cannot read the base config " + o_.base_config);
    base_text_ = std::move(text);
  }
  sys::FsIdentity as_owner;
  if (Status s = as_owner.Enter(static_cast<uid_t>(o_.owner_uid), static_cast<gid_t>(o_.owner_gid)); !s.ok()) {
    return Status::InvalidArgument(fmt::format("building as uid {}: {}", o_.owner_uid, s.message()));
  }
  return RunAsOwner();
}

Result<BuildResult> Builder::RunAsOwner() {
  auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  if (o_.tree.empty()) return Status::InvalidArgument("no kernel tree (--tree DIR)");
  fs::path tree = fs::weakly_canonical(o_.tree, ec);
  // A tree of strangers' (a patch series) that is not fit to build fails
  // its build; the user's own is a usage error.
  auto unfit = [&](std::string why) -> Result<BuildResult> {
    if (o_.owner_uid < 0) return Status::InvalidArgument(std::move(why));
    r_.output_dir = o_.output_dir;
    Failed(std::move(why));
    return std::move(r_);
  };
  if (ec || !fs::is_directory(tree) || !fs::exists(tree / "Makefile") || !fs::exists(tree / "Kconfig"))
    return unfit(o_.tree + " is not a kernel source tree (no Makefile and Kconfig)");
  if (fs::exists(tree / ".config") || fs::exists(tree / "include/config"))
    return unfit(fmt::format(
        "{} is configured in place (it has .config or include/config): kbuild refuses out-of-tree builds from it; "
        "run `make mrproper` in it",
        tree.string()));
  r_.output_dir = o_.output_dir.empty() ? DefaultOutputDir(tree.string(), o_.variant.name) : o_.output_dir;
  fs::create_directories(fs::path(r_.output_dir) / ".vigil", ec);
  if (ec) return Status::IOError(fmt::format("cannot create {}: {}", r_.output_dir, ec.message()));
  r_.output_dir = fs::canonical(r_.output_dir, ec).string();

  // One build at a time in an output directory.
  std::string lock_path = r_.output_dir + "/.vigil/lock";
  int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) return Status::IOError("cannot open " + lock_path);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{lock};
  if (flock(lock, LOCK_EX | LOCK_NB) != 0)
    return Status::InvalidArgument(fmt::format("another build is using {}", r_.output_dir));

  o_.tree = tree.string();
  const BuildOptions& o = o_;
  bool ccache = o.ccache && !FindProgram("ccache").empty();
  make_ = std::make_unique<Make>(o_, r_.output_dir, ccache);
  int jobs = o.jobs > 0 ? o.jobs : CpuCount();

  r_.log = r_.output_dir + "/.vigil/build.log";
  fs::remove(r_.log, ec);  // a link left there is replaced, not followed
  log_.open(r_.log, std::ios::binary | std::ios::trunc);
  if (!log_) return Status::IOError("cannot write " + r_.log);

  // A tree handed to the sandbox user (owner_uid) belongs to it: git asked
  // about it anyway (the caller vouches for its .git link), by size and
  // mtime only (the handing over changed every file's owner and ctime), and
  // without running anything the tree's config could name.
  auto git = [&](std::vector<std::string> args) { return GitArgv(o, std::move(args)); };
  if (auto head = sys::CommandOutput(git({"rev-parse", "--verify", "-q", "HEAD"})); head.ok()) {
    r_.commit = FirstLine(*head);
    if (auto d = sys::CommandOutput(git({"describe", "--always", "--dirty", "--abbrev=12"}), std::chrono::minutes(5));
        d.ok())
      r_.describe = FirstLine(*d);
    if (auto st = sys::CommandOutput(git({"status", "--porcelain", "--untracked-files=no"}), std::chrono::minutes(5));
        st.ok())
      r_.dirty = !TrimRight(*st).empty();
  }
  if (auto v = sys::CommandOutput({Compiler(o), "--version"}); v.ok()) r_.compiler = FirstLine(*v);

  auto finish = [&]() -> Result<BuildResult> {
    // kconfig's "override: reassigning to symbol X" is how fragments work,
    // not a problem; its other diagnostics stay.
    for (auto& d : config_parser_.TakeDiagnostics()) {
      if (d.tool == Tool::kKconfig && d.message.rfind("override: reassigning to symbol", 0) == 0) continue;
      config_diagnostics_.push_back(std::move(d));
    }
    // Errors of the tools; make's "*** [target] Error N" only repeat them.
    // kconfig's from what was kept; the build's from every one its parser
    // saw, kept or not.
    r_.warnings = parser_.count(Severity::kWarning);
    r_.errors = parser_.tool_errors();
    for (const auto& d : config_diagnostics_) {
      if (d.severity == Severity::kWarning) ++r_.warnings;
      if (d.severity >= Severity::kError && d.tool != Tool::kMake) ++r_.errors;
    }
    r_.diagnostics = std::move(config_diagnostics_);
    for (auto& d : parser_.TakeDiagnostics()) r_.diagnostics.push_back(std::move(d));
    // Files as the tree names them: kbuild says ../kernel/sys.c from an
    // output directory inside the tree, /path/to/tree/kernel/sys.c from one
    // elsewhere.
    bool inside = fs::path(r_.output_dir).parent_path() == fs::path(o.tree);
    auto tree_relative = [&](std::string* file) {
      std::string abs = o.tree + "/";
      if (file->rfind(abs, 0) == 0) {
        file->erase(0, abs.size());
      } else if (inside && file->rfind("../", 0) == 0) {
        file->erase(0, 3);
      }
    };
    for (auto& d : r_.diagnostics) {
      tree_relative(&d.file);
      for (auto& n : d.notes) tree_relative(&n.file);
    }
    r_.dropped = parser_.dropped();
    r_.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    return std::move(r_);
  };

  if (Status s = Configure(); !s.ok()) return s;
  if (r_.state != BuildResult::State::kBuilt) {
    if (r_.tail.empty()) r_.tail = last_tail_;
    return finish();
  }

  active_ = &parser_;
  if (o.kernel) {
    observer_.Phase("kernel");
    if (!RunMake({"all"}, jobs)) {
      if (r_.state == BuildResult::State::kFailed) FindFailedCommand();
      return finish();
    }
    // Asked of make with the build's own environment (and wrapper), as every make.
    auto ask = [&](const char* target) -> std::string {
      sys::ProcessOptions p;
      p.argv = make_->Argv({"-s", target}, 0);
      p.env = make_->env();
      p.timeout = std::chrono::minutes(5);
      p.max_output_bytes = 1 << 16;
      auto r = sys::RunProcess(p);
      if (!r.ok() || !r->status.exited() || r->status.exit_code() != 0) return "";
      return FirstLine(r->output);
    };
    std::string image = ask("image_name");
    std::string release = ask("kernelrelease");
    if (!image.empty()) r_.kernel = r_.output_dir + "/" + image;
    if (!r_.kernel.empty() && !Inside(r_.kernel)) {
      Failed("the kernel image " + r_.kernel + " leads out of the output directory");
      return finish();
    }
    if (!release.empty()) r_.release = release;
    r_.vmlinux = r_.output_dir + "/vmlinux";
    if (config_modules_) {
      observer_.Phase("modules");
      fs::path staging = fs::path(r_.output_dir) / ".vigil" / "staging";
      // Kept between builds: modules_install copies only the modules that
      // changed. What other releases left there goes.
      if (!RunMake({"INSTALL_MOD_PATH=" + staging.string(), "modules_install"}, jobs)) return finish();
      r_.modules = (staging / "lib/modules" / r_.release).string();
      if (!Inside(r_.modules)) {
        Failed("modules_install left " + r_.modules + " leading out of the output directory");
        return finish();
      }
      std::vector<fs::path> stale;
      for (auto it = fs::directory_iterator(staging / "lib/modules", ec); !ec && it != fs::directory_iterator();
           it.increment(ec)) {
        if (it->path().filename() != r_.release) stale.push_back(it->path());
      }
      for (const auto& p : stale) fs::remove_all(p, ec);
    }
  }
  // The UAPI headers (usr/include), which the kselftests build against.
  observer_.Phase("headers");
  if (!RunMake({"headers"}, jobs)) return finish();
  r_.headers = r_.output_dir + "/usr/include";
  if (!o.collections.empty()) {
    observer_.Phase("kselftest");
    fs::path install = fs::path(r_.output_dir) / "kselftest_install";
    fs::remove_all(install, ec);
    std::string targets;
    for (const auto& c : o.collections) targets += (targets.empty() ? "" : " ") + c;
    uint64_t errors_before = parser_.tool_errors();
    if (!RunMake({"TARGETS=" + targets, "INSTALL_PATH=" + install.string(), "kselftest-install"}, jobs))
      return finish();
    // The selftests' Makefile can end well when one collection of several
    // failed to build (its exit statuses multiplied): a compiler or linker
    // error in this phase fails it all the same.
    if (uint64_t errors = parser_.tool_errors() - errors_before; errors > 0) {
      Failed(fmt::format("kselftest-install: {} error{} building the selftests", errors, errors == 1 ? "" : "s"));
      return finish();
    }
    if (!fs::exists(install / "kselftest-list.txt", ec)) {
      Failed("kselftest-install made no kselftest-list.txt in " + install.string());
      return finish();
    }
    if (!Inside(install.string()) || !Inside((install / "kselftest-list.txt").string())) {
      Failed("kselftest-install left " + install.string() + " leading out of the output directory");
      return finish();
    }
    r_.tests = install.string();
  }
  return finish();
}

Variant NamedVariant(std::string_view name) {
  Variant v;
  v.name = std::string(name);
  return v;
}

}  // namespace

std::string_view BuiltinFragment(std::string_view name) {
  if (name == "vm") return kVmFragment;
  if (name == "debug") return kDebugFragment;
  return {};
}

Result<Variant> FindVariant(std::string_view name, const std::string& variants_file) {
  if (!variants_file.empty()) {
    std::string text;
    if (!ReadFile(variants_file, &text)) return Status::IOError("cannot read " + variants_file);
    auto parsed = TomlParse(text, variants_file);
    if (!parsed.ok()) return parsed.status();
    if (Status s = TomlCheckKeys(*parsed, {"variant"}, variants_file, "top-level key"); !s.ok()) return s;
    const toml::table* variants = (*parsed)["variant"].as_table();
    if (variants) {
      for (const auto& [key, node] : *variants) {
        if (key.str() != name) continue;
        const toml::table* t = node.as_table();
        if (!t) return Status::InvalidArgument(fmt::format("{}: variant.{} is not a table", variants_file, name));
        if (Status s = TomlCheckKeys(*t, {"fragments", "set", "debug_config", "base"}, variants_file,
                                     "key of a variant");
            !s.ok())
          return s;
        Variant v = NamedVariant(name);
        if (auto base = (*t)["base"].value<std::string>()) {
          if (*base == "debug") {
            v.tree_debug_config = true;
            v.builtin = {"debug"};
          } else if (*base != "normal") {
            return Status::InvalidArgument(
                fmt::format("{}: variant.{}: base must be normal or debug", variants_file, name));
          }
        }
        if (auto d = (*t)["debug_config"].value<bool>()) v.tree_debug_config = *d;
        fs::path dir = fs::path(variants_file).parent_path();
        auto strings = [&](const char* key, std::vector<std::string>* out, bool paths) -> Status {
          const toml::node* n = t->get(key);
          if (!n) return Status::OK();
          const toml::array* a = n->as_array();
          if (!a) return Status::InvalidArgument(fmt::format("{}: {} must be an array of strings", TomlWhere(variants_file, *n), key));
          for (const auto& e : *a) {
            auto s = e.value<std::string>();
            if (!s) return Status::InvalidArgument(fmt::format("{}: {} must be an array of strings", TomlWhere(variants_file, e), key));
            out->push_back(paths && !fs::path(*s).is_absolute() ? (dir / *s).string() : *s);
          }
          return Status::OK();
        };
        if (Status s = strings("fragments", &v.fragments, true); !s.ok()) return s;
        if (Status s = strings("set", &v.set, false); !s.ok()) return s;
        for (const auto& s : v.set)
          if (auto p = ParseSetArgument(s); !p.ok())
            return Status::InvalidArgument(fmt::format("{}: variant.{}: {}", variants_file, name, p.status().message()));
        return v;
      }
    }
  }
  if (name == "normal") return NamedVariant("normal");
  if (name == "debug") {
    Variant v = NamedVariant("debug");
    v.tree_debug_config = true;
    v.builtin = {"debug"};
    return v;
  }
  return Status::InvalidArgument(fmt::format("unknown variant {}: normal, debug{}", name,
                                             variants_file.empty() ? " (or one of a --variants file)"
                                                                   : " or one of " + variants_file));
}

std::string DefaultOutputDir(const std::string& tree, std::string_view variant) {
  std::error_code ec;
  fs::path real = fs::weakly_canonical(tree, ec);
  if (ec) real = tree;
  std::string base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/') {
    base = x;
  } else if (const char* h = std::getenv("HOME"); h && *h == '/') {
    base = std::string(h) + "/.cache";
  } else {
    base = "/tmp";
  }
  std::string name = real.filename().string();
  if (name.empty()) name = "tree";
  return fmt::format("{}/vigil/build/{}-{:08x}/{}", base, name,
                     static_cast<uint32_t>(Fnv1a(real.string()) & 0xffffffffu), variant);
}

Status CheckBuildEnvironment(const BuildOptions& options) {
  std::vector<std::string> missing, packages;
  auto need = [&](const std::string& program, const char* package) {
    if (FindProgram(program).empty()) {
      missing.push_back(program);
      packages.push_back(package);
    }
  };
  need("make", "make");
  std::string cc = Compiler(options);
  need(cc, cc == "clang" ? "clang" : "gcc");
  if (cc != "gcc") need("gcc", "gcc");  // HOSTCC
  need("flex", "flex");
  need("bison", "bison");
  need("bc", "bc");
  need("perl", "perl");
  if (missing.empty()) {
    // Headers the host programs of a build include (objtool, sign-file).
    for (auto [header, package] : {std::pair{"gelf.h", "libelf-dev"}, std::pair{"openssl/opensslv.h", "libssl-dev"}}) {
      auto r = sys::CommandOutput(
          {"sh", "-c", fmt::format("printf '#include <{}>\\n' | gcc -E -x c - -o /dev/null", header)});
      if (!r.ok()) {
        missing.push_back(fmt::format("<{}>", header));
        packages.push_back(package);
      }
    }
  }
  if (missing.empty()) return Status::OK();
  std::string names, apt;
  for (size_t i = 0; i < missing.size(); ++i) {
    names += (i ? ", " : "") + missing[i];
    apt += " " + packages[i];
  }
  return Status::NotFound(fmt::format("a kernel build needs what is missing here: {} (apt-get install{})", names, apt));
}

std::vector<std::string> GitArgv(const BuildOptions& o, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", o.tree};
  if (o.owner_uid >= 0) {
    argv.insert(argv.end(), {"-c", "safe.directory=" + o.tree, "-c", "core.checkStat=minimal", "-c",
                             "core.trustCtime=false", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

bool IsAncestor(const BuildOptions& o, const std::string& ancestor, const std::string& commit) {
  if (ancestor.empty() || commit.empty()) return false;
  if (ancestor == commit) return true;
  return sys::CommandOutput(GitArgv(o, {"merge-base", "--is-ancestor", ancestor, commit})).ok();
}

Result<BuildResult> Build(const BuildOptions& options, BuildObserver& observer) {
  Builder b(options, observer);
  return b.Run();
}

std::string ConfigHash(std::string_view config_text) {
  uint64_t h = kFnvOffset;
  size_t pos = 0;
  while (pos < config_text.size()) {
    size_t nl = config_text.find('\n', pos);
    std::string_view line = config_text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? config_text.size() : nl + 1;
    // "# CONFIG_X is not set" is a value; other comments are not.
    if (line.empty() || (line[0] == '#' && line.rfind("# CONFIG_", 0) != 0)) continue;
    h = Fnv1a(line, h);
    h = Fnv1a("\n", h);
  }
  return fmt::format("{:016x}", h);
}

bool IsBuildStep(std::string_view line) {
  if (!IsStepLine(line)) return false;
  std::string_view tag = line.substr(2, line.find(' ', 2) - 2);
  for (std::string_view t : {"CC", "AS", "LD", "AR", "HOSTCC", "HOSTLD", "HOSTCXX", "CPP", "LDS", "OBJCOPY", "BUILD",
                             "MODPOST", "KSYMS", "SORTTAB", "VOFFSET", "ZOFFSET", "MKPIGGY", "RELOCS", "STRIP",
                             "BTF", "GZIP", "XZKERN", "ZSTD22", "LZ4", "UPD", "MKELF", "MKREQ", "RSTRIP", "ASN.1"})
    if (tag == t) return true;
  return false;
}

bool IsStepLine(std::string_view line) {
  if (line.size() < 5 || line.substr(0, 2) != "  ") return false;
  size_t i = 2;
  if (line[i] < 'A' || line[i] > 'Z') return false;
  while (i < line.size() && ((line[i] >= 'A' && line[i] <= 'Z') || (line[i] >= '0' && line[i] <= '9') || line[i] == '_'))
    ++i;
  if (i - 2 > 12) return false;
  if (line.substr(i, 4) == " [M]") i += 4;
  if (i >= line.size() || line[i] != ' ') return false;
  while (i < line.size() && line[i] == ' ') ++i;
  return i < line.size();
}

}  // namespace vigil::kbuild
