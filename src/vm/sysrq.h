// Magic sysrq keys for a hung guest, through QEMU's monitor (QMP).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace vigil::vm {

struct SysrqTiming {
  // How long QMP has to answer a command.
  std::chrono::milliseconds reply{2000};
  // How long the kernel has to acknowledge the first key sent on the serial
  // line (its "sysrq: Show Blocked State" line) before the keyboard is tried.
  std::chrono::milliseconds heard{3000};
  // Between keys, so that one dump is printed before the next is asked for.
  std::chrono::milliseconds pause{1500};
};

// Sends magic sysrq keys (e.g. "w", blocked tasks, and "t", all tasks) to the
// guest of the QEMU whose QMP socket is `qmp_path`.
//
// First the way every kernel with a serial console takes them
// (MAGIC_SYSRQ_SERIAL, on by default): a break on the serial line (QMP
// chardev-send-break on serial0), then the key written to `serial_in` (QEMU's
// standard input, the serial port's input). `heard` says whether the kernel
// printed its sysrq line since the keys were asked for; when it does not
// within timing.heard of the first key, or QMP refuses the break, that key
// and the rest come from the PS/2 keyboard (QMP sendkey), which a kernel
// with i8042 and atkbd built in hears. `serial_in` < 0: the keyboard only.
//
// Returns how the keys went: "on the serial line", "from the keyboard", or
// "" when they could not be sent (no QMP, no answer).
std::string SendSysrq(const std::string& qmp_path, int serial_in, const std::vector<std::string>& keys,
                      const std::function<bool()>& heard, const SysrqTiming& timing = {});

// Whether console output holds the kernel's answer to a sysrq key ("sysrq: "
// since 5.x, "SysRq : " before).
bool HasSysrqLine(const std::string& console);

// A connected Unix stream socket, or -1.
int ConnectUnix(const std::string& path);

}  // namespace vigil::vm
