#include "report/tree_report.h"

#include <utility>

namespace vigil::report {

void Pieces::WriteTo(Out& out) {
  for (Buffer::Full& f : full_) {
    out.Append(f.view());
    f.chunk.reset();
  }
  full_.clear();
  out.Append(buf_.view());
  buf_.clear();
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
