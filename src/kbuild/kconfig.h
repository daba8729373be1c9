// Kernel config fragments: reading .config-style text, merging fragments in
// the order a build asks for them, and checking what `make olddefconfig` made
// of the request (an option asked for and silently dropped is reported).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::kbuild {

// Where an option was asked for: a file and line, or a command-line flag
// (`line` 0, `file` "--set").
struct ConfigSource {
  std::string file;
  int line = 0;
  std::string ToString() const;  // "net/mptcp/config:3", "--set"
};

// One assignment: `name` with its CONFIG_ prefix, `value` as .config writes
// it: y, m, n (also for "# CONFIG_X is not set"), a quoted string with its
// quotes and escapes, or a number (decimal or 0x hex).
struct ConfigSetting {
  std::string name;
  std::string value;
  ConfigSource source;
};

struct ConfigError {
  ConfigSource where;
  std::string message;
  std::string ToString() const;  // "file:line: message"
};

// A parsed fragment or .config: its settings in file order (an option set
// twice appears twice) and the lines that could not be read.
struct ConfigFile {
  std::vector<ConfigSetting> settings;
  std::vector<ConfigError> errors;  // at most kMaxConfigErrors kept
  size_t dropped_errors = 0;        // errors beyond that, counted
  bool ok() const { return errors.empty(); }
};

inline constexpr size_t kMaxConfigBytes = 16 << 20;  // larger input is refused
inline constexpr size_t kMaxConfigLine = 64 << 10;   // longer lines are errors
inline constexpr size_t kMaxConfigErrors = 1000;

// Parses .config text. Blank lines and comments are skipped; a malformed line
// is reported with `file`:line and skipped, never fatal.
ConfigFile ParseConfig(std::string_view text, std::string_view file);

// Reads and parses a file (ParseConfig with `path` as its name). Fails when it
// cannot be read or is larger than kMaxConfigBytes.
Result<ConfigFile> ReadConfigFile(const std::string& path);

// Parses one `--set` argument, `CONFIG_X=VALUE`, with the rules of a file line.
Result<ConfigSetting> ParseSetArgument(std::string_view arg);

// True when `a` and `b` are the same value: numbers compare by value
// (0x1F = 0x1f), strings by their unescaped text, tristates as written.
bool SameConfigValue(std::string_view a, std::string_view b);

// The options a build asks for, merged in the order they are added: a later
// setting of an option replaces the earlier one (as kconfig reads a
// concatenation of fragments), and the option keeps the place it was first
// asked at in the output order.
class ConfigRequest {
 public:
  struct Entry {
    ConfigSetting setting;                // the value that wins, with its source
    std::vector<ConfigSetting> replaced;  // earlier requests of the option, oldest first
  };

  void Add(const ConfigSetting& setting);
  void Add(const ConfigFile& file);  // every setting, in order

  // The entry for `name` (with its CONFIG_ prefix), or null.
  const Entry* Find(std::string_view name) const;
  const std::vector<Entry>& entries() const { return entries_; }

  // The merged request as a fragment: one line per option in first-asked
  // order (`CONFIG_X=y`, `# CONFIG_X is not set` for n), to append to a base
  // .config before `make olddefconfig`.
  std::string ToFragment() const;

 private:
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

// An option whose resulting value is not the one asked for.
struct ConfigMismatch {
  enum class Kind {
    kMissing,  // y or m asked for, n or absent: the feature is not there
    kModule,   // y asked for, m: there, but not built in
    kBuiltIn,  // m asked for, y (another option selects it): there, built in
    kSet,      // n asked for, y or m
    kValue,    // a string or number that differs or is absent
  };
  Kind kind = Kind::kValue;
  std::string name;
  std::string wanted;
  std::string got;  // "n" for an absent tristate; "(absent)" for an absent string or number
  ConfigSource source;
  std::string ToString() const;  // "CONFIG_X: wanted y, got m (net/mptcp/config:3)"
};

// Compares the request with the resulting .config: every option whose value
// differs, in request order. A requested n is met by an absent option or
// "is not set"; a requested y or m by exactly that value (y wanted, m got is
// a mismatch); an absent y/m request got n.
std::vector<ConfigMismatch> CheckConfig(const ConfigRequest& requested, const ConfigFile& result);

// The config fragment of selftest collection `collection` (`net/mptcp`) in
// kernel tree `tree`: tree/tools/testing/selftests/<collection>/config.
// InvalidArgument for a name that is empty, absolute, has empty, `.` or `..`
// components or resolves outside the selftests directory; NotFound when the
// collection's directory does not exist. Returns "" for a collection that
// exists without a config file (it needs no options).
Result<std::string> CollectionConfigPath(const std::string& tree, std::string_view collection);

}  // namespace vigil::kbuild
