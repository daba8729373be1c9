#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ktap/parser.h"
#include "report/reports.h"
#include "report/run_report.h"
#include "report/tree_report.h"
#include "base/json.h"
#include "base/text.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>
#include <vector>

namespace vigil::report {
namespace {

const char* kLog =
    "TAP version 13\n1..2\n"
    "# TAP version 13\n# 1..2\n# ok 1 - a # time=4ms\n# not ok 2 - b <&>\n"
    "not ok 1 selftests: net/mptcp: pm_netlink.sh # exit=1\n"
    "ok 2 selftests: net/mptcp: diag.sh # SKIP\n";

TEST(JsonReportTest, SchemaAndCounts) {
  ktap::Document d = ktap::ParseText(kLog);
  nlohmann::json j = ToJson(d);
  EXPECT_EQ(j["format_version"], 1);
  EXPECT_EQ(j["status"], "FAIL");
  EXPECT_EQ(j["counts"]["passed"], 1);
  EXPECT_EQ(j["counts"]["failed"], 1);
  EXPECT_EQ(j["counts"]["skipped"], 1);
  EXPECT_EQ(j["counts"]["errors"], 0);
  EXPECT_EQ(j["tests"][0]["subtests"][0]["duration_ms"], 4);
  EXPECT_EQ(j["tests"][0]["exit_code"], 1);
  EXPECT_EQ(j["tests"][1]["directive"], "SKIP");
  EXPECT_TRUE(j["errors"].is_array());
}

TEST(JsonReportTest, TextEqualsDocument) {
  ktap::Document d = ktap::ParseText(kLog);
  EXPECT_EQ(nlohmann::json::parse(ToJsonText(d)), ToJson(d));
  ktap::Document many = ktap::ParseText("KTAP version 1\n1..3\nok 1 a\nnot ok 2 b\n");
  EXPECT_EQ(nlohmann::json::parse(ToJsonText(many)), ToJson(many));
}

// The document as ToJson() makes it with nlohmann, in ToJsonText()'s order
// of the top-level keys: the bytes ToJsonText() must write.
std::string ReferenceJsonText(const ktap::Document& d) {
  nlohmann::json j = ToJson(d);
  std::string out = "{\"format_version\":" + DumpJson(j["format_version"]) + ",\"status\":" +
                    DumpJson(j["status"]) + ",\"counts\":" + DumpJson(j["counts"]) + ",\"tests\":" +
                    DumpJson(j["tests"]) + ",\"errors\":" + DumpJson(j["errors"]);
  if (j.contains("errors_dropped")) out += ",\"errors_dropped\":" + DumpJson(j["errors_dropped"]);
  if (j.contains("dropped")) out += ",\"dropped\":" + DumpJson(j["dropped"]);
  return out + ",\"lines\":" + DumpJson(j["lines"]) + "}\n";
}

// Inputs that reach every field a report writes: directives with and
// without text, exit codes, durations, missing results, plans, bail out,
// dropped results and log lines, invalid UTF-8 and control bytes, names
// that need escaping in JSON, XML and on a terminal.
const char* kEdgeLogs[] = {
    kLog,
    "KTAP version 1\n1..4\n# Subtest: s\n    KTAP version 1\n    1..3\n    # log \"q\" \\ \x01\n"
    "    ok 1 a # SKIP why\n    not ok 2 b # TODO later\n    ok 3 c # time=12ms\nnot ok 1 s\n"
    "ok 2 # SKIP\nnot ok 3 t <&>\"' # exit=4 timeout\n",
    "KTAP version 1\n1..3\n  KTAP version 1\n  1..5\n  ok 1 x\nok 1 p\n  KTAP version 1\n  1..2\n",
    "TAP version 13\n1..2\n# TAP version 13\n# 1..2\n# ok 1 - a\nBail out! stop\nnot ok 1 - x # exit=1\n",
    "KTAP version 1\n1..2\n    KTAP version 1\n    1..1\n    ok 1 deep\n  ok 1 mid\nok 2 b\n",
    "KTAP version 1\n1..2\nok 1 \xff\xfe name\x1b[31m\n# \xc3\x28 log \r line\nnot ok 2 \\# hash # XFAIL x\n",
    "KTAP version 1\n1..1\n  KTAP version 1\n  1..0 # SKIP nothing\nok 1 empty\n",
    "KTAP version 1\n1..2\nok 1 passes\n",
};

TEST(JsonReportTest, WrittenBytesAreNlohmannsBytes) {
  for (const char* log : kEdgeLogs) {
    ktap::Document d = ktap::ParseText(log);
    EXPECT_EQ(ToJsonText(d), ReferenceJsonText(d)) << log;
  }
}

// The report `vigil parse` writes: top-level tests handed over in batches
// of `batch_bytes` (0: each one alone) and formatted on a ReportThread while
// the parse runs, then the document. `sink`: the report goes through an Out
// with a sink, a piece at a time, as `vigil parse` writes it.
std::string Batched(const std::string& log, ktap::ParserOptions o, const std::string& format, size_t batch_bytes,
                    const TextOptions& text = {}, bool sink = false) {
  o.flat_tree = true;
  std::string written;
  Out out = sink ? Out([&written](std::string_view piece) {
    written += piece;
    return true;
  })
                 : Out();
  std::unique_ptr<TreeReport> report = format == "json"    ? NewJsonReport()
                                       : format == "junit" ? NewJunitReport()
                                                           : NewTextReport(text, out);
  ktap::Parser parser(o);
  ReportThread thread(*report);
  parser.HandTopsTo(
      [&thread](ktap::Tree tree, std::vector<ktap::Tree::Id> tops) {
        return thread.Hand(std::move(tree), std::move(tops));
      },
      batch_bytes);
  parser.Feed(log);
  parser.Finish();
  thread.Join();
  ktap::Document d = parser.TakeDocument();
  report->Write(d, out);
  EXPECT_TRUE(out.Flush());
  return sink ? written : out.Take();
}

TEST(ReportTest, FlatTreeWritesTheSameReports) {
  // `vigil parse` keeps the tree flat; reports of documents built as TestNode
  // objects (runs, tests) are written from the same tree made from them.
  std::vector<std::string> logs(std::begin(kEdgeLogs), std::end(kEdgeLogs));
  for (const char* name : {"mptcp_join_timeout.log", "mptcp_pm_netlink.log"}) {
    std::ifstream f(std::string(VIGIL_SOURCE_DIR) + "/tests/golden/" + name);
    ASSERT_TRUE(f.good()) << name;
    logs.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  for (const std::string& log : logs) {
    for (size_t max_subtests : {size_t{2}, ktap::kMaxSubtests}) {
      ktap::ParserOptions o;
      o.max_subtests = max_subtests;
      o.max_log_lines = 1;
      ktap::Document nodes = ktap::ParseText(log, o);
      o.flat_tree = true;
      ktap::Document flat = ktap::ParseText(log, o);
      ASSERT_FALSE(flat.tree.empty());
      EXPECT_TRUE(flat.root.subtests.empty());
      EXPECT_EQ(ToJsonText(flat), ToJsonText(nodes)) << log;
      EXPECT_EQ(ToJunit(flat), ToJunit(nodes)) << log;
      EXPECT_EQ(ToText(flat, {}), ToText(nodes, {})) << log;
      EXPECT_EQ(ToJsonText(nodes), ReferenceJsonText(nodes)) << log;
      // Written from batches as the parse goes, the same bytes.
      for (size_t batch : {size_t{0}, size_t{1} << 20}) {
        EXPECT_EQ(Batched(log, o, "json", batch), ToJsonText(nodes)) << log;
        EXPECT_EQ(Batched(log, o, "junit", batch), ToJunit(nodes)) << log;
        EXPECT_EQ(Batched(log, o, "text", batch), ToText(nodes, {})) << log;
        for (bool logs : {false, true}) {
          TextOptions quiet{.color = true, .show_logs = logs, .show_tree = false};
          EXPECT_EQ(Batched(log, o, "text", batch, quiet, true), ToText(nodes, quiet)) << log;
        }
      }
    }
  }
}

TEST(ReportTest, BigFlatTreeWritesTheSameReports) {
  // Enough tests for several chunks of slots and of arena (and the helper
  // that prepares them), and one log bigger than a chunk.
  std::string log = "KTAP version 1\n1..4\n";
  for (int top = 1; top <= 3; ++top) {
    log += "  KTAP version 1\n  1..30000\n";
    for (int i = 1; i <= 30000; ++i) {
      log += fmt::format("  # output of {}.{}, long enough to fill the arena a little faster\n", top, i);
      log += fmt::format("  {} {} case_{}_{}{}\n", i % 997 == 0 ? "not ok" : "ok", i, top, i,
                         i % 10 == 0 ? " # SKIP some reason" : "");
    }
    log += fmt::format("ok {} suite_{}\n", top, top);
  }
  for (int i = 0; i < 70000; ++i) log += fmt::format("# line {} of a big log, {}\n", i, std::string(60, 'x'));
  log += "not ok 4 big_log # exit=1\n";
  ktap::ParserOptions o;
  o.max_subtests = 100000;
  o.max_log_lines = 100000;
  o.max_log_bytes = 16 << 20;
  o.max_total_log_bytes = 64 << 20;
  ktap::Document nodes = ktap::ParseText(log, o);
  o.flat_tree = true;
  ktap::Document flat = ktap::ParseText(log, o);
  ASSERT_EQ(flat.tree.size(), 90005u);
  ASSERT_GT(flat.tree.node(90003).log.size(), size_t{4} << 20);
  EXPECT_EQ(ToJsonText(flat), ToJsonText(nodes));
  EXPECT_EQ(ToJunit(flat), ToJunit(nodes));
  EXPECT_EQ(ToText(flat, {}), ToText(nodes, {}));
  // Batches too big for a tree's first chunks are freed, not reused.
  EXPECT_EQ(Batched(log, o, "json", 0, {}, true), ToJsonText(nodes));
  EXPECT_EQ(Batched(log, o, "junit", 0, {}, true), ToJunit(nodes));
  EXPECT_EQ(Batched(log, o, "text", 0, {}, true), ToText(nodes, {}));
}

TEST(ReportTest, ManyTopLevelTestsAreWrittenInOrder) {
  // Enough top-level tests for blocks written on two threads: the order and
  // the bytes are the same, kept whole or handed to a sink in pieces.
  std::string log = "KTAP version 1\n1..9000\n";
  for (int i = 1; i <= 9000; ++i) {
    log += fmt::format("# log of {}: {}\n", i, std::string(static_cast<size_t>(i % 300), 'y'));
    log += fmt::format("{} {} top_{}\n", i % 101 == 0 ? "not ok" : "ok", i, i);
  }
  ktap::ParserOptions o;
  o.flat_tree = true;
  ktap::Document d = ktap::ParseText(log, o);
  std::string json = ToJsonText(d);
  EXPECT_EQ(json, ReferenceJsonText(ktap::ParseText(log)));
  std::string pieces;
  int handed = 0;
  Out sink([&](std::string_view piece) {
    pieces += piece;
    ++handed;
    return true;
  });
  WriteJson(d, sink);
  ASSERT_TRUE(sink.Flush());
  EXPECT_EQ(pieces, json);
  EXPECT_GT(handed, 1);
  std::string junit;
  Out junit_sink([&](std::string_view piece) {
    junit += piece;
    return true;
  });
  WriteJunit(d, junit_sink);
  ASSERT_TRUE(junit_sink.Flush());
  EXPECT_EQ(junit, ToJunit(d));
  EXPECT_NE(junit.find("name=\"top_8999\""), std::string::npos);
  EXPECT_LT(junit.find("name=\"top_100\""), junit.find("name=\"top_101\""));
  // Many batches (and more than a tree's worth of tests queued), or a few
  // then thousands left in the document for both cores: the same bytes.
  for (size_t batch : {size_t{0}, size_t{4} << 10, size_t{1} << 20}) {
    EXPECT_EQ(Batched(log, o, "json", batch, {}, true), json);
    EXPECT_EQ(Batched(log, o, "junit", batch, {}, true), junit);
    EXPECT_EQ(Batched(log, o, "text", batch, {}, true), ToText(d, {}));
  }
}

TEST(JsonReportTest, NoKtapAndInvalidUtf8) {
  ktap::Document d = ktap::ParseText("nothing \xff here\n");
  EXPECT_EQ(ToJson(d)["status"], "NO_KTAP");
  d = ktap::ParseText("KTAP version 1\n1..1\nok 1 \xff\xfe\n");
  std::string text = ToJsonText(d);
  EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_FALSE(nlohmann::json::parse(text).is_discarded());
}

TEST(JunitReportTest, SuitePerTopLevelCasePerLeaf) {
  std::string xml = ToJunit(ktap::ParseText(kLog));
  EXPECT_NE(xml.find("<testsuite name=\"selftests: net/mptcp: pm_netlink.sh\" tests=\"2\" failures=\"1\""),
            std::string::npos);
  EXPECT_NE(xml.find("name=\"b &lt;&amp;&gt;\""), std::string::npos);
  EXPECT_NE(xml.find("<skipped"), std::string::npos);
  EXPECT_NE(xml.find("time=\"0.004\""), std::string::npos);
}

TEST(JunitReportTest, DeepClassnamesKeepTheirLast2045BytesAndNameUnnamedParents) {
  // Six levels of names of 500 letters and an '&' (one unnamed: "test 2",
  // from its number), a leaf at each:
  // each classname is its parent's, a dot and its name, cut to "..." and
  // its last 2045 bytes once longer than 2048.
  std::string log = "KTAP version 1\n1..1\n";
  std::vector<std::string> names;
  for (int d = 0; d < 6; ++d) {
    std::string indent(2 * (d + 1), ' ');
    names.push_back(d == 3 ? "" : std::string(500, static_cast<char>('a' + d)) + "&");
    log += indent + "KTAP version 1\n" + indent + "1..2\n" + indent + "ok 1 leaf" + std::to_string(d) + "\n";
  }
  for (int d = 5; d >= 0; --d) {
    std::string indent(2 * d, ' ');
    log += indent + "ok " + (d == 0 ? "1" : "2") + (names[d].empty() ? "" : " " + names[d]) + "\n";
  }
  std::string xml = ToJunit(ktap::ParseText(log));
  std::string classname = names[0];
  for (int d = 0; d < 6; ++d) {
    if (d > 0) {
      classname += "." + (names[d].empty() ? std::string("test 2") : names[d]);
      if (classname.size() > 2048) classname = "..." + classname.substr(classname.size() - 2045);
    }
    std::string want = "<testcase name=\"leaf" + std::to_string(d) + "\" classname=\"" + XmlEscape(classname) + "\"";
    EXPECT_NE(xml.find(want), std::string::npos) << d << "\n" << xml.substr(0, 4000);
  }
}

TEST(JunitReportTest, NestedClassnamesAreEscapedForEachCase) {
  std::string log =
      "KTAP version 1\n1..1\n"
      "  KTAP version 1\n  # Subtest: a<&\"b\n  1..2\n"
      "    KTAP version 1\n    # Subtest: c'>d\n    1..2\n    ok 1 x\n    not ok 2 y\n  not ok 1 c'>d\n"
      "  ok 2 z\n"
      "not ok 1 a<&\"b\n";
  std::string xml = ToJunit(ktap::ParseText(log));
  EXPECT_NE(xml.find("<testcase name=\"x\" classname=\"a&lt;&amp;&quot;b.c&apos;&gt;d\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase name=\"y\" classname=\"a&lt;&amp;&quot;b.c&apos;&gt;d\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testcase name=\"z\" classname=\"a&lt;&amp;&quot;b\""), std::string::npos) << xml;
  // Every batch size gives the same report as the whole document.
  for (size_t batch : {size_t{1}, size_t{64}}) {
    ktap::ParserOptions o;
    o.flat_tree = true;
    EXPECT_EQ(Batched(log, o, "junit", batch), xml) << batch;
  }
}

TEST(JunitReportTest, SecondsAreWhatDoubleFormattingGives) {
  // The case times are written from the integer where that is exact; they
  // must read as fmt's "{:.3f}" of ms / 1000.0 reads, at any size.
  std::vector<int64_t> ms = {0, 1, 9, 10, 99, 100, 999, 1000, 1001, 59999, 123456789, 4294967295, -1, -999, -1001, INT64_MIN};
  for (int64_t edge : {int64_t{1} << 40, int64_t{1} << 53, INT64_MAX}) {
    ms.insert(ms.end(), {edge - 1001, edge - 1, edge, edge + (edge < INT64_MAX ? 1 : 0)});
  }
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < 2000; ++i) {  // xorshift: spread over every magnitude
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ms.push_back(static_cast<int64_t>(x >> (1 + x % 63)));
  }
  ktap::Document d;
  d.found_ktap = true;
  for (size_t i = 0; i < ms.size(); ++i) {
    ktap::TestNode t;
    t.name = fmt::format("t{}", i);
    t.number = static_cast<int64_t>(i) + 1;
    t.has_result_line = true;
    t.status = ktap::Status::kPass;
    t.duration_ms = ms[i];
    d.root.subtests.push_back(std::move(t));
  }
  std::string xml = ToJunit(d);
  for (size_t i = 0; i < ms.size(); ++i) {
    std::string want = fmt::format("<testcase name=\"t{}\" classname=\"t{}\" time=\"{:.3f}\"", i, i,
                                   static_cast<double>(ms[i]) / 1000.0);
    EXPECT_NE(xml.find(want), std::string::npos) << ms[i];
  }
}

TEST(OutTest, ManyItemsAreWrittenInOrderOnTwoThreads) {
  // Enough items for the two-thread path, in both kinds of buffer, handed
  // to a sink in pieces or kept.
  constexpr size_t kItems = 100000;
  std::string want;
  for (size_t i = 0; i < kItems; ++i) want += fmt::format("{}:{}\n", i, std::string(i % 97, 'x'));
  auto item = [](size_t i) { return fmt::format("{}:{}\n", i, std::string(i % 97, 'x')); };
  for (bool with_sink : {false, true}) {
    for (bool raw : {false, true}) {
      std::string got;
      size_t pieces = 0;
      Out out = with_sink ? Out([&](std::string_view p) {
        got += p;
        ++pieces;
        return true;
      })
                          : Out();
      out.buf() += "head\n";
      if (raw) {
        out.WriteInOrder(kItems, [&](size_t i, Buffer& b) { b.Put(item(i)); });
      } else {
        out.WriteInOrder(kItems, [&](size_t i, std::string& b) { b += item(i); });
      }
      out.buf() += "tail\n";
      out.Flush();
      if (!with_sink) got = out.Take();
      EXPECT_EQ(got, "head\n" + want + "tail\n") << with_sink << raw;
      if (with_sink) {
        EXPECT_GT(pieces, 2u);
      }
    }
  }
}

TEST(OutTest, UnevenBlocksOnTwoThreadsStayInOrder) {
  // Blocks of very different weights, some slowed down at random, so that
  // the two threads take blocks in every order and some wait their turn.
  constexpr size_t kItems = 6001;  // not a multiple of the block count
  auto item = [](size_t i) {
    size_t weight = (i / 23) % 5 == 0 ? 3000 : i % 13;
    return fmt::format("<{}:{}>", i, std::string(weight, static_cast<char>('a' + i % 26)));
  };
  std::string want;
  for (size_t i = 0; i < kItems; ++i) want += item(i);
  std::mt19937 rng(7);
  for (int round = 0; round < 10; ++round) {
    std::vector<int> pause(kItems);
    for (int& p : pause) p = rng() % 64 == 0 ? static_cast<int>(rng() % 300) : 0;
    std::string got;
    Out out([&](std::string_view p) {
      got += p;
      return true;
    });
    out.WriteInOrder(kItems, [&](size_t i, Buffer& b) {
      if (pause[i]) std::this_thread::sleep_for(std::chrono::microseconds(pause[i]));
      b.Put(item(i));
    });
    out.Flush();
    ASSERT_EQ(got.size(), want.size()) << round;
    EXPECT_TRUE(got == want) << round;
  }
}

TEST(PiecesTest, KeepsItemsOfAnySizeInOrder) {
  // Small items filling buffer after buffer, and items longer than a whole
  // buffer, some landing where a buffer is nearly full.
  Pieces pieces;
  std::string want;
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    size_t len = rng() % 50 == 0 ? (size_t{1} << 20) + rng() % (size_t{3} << 20) : rng() % 4000;
    std::string item = fmt::format("[{}]", i) + std::string(len, static_cast<char>('a' + i % 26));
    pieces.buf().Put(item);
    want += item;
  }
  std::string got;
  Out out([&](std::string_view p) {
    got += p;
    return true;
  });
  pieces.WriteTo(out);
  out.Flush();
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
  // Emptied, and usable again.
  pieces.buf().Put("again");
  got.clear();
  pieces.WriteTo(out);
  out.Flush();
  EXPECT_EQ(got, "again");
}

TEST(OutTest, BufferGrowsAndKeepsItsBytes) {
  // Small at first (the heap), then past 64 KiB and 2 MiB (mappings).
  Buffer b;
  std::string want;
  for (int i = 0; i < 20000; ++i) {
    std::string piece(static_cast<size_t>(i % 300), static_cast<char>('a' + i % 26));
    char* p = b.Room(piece.size() + 1);
    std::memcpy(p, piece.data(), piece.size());
    p[piece.size()] = '|';
    b.Done(p + piece.size() + 1);
    want += piece + "|";
  }
  EXPECT_EQ(b.view(), want);
  b.clear();
  EXPECT_EQ(b.size(), 0u);
  b.Put("again");
  EXPECT_EQ(b.view(), "again");
}

TEST(KtapReportTest, MissingResultBeforeASiblingIsWrittenAsError) {
  ktap::Document a = ktap::ParseText(
      "KTAP version 1\n1..2\n    ok 1 deep\n  ok 1 mid\nok 2 b\n");
  ASSERT_EQ(a.root.subtests.size(), 2u);
  EXPECT_FALSE(a.root.subtests[0].has_result_line);
  std::string normal = ToKtap(a);
  EXPECT_NE(normal.find("not ok 1 # ERROR result missing"), std::string::npos) << normal;
  ktap::Document b = ktap::ParseText(normal);
  EXPECT_EQ(b.root.subtests.size(), 2u);
  EXPECT_EQ(b.root.subtests[1].name, "b");
}

// Truncation leaves missing results at the end of blocks; those round-trip
// exactly.
TEST(KtapReportTest, RoundTripKeepsStatuses) {
  const char* logs[] = {
      kLog,
      "KTAP version 1\n1..3\n  KTAP version 1\n  # Subtest: s\n  1..3\n  ok 1 a\n",
      "KTAP version 1\n1..2\nok 1 a # XFAIL x\nnot ok 2 b # TIMEOUT 45 seconds\n",
      "TAP version 13\n1..1\n# 1..0 # SKIP nope\nok 1 t # SKIP\n",
      "TAP version 13\n1..1\nok 1 a\nBail out! no more\n",
  };
  for (const char* log : logs) {
    ktap::Document a = ktap::ParseText(log);
    std::string normal = ToKtap(a);
    ktap::Document b = ktap::ParseText(normal);
    EXPECT_EQ(ToJson(a)["counts"]["passed"], ToJson(b)["counts"]["passed"]) << normal;
    EXPECT_EQ(ToJson(a)["counts"]["crashed"], ToJson(b)["counts"]["crashed"]) << normal;
    EXPECT_EQ(ToJson(a)["counts"]["failed"], ToJson(b)["counts"]["failed"]) << normal;
    EXPECT_EQ(ToJson(a)["status"], ToJson(b)["status"]) << normal;
    EXPECT_EQ(ToKtap(b), normal);
  }
}

// JSON's counts and JUnit's totals count the same results: a parent killed
// at its timeout is a result of its own even when a subtest failed too (the
// timeout is what JUnit's "(own result)" case says); a plain `not ok` that a
// failing subtest explains is not.
TEST(KtapReportTest, JsonAndJunitCountATimedOutParentAlike) {
  struct Case {
    const char* log;
    int total, failures;
  };
  const Case cases[] = {
      {"KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 a\n    not ok 2 b\nnot ok 1 p # TIMEOUT\n", 3, 2},
      {"KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 a\n    ok 2 b\nnot ok 1 p # TIMEOUT\n", 3, 1},
      {"KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 a\n    not ok 2 b\nnot ok 1 p\n", 2, 1},
      {"KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 a\n    ok 2 b\nnot ok 1 p\n", 3, 1},
  };
  for (const Case& c : cases) {
    ktap::Document d = ktap::ParseText(c.log);
    auto j = ToJson(d);
    const auto& n = j["counts"];
    EXPECT_EQ(n["total"], c.total) << c.log;
    EXPECT_EQ(n["failed"].get<int>() + n["timed_out"].get<int>(), c.failures) << c.log;
    std::string junit = ToJunit(d);
    EXPECT_NE(junit.find(fmt::format("<testsuites name=\"vigil\" tests=\"{}\" failures=\"{}\"", c.total, c.failures)),
              std::string::npos)
        << c.log << junit;
  }
}

TEST(KtapReportTest, EscapedHashRoundTrips) {
  ktap::Document a = ktap::ParseText("KTAP version 1\n1..1\nok 1 a \\# b # SKIP why\n");
  ASSERT_EQ(a.root.subtests.size(), 1u);
  EXPECT_EQ(a.root.subtests[0].name, "a # b");
  ktap::Document b = ktap::ParseText(ToKtap(a));
  EXPECT_EQ(b.root.subtests[0].name, "a # b");
  EXPECT_EQ(b.root.subtests[0].status, ktap::Status::kSkip);
}

TEST(JunitReportTest, ParentFailureWithoutFailingChildIsReported) {
  // The suite's result never came (e.g. a panic) although its subtest passed.
  std::string xml = ToJunit(ktap::ParseText("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 a\n"));
  EXPECT_NE(xml.find("errors=\"1\""), std::string::npos) << xml;
}

TEST(TextReportTest, ControlCharactersCannotForgeLines) {
  std::string text = ToText(ktap::ParseText("KTAP version 1\n1..1\nnot ok 1 x\r[PASS] x\x1b[32m\n"), TextOptions{});
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(TextReportTest, FailuresFirstInSummary) {
  std::string text = ToText(ktap::ParseText(kLog), TextOptions{});
  size_t failures = text.find("Failures (1):");
  ASSERT_NE(failures, std::string::npos);
  EXPECT_NE(text.find("selftests: net/mptcp: pm_netlink.sh > b <&>", failures), std::string::npos);
  EXPECT_NE(text.find("[FAIL] 3 tests: 1 passed, 1 failed"), std::string::npos);
  EXPECT_EQ(text.find("\033["), std::string::npos);
  TextOptions color;
  color.color = true;
  EXPECT_NE(ToText(ktap::ParseText(kLog), color).find("\033[31m"), std::string::npos);
}

// A finished run whose failing test has a hostile name.
FinishedRun HostileRun(const std::string& path, const std::string& subtest) {
  FinishedRun run;
  run.run_id = 7;
  run.status = "FAIL";
  run.tests_dir = "/t";
  run.rerun = {"vigil", "run", "--tests", "/t", "--db", "/d/vigil.db"};
  model::AttemptRecord a;
  a.test_path = path;
  a.status = "FAIL";
  a.exit_code = 1;
  a.subtests = {{subtest, "FAIL", std::nullopt}};
  run.results.push_back({path, {a}});
  return run;
}

TEST(RunReportTest, HostileNamesAreEscapedForEveryOutput) {
  FinishedRun run = HostileRun("t:\\<img src=x onerror=alert(1)>\x1b[2J\nok 9 forged", "[x](javascript:alert(1))");
  std::string md = GithubSummary(run);
  EXPECT_NE(md.find("`t:\\<img src=x onerror=alert(1)>\xEF\xBF\xBD[2J\xEF\xBF\xBDok 9 forged`"), std::string::npos) << md;
  EXPECT_NE(md.find("  - `[FAIL] [x](javascript:alert(1))`\n"), std::string::npos) << md;
  std::string text = SummaryText(run, false);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find("\nok 9 forged"), std::string::npos) << text;  // no line of its own
  EXPECT_NE(text.find("rerun: vigil run --tests /t --db /d/vigil.db -t 't:\\<img src=x onerror=alert(1)>'$'\\x1b''[2J'$'\\x0a''ok 9 forged'\n"),
            std::string::npos)
      << text;
  std::string gh = GithubAnnotations(run);
  EXPECT_EQ(gh, "::error title=t%3A\\<img src=x onerror=alert(1)>\xEF\xBF\xBD[2J%0Aok 9 forged::FAIL: [FAIL] "
                "[x](javascript:alert(1))\n");
  // A name that is not UTF-8 is replaced (U+FFFD) in the JSON, never an abort.
  std::string json = RunJson(HostileRun("t:bad\xff.sh", "sub\xfe"));
  EXPECT_NE(json.find("\"path\":\"t:bad\xEF\xBF\xBD.sh\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"name\":\"sub\xEF\xBF\xBD\""), std::string::npos) << json;
}

TEST(RunReportTest, TheGithubSummaryStaysSmallUnderAStormOfKnownReports) {
  FinishedRun run = HostileRun("t:a.sh", "x");
  judge::Verdict v;
  v.conclusion = "Success";
  for (int i = 0; i < 20000; ++i) {
    judge::CrashItem c;
    c.test = "t:a.sh";
    c.title = "WARNING in storm_" + std::to_string(i);
    c.detail = "tracked upstream";
    v.known_crashes.push_back(c);
    v.known.push_back({"t:k" + std::to_string(i) + ".sh", "FAIL", "known", "t:k.sh"});
    v.warnings.push_back("warning " + std::to_string(i));
  }
  run.verdict = v;
  std::string md = GithubSummary(run);
  EXPECT_LT(md.size(), 100000u);
  EXPECT_NE(md.find("- ... 19950 more kernel reports\n"), std::string::npos);
  EXPECT_NE(md.find("- ... 19950 more\n"), std::string::npos);
  EXPECT_NE(md.find("> ... 19980 more warnings\n"), std::string::npos);
  EXPECT_NE(md.find("`t:a.sh`"), std::string::npos);  // the failures are still there
}

TEST(Utf8Test, Sanitize) {
  EXPECT_EQ(SanitizeUtf8("abc"), "abc");
  EXPECT_EQ(SanitizeUtf8("a\xff"), "a\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("\xc3\xa9"), "\xc3\xa9");
  EXPECT_EQ(XmlEscape(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(XmlEscape("\xEF\xBF\xBE"), "\xEF\xBF\xBD");  // U+FFFE is not XML
  EXPECT_EQ(SanitizeForTerminal("a\x1b[31mb\tc\x7f"), "a\xEF\xBF\xBD[31mb\tc\xEF\xBF\xBD");
}

}  // namespace
}  // namespace vigil::report
