#include "runner/test_plan.h"

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

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

std::chrono::seconds ReadSettingsTimeout(const std::string& settings_path) {
  std::ifstream f(settings_path);
  std::string line;
  std::chrono::seconds timeout = kDefaultKselftestTimeout;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("timeout=", 0) != 0) continue;
    try {
      long v = std::stol(line.substr(8));
      if (v >= 0) timeout = std::chrono::seconds(v);
    } catch (...) {
      // Not a number: keep the default, as the shell runner's timeout would fail.
    }
  }
  return timeout;
}

namespace {

bool IsExecutableFile(const fs::path& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

TestSpec MakeSpec(const fs::path& root, const std::string& collection, const std::string& name,
                  std::map<std::string, std::chrono::seconds>* timeouts) {
  TestSpec t;
  t.collection = collection;
  t.name = name;
  fs::path dir = collection.empty() ? root : root / collection;
  t.dir = dir.string();
  t.program = (dir / name).string();
  auto it = timeouts->find(t.dir);
  if (it == timeouts->end()) {
    it = timeouts->emplace(t.dir, ReadSettingsTimeout((dir / "settings").string())).first;
  }
  t.timeout = it->second;
  t.args_variable = ArgsVariable(name);
  return t;
}

}  // namespace

Result<std::vector<TestSpec>> LoadPlan(const std::string& dir_arg, const PlanFilter& filter) {
  std::error_code ec;
  fs::path root = fs::absolute(dir_arg, ec);
  if (ec || !fs::is_directory(root, ec)) {
    return Status::NotFound(fmt::format("{} is not a directory", dir_arg));
  }
  std::map<std::string, std::chrono::seconds> timeouts;
  std::vector<TestSpec> all;
  fs::path list = root / "kselftest-list.txt";
  if (fs::exists(list, ec)) {
    std::ifstream f(list);
    std::string line;
    int line_no = 0;
    while (std::getline(f, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      size_t colon = line.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == line.size()) {
        return Status::Corruption(
            fmt::format("{}:{}: expected COLLECTION:TEST, got \"{}\"", list.string(), line_no, line));
      }
      all.push_back(MakeSpec(root, line.substr(0, colon), line.substr(colon + 1), &timeouts));
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
      TestSpec t = MakeSpec(root, "", n, &timeouts);
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
  return out;
}

}  // namespace vigil::runner
