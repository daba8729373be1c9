// Micro-benchmarks of the KTAP engine on a real log given by VIGIL_BENCH_LOG
// (bench/ktap_throughput.sh builds one from kunit_tool's corpus and the
// kselftest golden logs). Without it, a small synthetic nested log is used.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "ktap/parallel_feed.h"
#include "ktap/parser.h"
#include "report/out.h"
#include "report/reports.h"
#include "report/tree_report.h"

namespace {

const std::string& Input() {
  static const std::string text = [] {
    if (const char* path = std::getenv("VIGIL_BENCH_LOG")) {
      std::ifstream f(path, std::ios::binary);
      std::stringstream ss;
      ss << f.rdbuf();
      return ss.str();
    }
    std::string t = "KTAP version 1\n1..1000\n";
    for (int i = 1; i <= 1000; ++i) {
      t += "    KTAP version 1\n    # Subtest: suite_" + std::to_string(i) + "\n    1..20\n";
      for (int k = 1; k <= 20; ++k) {
        t += "    # case_" + std::to_string(k) + ": initializing\n";
        t += "    ok " + std::to_string(k) + " case_" + std::to_string(k) + "\n";
      }
      t += "ok " + std::to_string(i) + " suite_" + std::to_string(i) + "\n";
    }
    return t;
  }();
  return text;
}

void Run(benchmark::State& state, bool keep_tree, bool parallel = false, bool flat = false) {
  const std::string& text = Input();
  for (auto _ : state) {
    vigil::ktap::ParserOptions o;
    o.keep_tree = keep_tree;
    o.flat_tree = flat;
    o.big_input = flat;  // as vigil parse reads a log file
    vigil::ktap::Parser p(o);
    if (parallel) {
      // As `vigil parse` reads a file: 128 KiB reads on a second thread.
      size_t pos = 0;
      vigil::ktap::FeedParallel(p, [&](char* buf, size_t len) -> long {
        size_t n = std::min(len, text.size() - pos);
        std::memcpy(buf, text.data() + pos, n);
        pos += n;
        return static_cast<long>(n);
      });
    } else {
      p.Feed(text);
    }
    p.Finish();
    benchmark::DoNotOptimize(p.counts().Total());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}

void BM_ParseTree(benchmark::State& state) { Run(state, true); }
void BM_ParseStreaming(benchmark::State& state) { Run(state, false); }

void BM_ParseTreeTwoThreads(benchmark::State& state) { Run(state, true, true); }
// As `vigil parse --format json` keeps the tree: flat, read on a second thread.
void BM_ParseFlatTreeTwoThreads(benchmark::State& state) { Run(state, true, true, true); }
void BM_ParseStreamingTwoThreads(benchmark::State& state) { Run(state, false, true); }

// The whole-tree reports written from a parsed document (the flat tree
// `vigil parse --format` keeps), to a sink that drops the text: what
// formatting alone costs.
const vigil::ktap::Document& Parsed() {
  static const vigil::ktap::Document doc = [] {
    vigil::ktap::ParserOptions o;
    o.keep_tree = true;
    o.flat_tree = true;
    vigil::ktap::Parser p(o);
    p.Feed(Input());
    p.Finish();
    return p.TakeDocument();
  }();
  return doc;
}

template <typename Write>
void Report(benchmark::State& state, Write write) {
  const vigil::ktap::Document& doc = Parsed();
  size_t bytes = 0;
  for (auto _ : state) {
    vigil::report::Out out([&bytes](std::string_view piece) {
      bytes += piece.size();
      return true;
    });
    write(doc, out);
    out.Flush();
  }
  state.counters["out_MiB"] = static_cast<double>(bytes) / static_cast<double>(state.iterations()) / 1048576.0;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(Input().size()));
}

void BM_WriteJson(benchmark::State& state) {
  Report(state, [](const vigil::ktap::Document& d, vigil::report::Out& o) { vigil::report::WriteJson(d, o); });
}
void BM_WriteJunit(benchmark::State& state) {
  Report(state, [](const vigil::ktap::Document& d, vigil::report::Out& o) { vigil::report::WriteJunit(d, o); });
}
// As `vigil parse --format junit` writes it: the top-level tests handed to
// Take() (the parse hands them over in batches), the body kept until the
// totals are known, then written.
void BM_TakeJunit(benchmark::State& state) {
  Report(state, [](const vigil::ktap::Document& d, vigil::report::Out& o) {
    std::unique_ptr<vigil::report::TreeReport> junit = vigil::report::NewJunitReport();
    junit->Take(d.tree, d.tree.children(d.tree.root()));
    static const vigil::ktap::Document rest;
    junit->Write(rest, o);
  });
}
void BM_WriteText(benchmark::State& state) {
  Report(state, [](const vigil::ktap::Document& d, vigil::report::Out& o) {
    vigil::report::TextOptions to;
    to.color = false;
    vigil::report::WriteText(d, to, o);
  });
}

BENCHMARK(BM_WriteJson)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_WriteJunit)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TakeJunit)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_WriteText)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseTree)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseTreeTwoThreads)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseFlatTreeTwoThreads)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseStreamingTwoThreads)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseStreaming)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
