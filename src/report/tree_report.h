// Whole-tree reports (JSON, JUnit, text) written while the parse runs. The
// parser hands complete top-level tests over in batches
// (ktap::Parser::HandTopsTo); a ReportThread formats each batch on a second
// core as it comes, and the batch's memory goes back to the parser, so the
// tree is never kept whole. The head of a JUnit report (its totals) is only
// known at the end, so its formatted body waits in Pieces; the text tree
// goes out as it is formatted. (`vigil parse` writes JSON from the whole
// tree: its body weighs more than the tree and formats quickly.)
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "ktap/parser.h"
#include "report/out.h"

namespace vigil::report {

// Text formatted ahead of where it goes, kept in 2 MiB chunks of huge
// pages: a report's body can be bigger than its input, and on a VM every
// fresh small page costs a fault that takes microseconds. Items are written
// into the chunks in place; one that does not fit where a chunk ends starts
// the next.
class Pieces {
 public:
  Pieces() { buf_.HandFullTo(&full_); }
  Pieces(const Pieces&) = delete;
  Pieces& operator=(const Pieces&) = delete;
  // Where to write.
  Buffer& buf() { return buf_; }
  // Hands everything to `out`, in order, and forgets it.
  void WriteTo(Out& out);

 private:
  std::vector<Buffer::Full> full_;
  Buffer buf_;
};

// A report of a whole tree, given in batches of top-level tests and then the
// document with the tests it still holds. Given only the document, it is the
// report of that document.
class TreeReport {
 public:
  virtual ~TreeReport() = default;
  // Formats complete top-level tests, in document order (any one thread).
  virtual void Take(const ktap::Tree& tree, std::span<const ktap::Tree::Id> tops) = 0;
  // Writes the whole report: what Take() formatted, then `doc`'s own tests.
  virtual void Write(const ktap::Document& doc, Out& out) = 0;
};

std::unique_ptr<TreeReport> NewJsonReport();
std::unique_ptr<TreeReport> NewJunitReport(const std::string& suite_name = "vigil");
struct TextOptions;
// The tree of the tests taken is written to `live` as it is formatted: the
// report's Write() must go to the same Out.
std::unique_ptr<TreeReport> NewTextReport(const TextOptions& options, Out& live);

// Formats the batches a parser hands over on a thread of its own. Hand() is
// the parser's TopsHandler: it queues the batch and returns an emptied tree
// to reuse (waiting for one when kTrees are out, so memory stays bounded).
class ReportThread {
 public:
  explicit ReportThread(TreeReport& report);
  ~ReportThread();
  ReportThread(const ReportThread&) = delete;
  ReportThread& operator=(const ReportThread&) = delete;
  ktap::Tree Hand(ktap::Tree tree, std::vector<ktap::Tree::Id> tops);
  // Waits until every batch handed over is formatted; then the report may
  // be written.
  void Join();

 private:
  // Trees in use at once: the parser's, the one being formatted, and two
  // queued between them.
  static constexpr size_t kTrees = 4;
  struct Batch {
    ktap::Tree tree;
    std::vector<ktap::Tree::Id> tops;
  };
  void Run();
  TreeReport& report_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::vector<ktap::Tree> free_;
  size_t trees_ = 1;  // the parser starts with one of its own
  bool done_ = false;
  std::thread thread_;
};

}  // namespace vigil::report
