#include "ktap/parallel_feed.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace vigil::ktap {
namespace {

// A log of `copies` nested documents, with a console-free mix of every line
// kind, an over-long line and a last line without '\n'.
std::string MakeLog(int copies) {
  std::string s = "boot noise\nKTAP version 1\n1.." + std::to_string(copies) + "\n";
  for (int i = 1; i <= copies; ++i) {
    s += "    KTAP version 1\n    # Subtest: suite" + std::to_string(i) + "\n    1..3\n";
    s += "    # diag " + std::to_string(i) + "\n";
    s += "    ok 1 - a # SKIP time=3ms\n";
    s += "\t# Subtest: deep\n\t1..1\n\tnot ok 1 - x # TIMEOUT\n    not ok 2 - deep\n";
    if (i % 7 == 0) s += "    # " + std::string(70000, 'x') + "\n";
    s += "kernel noise\n";
    if (i % 5 != 0) s += "    ok 3 - c\n";  // missing every fifth time
    s += (i % 3 == 0 ? "not ok " : "ok ") + std::to_string(i) + " - suite" + std::to_string(i) + "\n";
  }
  s += "ok " + std::to_string(copies + 1) + " - unterminated";
  return s;
}

// What matters of a parse, as text.
std::string Summary(const Parser& p) {
  std::string s = std::string(StatusName(p.root().status)) + " lines=" + std::to_string(p.line_count()) +
                  " errors=" + std::to_string(p.error_count());
  for (int i = 0; i < kNumStatuses; ++i) s += " " + std::to_string(p.counts().Get(static_cast<Status>(i)));
  for (const ParseError& e : p.errors()) s += "\n" + std::to_string(e.line) + ": " + e.message;
  return s;
}

std::string FeedAll(std::string_view log) {
  Parser p(ParserOptions{.keep_tree = false, .keep_logs = false});
  p.Feed(log);
  p.Finish();
  return Summary(p);
}

// Serves `log` in reads of at most `step` bytes; fails at `fail_at` if set.
std::string FeedByRead(std::string_view log, size_t step, size_t fail_at, bool* ok) {
  Parser p(ParserOptions{.keep_tree = false, .keep_logs = false});
  size_t pos = 0;
  *ok = FeedParallel(p, [&](char* buf, size_t len) -> long {
    if (pos >= fail_at) return -1;
    size_t n = std::min({len, step, log.size() - pos, fail_at - pos});
    std::memcpy(buf, log.data() + pos, n);
    pos += n;
    return static_cast<long>(n);
  });
  p.Finish();
  return Summary(p);
}

TEST(ParallelFeedTest, ReadFnGivesTheSameResultAsFeed) {
  std::string log = MakeLog(3000);
  ASSERT_GT(log.size(), 2u << 20);  // several chunks
  std::string want = FeedAll(log);
  for (size_t step : {size_t{1} << 30, size_t{4096}, size_t{777}}) {
    bool ok = false;
    EXPECT_EQ(FeedByRead(log, step, SIZE_MAX, &ok), want) << step;
    EXPECT_TRUE(ok);
  }
}

TEST(ParallelFeedTest, ReadErrorStopsAfterWhatWasRead) {
  std::string log = MakeLog(3000);
  size_t fail_at = 1500000;
  bool ok = true;
  std::string got = FeedByRead(log, 65536, fail_at, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(got, FeedAll(std::string_view(log).substr(0, fail_at)));
}

TEST(ParallelFeedTest, EmptyAndTinyInputs) {
  for (std::string log :
       {std::string(), std::string("ok 1 a\n"), std::string("KTAP version 1\n1..1\nok 1")}) {
    bool ok = false;
    EXPECT_EQ(FeedByRead(log, 3, SIZE_MAX, &ok), FeedAll(log));
    EXPECT_TRUE(ok);
  }
}

// Records which tests finished, for a reader that waits on the parser.
class Finished : public ParserListener {
 public:
  void OnTestFinished(int, const TestNode& t) override {
    std::lock_guard<std::mutex> lock(mu);
    names.push_back(t.name);
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> names;
};

// A pipe from a VM that is still printing: what one read returned is parsed
// before the next read is asked for, so tests are reported as they finish.
TEST(ParallelFeedTest, EachReadIsParsedWithoutWaitingForMore) {
  Finished finished;
  Parser p(ParserOptions{.keep_tree = false}, &finished);
  const std::string pieces[] = {"KTAP version 1\n1..2\nok 1 first\n", "ok 2 second\n"};
  size_t calls = 0;
  bool saw_first_before_second = false;
  bool ok = FeedParallel(p, [&](char* buf, size_t len) -> long {
    if (calls == 1) {
      // The second piece is written only once the first one was parsed.
      std::unique_lock<std::mutex> lock(finished.mu);
      saw_first_before_second = finished.cv.wait_for(lock, std::chrono::seconds(30),
                                                      [&] { return !finished.names.empty(); });
    }
    if (calls >= 2) return 0;
    const std::string& piece = pieces[calls++];
    EXPECT_LE(piece.size(), len);
    std::memcpy(buf, piece.data(), piece.size());
    return static_cast<long>(piece.size());
  });
  p.Finish();
  EXPECT_TRUE(ok);
  EXPECT_TRUE(saw_first_before_second);
  EXPECT_EQ(finished.names, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(p.root().status, Status::kPass);
}

}  // namespace
}  // namespace vigil::ktap
