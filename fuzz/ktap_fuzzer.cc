// libFuzzer target for the KTAP engine: arbitrary bytes, fed in pieces whose
// sizes come from the input, in tree and streaming modes, then every report;
// the flat tree must write the same reports as the tree of TestNode objects,
// and so must its top-level tests handed out in batches as the parse goes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ktap/parser.h"
#include "report/reports.h"
#include "report/tree_report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  vigil::ktap::ParserOptions options;
  options.max_line_bytes = 4096;
  options.max_missing_nodes = 64;
  options.keep_tree = size % 2 == 0;
  vigil::ktap::Parser parser(options);
  // Split the input at a data-dependent stride to exercise partial lines.
  size_t stride = size > 0 ? 1 + data[0] % 97 : 1;
  for (size_t i = 0; i < input.size(); i += stride) parser.Feed(input.substr(i, stride));
  parser.Finish();
  vigil::ktap::Document doc = parser.TakeDocument();
  std::string json = vigil::report::ToJsonText(doc);
  std::string junit = vigil::report::ToJunit(doc);
  std::string text = vigil::report::ToText(doc, {});
  if (options.keep_tree) {
    // The flat tree `vigil parse` keeps writes the same reports.
    options.flat_tree = true;
    vigil::ktap::Document flat = vigil::ktap::ParseText(input, options);
    if (vigil::report::ToJsonText(flat) != json || vigil::report::ToJunit(flat) != junit ||
        vigil::report::ToText(flat, {}) != text) {
      __builtin_trap();
    }
    // Batches of top-level tests, each given to the three reports (in
    // order, on this thread), then the document: the same reports.
    vigil::report::Out live;
    auto json_report = vigil::report::NewJsonReport();
    auto junit_report = vigil::report::NewJunitReport();
    auto text_report = vigil::report::NewTextReport({}, live);
    vigil::ktap::Parser batched(options);
    batched.HandTopsTo(
        [&](vigil::ktap::Tree tree, std::vector<vigil::ktap::Tree::Id> tops) {
          for (auto* r : {json_report.get(), junit_report.get(), text_report.get()}) r->Take(tree, tops);
          if (!tree.Reset()) tree = vigil::ktap::Tree();
          return tree;
        },
        size > 1 ? data[1] % 4 * 64 : 0);
    batched.Feed(input);
    batched.Finish();
    vigil::ktap::Document rest = batched.TakeDocument();
    vigil::report::Out json_out, junit_out;
    json_report->Write(rest, json_out);
    junit_report->Write(rest, junit_out);
    text_report->Write(rest, live);
    if (json_out.Take() != json || junit_out.Take() != junit || live.Take() != text) __builtin_trap();
    options.flat_tree = false;
  }
  std::string ktap = vigil::report::ToKtap(doc);
  // The normalised form must parse again to the same overall verdict (failing
  // or not). For malformed input the tree may differ: a missing result before
  // a sibling is written as ERROR, and blocks that only indentation kept apart
  // are renumbered; well-formed round trips are pinned by report_test.cc.
  vigil::ktap::Document again = vigil::ktap::ParseText(ktap);
  if (doc.found_ktap && options.keep_tree) {
    if (!again.found_ktap) __builtin_trap();
    if (vigil::ktap::IsFailure(again.root.status) != vigil::ktap::IsFailure(doc.root.status)) __builtin_trap();
  }
  return 0;
}
