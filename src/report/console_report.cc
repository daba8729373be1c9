#include "report/console_report.h"

#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"

namespace vigil::report {
namespace {

std::string DecodedText(console::Decoder* decoder, const std::string& text) {
  if (!decoder) return text;
  std::string out;
  ForEachLine(text, [&](std::string_view line) {
    out += decoder->DecodeLine(line);
    out += '\n';
  });
  return out;
}

}  // namespace

std::string ScanJson(const console::Detector& detector, console::Decoder* decoder) {
  const auto& reports = detector.reports();
  std::string out;
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
          frames += ",\"source\":" + DumpJson(src);
          auto inl = nlohmann::ordered_json::array();
          for (size_t i = 0; i + 1 < locs.size(); ++i)
            inl.push_back({{"function", vigil::SanitizeUtf8(locs[i].function)},
                           {"source", vigil::SanitizeUtf8(locs[i].file_line)}});
          if (!inl.empty()) frames += ",\"inlined\":" + DumpJson(inl);
        }
      }
      frames += '}';
    }
    frames += ']';
    o["text"] = vigil::SanitizeUtf8(DecodedText(decoder, r.text));
    if (!first) out += ',';
    first = false;
    std::string one = DumpJson(o);  // {"type":..,"text":".."}: the frames go in before "text"
    size_t text_at = one.rfind(",\"text\":");
    out.append(one, 0, text_at);
    out += ",\"frames\":" + frames;
    out.append(one, text_at, std::string::npos);
  }
  out += fmt::format("],\"dropped_reports\":{}}}\n", detector.dropped_reports());
  return out;
}

std::string ScanText(const console::Detector& detector, console::Decoder* decoder, bool color) {
  const auto& reports = detector.reports();
  std::string out;
  int fatal = 0;
  for (const auto& r : reports) {
    fatal += r.fatal;
    std::string head = fmt::format("{}{}", r.fatal ? "FATAL " : "", vigil::SanitizeForTerminal(r.title));
    if (color) head = (r.fatal ? "\033[1;31m" : "\033[1;33m") + head + "\033[0m";
    out += fmt::format("{}\n  type {}  lines {}-{}  guilty {}  fingerprint {}\n", head, console::TypeName(r.type),
                       r.start_line, r.end_line, r.guilty.empty() ? "-" : vigil::SanitizeForTerminal(r.guilty),
                       r.fingerprint);
    ForEachLine(DecodedText(decoder, r.text),
                [&](std::string_view line) { out += "  | " + vigil::SanitizeForTerminal(line) + "\n"; });
    out += "\n";
  }
  out += fmt::format("{} kernel report(s), {} fatal, in {} lines", reports.size(), fatal, detector.line_count());
  if (detector.dropped_reports()) out += fmt::format(" ({} more not kept)", detector.dropped_reports());
  out += "\n";
  return out;
}

}  // namespace vigil::report
