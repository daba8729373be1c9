#include "ktap/tree.h"

#include <sys/mman.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>

namespace vigil::ktap {
namespace {

std::atomic<bool> huge_pages_pay{true};

double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

}  // namespace

bool HugePagesPay() { return huge_pages_pay.load(std::memory_order_relaxed); }

void NoteHugeFault(size_t bytes, double cpu_ms) {
  constexpr double kMaxMsPer2MiB = 3.0;
  if (cpu_ms > kMaxMsPer2MiB * static_cast<double>(bytes) / static_cast<double>(2 << 20)) {
    huge_pages_pay.store(false, std::memory_order_relaxed);
  }
}

void ResetHugePagesForTest() { huge_pages_pay.store(true, std::memory_order_relaxed); }

Chunk::Chunk(size_t bytes, bool huge) : size_(bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  data_ = static_cast<char*>(p);
  if (!huge || !HugePagesPay()) return;
  // Advice only: without transparent huge pages it is ignored.
  if (madvise(p, bytes, MADV_HUGEPAGE) != 0) return;
  // Its first huge page faulted in now, and timed: what the rest will cost.
  // (A chunk is made to be written to; the rest is faulted in as it is.) A
  // huge page starts at a 2 MiB boundary, which a kernel that does not align
  // big mappings to one may have put past the chunk's start.
  constexpr uintptr_t kHuge = 2 << 20;
  uintptr_t base = reinterpret_cast<uintptr_t>(data_);
  uintptr_t into = ((base + kHuge - 1) & ~(kHuge - 1)) - base;  // to the first boundary
  char* touch = data_ + (into < bytes ? into : 0);
  double start = ThreadCpuMs();
  *static_cast<volatile char*>(touch) = 0;
  NoteHugeFault(std::min<size_t>(bytes, kHuge), ThreadCpuMs() - start);
}

Chunk::~Chunk() { munmap(data_, size_); }

ChunkSource::~ChunkSource() { Stop(); }

std::unique_ptr<Chunk> ChunkSource::Take() {
  {
    std::lock_guard lock(mu_);
    // A tree's first two chunks (its first slots and bytes) are made here,
    // in small pages touched as they are used: most trees are small.
    ++taken_;
    if (taken_ <= 2 && !big_) return std::make_unique<Chunk>(kBytes, false);
    if (taken_ == 3 && !stop_) thread_ = std::thread([this] { Run(); });
    if (!ready_.empty()) {
      std::unique_ptr<Chunk> c = std::move(ready_.front());
      ready_.pop_front();
      cv_.notify_all();
      return c;
    }
  }
  return std::make_unique<Chunk>(kBytes, true);
}

void ChunkSource::ExpectBig() {
  std::lock_guard lock(mu_);
  big_ = true;
}

void ChunkSource::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  ready_.clear();
}

void ChunkSource::Run() {
  constexpr size_t kAhead = 2;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || ready_.size() < kAhead; });
    if (stop_) return;
    lock.unlock();
    auto c = std::make_unique<Chunk>(kBytes, true);
    // One write a page faults it in (a huge page takes one).
    for (size_t off = 0; off < kBytes; off += 4096) c->data()[off] = 0;
    lock.lock();
    ready_.push_back(std::move(c));
  }
}

const char* Arena::Copy(std::initializer_list<std::string_view> pieces) {
  size_t size = 0;
  for (std::string_view p : pieces) size += p.size();
  if (size == 0) return nullptr;
  size_t pad = (8 - reinterpret_cast<uintptr_t>(cur_) % 8) % 8;
  if (size + pad > left_) {
    chunks_.push_back(size <= ChunkSource::kBytes ? source_->Take() : std::make_unique<Chunk>(size, true));
    cur_ = chunks_.back()->data();
    left_ = std::max(size, ChunkSource::kBytes);
    pad = 0;
  }
  cur_ += pad;
  left_ -= pad;
  const char* start = cur_;
  for (std::string_view p : pieces) {
    if (p.empty()) continue;
    std::memcpy(cur_, p.data(), p.size());
    cur_ += p.size();
  }
  left_ -= size;
  return start;
}

void Arena::Reset() {
  chunks_.resize(std::min<size_t>(chunks_.size(), 1));
  cur_ = chunks_.empty() ? nullptr : chunks_[0]->data();
  left_ = chunks_.empty() ? 0 : ChunkSource::kBytes;
}

bool Tree::Reset() {
  if (chunks_.size() > 1 || arena_.chunks() > 1) return false;
  size_ = 0;
  root_ = 0;
  arena_.Reset();
  return true;
}

Tree::Id Tree::Add(const TestNode& n, std::span<const Id> children) {
  // A reset tree still has its first chunk of slots.
  if (size_ == chunks_.size() * kChunk) chunks_.push_back(source_->Take());
  Id id = static_cast<Id>(size_);
  Packed& t = *new (Slots(size_ / kChunk) + size_ % kChunk) Packed;
  ++size_;
  // Names are capped at 1 KiB and lines at 64 KiB by the parser; the caps
  // here only keep the lengths in their fields.
  std::string_view name = std::string_view(n.name).substr(0, UINT16_MAX);
  std::string_view directive = std::string_view(n.directive_text).substr(0, UINT16_MAX);
  std::string_view log = std::string_view(n.log.text()).substr(0, UINT32_MAX);
  t.flags = (n.has_result_line ? kResultLine : 0) | (n.plan ? kPlan : 0) | (n.duration_ms ? kDuration : 0) |
            (n.exit_code ? kExitCode : 0);
  // Only the values it has, 8 bytes each, in the order of their flags.
  int64_t values[5];
  size_t count = 0;
  if (n.plan) values[count++] = *n.plan;
  if (n.duration_ms) values[count++] = *n.duration_ms;
  if (n.exit_code) values[count++] = *n.exit_code;
  if (n.dropped != 0) {
    values[count++] = n.dropped;
    t.flags |= kDropped;
  }
  if (n.log.dropped() != 0) {
    values[count++] = n.log.dropped();
    t.flags |= kLogDropped;
  }
  std::string_view extra_bytes(reinterpret_cast<const char*>(values), count * sizeof values[0]);
  t.data = arena_.Copy({extra_bytes, {reinterpret_cast<const char*>(children.data()), children.size_bytes()},
                        name, directive, log});
  t.num_children = static_cast<uint32_t>(children.size());
  t.name_len = static_cast<uint16_t>(name.size());
  t.directive_len = static_cast<uint16_t>(directive.size());
  t.log_len = static_cast<uint32_t>(log.size());
  t.number = n.number;
  t.status = n.status;
  t.directive = n.directive;
  return id;
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
  t.Seal();
  return t;
}

std::string DisplayName(const TreeNode& n) { return DisplayName(n.name, n.number, n.has_result_line); }

}  // namespace vigil::ktap
