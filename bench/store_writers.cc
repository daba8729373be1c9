// Concurrent writers into one store, as the shards of a split run write:
// WRITERS threads, each with its own connection, each the shard of one run
// group recording TESTS tests of SUBTESTS subtests (an attempt each, one
// transaction per attempt, as vigil run commits them). Prints results per
// second (tests and subtests) and checks that nothing was lost: every
// attempt and subtest read back, the run finished by exactly one writer.
//
//   store_writers DB WRITERS TESTS SUBTESTS
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "engine/run_group.h"
#include "store/store.h"

using vigil::model::AttemptRecord;

int main(int argc, char** argv) {
  if (argc < 5) {
    fmt::print(stderr, "usage: store_writers DB WRITERS TESTS SUBTESTS\n");
    return 2;
  }
  const std::string path = argv[1];
  const int writers = std::atoi(argv[2]);
  const int tests = std::atoi(argv[3]);
  const int subtests = std::atoi(argv[4]);
  std::vector<std::string> plan;
  std::vector<std::vector<std::string>> split(static_cast<size_t>(writers));
  for (int w = 0; w < writers; ++w) {
    for (int t = 0; t < tests; ++t) {
      plan.push_back(fmt::format("net/w{}:test_{:04}.sh", w, t));
      split[static_cast<size_t>(w)].push_back(plan.back());
    }
  }
  std::string group = fmt::format("bench-{}-{}", getpid(), std::chrono::steady_clock::now().time_since_epoch().count());
  int64_t run_id = 0;
  {
    auto db = vigil::store::Store::Open(path);
    if (!db.ok()) {
      fmt::print(stderr, "{}\n", db.status().message());
      return 1;
    }
    vigil::model::RunRecord run;
    run.started_at = "2026-12-05T00:00:00Z";
    run.host = "bench";
    run.command = "store_writers";
    run.plan = plan;
    run.run_group = group;
    run.shards = writers;
    run_id = (*db)->CreateGroupRun(run, split).value();
  }
  std::atomic<int> errors{0}, last{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto db = vigil::store::Store::Open(path);  // a connection of its own
      if (!db.ok()) {
        ++errors;
        return;
      }
      vigil::model::RunShardRecord shard;
      shard.run_id = run_id;
      shard.shard = w + 1;
      shard.host = fmt::format("writer-{}", w);
      shard.started_at = "2026-12-05T00:00:01Z";
      if (!(*db)->StartShard(shard, "").ok()) ++errors;
      for (const auto& path : split[static_cast<size_t>(w)]) {
        AttemptRecord a;
        a.test_path = path;
        a.status = "PASS";
        a.exit_code = 0;
        a.duration_ms = 1234;
        a.started_at = "2026-12-05T00:00:02Z";
        a.output = "TAP version 13\n";
        a.output_bytes = a.output.size();
        for (int s = 0; s < subtests; ++s) a.subtests.push_back({fmt::format("case {:02}", s), "PASS", 5});
        if (!(*db)->RecordAttempt(run_id, a).ok()) ++errors;
      }
      auto left = (*db)->EndShard(run_id, w + 1, "PASS", "2026-12-05T00:10:00Z");
      if (!left.ok()) {
        ++errors;
      } else if (*left == 0) {
        ++last;
        if (!vigil::engine::FinishGroupRun(**db, run_id).ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto db = vigil::store::Store::Open(path);
  auto attempts = (*db)->LoadAttempts(run_id, false);
  size_t got_tests = 0, got_subtests = 0;
  if (attempts.ok()) {
    got_tests = attempts->size();
    for (const auto& a : *attempts) got_subtests += a.subtests.size();
  }
  size_t want_tests = static_cast<size_t>(writers) * static_cast<size_t>(tests);
  size_t want_subtests = want_tests * static_cast<size_t>(subtests);
  std::string status = (*db)->LoadRun(run_id).value().status;
  bool whole = got_tests == want_tests && got_subtests == want_subtests && errors == 0 && last == 1 && status == "PASS";
  fmt::print("{} writer(s) x {} tests x {} subtests: {:.2f} s, {:.0f} tests/s, {:.0f} subtests/s; read back {} tests, "
             "{} subtests, {} errors, {} last writer, run {}: {}\n",
             writers, tests, subtests, secs, static_cast<double>(want_tests) / secs,
             static_cast<double>(want_subtests) / secs, got_tests, got_subtests, errors.load(), last.load(), status,
             whole ? "nothing lost" : "LOST OR FAILED");
  return whole ? 0 : 1;
}
