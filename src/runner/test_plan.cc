#include "runner/test_plan.h"

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "base/text.h"
#include "runner/timeout.h"

namespace vigil::runner {
namespace fs = std::filesystem;

std::string ArgsVariable(std::string_view basename) {
  std::string s;
  for (char c : basename) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '\t' || std::iscntrl(u)) continue;  // tr -d "[:blank:][:cntrl:]"
    s.push_back(std::isalnum(u) || c == '_' ? static_cast<char>(std::toupper(u)) : '_');
  }
  return "KSELFTEST_" + s + "_ARGS";
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// What a warning shows of a line from a file: terminal-safe and short.
std::string Shown(std::string_view s) { return SanitizeForTerminal(s.substr(0, 80)); }

}  // namespace

Result<Settings> ParseSettings(std::string_view text, const std::string& source) {
  Settings out;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      out.warnings.push_back(fmt::format("{}:{}: not KEY=VALUE, ignored: '{}'", source, line_no, Shown(line)));
      continue;
    }
    std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = line.substr(eq + 1);
    if (key == "timeout") {
      auto t = ParseTimeout(value);
      if (!t.ok()) return Status::InvalidArgument(fmt::format("{}:{}: {}", source, line_no, t.status().message()));
      out.timeout = *t;
    } else {
      // The kselftest runner sets kselftest_<KEY> for any key and reads only timeout.
      out.warnings.push_back(
          fmt::format("{}:{}: unknown setting '{}', ignored (known: timeout)", source, line_no, Shown(key)));
    }
  }
  return out;
}

Result<Settings> ReadSettings(const std::string& settings_path) {
  std::ifstream f(settings_path, std::ios::binary);
  if (!f) return Settings{};
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseSettings(ss.str(), settings_path);
}

bool IsMissing(const TestSpec& spec) {
  struct stat st {};
  return lstat(spec.program.c_str(), &st) != 0 && errno == ENOENT;
}

namespace {

bool IsExecutableFile(const fs::path& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

TestSpec MakeSpec(const fs::path& root, const std::string& collection, const std::string& name) {
  TestSpec t;
  t.collection = collection;
  t.name = name;
  fs::path dir = collection.empty() ? root : root / collection;
  t.dir = dir.string();
  t.program = (dir / name).string();
  t.args_variable = ArgsVariable(name);
  return t;
}

}  // namespace

Result<std::vector<TestSpec>> LoadPlan(const std::string& dir_arg, const PlanFilter& filter,
                                       std::vector<std::string>* warnings) {
  std::error_code ec;
  fs::path root = fs::absolute(dir_arg, ec);
  if (ec || !fs::is_directory(root, ec)) {
    return Status::NotFound(fmt::format("{} is not a directory", dir_arg));
  }
  std::vector<std::string> ignored;
  if (!warnings) warnings = &ignored;
  std::vector<TestSpec> all;
  fs::path list = root / "kselftest-list.txt";
  if (fs::exists(list, ec)) {
    std::ifstream f(list);
    std::string raw;
    int line_no = 0;
    // Each test once, on the line that listed it first; the lines of repeats.
    std::map<std::string, std::vector<int>> lines_of;
    while (std::getline(f, raw)) {
      ++line_no;
      std::string_view line = Trim(raw);
      if (line.empty() || line[0] == '#') continue;
      size_t colon = line.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
        return Status::Corruption(
            fmt::format("{}:{}: expected COLLECTION:TEST, got \"{}\"", list.string(), line_no, Shown(line)));
      }
      std::vector<int>& seen_on = lines_of[std::string(line)];
      seen_on.push_back(line_no);
      if (seen_on.size() > 1) continue;
      all.push_back(MakeSpec(root, std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))));
    }
    for (const auto& t : all) {
      const std::vector<int>& seen_on = lines_of[t.path()];
      if (seen_on.size() < 2) continue;
      std::string where;
      for (size_t k = 1; k < seen_on.size(); ++k) where += fmt::format("{}{}", k > 1 ? ", " : "", seen_on[k]);
      warnings->push_back(fmt::format("{}:{}: {} is listed again on line{} {}; it runs once", list.string(),
                                      seen_on[0], Shown(t.path()), seen_on.size() > 2 ? "s" : "", where));
    }
  } else {
    // A plain directory of executables: one collection named after it.
    std::string collection = root.filename().string();
    std::vector<std::string> names;
    // increment(ec), not ++: an entry vanishing while it is read is no exception.
    for (fs::directory_iterator it(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      if (IsExecutableFile(it->path())) names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      TestSpec t = MakeSpec(root, "", n);
      t.collection = collection;
      all.push_back(std::move(t));
    }
  }

  std::vector<TestSpec> selected;
  if (filter.tests.empty() && filter.collections.empty()) {
    selected = all;
  } else {
    std::set<std::string> seen;
    for (const auto& c : filter.collections) {
      bool found = false;
      for (const auto& t : all) {
        if (t.collection == c) {
          found = true;
          if (seen.insert(t.path()).second) selected.push_back(t);
        }
      }
      if (!found) return Status::NotFound(fmt::format("no such collection '{}'", c));
    }
    for (const auto& p : filter.tests) {
      auto it = std::find_if(all.begin(), all.end(), [&](const TestSpec& t) { return t.path() == p; });
      if (it == all.end()) return Status::NotFound(fmt::format("no such test '{}'", p));
      if (seen.insert(it->path()).second) selected.push_back(*it);
    }
  }
  std::vector<TestSpec> out;
  for (auto& t : selected) {
    std::string path = t.path();
    bool skipped = std::any_of(filter.skip.begin(), filter.skip.end(), [&](const std::string& pat) {
      return fnmatch(pat.c_str(), path.c_str(), 0) == 0;
    });
    if (!skipped) out.push_back(std::move(t));
  }
  // Timeouts from the `settings` of the collections that run (a bad one
  // elsewhere in the tree stops nothing).
  std::map<std::string, Settings> settings;
  for (auto& t : out) {
    auto it = settings.find(t.dir);
    if (it == settings.end()) {
      auto read = ReadSettings((fs::path(t.dir) / "settings").string());
      if (!read.ok()) return read.status();
      for (auto& w : read->warnings) warnings->push_back(std::move(w));
      it = settings.emplace(t.dir, std::move(*read)).first;
    }
    t.timeout = it->second.timeout;
  }
  return out;
}

}  // namespace vigil::runner
