#include "judge/known_issues.h"

#include <fnmatch.h>

#include <cctype>
#include <ctime>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "model/test_path.h"

#include "base/toml_check.h"

namespace vigil::judge {
namespace {

bool Glob(const std::string& pattern, const std::string& text) {
  return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

// ">=6.1, <6.7" (also "6.12", "==6.12.3", "<=6.6").
Result<std::vector<VersionBound>> ParseRange(const std::string& text) {
  std::vector<VersionBound> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    size_t b = part.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    part = part.substr(b, part.find_last_not_of(" \t") - b + 1);
    VersionBound vb{VersionBound::Op::kEq, {}};
    size_t skip = 0;
    if (part.rfind(">=", 0) == 0) vb.op = VersionBound::Op::kGe, skip = 2;
    else if (part.rfind("<=", 0) == 0) vb.op = VersionBound::Op::kLe, skip = 2;
    else if (part.rfind("==", 0) == 0) vb.op = VersionBound::Op::kEq, skip = 2;
    else if (part.rfind('>', 0) == 0) vb.op = VersionBound::Op::kGt, skip = 1;
    else if (part.rfind('<', 0) == 0) vb.op = VersionBound::Op::kLt, skip = 1;
    else if (part.rfind('=', 0) == 0) vb.op = VersionBound::Op::kEq, skip = 1;
    std::string v = part.substr(skip);
    size_t vb0 = v.find_first_not_of(" \t");
    v = vb0 == std::string::npos ? "" : v.substr(vb0);
    if (v.empty() || v.find_first_not_of("0123456789.") != std::string::npos || v.front() == '.' || v.back() == '.') {
      return Status::InvalidArgument(fmt::format("bad kernel version '{}' (e.g. \">=6.1, <6.7\")", part));
    }
    vb.version = ParseVersion(v);
    if (vb.version.empty() || vb.version.size() > 4) {
      return Status::InvalidArgument(fmt::format("bad kernel version '{}'", part));
    }
    out.push_back(std::move(vb));
  }
  if (out.empty()) return Status::InvalidArgument("empty kernel version range");
  return out;
}

bool ValidDate(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
  }
  int m = std::stoi(d.substr(5, 2)), day = std::stoi(d.substr(8, 2));
  return m >= 1 && m <= 12 && day >= 1 && day <= 31;
}

}  // namespace

std::vector<int> ParseVersion(const std::string& release) {
  std::vector<int> out;
  size_t i = 0;
  while (i < release.size() && out.size() < 4) {
    if (!std::isdigit(static_cast<unsigned char>(release[i]))) break;
    int v = 0;
    while (i < release.size() && std::isdigit(static_cast<unsigned char>(release[i]))) {
      if (v < 100000) v = v * 10 + (release[i] - '0');
      ++i;
    }
    out.push_back(v);
    if (i < release.size() && release[i] == '.') {
      ++i;
    } else {
      break;
    }
  }
  return out;
}

bool InRange(const std::vector<VersionBound>& range, const std::string& release) {
  std::vector<int> v = ParseVersion(release);
  if (v.empty()) return false;
  for (const auto& b : range) {
    // Compare on the bound's precision: "6.1" covers every 6.1.x.
    std::vector<int> x(v.begin(), v.begin() + std::min(v.size(), b.version.size()));
    while (x.size() < b.version.size()) x.push_back(0);
    int c = x < b.version ? -1 : (x == b.version ? 0 : 1);
    bool ok = false;
    switch (b.op) {
      case VersionBound::Op::kLt: ok = c < 0; break;
      case VersionBound::Op::kLe: ok = c <= 0; break;
      case VersionBound::Op::kGt: ok = c > 0; break;
      case VersionBound::Op::kGe: ok = c >= 0; break;
      case VersionBound::Op::kEq: ok = c == 0; break;
    }
    if (!ok) return false;
  }
  return true;
}

Result<KnownIssues> ParseKnownIssues(const std::string& text, const std::string& source) {
  auto parsed = TomlParse(text, source);
  if (!parsed.ok()) return parsed.status();
  KnownIssues out;
  out.source = source;
  for (const auto& [k, v] : parsed.value()) {
    if (k.str() != "issue") {
      return Status::InvalidArgument(fmt::format("{}: unknown section '{}' (entries are [[issue]])",
                                                 TomlWhere(source, v), k.str()));
    }
    const toml::array* arr = v.as_array();
    if (!arr) return Status::InvalidArgument(fmt::format("{}: write entries as [[issue]]", TomlWhere(source, v)));
    for (const auto& item : *arr) {
      const toml::table* t = item.as_table();
      if (!t) return Status::InvalidArgument(fmt::format("{}: [[issue]] must be a table", TomlWhere(source, item)));
      Status s = TomlCheckKeys(*t, {"match", "reason", "link", "kernel", "where", "accel", "crash", "fingerprint", "expires"},
                               source, "issue");
      if (!s.ok()) return s;
      KnownIssue ki;
      ki.where_defined = TomlWhere(source, item);
      auto str = [&](const char* key, std::string* out_s) -> Status {
        auto n = (*t)[key];
        if (!n) return Status::OK();
        auto val = n.value<std::string>();
        if (!val) return Status::InvalidArgument(fmt::format("{}: {} must be a string", TomlWhere(source, *n.node()), key));
        *out_s = *val;
        return Status::OK();
      };
      for (auto [key, dst] : {std::pair{"match", &ki.match}, {"reason", &ki.reason}, {"link", &ki.link},
                              {"kernel", &ki.kernel}, {"where", &ki.where}, {"accel", &ki.accel},
                              {"crash", &ki.crash}, {"fingerprint", &ki.fingerprint}}) {
        Status st = str(key, dst);
        if (!st.ok()) return st;
      }
      if (ki.match.empty()) {
        return Status::InvalidArgument(fmt::format("{}: [[issue]] needs match = \"COLLECTION:TEST[:SUBTEST]\"", ki.where_defined));
      }
      if (ki.reason.empty()) return Status::InvalidArgument(fmt::format("{}: [[issue]] needs a reason", ki.where_defined));
      if (!ki.where.empty() && ki.where != "host" && ki.where != "vm") {
        return Status::InvalidArgument(fmt::format("{}: where must be host or vm", ki.where_defined));
      }
      if (!ki.accel.empty() && ki.accel != "kvm" && ki.accel != "tcg") {
        return Status::InvalidArgument(fmt::format("{}: accel must be kvm or tcg", ki.where_defined));
      }
      if (!ki.kernel.empty()) {
        auto r = ParseRange(ki.kernel);
        if (!r.ok()) return Status::InvalidArgument(fmt::format("{}: {}", ki.where_defined, r.status().message()));
        ki.range = std::move(r.value());
      }
      if (auto n = (*t)["expires"]; n) {
        if (auto d = n.value<toml::date>()) {
          ki.expires = fmt::format("{:04}-{:02}-{:02}", d->year, d->month, d->day);
        } else if (auto ds = n.value<std::string>(); ds && ValidDate(*ds)) {
          ki.expires = *ds;
        } else {
          return Status::InvalidArgument(
              fmt::format("{}: expires must be a date (expires = 2027-03-01)", TomlWhere(source, *n.node())));
        }
      }
      out.entries.push_back(std::move(ki));
    }
  }
  return out;
}

Result<KnownIssues> LoadKnownIssues(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::NotFound(fmt::format("cannot read {}", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseKnownIssues(ss.str(), path);
}

KnownIssueMatcher::KnownIssueMatcher(const KnownIssues& issues, const model::Environment& env, std::string today)
    : issues_(issues), env_(env), today_(std::move(today)) {}

bool KnownIssueMatcher::Applies(const KnownIssue& k) const {
  if (!k.expires.empty() && k.expires < today_) return false;
  if (!k.where.empty() && k.where != (env_.where.empty() ? "host" : env_.where)) return false;
  if (!k.accel.empty() && k.accel != env_.accel) return false;
  if (!k.range.empty() && !InRange(k.range, env_.kernel_release)) return false;
  return true;
}

bool KnownIssueMatcher::PathMatches(const KnownIssue& k, const std::string& test, const std::string& subtest) const {
  auto try_path = [&](const std::string& t) { return Glob(k.match, subtest.empty() ? t : t + ":" + subtest); };
  if (try_path(test)) return true;
  // A shard (TEST#2) is matched by its test's entries too.
  model::TestPath p = model::TestPath::Parse(test);
  return p.shard().has_value() && try_path(p.BaseTestId());
}

bool KnownIssueMatcher::CrashMatches(const KnownIssue& k, const model::CrashRecord& c) const {
  if (!k.crash.empty() && !Glob(k.crash, c.title)) return false;
  if (!k.fingerprint.empty() && k.fingerprint != c.fingerprint) return false;
  return !k.crash.empty() || !k.fingerprint.empty();
}

const KnownIssue* KnownIssueMatcher::Match(const FailureKey& f) const {
  for (const auto& k : issues_.entries) {
    if (!Applies(k) || !PathMatches(k, f.test, f.subtest)) continue;
    if (!k.crash.empty() || !k.fingerprint.empty()) {
      bool any = false;
      if (f.crashes) {
        for (const auto& c : *f.crashes) any |= CrashMatches(k, c);
      }
      if (!any) continue;
    }
    return &k;
  }
  return nullptr;
}

const KnownIssue* KnownIssueMatcher::MatchCrash(const std::string& test, const model::CrashRecord& c) const {
  for (const auto& k : issues_.entries) {
    if (!Applies(k) || !CrashMatches(k, c)) continue;
    // A crash entry's match names the tests it may come from; "*" for any.
    if (PathMatches(k, test, "") || Glob(k.match, test + ":")) return &k;
  }
  return nullptr;
}

std::vector<const KnownIssue*> KnownIssueMatcher::Expired() const {
  std::vector<const KnownIssue*> out;
  for (const auto& k : issues_.entries) {
    if (!k.expires.empty() && k.expires < today_) out.push_back(&k);
  }
  return out;
}


}  // namespace vigil::judge
