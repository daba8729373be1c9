#include "report/kcidb.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/hash.h"
#include "base/text.h"
#include "model/status.h"
#include "model/test_path.h"
#include "model/verdicts.h"

namespace vigil::report {
namespace {

using nlohmann::json;

// Valid UTF-8 without NUL (the schema's "^[^\0]*$" outside misc).
std::string Clean(const std::string& s) {
  std::string out = SanitizeUtf8(s);
  out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());
  return out;
}

// The last kKcidbMaxExcerpt bytes at most, cut at a character boundary.
std::string Excerpt(const std::string& s) {
  std::string clean = Clean(s);
  if (clean.size() <= kKcidbMaxExcerpt) return clean;
  size_t from = clean.size() - kKcidbMaxExcerpt;
  while (from < clean.size() && (static_cast<unsigned char>(clean[from]) & 0xC0) == 0x80) ++from;
  return clean.substr(from);
}

std::string PathPart(std::string_view s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
  return out.empty() ? "_" : out;
}

std::string Hex64(uint64_t v) { return fmt::format("{:016x}", v); }

// `digits` lower-case hex digits: a SHA-1 (40) or SHA-256 (64) as git and
// sha256sum print them.
bool IsLowerHex(const std::string& s, size_t digits) {
  return s.size() == digits && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}
bool IsSha1(const std::string& s) { return IsLowerHex(s, 40); }

bool IsHttpUrl(const std::string& s) { return s.rfind("https://", 0) == 0 || s.rfind("http://", 0) == 0; }

// ISO 8601 as vigil writes it ("2026-12-05T10:00:00Z"), else nothing: the
// schema's date-time.
std::optional<std::string> Time(const std::string& s) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s.back() != 'Z') return std::nullopt;
  return Clean(s);
}

std::string Architecture(const std::string& arch) {
  std::string out;
  for (char c : arch) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      out.push_back(c);
    } else if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back('_');
    }
  }
  return out;
}

json StringMap(const std::map<std::string, std::string>& m) {
  json j = json::object();
  for (const auto& [k, v] : m) j[Clean(k)] = Clean(v);
  return j;
}

}  // namespace

std::string KcidbStatus(const std::string& vigil_status) {
  switch (model::ParseStatus(vigil_status)) {
    case model::TestStatus::kPass:
    case model::TestStatus::kXfail:
    case model::TestStatus::kFlaky:
    case model::TestStatus::kKnown:
      return "PASS";
    case model::TestStatus::kFail:
    case model::TestStatus::kXpass:
    case model::TestStatus::kTimeout:
    case model::TestStatus::kCrash:
      return "FAIL";
    case model::TestStatus::kSkip:
      return "SKIP";
    case model::TestStatus::kNoTests:
      return "DONE";
    case model::TestStatus::kMissing:
      return "MISS";
    case model::TestStatus::kError:
      break;
  }
  return "ERROR";
}

std::string KcidbTestPath(const std::string& test_path, const std::string& subtest) {
  // COLLECTION:TEST, split at the first colon only: a test whose name has a
  // colon is one test (`a:b.sh` -> a_b_sh), not a test and a subtest.
  size_t colon = test_path.find(':');
  std::string collection = colon == std::string::npos ? "" : test_path.substr(0, colon);
  std::string test = colon == std::string::npos ? test_path : test_path.substr(colon + 1);
  std::string out = "kselftest." + PathPart(collection) + "." + PathPart(test);
  if (!subtest.empty()) {
    size_t from = 0;
    while (true) {
      size_t sep = subtest.find(" > ", from);
      out += "." + PathPart(std::string_view(subtest).substr(from, sep == std::string::npos ? std::string::npos : sep - from));
      if (sep == std::string::npos) break;
      from = sep + 3;
    }
  }
  return out;
}

std::string KcidbIdPart(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-';
    if (ok) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

bool ValidKcidbOrigin(const std::string& origin) {
  return !origin.empty() && std::all_of(origin.begin(), origin.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

json KcidbReport(const KcidbInput& in) {
  const std::string& o = in.origin;
  json report = {{"version", {{"major", kKcidbMajor}, {"minor", kKcidbMinor}}}};

  // What the run is called in ids: its group (the same in every store it
  // is merged into), else its uid (the same in every store it is copied
  // to, and no other run's: a store's own numbers start at 1 in every CI
  // job). A series: its Patchwork, number and round.
  std::string key;
  if (in.run) {
    key = !in.run->run_group.empty() ? "group." + KcidbIdPart(in.run->run_group)
          : !in.run->uid.empty()     ? "run." + KcidbIdPart(in.run->uid)
                                     : fmt::format("run{}", in.run->id);
  } else if (in.series) {
    key = fmt::format("series.{}.{}.{}", Hex64(Fnv1a(in.series->source)), in.series->series_id, in.series->round);
  }

  // The checkout: the commit (and the series' patches) under test.
  json checkout = {{"origin", o}};
  std::string commit = in.build && IsSha1(in.build->commit) ? in.build->commit
                       : in.series && IsSha1(in.series->base_commit) ? in.series->base_commit
                                                                     : "";
  // A tree with changes of its own (dirty) is not the commit: its checkout
  // is the run's, not the one every clean build of the commit shares.
  std::string checkout_key = commit.empty() ? key + ".checkout"
                             : in.build && in.build->dirty ? "checkout." + commit + ".dirty." + key
                                                           : "checkout." + commit;
  if (in.series) {
    checkout_key += fmt::format(".series.{}.{}.{}", Hex64(Fnv1a(in.series->source)), in.series->series_id,
                                in.series->round);
  }
  checkout["id"] = o + ":" + checkout_key;
  // KCIDB's checkout is the base the patches go on: for a Patchwork series
  // that is the series' base, not the commit `git am` made of it (which
  // only the build's own checkout has).
  const bool patches = in.series && in.series->series_id != 0;
  std::string base = patches && IsSha1(in.series->base_commit) ? in.series->base_commit : commit;
  if (!base.empty()) checkout["git_commit_hash"] = base;
  if (in.build && !in.build->describe.empty() && (base == in.build->commit || base.empty())) {
    checkout["git_commit_name"] = Clean(in.build->describe);
  }
  // A series' patchset hash comes with its patches, below.
  if (!patches && in.build && !in.build->dirty && IsSha1(in.build->commit) && base == in.build->commit) {
    checkout["patchset_hash"] = "";  // the commit as it is: no patches on it
  }
  if (in.series && !in.series->tree.empty()) {
    checkout["tree_name"] = Clean(in.series->tree);
  } else if (in.build && !in.build->tree.empty()) {
    std::string tree = in.build->tree;
    while (tree.size() > 1 && tree.back() == '/') tree.pop_back();
    checkout["tree_name"] = Clean(tree.substr(tree.rfind('/') + 1));
  }
  if (in.run) {
    if (auto t = Time(in.run->started_at)) checkout["start_time"] = *t;
  } else if (in.series) {
    if (auto t = Time(in.series->queued_at)) checkout["start_time"] = *t;
  }
  checkout["valid"] = in.applied;
  if (in.series) {
    json sj = json::parse(in.series->series_json, nullptr, false);
    // The hash of the patches' mboxes, kept when the series was tested.
    if (patches && sj.is_object() && sj.value("patchset_hash", json()).is_string() &&
        IsLowerHex(sj["patchset_hash"].get<std::string>(), 64)) {
      checkout["patchset_hash"] = sj["patchset_hash"];
    }
    json files = json::array();
    std::string message_id;
    if (sj.is_object()) {
      if (sj.contains("cover") && sj["cover"].is_object() && sj["cover"].value("msgid", json()).is_string()) {
        message_id = sj["cover"]["msgid"].get<std::string>();
      }
      if (sj.contains("patches") && sj["patches"].is_array()) {
        for (const auto& p : sj["patches"]) {
          if (!p.is_object()) continue;
          if (message_id.empty() && p.value("msgid", json()).is_string()) message_id = p["msgid"].get<std::string>();
          json url = p.value("mbox_url", json());
          if (!url.is_string() || !IsHttpUrl(url.get<std::string>())) continue;
          std::string name = p.value("id", json()).is_number_integer() ? fmt::format("{}.mbox", p["id"].get<int64_t>())
                                                                      : fmt::format("patch{}.mbox", files.size() + 1);
          files.push_back({{"name", name}, {"url", Clean(url.get<std::string>())}});
        }
      }
    }
    if (!files.empty()) checkout["patchset_files"] = files;
    // <id@host> as Patchwork gives it; the schema's e-mail format wants it bare.
    if (message_id.size() > 2 && message_id.front() == '<' && message_id.back() == '>') {
      message_id = message_id.substr(1, message_id.size() - 2);
    }
    if (message_id.find('@') != std::string::npos && message_id.find_first_of(" <>\t\r\n") == std::string::npos) {
      checkout["message_id"] = Clean(message_id);
    }
    checkout["comment"] = Clean(in.series->name);
    checkout["misc"] = {{"series_id", in.series->series_id}, {"round", in.series->round},
                        {"source", Clean(in.series->source)}, {"conclusion", Clean(in.series->conclusion)}};
  }
  report["checkouts"] = json::array({checkout});
  if (!in.run) return report;  // a series that did not apply: no build, no tests
  const model::RunRecord& run = *in.run;

  // The build: the one the run booted, or the prebuilt kernel it booted.
  json build = {{"origin", o}, {"checkout_id", checkout["id"]}};
  if (in.build) {
    const model::BuildRecord& b = *in.build;
    build["id"] = fmt::format("{}:build.{}", o, Hex64(Fnv1a(b.started_at + '\0' + b.host + '\0' + b.output_dir)));
    if (auto t = Time(b.started_at)) build["start_time"] = *t;
    build["duration"] = static_cast<double>(b.duration_ms) / 1000.0;
    build["compiler"] = Clean(b.compiler);
    build["command"] = Clean(b.command);
    build["config_name"] = Clean(b.variant);
    build["status"] = b.status == "built" ? "PASS" : b.status == "failed" ? "FAIL" : b.status == "interrupted" ? "MISS"
                                                                                                               : "ERROR";
    if (!b.failure.empty()) build["log_excerpt"] = Excerpt(b.failure);
    if (!b.describe.empty()) build["comment"] = Clean(b.describe);
    build["misc"] = {{"config_hash", Clean(b.config_hash)}, {"warnings", b.warnings}, {"errors", b.errors},
                     {"vigil_build_id", b.id}};
  } else {
    build["id"] = o + ":" + key + ".kernel";
    build["status"] = "PASS";  // it booted
    if (in.environment) build["comment"] = Clean("prebuilt kernel " + in.environment->kernel_release);
  }
  if (in.environment) {
    std::string arch = Architecture(in.environment->arch);
    if (!arch.empty()) build["architecture"] = arch;
  }
  report["builds"] = json::array({build});

  // The tests and their subtests, each in the environment it ran in.
  auto env_json = [](const model::Environment& e) {
    std::string where = e.where == "vm" ? "a VM" + (e.accel.empty() ? "" : " (" + e.accel + ")") : "the host";
    return json{{"comment", Clean(fmt::format("{} in {}, {} CPUs", e.uname, where, e.cpus))},
                {"misc", {{"kernel_release", Clean(e.kernel_release)}, {"memory_kb", e.memory_kb},
                          {"kernel_config", Clean(e.kernel_config)}, {"tools", StringMap(e.tools)}}}};
  };
  json run_env;
  if (in.environment) run_env = env_json(*in.environment);
  std::map<std::string, std::vector<const model::AttemptRecord*>> by_test;
  for (const auto& a : in.attempts) {
    if (!a.interrupted) by_test[a.test_path].push_back(&a);
  }
  std::vector<std::string> order = run.plan;
  {
    std::set<std::string> planned(order.begin(), order.end());
    for (const auto& [path, as] : by_test) {
      if (!planned.count(path)) order.push_back(path);
    }
  }
  json tests = json::array();
  json issues = json::array();
  json incidents = json::array();
  std::set<std::string> issue_seen;
  for (const std::string& path : order) {
    std::string test_id = fmt::format("{}:{}.t{}", o, key, Hex64(Fnv1a(path)));
    json t = {{"origin", o}, {"id", test_id}, {"build_id", build["id"]}, {"path", KcidbTestPath(path)}};
    auto own = in.test_environments.find(path);
    const json env = own != in.test_environments.end() ? env_json(own->second) : run_env;
    if (!env.is_null()) t["environment"] = env;
    auto it = by_test.find(path);
    if (it == by_test.end()) {
      t["status"] = "MISS";
      t["comment"] = Clean(path);
      t["misc"] = {{"vigil_status", "MISSING"}, {"vigil_run", run.id}};
      tests.push_back(std::move(t));
      continue;
    }
    std::vector<model::AttemptRecord> attempts;
    std::vector<std::string> statuses;
    for (const auto* a : it->second) {
      attempts.push_back(*a);
      statuses.push_back(a->status);
    }
    const model::AttemptRecord& last = attempts.back();
    std::string status = model::FinalStatus(statuses);
    t["status"] = KcidbStatus(status);
    t["comment"] = Clean(path);
    if (auto st = Time(attempts.front().started_at)) t["start_time"] = *st;
    t["duration"] = static_cast<double>(last.duration_ms) / 1000.0;
    if (!last.output.empty()) t["log_excerpt"] = Excerpt(last.output);
    t["misc"] = {{"vigil_status", status}, {"attempts", attempts.size()}, {"vigil_run", run.id}};
    if (last.exit_code) t["misc"]["exit_code"] = *last.exit_code;
    tests.push_back(t);
    for (const auto& sub : model::SubtestVerdicts(attempts)) {
      json s = {{"origin", o},
                {"id", fmt::format("{}:{}.t{}", o, key, Hex64(Fnv1a(path + '\0' + sub.path)))},
                {"build_id", build["id"]},
                {"path", KcidbTestPath(path, sub.path)},
                {"status", KcidbStatus(sub.status)},
                {"comment", Clean(path + ": " + sub.path)},
                {"misc", {{"vigil_status", Clean(sub.status)}, {"vigil_run", run.id}}}};
      if (sub.duration_ms) s["duration"] = static_cast<double>(*sub.duration_ms) / 1000.0;
      if (!env.is_null()) s["environment"] = env;
      tests.push_back(std::move(s));
    }
    // Kernel reports seen while it ran: an issue per fingerprint, an
    // incident for this test.
    std::set<std::string> hit;
    for (const auto& a : attempts) {
      for (const auto& c : a.crashes) {
        std::string fp = c.fingerprint.empty() ? Hex64(Fnv1a(c.title)) : c.fingerprint;
        std::string issue_id = o + ":crash." + KcidbIdPart(fp);
        if (issue_seen.insert(issue_id).second) {
          issues.push_back({{"origin", o},
                            {"id", issue_id},
                            {"version", 1},
                            {"comment", Clean(c.title)},
                            {"culprit", {{"code", true}, {"tool", false}, {"harness", false}}},
                            {"misc", {{"type", Clean(c.type)}, {"guilty", Clean(c.guilty)}, {"fatal", c.fatal}}}});
        }
        if (!hit.insert(issue_id).second) continue;
        incidents.push_back({{"origin", o},
                             {"id", fmt::format("{}:{}.t{}.crash.{}", o, key, Hex64(Fnv1a(path)), KcidbIdPart(fp))},
                             {"issue_id", issue_id},
                             {"issue_version", 1},
                             {"test_id", test_id},
                             {"build_id", build["id"]},
                             {"present", true},
                             {"comment", Clean(c.title)}});
      }
    }
  }
  report["tests"] = std::move(tests);
  if (!issues.empty()) report["issues"] = std::move(issues);
  if (!incidents.empty()) report["incidents"] = std::move(incidents);
  return report;
}

}  // namespace vigil::report
