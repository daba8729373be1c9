// Console prefixes learned from the KTAP version line, as kunit_tool does:
// whatever precedes the first version line ("[    0.060000] ",
// "[    1.0][    T1] ", "<6>", " ") is the prefix every KTAP line carries.
// Timestamps, caller ids and log levels are matched by shape, not by length,
// so "[  123.4] " and "[12345.678] " both strip.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::ktap {

class ConsolePrefix {
 public:
  // Learns the shape of `prefix`. An empty prefix strips nothing. Bytes that
  // are not text (NUL, 0xff: a serial console at reset) and what precedes
  // them are not part of it.
  void Learn(std::string_view prefix);
  bool empty() const { return tokens_.empty(); }

  // Returns true and sets `*rest` to what follows the prefix when `line`
  // starts with a prefix of the learned shape.
  bool Strip(std::string_view line, std::string_view* rest) const;

 private:
  enum class Kind { kTimestamp, kCaller, kLevel, kLiteral };
  struct Token {
    Kind kind;
    std::string literal;  // kLiteral only
  };
  std::vector<Token> tokens_;
};

}  // namespace vigil::ktap
