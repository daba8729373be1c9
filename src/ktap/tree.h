// A kept result tree in flat arrays: what `vigil parse` and the reports
// read. A parse of a big log keeps hundreds of thousands of tests; as
// TestNode objects each is several allocations (its name, its log, its
// subtests' vector) and ~200 bytes, as a TreeNode it is one slot in a chunk
// of nodes, and its name, directive text and log are bytes appended to an
// arena. Nodes are added children first (as a parser finishes them), so a
// node's children are already in the tree when it comes; the root comes
// last.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ktap/result.h"

namespace vigil::ktap {

// A block of memory from mmap, asked for in huge pages where the kernel
// gives them: a big tree's memory is faulted in 2 MiB at a time, not 4 KiB.
//
// On a virtual machine a fresh huge page is cheap (~0.2 ms) while the
// guest still has huge blocks the host backs, and 6-40 ms once it has to
// take ones it gave back to the host; small pages then cost ~1 ms per 2 MiB.
// So the first huge page of a huge chunk is faulted in at once and the
// thread's CPU time for it measured (the host's work stalls the thread and
// counts, being scheduled out does not); once one took longer than small
// pages would (HugePagesPay), the process asks for small pages from then on.
class Chunk {
 public:
  // `huge`: huge pages advised (a big tree's chunk) while they pay.
  Chunk(size_t bytes, bool huge);
  ~Chunk();
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;
  char* data() const { return data_; }

 private:
  char* data_;
  size_t size_;
};

// Whether huge pages are still asked for in this process.
bool HugePagesPay();
// Records that faulting in `bytes` of huge pages took `cpu_ms` of the
// thread's CPU time: over 3 ms per 2 MiB (small pages take about 1), huge
// pages stop paying for the rest of the process.
void NoteHugeFault(size_t bytes, double cpu_ms);
// For tests: huge pages pay again.
void ResetHugePagesForTest();

// Where a tree's chunks come from. A big tree's memory is most of its cost
// on a VM (the kernel zeroes every fresh page): from the third chunk on, a
// helper thread maps and faults in the next chunks while the tree fills the
// current one, so that work runs beside the parse instead of inside it.
// Small trees (two chunks: their first slots and bytes) never start the
// thread and are faulted in as they are used; Stop() (or the destructor)
// ends it.
class ChunkSource {
 public:
  static constexpr size_t kBytes = 2 << 20;
  ChunkSource() = default;
  ~ChunkSource();
  ChunkSource(const ChunkSource&) = delete;
  ChunkSource& operator=(const ChunkSource&) = delete;
  // A chunk of kBytes (faulted in when the helper got to it first).
  std::unique_ptr<Chunk> Take();
  // Every chunk in huge pages, the first two included.
  void ExpectBig();
  void Stop();

 private:
  void Run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Chunk>> ready_;
  int taken_ = 0;
  bool big_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// Bytes that live as long as the tree: copied into big chunks, never moved,
// freed together.
class Arena {
 public:
  explicit Arena(ChunkSource* source) : source_(source) {}
  // Copies the pieces one after the other, the first at an 8-byte boundary;
  // returns where it starts.
  const char* Copy(std::initializer_list<std::string_view> pieces);
  // Bytes handed out so far (to the end of the current chunk's use).
  size_t used() const {
    return chunks_.empty() ? 0 : (chunks_.size() - 1) * ChunkSource::kBytes + (ChunkSource::kBytes - left_);
  }
  size_t chunks() const { return chunks_.size(); }
  // Forgets every copy; the first chunk is kept for the next ones.
  void Reset();

 private:
  ChunkSource* source_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  char* cur_ = nullptr;
  size_t left_ = 0;
};

// A kept test as the reports read it (a copy made from the tree's compact
// storage; its strings point into the tree's arena).
struct TreeNode {
  std::string_view name;            // as on its result line or header; may be empty
  std::string_view directive_text;  // text after the directive keyword
  std::string_view log;             // '\n'-terminated lines, as TestLog::text()
  int64_t number = 0;
  int64_t plan = 0;         // valid when has_plan
  int64_t duration_ms = 0;  // valid when has_duration
  int64_t dropped = 0;      // results below it counted, not kept
  int64_t log_dropped = 0;
  const uint32_t* children = nullptr;  // the ids of its subtests, in the tree's arena
  uint32_t num_children = 0;
  int32_t exit_code = 0;  // valid when has_exit_code
  Status status = Status::kCrash;
  Directive directive = Directive::kNone;
  bool has_result_line = false;
  bool has_plan = false;
  bool has_duration = false;
  bool has_exit_code = false;
};

class Tree {
 public:
  using Id = uint32_t;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  TreeNode node(Id id) const;
  TreeNode root() const { return node(root_); }
  std::span<const Id> children(const TreeNode& n) const { return {n.children, n.num_children}; }

  // Copies `n` without its subtests; `children` (already added) are its
  // subtests. Returns its id.
  Id Add(const TestNode& n, std::span<const Id> children);
  void SetRoot(Id id) { root_ = id; }
  // The whole tree below `root` (reports of trees built as TestNode).
  static Tree FromNode(const TestNode& root);
  // A big tree is coming (ChunkSource::ExpectBig).
  void ExpectBig() { source_->ExpectBig(); }
  // No more nodes: the helper that prepares chunks stops.
  void Seal() { source_->Stop(); }
  // Bytes of names, logs and child lists held (what a batch of tests weighs).
  size_t bytes() const { return arena_.used(); }
  // Empties a tree that fits in its first chunks for reuse (the memory stays
  // mapped and warm); false, and nothing done, for a bigger one.
  bool Reset();

 private:
  // 32 bytes a test. Everything else is one run of bytes in the arena:
  // 8 bytes for each of the values most tests lack that it has (its plan,
  // duration, exit code, dropped results and dropped log lines, in the
  // order of their flags, each present when its flag is set), its
  // children's ids, then its name, directive text and log.
  struct Packed {
    const char* data = nullptr;
    int64_t number = 0;
    uint32_t log_len = 0;
    uint16_t name_len = 0;
    uint16_t directive_len = 0;
    uint32_t num_children = 0;
    Status status = Status::kCrash;
    Directive directive = Directive::kNone;
    uint8_t flags = 0;
  };
  enum : uint8_t {
    kResultLine = 1,
    kPlan = 2,
    kDuration = 4,
    kExitCode = 8,
    kDropped = 16,
    kLogDropped = 32,
    kValues = kPlan | kDuration | kExitCode | kDropped | kLogDropped,
  };
  static_assert(sizeof(Packed) == 32);
  static constexpr size_t kChunk = ChunkSource::kBytes / sizeof(Packed);
  Packed* Slots(size_t chunk) const { return reinterpret_cast<Packed*>(chunks_[chunk]->data()); }
  Id AddTree(const TestNode& n);
  std::vector<std::unique_ptr<Chunk>> chunks_;
  size_t size_ = 0;
  Id root_ = 0;
  // Behind a pointer: a Tree moves (into a Document) while its arena keeps
  // pointing at the source.
  std::unique_ptr<ChunkSource> source_ = std::make_unique<ChunkSource>();
  Arena arena_{source_.get()};
};

// Inline: reports call it once a test.
inline TreeNode Tree::node(Id id) const {
  const Packed& p = Slots(id / kChunk)[id % kChunk];
  TreeNode n;
  const char* d = p.data;
  // The values it has, one after the other in the order of their flags.
  auto value = [&](uint8_t flag) -> int64_t {
    if (!(p.flags & flag)) return 0;
    int64_t v;
    std::memcpy(&v, d, sizeof v);
    d += sizeof v;
    return v;
  };
  n.plan = value(kPlan);
  n.duration_ms = value(kDuration);
  n.exit_code = static_cast<int32_t>(value(kExitCode));
  n.dropped = value(kDropped);
  n.log_dropped = value(kLogDropped);
  n.children = reinterpret_cast<const Id*>(d);
  n.num_children = p.num_children;
  d += p.num_children * sizeof(Id);
  n.name = std::string_view(d, p.name_len);
  n.directive_text = std::string_view(d + p.name_len, p.directive_len);
  n.log = std::string_view(d + p.name_len + p.directive_len, p.log_len);
  n.number = p.number;
  n.status = p.status;
  n.directive = p.directive;
  n.has_result_line = (p.flags & kResultLine) != 0;
  n.has_plan = (p.flags & kPlan) != 0;
  n.has_duration = (p.flags & kDuration) != 0;
  n.has_exit_code = (p.flags & kExitCode) != 0;
  return n;
}

// DisplayName() of a kept node: its name, "test N" or "test N (no result)".
std::string DisplayName(const TreeNode& n);

}  // namespace vigil::ktap
