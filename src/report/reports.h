// Renderings of a parsed KTAP document: JSON (versioned), JUnit XML,
// normalised KTAP, and a text tree for people.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ktap/parser.h"
#include "report/out.h"

namespace vigil::report {

inline constexpr int kJsonFormatVersion = 1;

// {"format_version":1,"status":..,"counts":{..},"tests":[..],"errors":[..]}
nlohmann::json ToJson(const ktap::Document& doc);
// Leaf counts with kunit_tool's meaning for passed/failed/crashed/skipped/
// errors, plus the statuses kunit_tool lacks.
nlohmann::json CountsToJson(const ktap::Counts& counts, int64_t parse_errors);
// JSON text, invalid UTF-8 replaced: the same bytes as DumpJson(ToJson()),
// written one test at a time from the flat tree.
std::string ToJsonText(const ktap::Document& doc);
void WriteJson(const ktap::Document& doc, Out& out);

// The document's flat tree: doc.tree, or doc.root made into one in
// `storage` (a document built as TestNode objects).
const ktap::Tree& TreeOf(const ktap::Document& doc, ktap::Tree* storage);

// JUnit XML as CI test-report tools read it: a testsuite per top-level test,
// a testcase per leaf.
std::string ToJunit(const ktap::Document& doc, const std::string& suite_name = "vigil");
void WriteJunit(const ktap::Document& doc, Out& out, const std::string& suite_name = "vigil");

// Normalised KTAP: "KTAP version 1", two spaces per level, one plan per
// block. Parsing the output again gives the same statuses.
std::string ToKtap(const ktap::Document& doc);

// "[PASS]", colored green/yellow/red when `color`.
std::string StatusTag(ktap::Status s, bool color);

struct TextOptions {
  bool color = false;
  bool show_logs = true;  // logs of failed tests
  bool show_tree = true;  // false: only the summary (failures, errors, counts)
};
// A tree for people, then a summary with failures first.
std::string ToText(const ktap::Document& doc, const TextOptions& options);
void WriteText(const ktap::Document& doc, const TextOptions& options, Out& out);

}  // namespace vigil::report
