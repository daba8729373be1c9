// libFuzzer target for the VM results channel: the host reads whatever the
// guest writes, so arbitrary bytes, in pieces, must never crash it or grow its
// memory without bound; each frame's JSON payload is decoded as the host does.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "vm/channel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  vigil::vm::FrameReader reader;
  size_t stride = size > 0 ? 1 + data[0] % 37 : 1;
  for (size_t i = 0; i < input.size(); i += stride) {
    std::vector<vigil::vm::Frame> frames;
    if (!reader.Feed(input.substr(i, stride), &frames).ok()) break;
    for (const auto& f : frames) {
      if (f.payload.size() > vigil::vm::kMaxPayload) abort();
      // Round trip of the framing.
      std::string again = vigil::vm::EncodeFrame(f.type, f.id, f.payload);
      vigil::vm::FrameReader r2;
      std::vector<vigil::vm::Frame> back;
      if (!r2.Feed(again, &back).ok() || back.size() != 1 || back[0].payload != f.payload || back[0].id != f.id) abort();
      auto j = nlohmann::json::parse(f.payload, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      try {
        (void)vigil::vm::ResultFromJson(j);
        (void)vigil::vm::OptionsFromJson(j);
        (void)vigil::vm::EnvironmentFromJson(j);
      } catch (const nlohmann::json::exception&) {
        // Wrong types are rejected, as the host does (it catches them too).
      }
    }
  }
  return 0;
}
