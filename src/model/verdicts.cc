#include "model/verdicts.h"

#include <unordered_map>

#include "model/status.h"

namespace vigil::model {

bool AttemptFailed(std::string_view status) {
  switch (ParseStatus(status)) {
    case TestStatus::kPass:
    case TestStatus::kSkip:
    case TestStatus::kXfail:
    case TestStatus::kNoTests: return false;
    default: return true;
  }
}

std::string FinalStatus(const std::vector<std::string>& statuses) {
  if (statuses.empty()) return "MISSING";
  const std::string& last = statuses.back();
  if (AttemptFailed(last)) return last;
  for (size_t i = 0; i + 1 < statuses.size(); ++i) {
    if (AttemptFailed(statuses[i])) return "FLAKY";
  }
  return last;
}

namespace {

std::vector<SubtestRecord> VerdictsOf(const std::vector<const AttemptRecord*>& attempts) {
  // FinalStatus of each subtest's statuses, kept as it goes: the last one,
  // and whether one before it failed. (No copy of a name but the one
  // returned.)
  struct Seen {
    std::string_view last;
    bool failed_before = false;
  };
  std::vector<SubtestRecord> out;
  std::vector<Seen> seen;
  std::unordered_map<std::string_view, size_t> index;
  size_t n = 0;
  for (const AttemptRecord* a : attempts) n += a->subtests.size();
  index.reserve(n);
  out.reserve(attempts.empty() ? 0 : attempts.front()->subtests.size());
  for (const AttemptRecord* a : attempts) {
    for (const auto& s : a->subtests) {
      auto [it, inserted] = index.try_emplace(s.path, out.size());
      if (inserted) {
        out.push_back({s.path, "", s.duration_ms});
        seen.push_back({s.status, false});
        continue;
      }
      Seen& v = seen[it->second];
      v.failed_before |= AttemptFailed(v.last);
      v.last = s.status;
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const Seen& v = seen[i];
    out[i].status = !AttemptFailed(v.last) && v.failed_before ? std::string("FLAKY") : std::string(v.last);
  }
  return out;
}

}  // namespace

std::vector<SubtestRecord> SubtestVerdicts(const std::vector<AttemptRecord>& attempts) {
  std::vector<const AttemptRecord*> all;
  all.reserve(attempts.size());
  for (const auto& a : attempts) all.push_back(&a);
  return VerdictsOf(all);
}

TestSummary SummarizeTest(int64_t run_id, const std::string& test_path, const std::vector<AttemptRecord>& attempts) {
  TestSummary s;
  s.run_id = run_id;
  s.test_path = test_path;
  std::vector<const AttemptRecord*> kept;
  std::vector<std::string> statuses;
  for (const auto& a : attempts) {
    if (a.interrupted) continue;
    kept.push_back(&a);
    statuses.push_back(a.status);
    s.crashes += static_cast<int>(a.crashes.size());
  }
  s.attempts = static_cast<int>(kept.size());
  if (kept.empty()) return s;
  s.status = FinalStatus(statuses);
  s.duration_ms = kept.back()->duration_ms;
  s.subtests = PackSubtests(VerdictsOf(kept));
  return s;
}

namespace {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    auto b = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

bool GetBytes(std::string_view* in, std::string_view* s) {
  uint64_t n = 0;
  if (!GetVarint(in, &n) || n > in->size()) return false;
  *s = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

std::string PackSubtests(const std::vector<SubtestRecord>& subtests) {
  std::string out;
  for (const auto& s : subtests) {
    PutBytes(&out, s.path);
    PutBytes(&out, s.status);
    if (!s.duration_ms) {
      out.push_back('\0');
      continue;
    }
    out.push_back('\1');
    auto v = static_cast<uint64_t>(*s.duration_ms);
    PutVarint(&out, (v << 1) ^ (*s.duration_ms < 0 ? ~uint64_t{0} : 0));
  }
  return out;
}

bool PackedSubtests::Next(PackedSubtest* out) {
  if (rest_.empty() || damaged_) return false;
  PackedSubtest s;
  uint64_t z = 0;
  bool ok = GetBytes(&rest_, &s.path) && GetBytes(&rest_, &s.status) && !rest_.empty();
  if (ok) {
    char flag = rest_.front();
    rest_.remove_prefix(1);
    if (flag == '\1') {
      ok = GetVarint(&rest_, &z);
      s.duration_ms = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
    } else {
      ok = flag == '\0';
    }
  }
  if (!ok) {
    damaged_ = true;
    rest_ = {};
    return false;
  }
  *out = s;
  return true;
}

std::vector<SubtestRecord> UnpackSubtests(std::string_view packed) {
  std::vector<SubtestRecord> out;
  PackedSubtests p(packed);
  PackedSubtest s;
  while (p.Next(&s)) out.push_back({std::string(s.path), std::string(s.status), s.duration_ms});
  return out;
}

}  // namespace vigil::model
