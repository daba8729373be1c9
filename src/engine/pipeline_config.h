// The pipeline file of the patch loop (vigil watch, test-series,
// test-branch): which trees a series may be applied to, what is run on an
// applied tree, which Patchwork check contexts say how it went, and the
// e-mail report. TOML:
//
//   [[tree]]                     # in the order they are tried
//   name = "net-next"            # matched against the subject's tag: [PATCH net-next]
//   branch = "main"              # the branch of --repo a series is applied on
//   remote = "origin"            # optional: fetched before each series
//
//   [build]                      # optional: a kernel built from the checkout
//   base_config = "defconfig"    # a make *config target, or a file (relative to this file)
//   fragments = ["mptcp.config"] # config fragments (relative to this file)
//   set = ["CONFIG_MPTCP=y"]
//   variants = ["normal"]        # each built and tested: "normal", "debug" or
//                                # one of variants_file (vigil build --variants)
//   jobs = 0                     # 0: every CPU
//   ccache_dir = ""              # the sandbox's own ccache; "" <work dir>/ccache
//   context = "vigil-build"      # the check context
//
//   [run]                        # on the host, each test sandboxed; with
//                                # [build]: the collections' kselftests, in a
//                                # VM booting the built kernel
//   tests = "selftests"          # the test tree inside the checkout (no [build])
//   build = "make -C selftests"  # optional, run sandboxed in the checkout first
//   collections = ["net"]        # optional: -c; tests = ["net:a.sh"]: -t
//   jobs = 1, retries = 1
//   known_issues = "known.toml"  # optional, relative to this file
//   context = "vigil-test"       # the check context
//   cpus = 2, memory = "2G", append = "", panic_on = "", hang_timeout = 0
//                                # with [build]: the VM (vigil run's options)
//
//   [checks]
//   target_url = "https://ci.example.org/runs/{run}"   # {run} {series} {patch}
//
//   [email]                      # optional: a reply in the series' thread
//   smtp = "smtp://127.0.0.1:25" # or smtps://
//   starttls = false
//   user = "", password_file = ""
//   from = "Vigil CI <ci@example.org>"
//   cc = ["netdev@vger.kernel.org"]
//   to_submitter = true
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::engine {

struct PipelineTree {
  std::string name;
  std::string branch;
  std::string remote;  // "" : not fetched
};

struct PipelineRun {
  std::string tests;                     // relative to the checkout
  std::string build;                     // shell command, sandboxed; "" none
  std::vector<std::string> collections;  // -c
  std::vector<std::string> tests_filter; // -t
  int jobs = 1;
  int retries = 0;
  std::string known_issues;              // absolute; "" none
  std::string context = "vigil-test";
  // With [build]: the VM that boots the built kernel (vigil run's options).
  int cpus = 2;
  std::string memory = "2G";
  std::string append;        // more kernel command line
  std::string panic_on;      // "", "warn", "oops", "warn,oops"
  int hang_timeout = 0;      // seconds without output: a hang; 0 off
};

// A kernel built from the checkout (vigil build's options), sandboxed.
struct PipelineBuild {
  bool enabled = false;
  std::string base_config = "defconfig";  // a *config target, or an absolute file
  std::vector<std::string> fragments;     // absolute
  std::vector<std::string> set;           // CONFIG_X=VALUE
  std::vector<std::string> variants = {"normal"};  // with several, contexts get "-<variant>"
  std::string variants_file;              // absolute; "" none
  int jobs = 0;
  std::string ccache_dir;                 // absolute; "" <work dir>/ccache
  std::string context = "vigil-build";
};

struct PipelineEmail {
  bool enabled = false;
  std::string smtp;
  bool starttls = false;
  std::string user;
  std::string password_file;  // absolute
  std::string from;           // "Name <addr>"
  std::vector<std::string> cc;
  bool to_submitter = true;
};

struct Pipeline {
  std::string source;  // the file
  std::vector<PipelineTree> trees;
  PipelineBuild build;
  PipelineRun run;
  std::string target_url;  // pattern; "" none
  PipelineEmail email;
  std::string hash;  // of the file's text: baselines are kept per pipeline
  const PipelineTree* FindTree(const std::string& name) const;
};

Result<Pipeline> ParsePipeline(const std::string& text, const std::string& source);
Result<Pipeline> LoadPipeline(const std::string& path);
// The pipeline's hash with the contents, as they are now, of the files its
// build reads (a base config file, the fragments, the variants file): a
// base commit's run is reused only while they are what they were.
std::string BuildInputsHash(const Pipeline& p);

}  // namespace vigil::engine
