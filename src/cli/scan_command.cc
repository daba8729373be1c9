// vigil scan [FILE|-] [--json] [--vmlinux FILE] [--modules DIR]
// vigil decode --vmlinux FILE [--modules DIR] [FILE|-]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/text.h"
#include "cli/command.h"
#include "cli/terminal.h"
#include "console/decode.h"
#include "console/detector.h"
#include "report/console_report.h"

namespace vigil::cli {

std::string CompressedInput(const char* command, std::string_view head, const std::string& input) {
  struct Compression {
    const char* name;
    std::string_view magic;
    const char* cat;
  };
  static constexpr Compression kCompressions[] = {
      {"gzip", std::string_view("\x1f\x8b", 2), "zcat"},
      {"xz", std::string_view("\xfd" "7zXZ\0", 6), "xzcat"},
      {"zstd", std::string_view("\x28\xb5\x2f\xfd", 4), "zstdcat"},
  };
  for (const auto& c : kCompressions) {
    if (head.substr(0, c.magic.size()) != c.magic) continue;
    bool stdin_input = input == "-";
    return fmt::format("vigil {}: {} is {}-compressed; decompress it first: {} {} | vigil {} -", command,
                       stdin_input ? "standard input" : vigil::SanitizeForTerminal(input), c.name, c.cat,
                       stdin_input ? "FILE" : vigil::SanitizeForTerminal(vigil::ShellQuote(input)), command);
  }
  return "";
}

namespace {

// Reads FILE (or standard input for "-") in chunks. Returns false with a
// message on stderr when it cannot be read, or is compressed (a console
// read as it is would look clean).
bool ReadInput(const char* command, const std::string& input, const std::function<void(std::string_view)>& feed) {
  int fd = STDIN_FILENO;
  std::string label = "standard input";
  if (input != "-") {
    label = input;
    fd = open(input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fmt::print(stderr, "vigil {}: cannot open {}: {}\n", command, input, std::strerror(errno));
      return false;
    }
  }
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    fmt::print(stderr, "vigil {}: cannot read {}: {}\n", command, label, std::strerror(EISDIR));
    if (fd != STDIN_FILENO) close(fd);
    return false;
  }
  std::unique_ptr<char[]> buf(new char[1 << 20]);
  bool first = true;
  while (true) {
    ssize_t n = read(fd, buf.get(), 1 << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fmt::print(stderr, "vigil {}: cannot read {}: {}\n", command, label, std::strerror(errno));
      if (fd != STDIN_FILENO) close(fd);
      return false;
    }
    if (n == 0) break;
    if (first) {
      first = false;
      std::string compressed = CompressedInput(command, std::string_view(buf.get(), static_cast<size_t>(n)), input);
      if (!compressed.empty()) {
        fmt::print(stderr, "{}\n", compressed);
        if (fd != STDIN_FILENO) close(fd);
        return false;
      }
    }
    feed(std::string_view(buf.get(), static_cast<size_t>(n)));
  }
  if (fd != STDIN_FILENO) close(fd);
  return true;
}

bool WriteOut(const char* command, const std::string& out) {
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    fmt::print(stderr, "vigil {}: cannot write: {}\n", command, std::strerror(errno));
    return false;
  }
  return true;
}

struct ScanFlags {
  std::string input = "-";
  bool json = false;
  std::string vmlinux;
  std::string modules;
  std::string base_path;
  std::string color = "auto";
};

int RunScan(const ScanFlags& f) {
  console::DetectorOptions options;
  options.title_in_background = true;  // titles on the second core while the console is read
  console::Detector detector(options);
  if (!ReadInput("scan", f.input, [&](std::string_view b) { detector.Feed(b); })) return kExitUsage;
  detector.Finish();
  std::unique_ptr<console::Decoder> decoder;
  if (!f.vmlinux.empty() || !f.modules.empty())
    decoder = std::make_unique<console::Decoder>(f.vmlinux, f.modules, f.base_path);
  std::string out = f.json ? report::ScanJson(detector, decoder.get())
                           : report::ScanText(detector, decoder.get(), UseColor(f.color));
  if (decoder)
    for (const auto& w : decoder->warnings()) fmt::print(stderr, "vigil scan: {}\n", w);
  if (!WriteOut("scan", out)) return kExitUsage;
  return detector.reports().empty() && detector.dropped_reports() == 0 ? 0 : 1;
}

struct DecodeFlags {
  std::string input = "-";
  std::string vmlinux;
  std::string modules;
  std::string base_path;
};

int RunDecode(const DecodeFlags& f) {
  if (f.vmlinux.empty() && f.modules.empty()) {
    fmt::print(stderr, "vigil decode: give --vmlinux and/or --modules\n");
    return kExitUsage;
  }
  if (!f.vmlinux.empty() && access(f.vmlinux.c_str(), R_OK) != 0) {
    fmt::print(stderr, "vigil decode: cannot read {}: {}\n", f.vmlinux, std::strerror(errno));
    return kExitUsage;
  }
  console::Decoder decoder(f.vmlinux, f.modules, f.base_path);
  std::string partial;
  bool write_ok = true;
  auto line = [&](std::string_view l) {
    std::string out = decoder.DecodeLine(l);
    out += '\n';
    write_ok = write_ok && std::fwrite(out.data(), 1, out.size(), stdout) == out.size();
  };
  bool ok = ReadInput("decode", f.input, [&](std::string_view b) {
    while (!b.empty()) {
      size_t nl = b.find('\n');
      if (nl == std::string_view::npos) {
        if (partial.size() < (1 << 20)) partial.append(b.substr(0, (1 << 20) - partial.size()));
        return;
      }
      if (partial.empty()) {
        line(b.substr(0, nl));
      } else {
        partial.append(b.substr(0, nl));
        line(partial);
        partial.clear();
      }
      b.remove_prefix(nl + 1);
    }
  });
  if (!ok) return kExitUsage;
  if (!partial.empty()) line(partial);
  for (const auto& w : decoder.warnings()) fmt::print(stderr, "vigil decode: {}\n", w);
  if (!write_ok || std::fflush(stdout) != 0) {
    fmt::print(stderr, "vigil decode: cannot write: {}\n", std::strerror(errno));
    return kExitUsage;
  }
  return 0;
}

}  // namespace

Runner SetupScanCommand(CLI::App* app) {
  auto flags = std::make_shared<ScanFlags>();
  app->description(
      "Find every kernel report in a console log: panics, oopses, BUG and WARNING splats, lockups,\n"
      "hung tasks, RCU stalls, KASAN/KFENCE/KCSAN/KMSAN/UBSAN, kmemleak, lockdep, list and slab\n"
      "corruption, ... Each report gets a type, a title in syzbot's convention (\"WARNING in f\"),\n"
      "the guilty function, whether the kernel died of it, its line span and a fingerprint stable\n"
      "across runs. User space printing report-like text and sysrq backtraces are not reports.\n\n"
      "Exit status: 0 no report, 1 reports found, 2 unreadable input or usage error.");
  app->add_option("log", flags->input, "Console log to read ('-' or nothing: standard input)");
  app->add_flag("--json", flags->json,
                "JSON: {format_version, reports:[{type, title, fatal, start_line, end_line, guilty,\n"
                "fingerprint, frames, text}]} (lines are 1-based in the input)");
  app->add_option("--vmlinux", flags->vmlinux, "vmlinux with debug info: frames get file:line (see `vigil decode`)");
  app->add_option("--modules", flags->modules, "Directory searched for the .ko of module frames");
  app->add_option("--base-path", flags->base_path, "Prefix stripped from source paths");
  app->add_option("--color", flags->color, "auto, always or never (NO_COLOR is honoured)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  return [flags] { return RunScan(*flags); };
}

Runner SetupDecodeCommand(CLI::App* app) {
  auto flags = std::make_shared<DecodeFlags>();
  app->description(
      "Turn the stack frames of a kernel log (`func+0x12/0x40 [mod]`) into `func (file:line) [mod]`,\n"
      "with the functions inlined there on lines of their own, as the kernel's decode_stacktrace.sh\n"
      "does. Symbols come from the ELF symbol table of vmlinux or of the module's .ko (found under\n"
      "--modules, .ko.xz/.ko.zst decompressed), lines from binutils' addr2line; objects need debug\n"
      "info. Other lines are copied unchanged.\n\n"
      "Exit status: 0 done, 2 unreadable input or usage error.");
  app->add_option("log", flags->input, "Log to read ('-' or nothing: standard input)");
  app->add_option("--vmlinux", flags->vmlinux, "vmlinux with debug info (for frames without a module)");
  app->add_option("--modules", flags->modules, "Directory searched for the .ko of module frames");
  app->add_option("--base-path", flags->base_path, "Prefix stripped from source paths");
  return [flags] { return RunDecode(*flags); };
}

}  // namespace vigil::cli
