#include "model/test_path.h"

#include <charconv>

namespace vigil::model {
namespace {

// Where "#N" starts in `test`, npos when it has no shard suffix.
size_t ShardStart(std::string_view test) {
  size_t hash = test.rfind('#');
  if (hash == std::string_view::npos || hash + 1 >= test.size()) return std::string_view::npos;
  if (test.find_first_not_of("0123456789", hash + 1) != std::string_view::npos) return std::string_view::npos;
  return hash;
}

}  // namespace

TestPath::TestPath(std::string collection, std::string test, std::string subtest)
    : collection_(std::move(collection)), test_(std::move(test)), subtest_(std::move(subtest)) {}

TestPath TestPath::Parse(std::string_view path) {
  TestPath p;
  size_t c1 = path.find(':');
  if (c1 == std::string_view::npos) {
    p.has_collection_ = false;
    p.test_ = std::string(path);
    return p;
  }
  p.collection_ = std::string(path.substr(0, c1));
  size_t c2 = path.find(':', c1 + 1);
  if (c2 == std::string_view::npos) {
    p.test_ = std::string(path.substr(c1 + 1));
  } else {
    p.test_ = std::string(path.substr(c1 + 1, c2 - c1 - 1));
    p.subtest_ = std::string(path.substr(c2 + 1));
  }
  return p;
}

std::optional<int> TestPath::shard() const {
  size_t at = ShardStart(test_);
  if (at == std::string::npos) return std::nullopt;
  int n = 0;
  auto [end, ec] = std::from_chars(test_.data() + at + 1, test_.data() + test_.size(), n);
  if (ec != std::errc() || end != test_.data() + test_.size()) return std::nullopt;
  return n;
}

std::string TestPath::test_base() const {
  size_t at = ShardStart(test_);
  return at == std::string::npos ? test_ : test_.substr(0, at);
}

std::string TestPath::TestId() const { return has_collection_ ? collection_ + ":" + test_ : test_; }

std::string TestPath::BaseTestId() const {
  return has_collection_ ? collection_ + ":" + test_base() : test_base();
}

std::string TestPath::ToString() const { return subtest_.empty() ? TestId() : TestId() + ":" + subtest_; }

TestPath TestPath::Child(std::string_view name) const {
  TestPath c = *this;
  c.subtest_ = subtest_.empty() ? std::string(name) : subtest_ + " > " + std::string(name);
  return c;
}

}  // namespace vigil::model
