#include "vm/sysrq.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "vm/channel.h"

namespace vigil::vm {
namespace {

using SteadyClock = std::chrono::steady_clock;

enum class Reply { kReturn, kError, kNone };

// Reads QMP's output until the answer to the command just sent (a "return"
// or an "error"; events are skipped) or until `wait` passes.
Reply ReadReply(int fd, std::chrono::milliseconds wait, std::string* got) {
  auto deadline = SteadyClock::now() + wait;
  got->clear();
  while (SteadyClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return Reply::kNone;
    got->append(buf, static_cast<size_t>(n));
    // QMP writes one JSON object a line.
    size_t end;
    while ((end = got->find('\n')) != std::string::npos) {
      std::string line = got->substr(0, end);
      got->erase(0, end + 1);
      // An answer's first key says which it is; an event's is "timestamp"
      // (and may hold an "error" field of its own).
      std::string_view head(line);
      head.remove_prefix(std::min(head.size(), head.find_first_not_of(" \t")));
      if (head.starts_with("{\"return\"") || head.starts_with("{\"QMP\"")) return Reply::kReturn;
      if (head.starts_with("{\"error\"")) return Reply::kError;
    }
  }
  return Reply::kNone;
}

// Waits up to `wait` for `heard`.
bool WaitHeard(const std::function<bool()>& heard, std::chrono::milliseconds wait) {
  auto deadline = SteadyClock::now() + wait;
  while (true) {
    if (heard()) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    close(fd);
    return -1;
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool HasSysrqLine(const std::string& console) {
  return console.find("sysrq: ") != std::string::npos || console.find("SysRq : ") != std::string::npos;
}

std::string SendSysrq(const std::string& qmp_path, int serial_in, const std::vector<std::string>& keys,
                      const std::function<bool()>& heard, const SysrqTiming& timing) {
  int fd = ConnectUnix(qmp_path);
  if (fd < 0) return "";
  std::string got;
  bool ok = ReadReply(fd, timing.reply, &got) == Reply::kReturn &&  // the greeting
            WriteAll(fd, "{\"execute\":\"qmp_capabilities\"}\n") && ReadReply(fd, timing.reply, &got) == Reply::kReturn;
  // The serial line until the kernel is found not to hear it there.
  bool serial = serial_in >= 0;
  bool serial_heard = false, keyboard_used = false;
  for (const auto& k : keys) {
    if (!ok) break;
    if (serial && k.size() == 1) {
      auto sent = SteadyClock::now();
      bool broke = WriteAll(fd, "{\"execute\":\"chardev-send-break\",\"arguments\":{\"id\":\"serial0\"}}\n") &&
                   ReadReply(fd, timing.reply, &got) == Reply::kReturn;
      if (broke && WriteAll(serial_in, k)) {
        if (serial_heard || WaitHeard(heard, timing.heard)) {
          serial_heard = true;
          auto left = timing.pause - std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - sent);
          if (left.count() > 0) std::this_thread::sleep_for(left);
          continue;
        }
      }
      // Refused, or not heard: this key and the rest from the keyboard.
      serial = false;
    }
    std::string cmd = fmt::format(
        "{{\"execute\":\"human-monitor-command\",\"arguments\":{{\"command-line\":\"sendkey alt-sysrq-{}\"}}}}\n", k);
    ok = WriteAll(fd, cmd) && ReadReply(fd, timing.reply, &got) == Reply::kReturn;
    keyboard_used = keyboard_used || ok;
    std::this_thread::sleep_for(timing.pause);
  }
  close(fd);
  if (keyboard_used) return serial_heard ? "on the serial line and from the keyboard" : "from the keyboard";
  return serial_heard ? "on the serial line" : "";
}

}  // namespace vigil::vm
