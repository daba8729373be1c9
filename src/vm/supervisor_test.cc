#include "vm/supervisor.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

namespace vigil::vm {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A WARN_ON in a module's init as 6.12 prints it, cut before its call trace
// ends, and the rest (the report is complete at the first line after it).
const char kWarnHead[] =
    "[    5.100000] vigil_crash: loading out-of-tree module taints kernel.\n"
    "[    5.123456] ------------[ cut here ]------------\n"
    "[    5.123789] WARNING: CPU: 1 PID: 97 at /tmp/m/vigil_crash.c:30 vigil_crash_warn+0x9/0x10 "
    "[vigil_crash]\n"
    "[    5.124000] Modules linked in: vigil_crash(O+)\n"
    "[    5.124100] CPU: 1 UID: 0 PID: 97 Comm: insmod Tainted: G           O       6.12.57 #1\n"
    "[    5.124300] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2 04/01/2014\n"
    "[    5.124400] RIP: 0010:vigil_crash_warn+0x9/0x10 [vigil_crash]\n"
    "[    5.124600] RSP: 0018:ffffb1c0c0237d50 EFLAGS: 00010246\n"
    "[    5.125000] Call Trace:\n"
    "[    5.125100]  <TASK>\n"
    "[    5.125200]  ? __warn+0x7d/0x120\n"
    "[    5.125300]  ? vigil_crash_warn+0x9/0x10 [vigil_crash]\n"
    "[    5.125400]  ? report_bug+0x160/0x190\n";
const char kWarnTail[] =
    "[    5.125800]  vigil_crash_init+0x30/0xff0 [vigil_crash]\n"
    "[    5.125900]  do_one_initcall+0x5b/0x320\n"
    "[    5.126000]  do_init_module+0x60/0x240\n"
    "[    5.126400]  entry_SYSCALL_64_after_hwframe+0x76/0x7e\n"
    "[    5.126700]  </TASK>\n"
    "[    5.126800] ---[ end trace 0000000000000000 ]---\n"
    "[    5.200000] random: crng init done\n";

// echo c > /proc/sysrq-trigger on 6.1: an oops that panics.
const char kPanicHead[] =
    "[   42.000001] sysrq: Trigger a crash\n"
    "[   42.000002] Kernel panic - not syncing: sysrq triggered crash\n"
    "[   42.000003] CPU: 0 PID: 120 Comm: panic.sh Not tainted 6.1.0-28-cloud-amd64 #1  Debian 6.1.119-1\n"
    "[   42.000004] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2 04/01/2014\n"
    "[   42.000005] Call Trace:\n"
    "[   42.000006]  <TASK>\n"
    "[   42.000007]  dump_stack_lvl+0x44/0x5c\n"
    "[   42.000008]  panic+0x118/0x2ed\n"
    "[   42.000009]  sysrq_handle_crash+0x16/0x20\n"
    "[   42.000010]  __handle_sysrq.cold+0x43/0x11b\n"
    "[   42.000011]  write_sysrq_trigger+0x24/0x40\n"
    "[   42.000012]  </TASK>\n"
    "[   42.000013] Kernel Offset: 0x2a000000 from 0xffffffff81000000\n";
const char kPanicTail[] = "[   42.000014] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n";

class FakeActions : public SupervisorActions {
 public:
  void KillVm() override { ++kills; }
  void VmHung() override { ++hung; }
  void Wake() override { ++wakes; }
  int kills = 0;
  int hung = 0;
  int wakes = 0;
};

class Sink : public sys::OutputSink {
 public:
  void OnOutput(std::string_view bytes) override { seen.append(bytes); }
  std::string seen;
};

Frame End(uint32_t id, int code = 0) {
  sys::ProcessResult r;
  r.status = sys::WaitStatus::Exited(code);
  r.duration_ms = 12;
  return Frame{FrameType::kEnd, id, ResultToJson(r).dump()};
}

Frame Output(uint32_t id, std::string text) { return Frame{FrameType::kOutput, id, std::move(text)}; }

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest() : sup_(Options(), clock_, actions_) { sup_.VmStarted(); }
  static SupervisorOptions Options() {
    SupervisorOptions o;
    o.hang_timeout = seconds(10);
    return o;
  }
  FakeClock clock_;
  FakeActions actions_;
  Supervisor sup_;
};

TEST_F(SupervisorTest, ReportDuringARequestIsAttachedToIt) {
  Sink sink;
  uint32_t id = sup_.Begin(&sink, 1 << 20);
  sup_.OnChannel({Output(id, "insmod vigil_crash.ko\n")});
  sup_.OnConsole(kWarnHead);
  sup_.OnConsole(kWarnTail);
  EXPECT_FALSE(sup_.Done(id));
  sup_.OnChannel({Output(id, "insmod returned 0\n"), End(id)});
  ASSERT_TRUE(sup_.Done(id));
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_EQ(r.status.exit_code(), 0);
  EXPECT_EQ(r.duration_ms, 12);
  EXPECT_EQ(r.output, "insmod vigil_crash.ko\ninsmod returned 0\n");
  EXPECT_EQ(sink.seen, r.output);
  ASSERT_EQ(r.kernel_reports.size(), 1u);
  EXPECT_EQ(r.kernel_reports[0].title, "WARNING in vigil_crash_warn");
  EXPECT_FALSE(r.vm_died);
  EXPECT_EQ(actions_.kills, 0);
  ASSERT_EQ(sup_.reports().size(), 1u);
}

TEST_F(SupervisorTest, AStormOfWarningsIsCountedPastTheCaps) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  const size_t n = Supervisor::kMaxReportsKept + 200;
  for (size_t i = 0; i < n; ++i) {
    std::string t = fmt::format("[{:5}.{:06}] ", 10 + i / 1000, i % 1000);
    sup_.OnConsole(t + "------------[ cut here ]------------\n" + t +
                   "WARNING: CPU: 0 PID: 1 at net/core/dev.c:1 storm+0x1/0x2\n" + t + "Call Trace:\n" + t +
                   " storm+0x1/0x2\n" + t + "---[ end trace 0000000000000000 ]---\n");
  }
  sup_.OnConsole("[   99.000000] random: crng init done\n");
  sup_.OnChannel({End(id)});
  ASSERT_TRUE(sup_.Done(id));
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_EQ(r.kernel_reports.size(), Supervisor::kMaxReportsPerRequest);
  EXPECT_NE(r.output.find(fmt::format("vigil: {} more kernel reports came while it ran, counted but not kept",
                                      n - Supervisor::kMaxReportsPerRequest)),
            std::string::npos)
      << r.output;
  EXPECT_EQ(sup_.reports().size(), Supervisor::kMaxReportsKept);
  EXPECT_EQ(sup_.dropped_reports(), 200u);
}

TEST_F(SupervisorTest, OutputPastTheCapKeepsItsHeadAndItsTailAsOnTheHost) {
  uint32_t id = sup_.Begin(nullptr, 100);
  sup_.OnChannel({Output(id, std::string(50, 'h'))});
  for (int i = 0; i < 20; ++i) sup_.OnChannel({Output(id, std::string(10, 'm'))});
  sup_.OnChannel({Output(id, "FAIL: the reason is at the end\n")});
  sup_.OnChannel({End(id, 1)});
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_EQ(r.output_bytes, 50u + 200u + 31u);
  EXPECT_EQ(r.output_dropped, 50u + 200u + 31u - 100u);
  EXPECT_EQ(r.output.substr(0, 50), std::string(50, 'h'));
  EXPECT_NE(r.output.find("[vigil: 181 bytes of output not kept]"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.substr(r.output.size() - 31), "FAIL: the reason is at the end\n");
}

TEST_F(SupervisorTest, ReportStartedBeforeARequestIsNotItsOwn) {
  sup_.OnConsole(kWarnHead);
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  sup_.OnConsole(kWarnTail);
  sup_.OnChannel({End(id)});
  ASSERT_TRUE(sup_.Done(id));
  EXPECT_TRUE(sup_.Take(id).kernel_reports.empty());
  EXPECT_EQ(sup_.reports().size(), 1u);
}

TEST_F(SupervisorTest, EndWhileItsReportIsOpenWaitsForTheReport) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  sup_.OnConsole(kWarnHead);
  sup_.OnChannel({End(id, 1)});
  EXPECT_FALSE(sup_.Done(id));
  sup_.OnConsole(kWarnTail);
  ASSERT_TRUE(sup_.Done(id));
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_EQ(r.status.exit_code(), 1);
  ASSERT_EQ(r.kernel_reports.size(), 1u);
  EXPECT_EQ(r.kernel_reports[0].title, "WARNING in vigil_crash_warn");
}

TEST_F(SupervisorTest, QuietConsoleCompletesTheOpenReportAndTheRequest) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  sup_.OnConsole(kWarnHead);
  sup_.OnChannel({End(id)});
  clock_.Advance(milliseconds(300));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_FALSE(sup_.Done(id));
  EXPECT_TRUE(sup_.report_open());
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(sup_.Tick());
  ASSERT_TRUE(sup_.Done(id));
  EXPECT_FALSE(sup_.report_open());
  EXPECT_EQ(sup_.Take(id).kernel_reports.size(), 1u);
}

TEST_F(SupervisorTest, OutputIsCappedButTheSinkSeesAll) {
  Sink sink;
  uint32_t id = sup_.Begin(&sink, 4);
  sup_.OnChannel({Output(id, "abc"), Output(id, "defg"), End(id)});
  EXPECT_EQ(sink.seen, "abcdefg");
  // Its first and last halves, as the host keeps them.
  EXPECT_EQ(sup_.Take(id).output, "ab\n[vigil: 3 bytes of output not kept]\nfg");
}

TEST_F(SupervisorTest, FatalArmsTheKillAfterTheGrace) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  EXPECT_FALSE(sup_.dying());
  sup_.OnConsole(kPanicHead);
  EXPECT_EQ(actions_.kills, 0);
  // From the panic on, a test begun would die with the VM: the runner waits.
  EXPECT_TRUE(sup_.dying());
  clock_.Advance(milliseconds(99));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_EQ(actions_.kills, 0);
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_EQ(actions_.kills, 1);
  clock_.Advance(milliseconds(100));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_EQ(actions_.kills, 1);  // armed once
  EXPECT_TRUE(sup_.dying());     // killed, not gone yet
  // QEMU reaped 20 ms after the kill: the request dies with the panic.
  clock_.Advance(milliseconds(20));
  sup_.ConsoleClosed();
  sup_.VmGone("console closed", clock_.Monotonic());
  EXPECT_FALSE(sup_.dying());
  sup_.VmStarted();
  EXPECT_FALSE(sup_.dying());
  ASSERT_TRUE(sup_.Done(id));
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_TRUE(r.vm_died);
  EXPECT_EQ(r.status.signal(), SIGKILL);
  EXPECT_EQ(r.output, "vigil: the VM ended while this ran (console closed)\n");
  ASSERT_EQ(r.kernel_reports.size(), 1u);
  EXPECT_EQ(r.kernel_reports[0].title, "kernel panic: sysrq triggered crash");
  EXPECT_TRUE(r.kernel_reports[0].fatal);
  ASSERT_EQ(sup_.fatal_to_gone_ms().size(), 1u);
  EXPECT_DOUBLE_EQ(sup_.fatal_to_gone_ms()[0], 220.0);
}

TEST_F(SupervisorTest, FatalReportCompletedKillsAtOnce) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  sup_.OnConsole(kPanicHead);
  sup_.OnConsole(kPanicTail);
  EXPECT_EQ(actions_.kills, 1);
  clock_.Advance(milliseconds(200));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_EQ(actions_.kills, 1);  // the grace's kill was disarmed
  EXPECT_FALSE(sup_.Done(id));   // its end never came: QEMU gone decides
  EXPECT_TRUE(sup_.dying());
  sup_.VmGone("console closed", clock_.Monotonic());
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_TRUE(r.vm_died);
  EXPECT_EQ(r.kernel_reports.size(), 1u);
}

TEST_F(SupervisorTest, HangTimeoutSendsSysrqThenKills) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  sup_.OnChannel({Output(id, "going silent\n")});
  clock_.Advance(seconds(10));
  EXPECT_FALSE(sup_.Tick());
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(sup_.dying());
  auto ask = sup_.Tick();
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->keys, (std::vector<std::string>{"w", "t"}));
  EXPECT_FALSE(sup_.Tick());  // asked once
  EXPECT_TRUE(sup_.dying());  // the dump and the kill to come
  sup_.OnConsole("[  100.000000] still hung\n");
  EXPECT_FALSE(sup_.SysrqHeard());  // the keys' sender waits for this before it tries the keyboard
  sup_.OnConsole("[  100.000001] sysrq: Show Blocked State\n[  100.000002] task:sleep state:S\n");
  EXPECT_TRUE(sup_.SysrqHeard());
  sup_.SysrqSent(*ask, "on the serial line");
  clock_.Advance(milliseconds(1499));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_FALSE(sup_.Done(id));
  EXPECT_EQ(actions_.kills, 0);
  sup_.OnConsole("[  101.000001] sysrq: Show State\n");
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_EQ(actions_.kills, 1);
  EXPECT_EQ(actions_.hung, 1);
  EXPECT_FALSE(sup_.up());
  EXPECT_TRUE(sup_.dying());  // until QEMU is gone
  ASSERT_TRUE(sup_.Done(id));
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.vm_died);
  EXPECT_EQ(r.status.signal(), SIGKILL);
  EXPECT_EQ(r.output,
            "going silent\n"
            "\nvigil: no console or test output for 10 s: the VM hangs; sysrq w and t asked for its tasks on the serial line, "
            "then killed\n"
            "---- console after sysrq w, t ----\n"
            "[  100.000000] still hung\n"
            "[  100.000001] sysrq: Show Blocked State\n[  100.000002] task:sleep state:S\n"
            "[  101.000001] sysrq: Show State\n");
}

TEST_F(SupervisorTest, HangWhenSysrqCouldNotBeSentSaysSo) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  clock_.Advance(seconds(11));
  auto ask = sup_.Tick();
  ASSERT_TRUE(ask);
  sup_.SysrqSent(*ask, "");
  clock_.Advance(milliseconds(1500));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_EQ(
      sup_.Take(id).output,
      "\nvigil: no console or test output for 10 s: the VM hangs; sysrq could not be sent, then killed\n");
}

TEST_F(SupervisorTest, ConsoleAndResultsTrafficPostponeTheHang) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  clock_.Advance(seconds(8));
  sup_.OnConsole("[   8.0] random: crng init done\n");
  clock_.Advance(seconds(8));
  sup_.OnChannel({Output(id, "still here\n")});
  clock_.Advance(seconds(8));
  EXPECT_FALSE(sup_.Tick());
  clock_.Advance(seconds(3));
  EXPECT_TRUE(sup_.Tick());
}

TEST_F(SupervisorTest, NoHangWithoutRunningRequestsOrWithoutATimeout) {
  clock_.Advance(seconds(60));
  EXPECT_FALSE(sup_.Tick());
  FakeClock clock;
  FakeActions actions;
  Supervisor untimed(SupervisorOptions{}, clock, actions);
  untimed.VmStarted();
  untimed.Begin(nullptr, 1 << 20);
  clock.Advance(seconds(3600));
  EXPECT_FALSE(untimed.Tick());
  // ... for an hour of silence: then the VM is wedged (a test without a
  // timeout has no deadline to be past).
  clock.Advance(seconds(1));
  auto ask = untimed.Tick();
  ASSERT_TRUE(ask);
  EXPECT_TRUE(untimed.dying());
  // A request with a deadline is judged by its deadline only.
  FakeClock clock2;
  FakeActions actions2;
  Supervisor timed(SupervisorOptions{}, clock2, actions2);
  timed.VmStarted();
  timed.Begin(nullptr, 1 << 20, std::chrono::hours(3));
  clock2.Advance(seconds(7200));
  EXPECT_FALSE(timed.Tick());
}

TEST_F(SupervisorTest, ARequestWithoutItsEndWellPastItsDeadlineIsAHangEvenWithoutHangDetection) {
  FakeClock clock;
  FakeActions actions;
  Supervisor sup(SupervisorOptions{}, clock, actions);  // no hang_timeout
  sup.VmStarted();
  uint32_t id = sup.Begin(nullptr, 1 << 20, seconds(100));
  uint32_t other = sup.Begin(nullptr, 1 << 20);  // no deadline of its own
  for (int i = 0; i < 99; ++i) {
    clock.Advance(seconds(1));
    sup.OnConsole("[   1.0] still printing\n");  // traffic does not postpone it
    EXPECT_FALSE(sup.Tick());
  }
  clock.Advance(seconds(1));
  auto ask = sup.Tick();
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->keys, (std::vector<std::string>{"w", "t"}));
  sup.SysrqSent(*ask, "from the keyboard");
  clock.Advance(milliseconds(1500));
  EXPECT_FALSE(sup.Tick());
  EXPECT_EQ(actions.kills, 1);
  ASSERT_TRUE(sup.Done(id));
  sys::ProcessResult r = sup.Take(id);
  EXPECT_TRUE(r.timed_out);
  EXPECT_NE(r.output.find("vigil: no end of the test well past its timeout: the VM does not respond; sysrq w and t "
                          "asked for its tasks from the keyboard, then killed"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(sup.Take(other).timed_out);  // the VM it ran in is gone too
}

TEST_F(SupervisorTest, ARequestThatEndsBeforeItsDeadlineIsNoHang) {
  FakeClock clock;
  FakeActions actions;
  Supervisor sup(SupervisorOptions{}, clock, actions);
  sup.VmStarted();
  uint32_t id = sup.Begin(nullptr, 1 << 20, seconds(10));
  clock.Advance(seconds(5));
  sup.OnChannel({End(id, 0)});
  ASSERT_TRUE(sup.Done(id));
  sup.Take(id);
  clock.Advance(seconds(60));
  EXPECT_FALSE(sup.Tick());
  EXPECT_EQ(actions.kills, 0);
}

TEST_F(SupervisorTest, SysrqSentForAVmNowGoneIsIgnored) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  clock_.Advance(seconds(11));
  auto ask = sup_.Tick();
  ASSERT_TRUE(ask);
  sup_.VmGone("console closed", clock_.Monotonic());
  EXPECT_TRUE(sup_.Take(id).vm_died);
  sup_.VmStarted();
  uint32_t next = sup_.Begin(nullptr, 1 << 20);
  sup_.SysrqSent(*ask, "on the serial line");
  clock_.Advance(milliseconds(1500));
  EXPECT_FALSE(sup_.Tick());
  EXPECT_FALSE(sup_.Done(next));
  EXPECT_EQ(actions_.kills, 0);
}

TEST_F(SupervisorTest, QemuGoneEndsRunningRequestsWithVmDied) {
  uint32_t done = sup_.Begin(nullptr, 1 << 20);
  uint32_t running = sup_.Begin(nullptr, 1 << 20);
  sup_.OnChannel({Output(running, "half\n"), End(done, 0)});
  int wakes = actions_.wakes;
  sup_.VmGone("console closed", clock_.Monotonic());
  EXPECT_GT(actions_.wakes, wakes);
  EXPECT_FALSE(sup_.up());
  sys::ProcessResult a = sup_.Take(done);
  EXPECT_FALSE(a.vm_died);
  EXPECT_EQ(a.status.exit_code(), 0);
  sys::ProcessResult b = sup_.Take(running);
  EXPECT_TRUE(b.vm_died);
  EXPECT_EQ(b.status.signal(), SIGKILL);
  EXPECT_EQ(b.output, "half\nvigil: the VM ended while this ran (console closed)\n");
  EXPECT_TRUE(sup_.fatal_to_gone_ms().empty());
}

TEST_F(SupervisorTest, FramesForUnknownOrDoneRequestsAreIgnored) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  sup_.OnChannel({End(id, 3), Output(id, "late\n"), End(id, 4), Output(99, "who?\n"), End(99)});
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_EQ(r.status.exit_code(), 3);
  EXPECT_EQ(r.output, "");
}

TEST_F(SupervisorTest, UnreadableEndIsExit127) {
  uint32_t id = sup_.Begin(nullptr, 1 << 20);
  sup_.OnChannel({Output(id, "x\n"), Frame{FrameType::kEnd, id, "{not json"}});
  sys::ProcessResult r = sup_.Take(id);
  EXPECT_EQ(r.status.exit_code(), 127);
  EXPECT_EQ(r.output, "x\n");
}

}  // namespace
}  // namespace vigil::vm
