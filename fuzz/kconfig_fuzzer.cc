// libFuzzer target for the config fragment parser and what is built on it:
// arbitrary bytes parsed as a fragment (the first byte decides whether the
// input is also taken as a --set argument), merged into a request, turned
// back into a fragment that must parse without errors and mean the same,
// and checked against itself (no mismatch) and against an empty .config.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kbuild/build.h"
#include "kbuild/kconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::kbuild;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ConfigFile f = ParseConfig(input, "fuzz");
  if (f.errors.size() > kMaxConfigErrors) __builtin_trap();
  ConfigRequest request;
  request.Add(f);
  if (size > 0 && data[0] % 2 == 0) {
    auto set = ParseSetArgument(input.substr(1));
    if (set.ok()) request.Add(*set);
  }
  std::string fragment = request.ToFragment();
  ConfigFile back = ParseConfig(fragment, "fragment");
  if (!back.ok()) __builtin_trap();
  // The fragment of a request, read back, meets it exactly.
  if (!CheckConfig(request, back).empty()) __builtin_trap();
  (void)CheckConfig(request, ConfigFile{});
  (void)ConfigHash(input);
  for (const auto& m : CheckConfig(request, ConfigFile{})) (void)m.ToString();
  return 0;
}
