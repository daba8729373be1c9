#include "ktap/tree.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

namespace vigil::ktap {
namespace {

constexpr size_t kArenaChunk = 4 << 20;

}  // namespace

Chunk::Chunk(size_t bytes) : size_(bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Advice only: without transparent huge pages it is ignored.
  (void)madvise(p, bytes, MADV_HUGEPAGE);
  data_ = static_cast<char*>(p);
}

Chunk::~Chunk() { munmap(data_, size_); }

const char* Arena::Copy(std::initializer_list<std::string_view> pieces) {
  size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  if (size == 0) return nullptr;
  if (size > left_) {
    size_t n = std::max(kArenaChunk, size);
    chunks_.push_back(std::make_unique<Chunk>(n));
    cur_ = chunks_.back()->data();
    left_ = n;
  }
  const char* start = cur_;
  for (std::string_view p : pieces) {
    if (p.empty()) continue;
    std::memcpy(cur_, p.data(), p.size());
    cur_ += p.size();
  }
  left_ -= size;
  bytes_ += size;
  return start;
}

Tree::Id Tree::Add(const TestNode& n, std::span<const Id> children) {
  if (size_ % kChunk == 0) chunks_.push_back(std::make_unique<Chunk>(kChunkBytes));
  Id id = static_cast<Id>(size_);
  Packed& t = *new (Slots(chunks_.size() - 1) + size_ % kChunk) Packed;
  ++size_;
  // Names are capped at 1 KiB and lines at 64 KiB by the parser; the caps
  // here only keep the lengths in their fields.
  std::string_view name = std::string_view(n.name).substr(0, UINT16_MAX);
  std::string_view directive = std::string_view(n.directive_text).substr(0, UINT16_MAX);
  std::string_view log = std::string_view(n.log.text()).substr(0, UINT32_MAX);
  t.text = arena_.Copy({name, directive, log});
  t.name_len = static_cast<uint16_t>(name.size());
  t.directive_len = static_cast<uint16_t>(directive.size());
  t.log_len = static_cast<uint32_t>(log.size());
  t.number = n.number;
  t.status = n.status;
  t.directive = n.directive;
  t.flags = (n.has_result_line ? kResultLine : 0) | (n.plan ? kPlan : 0) | (n.duration_ms ? kDuration : 0) |
            (n.exit_code ? kExitCode : 0);
  if (n.plan || n.duration_ms || n.exit_code || n.dropped != 0 || n.log.dropped() != 0) {
    extras_.push_back({n.plan.value_or(0), n.duration_ms.value_or(0), n.dropped, n.log.dropped(),
                       n.exit_code.value_or(0)});
    t.extra = static_cast<uint32_t>(extras_.size());
  }
  t.first_child = static_cast<uint32_t>(children_.size());
  t.num_children = static_cast<uint32_t>(children.size());
  children_.insert(children_.end(), children.begin(), children.end());
  return id;
}

TreeNode Tree::node(Id id) const {
  const Packed& p = Slots(id / kChunk)[id % kChunk];
  TreeNode n;
  n.name = std::string_view(p.text, p.name_len);
  n.directive_text = std::string_view(p.text + p.name_len, p.directive_len);
  n.log = std::string_view(p.text + p.name_len + p.directive_len, p.log_len);
  n.number = p.number;
  n.first_child = p.first_child;
  n.num_children = p.num_children;
  n.status = p.status;
  n.directive = p.directive;
  n.has_result_line = (p.flags & kResultLine) != 0;
  n.has_plan = (p.flags & kPlan) != 0;
  n.has_duration = (p.flags & kDuration) != 0;
  n.has_exit_code = (p.flags & kExitCode) != 0;
  if (p.extra != 0) {
    const Extra& e = extras_[p.extra - 1];
    n.plan = e.plan;
    n.duration_ms = e.duration_ms;
    n.dropped = e.dropped;
    n.log_dropped = e.log_dropped;
    n.exit_code = e.exit_code;
  }
  return n;
}

Tree::Id Tree::AddTree(const TestNode& n) {
  std::vector<Id> ids;
  ids.reserve(n.subtests.size());
  for (const TestNode& c : n.subtests) ids.push_back(AddTree(c));
  return Add(n, ids);
}

Tree Tree::FromNode(const TestNode& root) {
  Tree t;
  t.SetRoot(t.AddTree(root));
  return t;
}

std::string DisplayName(const TreeNode& n) {
  if (!n.name.empty()) return std::string(n.name);
  std::string name = "test " + std::to_string(n.number);
  return n.has_result_line ? name : name + " (no result)";
}

}  // namespace vigil::ktap
