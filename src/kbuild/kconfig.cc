#include "kbuild/kconfig.h"

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "base/text.h"

namespace vigil::kbuild {
namespace {

constexpr std::string_view kPrefix = "CONFIG_";

// Trailing blanks and a CR go; leading ones stay (kconfig does not read an
// indented line).
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Hostile text quoted in a message: one line, cut.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string cut(s.substr(0, kMax));
  if (s.size() > kMax) cut += "...";
  return "'" + SanitizeLine(cut) + "'";
}

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool ValidName(std::string_view name) {
  if (name.size() <= kPrefix.size() || name.substr(0, kPrefix.size()) != kPrefix) return false;
  for (char c : name)
    if (!IsNameChar(c)) return false;
  return true;
}

bool IsTristate(std::string_view v) { return v == "y" || v == "m" || v == "n"; }

// The text inside a quoted value, unescaped; false when `v` is not one
// well-formed quoted string.
bool Unquote(std::string_view v, std::string* out) {
  if (v.size() < 2 || v.front() != '"') return false;
  out->clear();
  for (size_t i = 1; i < v.size(); ++i) {
    char c = v[i];
    if (c == '"') return i + 1 == v.size();
    if (c == '\\') {
      if (++i == v.size()) return false;
      c = v[i];
    }
    out->push_back(c);
  }
  return false;  // no closing quote
}

struct Number {
  bool ok = false;
  bool negative = false;
  uint64_t magnitude = 0;
};

Number ParseNumber(std::string_view v) {
  Number n;
  int base = 10;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    base = 16;
    v.remove_prefix(2);
  } else if (!v.empty() && v[0] == '-') {
    n.negative = true;
    v.remove_prefix(1);
  }
  if (v.empty()) return n;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n.magnitude, base);
  n.ok = ec == std::errc() && end == v.data() + v.size();
  if (n.ok && n.magnitude == 0) n.negative = false;
  return n;
}

// Empty when `value` is one kconfig writes, else what is wrong with it.
std::string CheckValue(std::string_view value) {
  if (value.empty()) return "has no value";
  if (IsTristate(value)) return "";
  std::string unquoted;
  if (value.front() == '"')
    return Unquote(value, &unquoted) ? "" : "has an unterminated or malformed string " + Quote(value);
  if (ParseNumber(value).ok) return "";
  return "has value " + Quote(value) + ", neither y, m, n, a quoted string nor a number";
}

// Parses one trimmed, non-blank line. Returns true with `out` set for an
// assignment, true with `out->name` empty for a comment, false with `err` for
// a malformed line.
bool ParseLine(std::string_view line, ConfigSetting* out, std::string* err) {
  out->name.clear();
  if (line.front() == '#') {
    // "# CONFIG_X is not set", spaced as kconfig reads it; any other
    // comment is skipped.
    constexpr std::string_view kNotSet = " is not set";
    if (line.size() < 2 || line[1] != ' ') return true;
    std::string_view rest = line.substr(2);
    if (rest.size() > kNotSet.size() && rest.substr(0, kPrefix.size()) == kPrefix &&
        rest.substr(rest.size() - kNotSet.size()) == kNotSet) {
      std::string_view name = rest.substr(0, rest.size() - kNotSet.size());
      if (ValidName(name)) {
        out->name = std::string(name);
        out->value = "n";
      }
    }
    return true;
  }
  if (line.front() == ' ' || line.front() == '\t') {
    *err = "indented: kconfig ignores this line";
    return false;
  }
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) {
    *err = "not an assignment (CONFIG_X=value) or a comment: " + Quote(line);
    return false;
  }
  std::string_view name = Trim(line.substr(0, eq));
  std::string_view value = Trim(line.substr(eq + 1));
  if (!ValidName(name)) {
    *err = "option name " + Quote(name) + " is not CONFIG_ followed by letters, digits or _";
    return false;
  }
  std::string bad = CheckValue(value);
  if (!bad.empty()) {
    *err = std::string(name) + " " + bad;
    return false;
  }
  out->name = std::string(name);
  out->value = std::string(value);
  return true;
}

bool InsideDir(const std::filesystem::path& dir, const std::filesystem::path& p) {
  auto d = dir.lexically_normal().string();
  auto s = p.lexically_normal().string();
  if (!d.empty() && d.back() != '/') d += '/';
  return s.compare(0, d.size(), d) == 0;
}

}  // namespace

std::string ConfigSource::ToString() const { return line > 0 ? fmt::format("{}:{}", file, line) : file; }

std::string ConfigError::ToString() const { return where.ToString() + ": " + message; }

ConfigFile ParseConfig(std::string_view text, std::string_view file) {
  ConfigFile out;
  int no = 0;
  auto error = [&](std::string message) {
    if (out.errors.size() >= kMaxConfigErrors) {
      ++out.dropped_errors;
      return;
    }
    out.errors.push_back({{std::string(file), no}, std::move(message)});
  };
  ForEachLine(text, [&](std::string_view raw) {
    ++no;
    if (raw.size() > kMaxConfigLine) {
      error(fmt::format("line of {} bytes, longer than {}", raw.size(), kMaxConfigLine));
      return;
    }
    std::string_view line = Trim(raw);
    if (line.empty()) return;
    ConfigSetting setting;
    std::string err;
    if (!ParseLine(line, &setting, &err)) {
      error(std::move(err));
      return;
    }
    if (setting.name.empty()) return;
    setting.source = {std::string(file), no};
    out.settings.push_back(std::move(setting));
  });
  return out;
}

Result<ConfigFile> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot read config {}", path));
  std::string text;
  char chunk[64 << 10];
  while (text.size() <= kMaxConfigBytes && in.read(chunk, sizeof chunk).gcount() > 0)
    text.append(chunk, static_cast<size_t>(in.gcount()));
  if (in.bad()) return Status::IOError(fmt::format("cannot read config {}", path));
  if (text.size() > kMaxConfigBytes)
    return Status::InvalidArgument(fmt::format("config {} is larger than {} bytes", path, kMaxConfigBytes));
  return ParseConfig(text, path);
}

Result<ConfigSetting> ParseSetArgument(std::string_view arg) {
  std::string_view line = Trim(arg);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.size() > kMaxConfigLine) return Status::InvalidArgument("--set: argument too long");
  if (line.empty() || line.front() == '#' || line.find('\n') != std::string_view::npos)
    return Status::InvalidArgument("--set " + Quote(arg) + ": expected CONFIG_X=value");
  ConfigSetting setting;
  std::string err;
  if (!ParseLine(line, &setting, &err)) return Status::InvalidArgument("--set: " + err);
  setting.source = {"--set", 0};
  return setting;
}

bool SameConfigValue(std::string_view a, std::string_view b) {
  if (a == b) return true;
  std::string ua, ub;
  if (Unquote(a, &ua) && Unquote(b, &ub)) return ua == ub;
  Number na = ParseNumber(a), nb = ParseNumber(b);
  return na.ok && nb.ok && na.negative == nb.negative && na.magnitude == nb.magnitude;
}

void ConfigRequest::Add(const ConfigSetting& setting) {
  auto it = index_.find(setting.name);
  if (it == index_.end()) {
    index_.emplace(setting.name, entries_.size());
    entries_.push_back({setting, {}});
    return;
  }
  Entry& e = entries_[it->second];
  e.replaced.push_back(std::move(e.setting));
  e.setting = setting;
}

void ConfigRequest::Add(const ConfigFile& file) {
  for (const auto& s : file.settings) Add(s);
}

const ConfigRequest::Entry* ConfigRequest::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::string ConfigRequest::ToFragment() const {
  std::string out;
  for (const auto& e : entries_) {
    const ConfigSetting& s = e.setting;
    if (s.value == "n")
      out += fmt::format("# {} is not set\n", s.name);
    else
      out += fmt::format("{}={}\n", s.name, s.value);
  }
  return out;
}

std::string ConfigMismatch::ToString() const {
  return fmt::format("{}: wanted {}, got {} ({})", name, wanted, got, source.ToString());
}

std::vector<ConfigMismatch> CheckConfig(const ConfigRequest& requested, const ConfigFile& result) {
  std::map<std::string_view, std::string_view> got;  // the last setting of each option wins
  for (const auto& s : result.settings) got[s.name] = s.value;
  std::vector<ConfigMismatch> out;
  for (const auto& e : requested.entries()) {
    const ConfigSetting& want = e.setting;
    auto it = got.find(want.name);
    std::string value;
    if (it != got.end())
      value = std::string(it->second);
    else
      value = IsTristate(want.value) ? "n" : "(absent)";
    if (it == got.end() && want.value == "n") continue;
    if (SameConfigValue(want.value, value)) continue;
    auto kind = ConfigMismatch::Kind::kValue;
    if (want.value == "n")
      kind = ConfigMismatch::Kind::kSet;
    else if (IsTristate(want.value))
      kind = value == "m"   ? ConfigMismatch::Kind::kModule
             : value == "y" ? ConfigMismatch::Kind::kBuiltIn
                            : ConfigMismatch::Kind::kMissing;
    out.push_back({kind, want.name, want.value, std::move(value), want.source});
  }
  return out;
}

Result<std::string> CollectionConfigPath(const std::string& tree, std::string_view collection) {
  namespace fs = std::filesystem;
  auto refuse = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("collection {}: {}", Quote(collection), why));
  };
  if (collection.empty()) return refuse("empty name");
  if (collection.front() == '/')
    return refuse("an absolute path, not a collection under tools/testing/selftests");
  for (std::string_view rest = collection; !rest.empty();) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..")
      return refuse("empty, '.' or '..' path components leave or blur tools/testing/selftests");
    for (char c : part)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return refuse("control characters in the name");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
    if (rest.empty()) return refuse("a trailing '/'");
  }
  fs::path selftests = fs::path(tree) / "tools/testing/selftests";
  fs::path dir = selftests / std::string(collection);
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status::NotFound(fmt::format("collection {}: no directory {}", Quote(collection), dir.string()));
  fs::path root = fs::canonical(selftests, ec);
  if (ec) return Status::IOError(fmt::format("cannot resolve {}: {}", selftests.string(), ec.message()));
  fs::path real_dir = fs::canonical(dir, ec);
  if (ec || !InsideDir(root, real_dir)) return refuse("resolves outside tools/testing/selftests");
  fs::path config = dir / "config";
  if (!fs::exists(config, ec)) return std::string();
  fs::path real_config = fs::canonical(config, ec);
  if (ec || !InsideDir(root, real_config))
    return refuse("its config resolves outside tools/testing/selftests");
  if (!fs::is_regular_file(real_config, ec)) return refuse("its config is not a regular file");
  return config.string();
}

}  // namespace vigil::kbuild
