// The results channel between vigil on the host and vigil inside a VM: a
// virtio-serial port of its own, so kernel messages on the console never
// garble results. Frames are binary: type (1 byte), request id (4 bytes,
// little endian), payload length (4 bytes, little endian), payload.
//   H  guest -> host  hello: the guest's environment (JSON), it is ready
//   R  host -> guest  run a program: ProcessOptions as JSON
//   O  guest -> host  output bytes of request id, as they come
//   E  guest -> host  request id ended: ProcessResult as JSON (no output)
//   Q  host -> guest  quit: finish and power off
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "sys/process.h"
#include "model/records.h"

namespace vigil::vm {

enum class FrameType : char {
  kHello = 'H',
  kRequest = 'R',
  kOutput = 'O',
  kEnd = 'E',
  kQuit = 'Q',
};

struct Frame {
  FrameType type = FrameType::kHello;
  uint32_t id = 0;
  std::string payload;
};

inline constexpr size_t kFrameHeader = 9;
inline constexpr size_t kMaxPayload = 4 << 20;

std::string EncodeFrame(FrameType type, uint32_t id, std::string_view payload);

// Reassembles frames from bytes read in any chunks.
class FrameReader {
 public:
  // Appends complete frames to `out`; an unknown type or an over-long
  // payload is a corrupt stream.
  Status Feed(std::string_view bytes, std::vector<Frame>* out);

 private:
  std::string buf_;
};

// Writes everything, retrying on EINTR and short writes.
bool WriteAll(int fd, std::string_view data);

nlohmann::json OptionsToJson(const sys::ProcessOptions& o);
sys::ProcessOptions OptionsFromJson(const nlohmann::json& j);
nlohmann::json ResultToJson(const sys::ProcessResult& r);  // without the output
sys::ProcessResult ResultFromJson(const nlohmann::json& j);
nlohmann::json EnvironmentToJson(const model::Environment& e);
model::Environment EnvironmentFromJson(const nlohmann::json& j);

}  // namespace vigil::vm
