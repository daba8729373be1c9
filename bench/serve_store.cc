// Writes the dashboard benchmark's synthetic store through the store's own
// write API (what vigil run calls): RUNS runs x TESTS tests x SUBTESTS
// subtests, alternating a host and a VM (TCG) environment, with the shapes a
// CI's history has: most tests pass; a few subtests fail now and then; some
// tests are flaky (fail, then pass on a retry); one test regresses half-way;
// a kernel WARNING comes with a few runs. Deterministic (a fixed seed).
//
//   serve_store DB [RUNS] [TESTS] [SUBTESTS]
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <fmt/format.h>

#include "store/store.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: serve_store DB [RUNS] [TESTS] [SUBTESTS]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int runs = argc > 2 ? std::atoi(argv[2]) : 2000;
  const int tests = argc > 3 ? std::atoi(argv[3]) : 200;
  const int subtests = argc > 4 ? std::atoi(argv[4]) : 20;
  auto db = vigil::store::Store::Open(path);
  if (!db.ok()) {
    fmt::print(stderr, "{}\n", db.status().message());
    return 1;
  }
  vigil::store::Store& s = **db;
  vigil::model::Environment host, vm;
  host.kernel_release = "6.12.57+deb13-amd64";
  host.uname = "Linux " + host.kernel_release + " x86_64";
  host.arch = "x86_64";
  host.cpus = 2;
  host.memory_kb = 24 << 20;
  host.tools = {{"ip", "ip utility, iproute2-6.1.0"}};
  vm = host;
  vm.where = "vm";
  vm.accel = "tcg";
  vm.memory_kb = 4 << 20;
  int64_t env[2] = {s.EnsureEnvironment(host).value(), s.EnsureEnvironment(vm).value()};
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::string> plan;
  for (int t = 0; t < tests; ++t) plan.push_back(fmt::format("net/coll{}:test_{:03}.sh", t % 8, t));
  for (int r = 0; r < runs; ++r) {
    vigil::model::RunRecord run;
    int day = r / 48, minute = (r % 48) * 30;
    run.started_at = fmt::format("2026-{:02}-{:02}T{:02}:{:02}:00Z", 1 + day / 28 % 12, 1 + day % 28, minute / 60,
                                 minute % 60);
    run.host = "ci-1";
    run.command = "vigil run --tests /opt/kselftest -j 2";
    run.tests_dir = "/opt/kselftest";
    run.plan = plan;
    run.environment_id = env[r % 2];
    int64_t id = s.CreateRun(run).value();
    bool warn = u(rng) < 0.02;
    bool any_fail = false;
    for (int t = 0; t < tests; ++t) {
      // test 7 is flaky (a retry passes), test 13 regresses half-way, others
      // fail a subtest now and then.
      bool flaky = t == 7 && u(rng) < 0.3;
      bool regressed = t == 13 && r >= runs / 2;
      int attempts = flaky ? 2 : 1;
      for (int a = 1; a <= attempts; ++a) {
        vigil::model::AttemptRecord at;
        at.test_path = plan[t];
        at.attempt = a;
        at.started_at = run.started_at;
        at.duration_ms = 1000 + (t * 37 % 500) * 10 + static_cast<int64_t>(u(rng) * 300);
        bool fail = (flaky && a == 1) || regressed || u(rng) < 0.001;
        for (int k = 0; k < subtests; ++k) {
          bool sub_fail = fail && k == (t + r) % subtests;
          at.subtests.push_back({fmt::format("subtest {:02} of {}", k, t), sub_fail ? "FAIL" : "PASS", 40 + k});
        }
        at.status = fail ? "FAIL" : "PASS";
        at.exit_code = fail ? 1 : 0;
        at.output = fmt::format("TAP version 13\n1..{}\n# {} attempt {}\n", subtests, plan[t], a);
        at.output_bytes = at.output.size();
        if (warn && t == 3) {
          at.crashes = {{"WARNING", "WARNING in mptcp_subflow_create_socket", false, "fp-mptcp-warn",
                         "mptcp_subflow_create_socket", "WARNING: CPU: 1 PID: 812 at net/mptcp/subflow.c:1621\n"}};
        }
        any_fail |= fail && a == attempts;
        if (auto st = s.RecordAttempt(id, at); !st.ok()) {
          fmt::print(stderr, "{}\n", st.message());
          return 1;
        }
      }
    }
    if (auto st = s.FinishRun(id, any_fail ? "FAIL" : "PASS", run.started_at); !st.ok()) return 1;
    if (r % 100 == 99) fmt::print(stderr, "{} runs\n", r + 1);
  }
  return 0;
}
