// vigil parse [FILE|-] [--format text|json|junit|ktap] [--stream]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "cli/terminal.h"
#include "ktap/parallel_feed.h"
#include "ktap/parser.h"
#include "report/reports.h"
#include "report/tree_report.h"
#include "base/text.h"

namespace vigil::cli {
namespace {

struct ParseFlags {
  std::string input = "-";
  std::string format = "text";
  std::string color = "auto";
  bool stream = false;
  bool no_logs = false;
  bool quiet = false;
  bool json = false;
};

std::string NameOf(const ktap::TestNode& t) { return vigil::SanitizeForTerminal(ktap::DisplayName(t)); }

// --stream: prints tests as they finish (children before their parent)
// unless quiet, and keeps the failing leaves (`parent > child`) for the
// summary, as the text report lists them from a tree; at most kMaxKept.
class StreamPrinter : public ktap::ParserListener {
 public:
  StreamPrinter(bool color, bool print) : color_(color), print_(print) {}
  void OnTestFinished(int depth, const ktap::TestNode& t) override {
    // Named only when printed or failing: a quiet stream passes most tests
    // by without making a string of them.
    bool failed = ktap::IsFailure(t.status);
    std::string name = print_ || failed ? NameOf(t) : std::string();
    if (print_) {
      std::string tag = report::StatusTag(t.status, color_);
      fmt::print("{}{} {}\n", std::string(static_cast<size_t>(depth - 1) * 2, ' '), tag, name);
      std::fflush(stdout);
    }
    // The failures under this test were kept (or counted, past kMaxKept)
    // one level deeper as they finished.
    size_t d = static_cast<size_t>(std::max(depth, 1));
    if (pending_.size() < d + 2) pending_.resize(d + 2);
    Level children = std::move(pending_[d + 1]);
    pending_[d + 1] = Level();
    if (!failed) {
      // A passing test's failing subtests are not listed (as in the tree).
      kept_ -= children.kept.size();
      return;
    }
    Level& here = pending_[d];
    if (children.kept.empty() && children.dropped == 0) {
      if (kept_ >= kMaxKept) {
        ++here.dropped;
        return;
      }
      ++kept_;
      here.kept.push_back({t.status, name});
      return;
    }
    for (auto& c : children.kept) {
      if (c.path.size() < 2048) c.path = name + " > " + c.path;
      here.kept.push_back(std::move(c));
    }
    here.dropped += children.dropped;
  }

  // The summary's failures section, as the text report writes it.
  std::string FailuresText() const {
    if (pending_.size() < 2 || (pending_[1].kept.empty() && pending_[1].dropped == 0)) return "";
    const Level& top = pending_[1];
    std::string out = fmt::format("Failures ({}):\n", top.kept.size() + top.dropped);
    for (const auto& f : top.kept) out += fmt::format("  {} {}\n", report::StatusTag(f.status, color_), f.path);
    if (top.dropped > 0) out += fmt::format("  ... {} more\n", top.dropped);
    return out;
  }

 private:
  struct Failure {
    ktap::Status status;
    std::string path;
  };
  // A depth's finished failing leaves: those kept and how many were not.
  struct Level {
    std::vector<Failure> kept;
    size_t dropped = 0;
  };
  static constexpr size_t kMaxKept = 1000;
  bool color_;
  bool print_;
  std::vector<Level> pending_;  // by depth
  size_t kept_ = 0;             // in pending_, at every depth
};

int Run(const ParseFlags& f) {
  std::string format = f.format;
  if (f.json) {
    if (format != "text" && format != "json") {
      fmt::print(stderr, "vigil parse: --json is --format json; it does not combine with --format {}\n", format);
      return kExitUsage;
    }
    format = "json";
  }
  if (f.stream && format != "text") {
    fmt::print(stderr, "vigil parse: --stream works with --format text only\n");
    return kExitUsage;
  }
  int fd = STDIN_FILENO;
  std::string label = "standard input";
  if (f.input != "-") {
    fd = open(f.input.c_str(), O_RDONLY | O_CLOEXEC);
    label = f.input;
    if (fd < 0) {
      fmt::print(stderr, "vigil parse: cannot open {}: {}\n", f.input, std::strerror(errno));
      return kExitUsage;
    }
  }
  bool color = UseColor(f.color);
  ktap::ParserOptions options;
  options.keep_tree = !f.stream;
  options.keep_logs = !f.stream;  // the stream prints names and statuses only
  // The reports read the flat tree; the normalised KTAP writer reads TestNode objects.
  options.flat_tree = format != "ktap";
  // A log file of a few MiB or more, or a pipe that may bring one: the tree
  // is big.
  struct stat input_stat {};
  options.big_input = fstat(fd, &input_stat) != 0 || !S_ISREG(input_stat.st_mode) || input_stat.st_size >= (4 << 20);
  std::unique_ptr<StreamPrinter> printer;
  if (f.stream) printer = std::make_unique<StreamPrinter>(color, !f.quiet);
  ktap::Parser parser(options, printer.get());
  report::TextOptions to;
  to.color = color;
  to.show_logs = !f.no_logs && !f.quiet;
  to.show_tree = !f.quiet;
  // Reports go out a piece at a time as they are written.
  int write_errno = 0;
  report::Out out([&write_errno](std::string_view piece) {
    if (std::fwrite(piece.data(), 1, piece.size(), stdout) == piece.size()) return true;
    write_errno = errno;
    return false;
  });
  // JUnit and text are formatted on a second thread while the parse runs, a
  // batch of top-level tests at a time, and each batch's memory is reused:
  // the text tree goes out as it comes, the JUnit body (its totals come
  // first) waits. JSON is written from the whole tree after the parse, on
  // both cores: its body weighs more than the tree and formats quickly.
  std::unique_ptr<report::TreeReport> tree_report;
  bool batches = true;
  if (format == "json") {
    tree_report = report::NewJsonReport();
    batches = false;
  }
  if (format == "junit") tree_report = report::NewJunitReport();
  if (format == "text" && !f.stream) tree_report = report::NewTextReport(to, out);
  std::unique_ptr<report::ReportThread> report_thread;
  if (tree_report && batches) {
    report_thread = std::make_unique<report::ReportThread>(*tree_report);
    // A JUnit body waits in memory: a huge top-level test's batch would be
    // held as a tree and as text at once, so such a test and the rest are
    // kept and written at the end, the way JSON is.
    size_t max_batch = format == "junit" ? size_t{16} << 20 : SIZE_MAX;
    parser.HandTopsTo(
        [&report_thread](ktap::Tree tree, std::vector<ktap::Tree::Id> tops) {
          return report_thread->Hand(std::move(tree), std::move(tops));
        },
        size_t{1} << 20, max_batch);
  }
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    fmt::print(stderr, "vigil parse: cannot read {}: {}\n", label, std::strerror(EISDIR));
    if (fd != STDIN_FILENO) close(fd);
    return kExitUsage;
  }
  // Bytes are read ahead on a second thread while this one parses what was
  // read; memory stays bounded whatever the input's size. read() rather than
  // mmap: a log that is truncated or still growing while it is read
  // (logrotate, a VM still writing) must not kill vigil with SIGBUS.
  int read_errno = 0;
  bool first = true;
  std::string compressed;  // a compressed log read as text would be "no KTAP"
  bool read_ok = ktap::FeedParallel(parser, [&](char* buf, size_t len) -> long {
    while (true) {
      ssize_t n = read(fd, buf, len);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_errno = errno;
      if (n > 0 && first) {
        first = false;
        compressed = CompressedInput("parse", std::string_view(buf, static_cast<size_t>(n)), f.input);
        if (!compressed.empty()) return 0;  // nothing of it is parsed
      }
      return static_cast<long>(n);
    }
  });
  if (!compressed.empty()) {
    fmt::print(stderr, "{}\n", compressed);
    if (fd != STDIN_FILENO) close(fd);
    return kExitUsage;
  }
  if (!read_ok) {
    fmt::print(stderr, "vigil parse: cannot read {}: {}\n", label, std::strerror(read_errno));
    if (fd != STDIN_FILENO) close(fd);
    return kExitUsage;
  }
  if (fd != STDIN_FILENO) close(fd);
  parser.Finish();
  if (report_thread) report_thread->Join();
  ktap::Document doc = parser.TakeDocument();

  if (tree_report) {
    tree_report->Write(doc, out);
  } else if (format == "ktap") {
    out.buf() = report::ToKtap(doc);
  } else {
    // --stream: the tree was printed as it finished (unless quiet) and not
    // kept: the failures come from the printer, the rest of the summary from
    // the report.
    doc.root.subtests.clear();
    to.show_tree = false;
    out.buf() = f.quiet ? "" : "\n";
    if (doc.found_ktap) out.buf() += printer->FailuresText();
    report::WriteText(doc, to, out);
  }
  int rc = !doc.found_ktap || ktap::IsFailure(doc.root.status) ? 1 : 0;
  if (!out.Flush() || std::fflush(stdout) != 0) {
    if (write_errno == 0) write_errno = errno;
    fmt::print(stderr, "vigil parse: cannot write the report: {}\n", std::strerror(write_errno));
    rc = kExitUsage;
  }
  // A big tree takes longer to free node by node than the whole process
  // takes to exit: leave it to the OS, as compilers do with their ASTs.
  std::fflush(stderr);
  std::_Exit(rc);
}

}  // namespace

Runner SetupParseCommand(CLI::App* app) {
  auto flags = std::make_shared<ParseFlags>();
  app->description(
      "Read KTAP/TAP output - a kselftest runner log, KUnit results, a whole kernel console - and\n"
      "report every test and subtest. Nested KTAP is followed by indentation, `# Subtest:` headers\n"
      "and the kselftest runner's `# ` prefix; console prefixes (timestamps, caller ids, log levels)\n"
      "are learned from the version line; a missing result is CRASH.\n\n"
      "Exit status: 0 no failures, 1 failures or crashes (or no KTAP at all), 2 usage error or\n"
      "unreadable input.");
  app->add_option("input", flags->input, "File to read, or - for standard input")->capture_default_str();
  app->add_option("-f,--format", flags->format, "Output: text (tree for people), json, junit, ktap (normalised)")
      ->check(CLI::IsMember({"text", "json", "junit", "ktap"}))
      ->capture_default_str();
  app->add_option("--color", flags->color, "Colors in text output: auto (TTY and no NO_COLOR), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app->add_flag("--stream", flags->stream,
                "Print tests as they finish and keep only counts: memory stays bounded on huge logs\n"
                "(with --quiet: print only the summary)");
  app->add_flag("--no-logs", flags->no_logs, "Do not show the output of failed tests in text output");
  app->add_flag("-q,--quiet", flags->quiet, "Text output: only the summary (failures, errors, counts)");
  app->add_flag("--json", flags->json, "The same as --format json");
  return [flags] { return Run(*flags); };
}

}  // namespace vigil::cli
