// JSON that survives any bytes. nlohmann::json throws on a string that is
// not valid UTF-8 when it is written; vigil's strings (test names, output,
// tool versions, paths, environments, commit subjects) are arbitrary bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace vigil {

// `j` as JSON text (one line; `indent` >= 0 pretty-prints). Each byte of a
// string that is not valid UTF-8 becomes U+FFFD: never throws. Every JSON
// vigil writes (reports, store columns, VM frames) goes through these.
std::string DumpJson(const nlohmann::json& j, int indent = -1);
std::string DumpJson(const nlohmann::ordered_json& j, int indent = -1);

// Bytes that must come back exactly (a test's name in a stored plan, argv and
// environment sent to a VM): valid UTF-8 stays a JSON string, anything else
// becomes {"hex": "6261ff"}.
nlohmann::json BytesToJson(std::string_view bytes);
// What BytesToJson wrote; nullopt for any other JSON.
std::optional<std::string> BytesFromJson(const nlohmann::json& j);

}  // namespace vigil
