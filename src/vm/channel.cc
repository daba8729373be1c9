#include "vm/channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/json.h"

namespace vigil::vm {
namespace {

void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
bool KnownType(char c) { return c == 'H' || c == 'R' || c == 'O' || c == 'E' || c == 'Q'; }

}  // namespace

std::string EncodeFrame(FrameType type, uint32_t id, std::string_view payload) {
  std::string s;
  s.reserve(kFrameHeader + payload.size());
  s.push_back(static_cast<char>(type));
  PutU32(&s, id);
  PutU32(&s, static_cast<uint32_t>(payload.size()));
  s.append(payload);
  return s;
}

Status FrameReader::Feed(std::string_view bytes, std::vector<Frame>* out) {
  buf_.append(bytes);
  size_t pos = 0;
  while (buf_.size() - pos >= kFrameHeader) {
    const char* p = buf_.data() + pos;
    if (!KnownType(p[0])) return Status::Corruption("results channel: unknown frame type");
    uint32_t len = GetU32(p + 5);
    if (len > kMaxPayload) return Status::Corruption("results channel: frame too long");
    if (buf_.size() - pos < kFrameHeader + len) break;
    Frame f;
    f.type = static_cast<FrameType>(p[0]);
    f.id = GetU32(p + 1);
    f.payload.assign(p + kFrameHeader, len);
    out->push_back(std::move(f));
    pos += kFrameHeader + len;
  }
  buf_.erase(0, pos);
  return Status::OK();
}

bool WriteAll(int fd, std::string_view data) {
  // A socket whose other end is gone (QEMU exited: a panic, a poweroff)
  // fails the write; it must not raise SIGPIPE, which ends vigil.
  bool socket = true;
  while (!data.empty()) {
    ssize_t n = socket ? send(fd, data.data(), data.size(), MSG_NOSIGNAL) : write(fd, data.data(), data.size());
    if (n < 0 && socket && errno == ENOTSOCK) {
      socket = false;  // the guest's virtio port
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      usleep(1000);
      continue;
    }
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

namespace {

// argv, the environment and paths are any bytes: BytesToJson keeps them exact.
nlohmann::json BytesList(const std::vector<std::string>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& s : v) a.push_back(BytesToJson(s));
  return a;
}

std::vector<std::string> BytesListFrom(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || !j[key].is_array()) return out;
  for (const auto& e : j[key]) {
    if (auto s = BytesFromJson(e)) out.push_back(std::move(*s));
  }
  return out;
}

std::string BytesFrom(const nlohmann::json& j, const char* key) {
  return j.contains(key) ? BytesFromJson(j[key]).value_or("") : "";
}

}  // namespace

nlohmann::json OptionsToJson(const sys::ProcessOptions& o) {
  return {{"argv", BytesList(o.argv)},
          {"cwd", BytesToJson(o.cwd)},
          {"env", BytesList(o.env)},
          {"timeout_ms", o.timeout.count()},
          {"kill_grace_ms", o.kill_grace.count()},
          {"max_output_bytes", o.max_output_bytes},
          {"cgroup_name", BytesToJson(o.cgroup_name)},
          {"new_netns", o.new_netns}};
}

sys::ProcessOptions OptionsFromJson(const nlohmann::json& j) {
  sys::ProcessOptions o;
  o.argv = BytesListFrom(j, "argv");
  o.cwd = BytesFrom(j, "cwd");
  o.env = BytesListFrom(j, "env");
  o.timeout = std::chrono::milliseconds(j.value("timeout_ms", int64_t{0}));
  o.kill_grace = std::chrono::milliseconds(j.value("kill_grace_ms", int64_t{3000}));
  o.max_output_bytes = j.value("max_output_bytes", size_t{16 << 20});
  o.cgroup_name = BytesFrom(j, "cgroup_name");
  o.new_netns = j.value("new_netns", false);
  return o;
}

nlohmann::json ResultToJson(const sys::ProcessResult& r) {
  return {{"exited", r.status.exited()},
          {"code", r.status.exit_code()},
          {"signal", r.status.signal()},
          {"timed_out", r.timed_out},
          {"killed_after_grace", r.killed_after_grace},
          {"duration_ms", r.duration_ms},
          {"output_bytes", r.output_bytes},
          {"output_dropped", r.output_dropped},
          {"leftovers_killed", r.leftovers_killed},
          {"used_cgroup", r.used_cgroup}};
}

sys::ProcessResult ResultFromJson(const nlohmann::json& j) {
  sys::ProcessResult r;
  r.status = j.value("exited", true) ? sys::WaitStatus::Exited(j.value("code", 0))
                                     : sys::WaitStatus::Signaled(j.value("signal", 9));
  r.timed_out = j.value("timed_out", false);
  r.killed_after_grace = j.value("killed_after_grace", false);
  r.duration_ms = j.value("duration_ms", int64_t{0});
  r.output_bytes = j.value("output_bytes", uint64_t{0});
  r.output_dropped = j.value("output_dropped", uint64_t{0});
  r.leftovers_killed = j.value("leftovers_killed", 0);
  r.used_cgroup = j.value("used_cgroup", false);
  return r;
}

nlohmann::json EnvironmentToJson(const model::Environment& e) {
  return {{"kernel_release", e.kernel_release}, {"uname", e.uname},   {"arch", e.arch},
          {"cpus", e.cpus},                     {"memory_kb", e.memory_kb}, {"where", e.where},
          {"accel", e.accel},                   {"tools", e.tools}, {"kernel_config", e.kernel_config}};
}

model::Environment EnvironmentFromJson(const nlohmann::json& j) {
  model::Environment e;
  e.kernel_release = j.value("kernel_release", "");
  e.uname = j.value("uname", "");
  e.arch = j.value("arch", "");
  e.cpus = j.value("cpus", 0);
  e.memory_kb = j.value("memory_kb", int64_t{0});
  e.where = j.value("where", "vm");
  e.accel = j.value("accel", "");
  e.tools = j.value("tools", std::map<std::string, std::string>{});
  e.kernel_config = j.value("kernel_config", "");
  return e;
}

}  // namespace vigil::vm
