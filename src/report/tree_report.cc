#include "report/tree_report.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace vigil::report {

void Pieces::Keep() {
  std::string_view text = scratch_.view();
  while (!text.empty()) {
    if (chunks_.empty() || used_ == ktap::ChunkSource::kBytes) {
      chunks_.push_back(std::make_unique<ktap::Chunk>(ktap::ChunkSource::kBytes, true));
      used_ = 0;
    }
    size_t n = std::min(text.size(), ktap::ChunkSource::kBytes - used_);
    std::memcpy(chunks_.back()->data() + used_, text.data(), n);
    used_ += n;
    text.remove_prefix(n);
  }
  scratch_.clear();
}

void Pieces::WriteTo(Out& out) {
  Keep();
  for (size_t i = 0; i < chunks_.size(); ++i) {
    size_t n = i + 1 == chunks_.size() ? used_ : ktap::ChunkSource::kBytes;
    out.Append(std::string_view(chunks_[i]->data(), n));
    chunks_[i].reset();
  }
  chunks_.clear();
  used_ = 0;
}

ReportThread::ReportThread(TreeReport& report) : report_(report), thread_([this] { Run(); }) {}

ReportThread::~ReportThread() { Join(); }

ktap::Tree ReportThread::Hand(ktap::Tree tree, std::vector<ktap::Tree::Id> tops) {
  std::unique_lock lock(mu_);
  queue_.push_back({std::move(tree), std::move(tops)});
  cv_.notify_all();
  // At most kTrees trees go round: the parse waits for one to come back
  // rather than fault in fresh memory for another.
  cv_.wait(lock, [this] { return !free_.empty() || trees_ < kTrees; });
  if (free_.empty()) {
    ++trees_;
    return {};
  }
  ktap::Tree t = std::move(free_.back());
  free_.pop_back();
  return t;
}

void ReportThread::Join() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void ReportThread::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return done_ || !queue_.empty(); });
    if (queue_.empty()) return;  // done and nothing left
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    lock.unlock();
    report_.Take(b.tree, b.tops);
    // A batch that fits its tree's first chunks comes back for the next one;
    // a bigger one is freed here, off the parser's thread.
    bool reuse = b.tree.Reset();
    if (!reuse) b.tree = ktap::Tree();
    lock.lock();
    if (reuse) {
      free_.push_back(std::move(b.tree));
    } else {
      --trees_;
    }
    cv_.notify_all();
  }
}

}  // namespace vigil::report
