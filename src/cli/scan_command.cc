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

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/terminal.h"
#include "console/decode.h"
#include "console/detector.h"
#include "base/text.h"

namespace vigil::cli {
namespace {

// Reads FILE (or standard input for "-") in chunks. Returns false with a
// message on stderr when it cannot be read.
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
  while (true) {
    ssize_t n = read(fd, buf.get(), 1 << 20);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fmt::print(stderr, "vigil {}: cannot read {}: {}\n", command, label, std::strerror(errno));
      if (fd != STDIN_FILENO) close(fd);
      return false;
    }
    if (n == 0) break;
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

std::string DecodedText(console::Decoder* decoder, const std::string& text) {
  if (!decoder) return text;
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out += decoder->DecodeLine(std::string_view(text).substr(pos, nl - pos));
    out += '\n';
    pos = nl + 1;
  }
  return out;
}

int RunScan(const ScanFlags& f) {
  console::Detector detector;
  if (!ReadInput("scan", f.input, [&](std::string_view b) { detector.Feed(b); })) return kExitUsage;
  detector.Finish();
  std::unique_ptr<console::Decoder> decoder;
  if (!f.vmlinux.empty() || !f.modules.empty())
    decoder = std::make_unique<console::Decoder>(f.vmlinux, f.modules, f.base_path);
  const auto& reports = detector.reports();
  std::string out;
  if (f.json) {
    // Streamed report by report: the document for one report at a time.
    out = "{\"format_version\":1,\"reports\":[";
    bool first = true;
    for (const auto& r : reports) {
      nlohmann::ordered_json o;
      o["type"] = std::string(console::TypeName(r.type));
      o["title"] = vigil::SanitizeUtf8(r.title);
      o["fatal"] = r.fatal;
      o["start_line"] = r.start_line;
      o["end_line"] = r.end_line;
      o["guilty"] = vigil::SanitizeUtf8(r.guilty);
      o["fingerprint"] = r.fingerprint;
      // Frames: names are symbol characters only (ParseFrame), so they are
      // written as they are; decoded sources go through the JSON library.
      std::string frames = "[";
      for (size_t k = 0; k < r.frames.size(); ++k) {
        const auto& fr = r.frames[k];
        fmt::format_to(std::back_inserter(frames), "{}{{\"function\":\"{}\",\"module\":\"{}\",\"offset\":{},\"size\":{},\"reliable\":{}",
                       k ? "," : "", fr.function, fr.module, fr.offset, fr.size, fr.reliable);
        if (decoder) {
          auto locs = decoder->Resolve(fr, fr.reliable);
          if (!locs.empty()) {
            nlohmann::ordered_json src = vigil::SanitizeUtf8(locs.back().file_line);
            frames += ",\"source\":" + src.dump();
            auto inl = nlohmann::ordered_json::array();
            for (size_t i = 0; i + 1 < locs.size(); ++i)
              inl.push_back({{"function", vigil::SanitizeUtf8(locs[i].function)},
                             {"source", vigil::SanitizeUtf8(locs[i].file_line)}});
            if (!inl.empty()) frames += ",\"inlined\":" + inl.dump();
          }
        }
        frames += '}';
      }
      frames += ']';
      o["text"] = vigil::SanitizeUtf8(DecodedText(decoder.get(), r.text));
      if (!first) out += ',';
      first = false;
      std::string one = o.dump();  // {"type":..,"text":".."}: the frames go in before "text"
      size_t text_at = one.rfind(",\"text\":");
      out.append(one, 0, text_at);
      out += ",\"frames\":" + frames;
      out.append(one, text_at, std::string::npos);
    }
    out += fmt::format("],\"dropped_reports\":{}}}\n", detector.dropped_reports());
  } else {
    bool color = UseColor(f.color);
    int fatal = 0;
    for (const auto& r : reports) {
      fatal += r.fatal;
      std::string head = fmt::format("{}{}", r.fatal ? "FATAL " : "", vigil::SanitizeForTerminal(r.title));
      if (color) head = (r.fatal ? "\033[1;31m" : "\033[1;33m") + head + "\033[0m";
      out += fmt::format("{}\n  type {}  lines {}-{}  guilty {}  fingerprint {}\n", head, console::TypeName(r.type),
                         r.start_line, r.end_line, r.guilty.empty() ? "-" : vigil::SanitizeForTerminal(r.guilty),
                         r.fingerprint);
      std::string text = DecodedText(decoder.get(), r.text);
      size_t pos = 0;
      while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        out += "  | " + vigil::SanitizeForTerminal(std::string_view(text).substr(pos, nl - pos)) + "\n";
        pos = nl + 1;
      }
      out += "\n";
    }
    out += fmt::format("{} kernel report(s), {} fatal, in {} lines", reports.size(), fatal, detector.line_count());
    if (detector.dropped_reports()) out += fmt::format(" ({} more not kept)", detector.dropped_reports());
    out += "\n";
  }
  if (decoder)
    for (const auto& w : decoder->warnings()) fmt::print(stderr, "vigil scan: {}\n", w);
  if (!WriteOut("scan", out)) return kExitUsage;
  return reports.empty() && detector.dropped_reports() == 0 ? 0 : 1;
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
