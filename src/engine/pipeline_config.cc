#include "engine/pipeline_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/hash.h"
#include "base/toml_check.h"
#include "kbuild/build.h"
#include "kbuild/kconfig.h"

namespace vigil::engine {

namespace {

Status Bad(const std::string& source, const toml::node& n, const std::string& what) {
  return Status::InvalidArgument(fmt::format("{}: {}", TomlWhere(source, n), what));
}

// A string value, or an error naming the key.
Status GetString(const toml::table& t, const char* key, const std::string& source, std::string* out) {
  const toml::node* n = t.get(key);
  if (!n) return Status::OK();
  auto v = n->value<std::string>();
  if (!v) return Bad(source, *n, fmt::format("{} must be a string", key));
  *out = *v;
  return Status::OK();
}

Status GetStrings(const toml::table& t, const char* key, const std::string& source, std::vector<std::string>* out) {
  const toml::node* n = t.get(key);
  if (!n) return Status::OK();
  const toml::array* arr = n->as_array();
  if (!arr) return Bad(source, *n, fmt::format("{} must be a list of strings", key));
  for (const auto& el : *arr) {
    auto v = el.value<std::string>();
    if (!v) return Bad(source, el, fmt::format("{} must be a list of strings", key));
    out->push_back(*v);
  }
  return Status::OK();
}

Status GetBool(const toml::table& t, const char* key, const std::string& source, bool* out) {
  const toml::node* n = t.get(key);
  if (!n) return Status::OK();
  auto v = n->value<bool>();
  if (!v) return Bad(source, *n, fmt::format("{} must be true or false", key));
  *out = *v;
  return Status::OK();
}

Status GetInt(const toml::table& t, const char* key, int lo, int hi, const std::string& source, int* out) {
  const toml::node* n = t.get(key);
  if (!n) return Status::OK();
  auto v = n->value_exact<int64_t>();
  if (!v || *v < lo || *v > hi) return Bad(source, *n, fmt::format("{} must be an integer from {} to {}", key, lo, hi));
  *out = static_cast<int>(*v);
  return Status::OK();
}

// A path of the pipeline file, relative to the file's directory.
std::string Beside(const std::string& source, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  std::filesystem::path dir = std::filesystem::path(source).parent_path();
  return std::filesystem::absolute(dir / path).lexically_normal().string();
}

bool SafeRelative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : std::filesystem::path(p)) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

const PipelineTree* Pipeline::FindTree(const std::string& name) const {
  for (const auto& t : trees) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<Pipeline> ParsePipeline(const std::string& text, const std::string& source) {
  auto parsed = TomlParse(text, source);
  if (!parsed.ok()) return parsed.status();
  const toml::table& root = parsed.value();
  Status s = TomlCheckKeys(root, {"tree", "build", "run", "checks", "email"}, source, "pipeline");
  if (!s.ok()) return s;
  Pipeline p;
  p.source = source;
  p.hash = fmt::format("{:016x}", Fnv1a(text));

  const toml::node* trees = root.get("tree");
  const toml::array* tarr = trees ? trees->as_array() : nullptr;
  if (!tarr || tarr->empty()) {
    return Status::InvalidArgument(fmt::format("{}: a pipeline needs at least one [[tree]] (name, branch)", source));
  }
  for (const auto& item : *tarr) {
    const toml::table* t = item.as_table();
    if (!t) return Bad(source, item, "[[tree]] must be a table");
    if (s = TomlCheckKeys(*t, {"name", "branch", "remote"}, source, "tree"); !s.ok()) return s;
    PipelineTree tree;
    if (s = GetString(*t, "name", source, &tree.name); !s.ok()) return s;
    if (s = GetString(*t, "branch", source, &tree.branch); !s.ok()) return s;
    if (s = GetString(*t, "remote", source, &tree.remote); !s.ok()) return s;
    if (tree.name.empty() || tree.branch.empty()) return Bad(source, item, "[[tree]] needs name and branch");
    if (tree.name.find_first_of(" \t,[]") != std::string::npos) {
      return Bad(source, item, fmt::format("tree name '{}' cannot hold blanks, commas or brackets", tree.name));
    }
    if (p.FindTree(tree.name)) return Bad(source, item, fmt::format("tree '{}' is named twice", tree.name));
    p.trees.push_back(tree);
  }

  if (const toml::node* n = root.get("build")) {
    const toml::table* t = n->as_table();
    if (!t) return Bad(source, *n, "[build] must be a table");
    if (s = TomlCheckKeys(*t, {"base_config", "fragments", "set", "variant", "variants", "variants_file", "jobs", "ccache_dir", "context"}, source,
                          "build");
        !s.ok()) {
      return s;
    }
    PipelineBuild& b = p.build;
    b.enabled = true;
    if (s = GetString(*t, "base_config", source, &b.base_config); !s.ok()) return s;
    if (b.base_config.empty()) return Bad(source, *n, "[build] base_config cannot be empty");
    // A make target (defconfig, tinyconfig, x86_64_defconfig) or a file.
    if (b.base_config.find('/') != std::string::npos || b.base_config.size() < 6 ||
        b.base_config.compare(b.base_config.size() - 6, 6, "config") != 0) {
      b.base_config = Beside(source, b.base_config);
    }
    if (s = GetStrings(*t, "fragments", source, &b.fragments); !s.ok()) return s;
    for (auto& f : b.fragments) f = Beside(source, f);
    if (s = GetStrings(*t, "set", source, &b.set); !s.ok()) return s;
    for (const auto& v : b.set) {
      if (auto parsed = kbuild::ParseSetArgument(v); !parsed.ok()) {
        return Bad(source, *n, fmt::format("[build] set: {}: {}", v, parsed.status().message()));
      }
    }
    if (s = GetString(*t, "variants_file", source, &b.variants_file); !s.ok()) return s;
    b.variants_file = Beside(source, b.variants_file);
    if (t->get("variant") && t->get("variants")) return Bad(source, *n, "[build] has variant or variants, not both");
    if (t->get("variant")) {
      std::string one;
      if (s = GetString(*t, "variant", source, &one); !s.ok()) return s;
      b.variants = {one};
    } else if (t->get("variants")) {
      b.variants.clear();
      if (s = GetStrings(*t, "variants", source, &b.variants); !s.ok()) return s;
      if (b.variants.empty()) return Bad(source, *n, "[build] variants cannot be empty");
    }
    for (size_t i = 0; i < b.variants.size(); ++i) {
      const std::string& name = b.variants[i];
      if (name.empty() || name.find_first_of("/ \t") != std::string::npos || name[0] == '.') {
        return Bad(source, *n, fmt::format("[build] variant '{}' is not a name", name));
      }
      for (size_t k = 0; k < i; ++k) {
        if (b.variants[k] == name) return Bad(source, *n, fmt::format("[build] variant '{}' is named twice", name));
      }
      if (auto v = kbuild::FindVariant(name, b.variants_file); !v.ok()) {
        return Bad(source, *n, fmt::format("[build] variant {}: {}", name, v.status().message()));
      }
    }
    if (s = GetInt(*t, "jobs", 0, 1024, source, &b.jobs); !s.ok()) return s;
    if (s = GetString(*t, "ccache_dir", source, &b.ccache_dir); !s.ok()) return s;
    b.ccache_dir = Beside(source, b.ccache_dir);
    if (s = GetString(*t, "context", source, &b.context); !s.ok()) return s;
    if (b.context.empty()) return Status::InvalidArgument(fmt::format("{}: [build] context cannot be empty", source));
  }

  const toml::table* run = root.get("run") ? root.get("run")->as_table() : nullptr;
  if (!run) return Status::InvalidArgument(fmt::format("{}: a pipeline needs a [run] table (tests = \"DIR\")", source));
  if (s = TomlCheckKeys(*run,
                        {"tests", "build", "collections", "tests_filter", "jobs", "retries", "known_issues", "context",
                         "cpus", "memory", "append", "panic_on", "hang_timeout"},
                        source, "run");
      !s.ok()) {
    return s;
  }
  PipelineRun& r = p.run;
  if (s = GetString(*run, "tests", source, &r.tests); !s.ok()) return s;
  if (s = GetString(*run, "build", source, &r.build); !s.ok()) return s;
  if (s = GetStrings(*run, "collections", source, &r.collections); !s.ok()) return s;
  if (s = GetStrings(*run, "tests_filter", source, &r.tests_filter); !s.ok()) return s;
  for (const char* vm_key : {"cpus", "memory", "append", "panic_on", "hang_timeout"}) {
    if (run->get(vm_key) && !p.build.enabled) {
      return Bad(source, *run->get(vm_key),
                 fmt::format("[run] {} is an option of the VM that boots the built kernel: only with [build]", vm_key));
    }
  }
  if (s = GetInt(*run, "cpus", 1, 64, source, &r.cpus); !s.ok()) return s;
  if (s = GetString(*run, "memory", source, &r.memory); !s.ok()) return s;
  if (r.memory.empty() || r.memory.find_first_not_of("0123456789") == 0 ||
      r.memory.find_first_not_of("0123456789KMGTkmgt") != std::string::npos) {
    return Status::InvalidArgument(fmt::format("{}: [run] memory must be a QEMU size (2G, 1536M), not '{}'", source, r.memory));
  }
  if (s = GetString(*run, "append", source, &r.append); !s.ok()) return s;
  if (r.append.find_first_of("\n\r") != std::string::npos) {
    return Status::InvalidArgument(fmt::format("{}: [run] append must be one line", source));
  }
  if (s = GetString(*run, "panic_on", source, &r.panic_on); !s.ok()) return s;
  if (r.panic_on != "" && r.panic_on != "warn" && r.panic_on != "oops" && r.panic_on != "warn,oops" &&
      r.panic_on != "oops,warn") {
    return Status::InvalidArgument(fmt::format("{}: [run] panic_on must be warn, oops or warn,oops", source));
  }
  if (s = GetInt(*run, "hang_timeout", 0, 86400, source, &r.hang_timeout); !s.ok()) return s;
  if (p.build.enabled) {
    // The tests are the collections' kselftests, built with the kernel.
    if (!r.tests.empty() || !r.build.empty()) {
      return Status::InvalidArgument(fmt::format(
          "{}: with [build], [run] runs the kselftests built with the kernel: no tests or build there", source));
    }
    if (r.collections.empty() && r.tests_filter.empty()) {
      return Status::InvalidArgument(fmt::format(
          "{}: with [build], [run] needs the collections to build and run (collections = [\"net/mptcp\"], or "
          "tests_filter = [\"COLL:TEST\"])",
          source));
    }
    for (const auto& t : r.tests_filter) {
      if (t.find(':') == std::string::npos || t[0] == ':') {
        return Status::InvalidArgument(
            fmt::format("{}: with [build], [run] tests_filter entries are COLL:TEST ('{}')", source, t));
      }
    }
  } else if (!SafeRelative(r.tests)) {
    return Status::InvalidArgument(
        fmt::format("{}: [run] tests must be a path inside the checkout (relative, no '..')", source));
  }
  if (s = GetInt(*run, "jobs", 1, 256, source, &r.jobs); !s.ok()) return s;
  if (s = GetInt(*run, "retries", 0, 100, source, &r.retries); !s.ok()) return s;
  if (s = GetString(*run, "known_issues", source, &r.known_issues); !s.ok()) return s;
  r.known_issues = Beside(source, r.known_issues);
  if (s = GetString(*run, "context", source, &r.context); !s.ok()) return s;
  if (r.context.empty()) return Status::InvalidArgument(fmt::format("{}: [run] context cannot be empty", source));
  if (p.build.enabled && r.context == p.build.context) {
    return Status::InvalidArgument(fmt::format("{}: [build] and [run] need different check contexts", source));
  }

  if (const toml::node* n = root.get("checks")) {
    const toml::table* t = n->as_table();
    if (!t) return Bad(source, *n, "[checks] must be a table");
    if (s = TomlCheckKeys(*t, {"target_url"}, source, "checks"); !s.ok()) return s;
    if (s = GetString(*t, "target_url", source, &p.target_url); !s.ok()) return s;
  }

  if (const toml::node* n = root.get("email")) {
    const toml::table* t = n->as_table();
    if (!t) return Bad(source, *n, "[email] must be a table");
    if (s = TomlCheckKeys(*t, {"smtp", "starttls", "user", "password_file", "from", "cc", "to_submitter"}, source, "email");
        !s.ok()) {
      return s;
    }
    PipelineEmail& e = p.email;
    e.enabled = true;
    if (s = GetString(*t, "smtp", source, &e.smtp); !s.ok()) return s;
    if (s = GetBool(*t, "starttls", source, &e.starttls); !s.ok()) return s;
    if (s = GetString(*t, "user", source, &e.user); !s.ok()) return s;
    if (s = GetString(*t, "password_file", source, &e.password_file); !s.ok()) return s;
    e.password_file = Beside(source, e.password_file);
    if (s = GetString(*t, "from", source, &e.from); !s.ok()) return s;
    if (s = GetStrings(*t, "cc", source, &e.cc); !s.ok()) return s;
    if (s = GetBool(*t, "to_submitter", source, &e.to_submitter); !s.ok()) return s;
    if (e.smtp.rfind("smtp://", 0) != 0 && e.smtp.rfind("smtps://", 0) != 0) {
      return Bad(source, *n, "[email] smtp must be smtp://HOST:PORT or smtps://HOST:PORT");
    }
    if (e.from.find('@') == std::string::npos) return Bad(source, *n, "[email] from must hold an address");
  }
  return p;
}

std::string BuildInputsHash(const Pipeline& p) {
  if (!p.build.enabled) return p.hash;
  std::vector<std::string> files = p.build.fragments;
  if (std::filesystem::path(p.build.base_config).is_absolute()) files.push_back(p.build.base_config);
  if (!p.build.variants_file.empty()) files.push_back(p.build.variants_file);
  uint64_t h = Fnv1a(p.hash);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    h = Fnv1a(in ? ss.str() : std::string("(unreadable)"), Fnv1a(f, h));
  }
  return fmt::format("{:016x}", h);
}

Result<Pipeline> LoadPipeline(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::NotFound(fmt::format("cannot read pipeline {}", path));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string abs = std::filesystem::absolute(path).lexically_normal().string();
  return ParsePipeline(ss.str(), abs);
}

}  // namespace vigil::engine
