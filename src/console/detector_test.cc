#include "console/detector.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace vigil::console {
namespace {

struct Seen {
  std::vector<std::pair<Detector::Event, std::string>> events;  // event, title or type
};

std::vector<Report> Scan(const std::string& log, Seen* seen = nullptr, size_t chunk = 0) {
  Detector d;
  if (seen) {
    d.set_listener([seen](Detector::Event e, const Report& r) {
      seen->events.emplace_back(e, e == Detector::Event::kCompleted ? r.title : std::string(TypeName(r.type)));
    });
  }
  if (chunk == 0) {
    d.Feed(log);
  } else {
    for (size_t i = 0; i < log.size(); i += chunk) d.Feed(std::string_view(log).substr(i, chunk));
  }
  d.Finish();
  return d.reports();
}

// A WARN_ON in a module's init, as 6.12 prints it.
const char kWarn[] =
    "[    5.100000] vigil_crash: loading out-of-tree module taints kernel.\n"
    "[    5.123456] ------------[ cut here ]------------\n"
    "[    5.123789] WARNING: CPU: 1 PID: 97 at /tmp/m/vigil_crash.c:30 vigil_crash_warn+0x9/0x10 [vigil_crash]\n"
    "[    5.124000] Modules linked in: vigil_crash(O+)\n"
    "[    5.124100] CPU: 1 UID: 0 PID: 97 Comm: insmod Tainted: G           O       6.12.57 #1\n"
    "[    5.124300] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2 04/01/2014\n"
    "[    5.124400] RIP: 0010:vigil_crash_warn+0x9/0x10 [vigil_crash]\n"
    "[    5.124500] Code: 90 90 90 0f 0b c3 cc cc\n"
    "[    5.124600] RSP: 0018:ffffb1c0c0237d50 EFLAGS: 00010246\n"
    "[    5.125000] Call Trace:\n"
    "[    5.125100]  <TASK>\n"
    "[    5.125200]  ? __warn+0x7d/0x120\n"
    "[    5.125300]  ? vigil_crash_warn+0x9/0x10 [vigil_crash]\n"
    "[    5.125400]  ? report_bug+0x160/0x190\n"
    "[    5.125500]  ? handle_bug+0x3c/0x80\n"
    "[    5.125600]  ? exc_invalid_op+0x17/0x70\n"
    "[    5.125700]  ? asm_exc_invalid_op+0x1a/0x20\n"
    "[    5.125800]  vigil_crash_init+0x30/0xff0 [vigil_crash]\n"
    "[    5.125900]  do_one_initcall+0x5b/0x320\n"
    "[    5.126000]  do_init_module+0x60/0x240\n"
    "[    5.126200]  __x64_sys_finit_module+0x181/0x340\n"
    "[    5.126300]  do_syscall_64+0x82/0x190\n"
    "[    5.126400]  entry_SYSCALL_64_after_hwframe+0x76/0x7e\n"
    "[    5.126500] RIP: 0033:0x4a5e3d\n"
    "[    5.126700]  </TASK>\n"
    "[    5.126800] ---[ end trace 0000000000000000 ]---\n"
    "[    5.200000] random: crng init done\n";

TEST(DetectorTest, WarningIsOneReportFromCutHereToEndTrace) {
  Seen seen;
  auto reports = Scan(kWarn, &seen);
  ASSERT_EQ(reports.size(), 1u);
  const Report& r = reports[0];
  EXPECT_EQ(r.type, ReportType::kWarning);
  EXPECT_EQ(r.title, "WARNING in vigil_crash_warn");
  EXPECT_EQ(r.guilty, "vigil_crash_warn");
  EXPECT_FALSE(r.fatal);
  EXPECT_EQ(r.start_line, 2u);
  EXPECT_EQ(r.end_line, 26u);
  EXPECT_EQ(r.fingerprint.size(), 16u);
  EXPECT_NE(r.text.find("WARNING: CPU: 1 PID: 97"), std::string::npos);
  EXPECT_EQ(r.text.find("crng"), std::string::npos);
  ASSERT_GE(r.frames.size(), 8u);
  EXPECT_EQ(r.frames[0].function, "__warn");
  EXPECT_FALSE(r.frames[0].reliable);
  EXPECT_EQ(r.frames[6].function, "vigil_crash_init");
  EXPECT_EQ(r.frames[6].module, "vigil_crash");
  ASSERT_EQ(seen.events.size(), 2u);
  EXPECT_EQ(seen.events[0].first, Detector::Event::kStarted);
  EXPECT_EQ(seen.events[0].second, "warning");
  EXPECT_EQ(seen.events[1].second, "WARNING in vigil_crash_warn");
}

TEST(DetectorTest, ByteByByteFeedingFindsTheSameReport) {
  auto whole = Scan(kWarn);
  auto bytes = Scan(kWarn, nullptr, 1);
  auto odd = Scan(kWarn, nullptr, 7);
  ASSERT_EQ(bytes.size(), 1u);
  ASSERT_EQ(odd.size(), 1u);
  EXPECT_EQ(bytes[0].title, whole[0].title);
  EXPECT_EQ(bytes[0].text, whole[0].text);
  EXPECT_EQ(odd[0].fingerprint, whole[0].fingerprint);
  EXPECT_EQ(odd[0].end_line, whole[0].end_line);
}

TEST(DetectorTest, APanicAfterALongUnfinishedUserLineIsFound) {
  // User space wrote 5000 bytes without a newline, then the kernel panicked:
  // the panic's first line starts past the line cap.
  std::string log = "[    1.000000] booted\n" + std::string(5000, 'A') +
                    "[   12.345678] Kernel panic - not syncing: Fatal exception\n"
                    "[   12.350000] CPU: 0 PID: 1 Comm: init Not tainted 6.12.57 #1\n"
                    "[   12.360000] ---[ end Kernel panic - not syncing: Fatal exception ]---\n";
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}}) {
    auto reports = Scan(log, nullptr, chunk);
    ASSERT_EQ(reports.size(), 1u) << "chunk " << chunk;
    EXPECT_TRUE(reports[0].fatal);
    EXPECT_NE(reports[0].title.find("Fatal exception"), std::string::npos) << reports[0].title;
  }
  // A long line with no kernel line in it is only cut.
  EXPECT_TRUE(Scan("[    1.0] x\n" + std::string(100000, 'B') + "\n").empty());
}

TEST(DetectorTest, FingerprintIgnoresAddressesOffsetsAndTimestamps) {
  std::string other = kWarn;
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"5.12", "9.87"}, {"+0x30/0xff0", "+0x44/0x1000"}, {"PID: 97", "PID: 1234"}, {"0x4a5e3d", "0x1234"}}) {
    for (size_t p = other.find(from); p != std::string::npos; p = other.find(from, p + to.size()))
      other.replace(p, from.size(), to);
  }
  auto a = Scan(kWarn);
  auto b = Scan(other);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].fingerprint, b[0].fingerprint);
}

TEST(DetectorTest, NullDereferenceOopsAndPanicAreOneFatalReport) {
  const char log[] =
      "[   10.000001] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
      "[   10.000002] #PF: supervisor read access in kernel mode\n"
      "[   10.000003] #PF: error_code(0x0000) - not-present page\n"
      "[   10.000004] PGD 0 P4D 0 \n"
      "[   10.000005] Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI\n"
      "[   10.000006] CPU: 0 UID: 0 PID: 90 Comm: insmod Tainted: G           O       6.12.57 #1\n"
      "[   10.000007] RIP: 0010:vigil_crash_null.constprop.0+0x5/0x10 [vigil_crash]\n"
      "[   10.000008] Call Trace:\n"
      "[   10.000009]  <TASK>\n"
      "[   10.000010]  ? __die+0x23/0x70\n"
      "[   10.000011]  ? page_fault_oops+0x17d/0x4c0\n"
      "[   10.000012]  vigil_crash_init+0x30/0xff0 [vigil_crash]\n"
      "[   10.000013]  do_one_initcall+0x5b/0x320\n"
      "[   10.000014]  </TASK>\n"
      "[   10.000015] Modules linked in: vigil_crash(O+)\n"
      "[   10.000016] CR2: 0000000000000008\n"
      "[   10.000017] ---[ end trace 0000000000000000 ]---\n"
      "[   10.000018] RIP: 0010:vigil_crash_null.constprop.0+0x5/0x10 [vigil_crash]\n"
      "[   10.000019] RSP: 0018:ffffb1c0c0237d50 EFLAGS: 00010246\n"
      "[   10.000020] Kernel panic - not syncing: Fatal exception\n"
      "[   10.000021] Kernel Offset: 0x1000000 from 0xffffffff81000000\n"
      "[   10.000022] ---[ end Kernel panic - not syncing: Fatal exception ]---\n";
  Seen seen;
  auto reports = Scan(log, &seen);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].type, ReportType::kNullDeref);
  EXPECT_EQ(reports[0].title, "BUG: unable to handle kernel NULL pointer dereference in vigil_crash_null");
  EXPECT_TRUE(reports[0].fatal);
  EXPECT_EQ(reports[0].start_line, 1u);
  EXPECT_EQ(reports[0].end_line, 22u);
  ASSERT_EQ(seen.events.size(), 3u);
  EXPECT_EQ(seen.events[1].first, Detector::Event::kFatal);
}

TEST(DetectorTest, PanicOnWarnIsTitledByTheWarning) {
  const char log[] =
      "[    3.000000] ------------[ cut here ]------------\n"
      "[    3.000001] WARNING: CPU: 0 PID: 1 at net/mptcp/protocol.c:123 mptcp_sendmsg+0x10/0x200\n"
      "[    3.000002] Modules linked in:\n"
      "[    3.000003] Kernel panic - not syncing: kernel: panic_on_warn set ...\n"
      "[    3.000004] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0 #1\n"
      "[    3.000005] Call Trace:\n"
      "[    3.000006]  <TASK>\n"
      "[    3.000007]  dump_stack_lvl+0x44/0x5c\n"
      "[    3.000008]  panic+0x118/0x2ed\n"
      "[    3.000009]  __warn.cold+0x93/0xcf\n"
      "[    3.000010]  mptcp_sendmsg+0x10/0x200\n"
      "[    3.000011]  </TASK>\n"
      "[    3.000012] Kernel Offset: disabled\n"
      "[    3.000013] ---[ end Kernel panic - not syncing: kernel: panic_on_warn set ... ]---\n";
  auto reports = Scan(log);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].type, ReportType::kWarning);
  EXPECT_EQ(reports[0].title, "WARNING in mptcp_sendmsg");
  EXPECT_TRUE(reports[0].fatal);
}

TEST(DetectorTest, RefcountWarningNamesTheCaller) {
  const char log[] =
      "[    4.0] ------------[ cut here ]------------\n"
      "[    4.1] refcount_t: underflow; use-after-free.\n"
      "[    4.2] WARNING: CPU: 0 PID: 80 at lib/refcount.c:28 refcount_warn_saturate+0xba/0x110\n"
      "[    4.3] Modules linked in: vigil_crash(O+)\n"
      "[    4.4] CPU: 0 PID: 80 Comm: insmod Tainted: G           O      6.1.0 #1\n"
      "[    4.5] RIP: 0010:refcount_warn_saturate+0xba/0x110\n"
      "[    4.6] Call Trace:\n"
      "[    4.7]  <TASK>\n"
      "[    4.8]  vigil_crash_refcount+0x25/0x30 [vigil_crash]\n"
      "[    4.9]  do_one_initcall+0x5b/0x320\n"
      "[    5.0]  </TASK>\n"
      "[    5.1] ---[ end trace 0000000000000000 ]---\n";
  auto reports = Scan(log);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].type, ReportType::kRefcount);
  // syzkaller's convention: no frame with "refcount" in its name is to
  // blame (refcount_warn_saturate, refcount_dec_and_test, ...), so the
  // module's vigil_crash_refcount is passed over too.
  EXPECT_EQ(reports[0].title, "WARNING: refcount bug in do_one_initcall");
  EXPECT_EQ(reports[0].start_line, 1u);
}

TEST(DetectorTest, ListCorruptionBugIsOneReport) {
  const char log[] =
      "[    6.0] list_del corruption, ffff888003c3e000->next is LIST_POISON1 (dead000000000100)\n"
      "[    6.1] ------------[ cut here ]------------\n"
      "[    6.2] kernel BUG at lib/list_debug.c:56!\n"
      "[    6.3] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n"
      "[    6.4] CPU: 0 UID: 0 PID: 80 Comm: insmod Tainted: G           O       6.12.57 #1\n"
      "[    6.5] RIP: 0010:__list_del_entry_valid_or_report+0x83/0xa0\n"
      "[    6.6] Call Trace:\n"
      "[    6.7]  <TASK>\n"
      "[    6.8]  ? die+0x36/0x90\n"
      "[    6.9]  vigil_crash_listcorrupt+0x45/0x60 [vigil_crash]\n"
      "[    7.0]  </TASK>\n"
      "[    7.1] ---[ end trace 0000000000000000 ]---\n"
      "[    7.2] RIP: 0010:__list_del_entry_valid_or_report+0x83/0xa0\n"
      "[    7.3] note: insmod[80] exited with irqs disabled\n"
      "[    7.4] virtio_net virtio0 eth0: renamed\n";
  auto reports = Scan(log);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].type, ReportType::kListCorruption);
  EXPECT_EQ(reports[0].title, "BUG: corrupted list in vigil_crash_listcorrupt");
  EXPECT_FALSE(reports[0].fatal);
  EXPECT_EQ(reports[0].end_line, 14u);
}

TEST(DetectorTest, HungTaskSkipsTheFramesItWaitsIn) {
  const char log[] =
      "[   30.0] INFO: task insmod:85 blocked for more than 5 seconds.\n"
      "[   30.1]       Tainted: G           O       6.12.57 #1\n"
      "[   30.2] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n"
      "[   30.3] task:insmod          state:D stack:0     pid:85    tgid:85    ppid:1      flags:0x00004002\n"
      "[   30.4] Call Trace:\n"
      "[   30.5]  <TASK>\n"
      "[   30.6]  __schedule+0x3f0/0xb40\n"
      "[   30.7]  schedule+0x27/0xf0\n"
      "[   30.8]  schedule_timeout+0x15d/0x170\n"
      "[   30.9]  __wait_for_common+0x93/0x1a0\n"
      "[   31.0]  vigil_crash_hungtask+0x30/0x40 [vigil_crash]\n"
      "[   31.1]  do_one_initcall+0x5b/0x320\n"
      "[   31.2]  </TASK>\n"
      "[   31.3] Showing all locks held in the system:\n"
      "[   31.4] 1 lock held by khungtaskd/30:\n"
      "[   31.5]  #0: ffffffff9e5b5c60 (rcu_read_lock){....}-{1:2}, at: debug_show_all_locks+0x23/0x190\n"
      "[   40.0] reboot: Power down\n";
  auto reports = Scan(log);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].type, ReportType::kHungTask);
  EXPECT_EQ(reports[0].title, "INFO: task hung in vigil_crash_hungtask");
  EXPECT_EQ(reports[0].end_line, 16u);  // with the locks held
}

TEST(DetectorTest, KasanTitleCarriesTheAccess) {
  const char log[] =
      "[   12.0] ==================================================================\n"
      "[   12.1] BUG: KASAN: slab-use-after-free in tcp_v4_rcv+0x1234/0x2000\n"
      "[   12.2] Read of size 8 at addr ffff888012345678 by task swapper/0/0\n"
      "[   12.3] \n"
      "[   12.4] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 6.12.0 #1\n"
      "[   12.5] Call Trace:\n"
      "[   12.6]  <IRQ>\n"
      "[   12.7]  dump_stack_lvl+0x44/0x5c\n"
      "[   12.8]  print_report+0x17c/0x4b0\n"
      "[   12.9]  kasan_report+0xbd/0xf0\n"
      "[   13.0]  tcp_v4_rcv+0x1234/0x2000\n"
      "[   13.1]  </IRQ>\n"
      "[   13.2] ==================================================================\n";
  auto reports = Scan(log);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].type, ReportType::kKasan);
  EXPECT_EQ(reports[0].title, "KASAN: slab-use-after-free Read in tcp_v4_rcv");
}

TEST(DetectorTest, LookalikesAreNotCrashes) {
  // User space writing report-like text to a timestamped console, sysrq
  // backtraces and lockdep's notice.
  const char log[] =
      "[    1.000000] Linux version 6.12.57 (debian-kernel@lists.debian.org)\n"
      "WARNING: CPU: 0 PID: 1 at fake.c:1 fake+0x0/0x10\n"
      "BUG: this is only text\n"
      "Kernel panic - not syncing: just text\n"
      "[    2.000000] sysrq: Show backtrace of all active CPUs\n"
      "[    2.000001] NMI backtrace for cpu 0\n"
      "[    2.000002] CPU: 0 UID: 0 PID: 1 Comm: sh Not tainted 6.12.57 #1\n"
      "[    2.000003] Call Trace:\n"
      "[    2.000004]  <TASK>\n"
      "[    2.000005]  dump_stack_lvl+0x44/0x5c\n"
      "[    2.000006]  nmi_cpu_backtrace+0xb6/0x100\n"
      "[    2.000007]  </TASK>\n"
      "[    2.100000] sysrq: Show Blocked State\n"
      "[    2.100001] task:kworker/0:1     state:D stack:0     pid:10    tgid:10\n"
      "[    2.200000] INFO: lockdep is turned off.\n"
      "[    2.300000] WARNING: Unprivileged eBPF is enabled with eIBRS on, data leaks possible via Spectre v2 BHB attacks!\n";
  EXPECT_TRUE(Scan(log).empty());
}

TEST(DetectorTest, WithoutTimestampsAReportNeedsTheKernelsStructure) {
  const char lookalike[] =
      "# running test\n"
      "WARNING: CPU: 0 PID: 1 at fake.c:1 fake+0x0/0x10\n"
      "ok 1 test\n"
      "ok 2 test\n"
      "ok 3 test\n"
      "ok 4 test\n"
      "ok 5 test\n"
      "ok 6 test\n"
      "ok 7 test\n"
      "ok 8 test\n"
      "ok 9 test\n"
      "ok 10 test\n"
      "ok 11 test\n"
      "ok 12 test\n"
      "ok 13 test\n"
      "ok 14 test\n";
  EXPECT_TRUE(Scan(lookalike).empty());
  const char real[] =
      "BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
      "#PF: supervisor read access in kernel mode\n"
      "Oops: 0000 [#1] SMP\n"
      "CPU: 1 PID: 4 Comm: kworker Not tainted 6.1.0 #1\n"
      "RIP: 0010:foo_bar+0x5/0x10\n";
  auto reports = Scan(real);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "BUG: unable to handle kernel NULL pointer dereference in foo_bar");
  EXPECT_FALSE(reports[0].fatal);
}

TEST(DetectorTest, ReportStartingMidLineAndKtapInterleaved) {
  const char log[] =
      "[    1.0] Linux version 6.12.57\n"
      "ok 1 first[    9.100000] ------------[ cut here ]------------\n"
      "[    9.100001] WARNING: CPU: 0 PID: 60 at vigil_crash.c:30 vigil_crash_warn+0x9/0x10 [vigil_crash]\n"
      "ok 2 second\n"
      "[    9.100002] Modules linked in: vigil_crash(O)\n"
      "not ok 3 third\n"
      "[    9.100003] CPU: 0 PID: 60 Comm: insmod Tainted: G O 6.12.57 #1\n"
      "[    9.100004] RIP: 0010:vigil_crash_warn+0x9/0x10 [vigil_crash]\n"
      "[    9.100005] Call Trace:\n"
      "[    9.100006]  <TASK>\n"
      "[    9.100007]  vigil_crash_init+0x30/0xff0 [vigil_crash]\n"
      "[    9.100008]  </TASK>\n"
      "[    9.100009] ---[ end trace 0000000000000000 ]---\n";
  auto reports = Scan(log);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].start_line, 2u);
  EXPECT_EQ(reports[0].end_line, 13u);
  EXPECT_EQ(reports[0].title, "WARNING in vigil_crash_warn");
  EXPECT_EQ(reports[0].text.find("ok 2"), std::string::npos);
  EXPECT_EQ(reports[0].text.find("first"), std::string::npos);
}

// A test that prints the kernel's log (`dmesg`, kselftest's "# " before
// each line) shows a report the console already showed: the same lines with
// the same timestamps are one report, not two. A report only the replay
// shows (the console's loglevel hid it) is still found, and a second
// WARNING with its own timestamps is a report of its own.
TEST(DetectorTest, AReplayedReportIsNotReadTwice) {
  std::string replay_ktap, replay_raw;
  std::string lines = kWarn;
  for (size_t at = 0, nl; (nl = lines.find('\n', at)) != std::string::npos; at = nl + 1) {
    replay_ktap += "# " + lines.substr(at, nl - at + 1);
    replay_raw += lines.substr(at, nl - at + 1);
  }
  std::string log = std::string(kWarn) + "TAP version 13\n1..1\n" + replay_ktap + replay_raw + "ok 1 dmesg.sh\n";
  EXPECT_EQ(Scan(log).size(), 1u);
  EXPECT_EQ(Scan(log, nullptr, 7).size(), 1u);
  // Only the replay: found.
  std::string only = "[    1.0] Linux version 6.12.57\nTAP version 13\n1..1\n" + replay_ktap;
  auto found = Scan(only);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].title, "WARNING in vigil_crash_warn");
  // The same WARNING again later, with new timestamps: a second report.
  std::string again = kWarn;
  for (size_t at = 0; (at = again.find("[    5.", at)) != std::string::npos; at += 7) again.replace(at, 7, "[    7.");
  EXPECT_EQ(Scan(std::string(kWarn) + again).size(), 2u);
  // A machine that boots again prints its lines at the same times again:
  // "Linux version" at the start of a line, "Booting the kernel", or the VM
  // supervisor's NewBoot() begin afresh.
  std::string boot = "[    0.000000] Linux version 6.12.57 (gcc 12.2.0) #1 SMP\n";
  EXPECT_EQ(Scan(boot + kWarn + boot + kWarn).size(), 2u);
  EXPECT_EQ(Scan(boot + kWarn + "Booting the kernel.\n" + kWarn).size(), 3u);  // and the reboot
  EXPECT_EQ(Scan(boot + kWarn + "# " + boot + replay_ktap).size(), 1u);  // a replay of the whole log
  Detector d;
  d.Feed(kWarn);
  d.NewBoot();
  d.Feed(kWarn);
  d.Finish();
  EXPECT_EQ(d.reports().size(), 2u);
}

// A console with caller ids (CONFIG_PRINTK_CALLER) or levels shows the
// time with more around it than `dmesg` prints: the time is what tells a
// replay, so it is still one report.
TEST(DetectorTest, AReplayWithoutTheConsolesCallerIdIsNotReadTwice) {
  std::string with_ids, with_levels;
  std::string lines = kWarn;
  for (size_t at = 0, nl; (nl = lines.find('\n', at)) != std::string::npos; at = nl + 1) {
    std::string line = lines.substr(at, nl - at + 1);
    with_ids += line.substr(0, 14) + "[    T97]" + line.substr(14);
    with_levels += "<4>" + line;
  }
  std::string raw_replay = "TAP version 13\n1..1\n" + std::string(kWarn) + "ok 1 dmesg.sh\n";
  EXPECT_EQ(Scan(with_ids + raw_replay).size(), 1u);
  EXPECT_EQ(Scan(with_levels + raw_replay).size(), 1u);
  auto reports = Scan(with_ids);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].title, "WARNING in vigil_crash_warn");
}

TEST(DetectorTest, PrintkCallerAndLevelPrefixes) {
  const char log[] =
      "<4>[    7.000000][  T101] BUG: scheduling while atomic: insmod/101/0x00000002\n"
      "<4>[    7.000001][  T101] Modules linked in: vigil_crash(O+)\n"
      "<4>[    7.000002][  T101] CPU: 0 PID: 101 Comm: insmod\n"
      "<4>[    7.000003][  T101] Call Trace:\n"
      "<4>[    7.000004][  T101]  <TASK>\n"
      "<4>[    7.000005][  T101]  dump_stack_lvl+0x44/0x5c\n"
      "<4>[    7.000006][  T101]  __schedule_bug.cold+0x8e/0x9b\n"
      "<4>[    7.000007][  T101]  __schedule+0x5d/0xb40\n"
      "<4>[    7.000008][  T101]  schedule+0x27/0xf0\n"
      "<4>[    7.000009][  T101]  msleep+0x2d/0x40\n"
      "<4>[    7.000010][  T101]  vigil_crash_atomicsleep+0x2e/0x40 [vigil_crash]\n"
      "<4>[    7.000011][  T101]  </TASK>\n";
  auto reports = Scan(log);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].type, ReportType::kAtomicSleep);
  // The first frame outside the scheduler, as syzbot names it.
  EXPECT_EQ(reports[0].title, "BUG: scheduling while atomic in msleep");
}

TEST(DetectorTest, TwoReportsAndQuietPeriod) {
  Detector d;
  std::vector<std::string> completed;
  d.set_listener([&](Detector::Event e, const Report& r) {
    if (e == Detector::Event::kCompleted) completed.push_back(r.title);
  });
  d.Feed(
      "[  1.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [insmod:90]\n"
      "[  1.1] Modules linked in: vigil_crash(O+)\n"
      "[  1.2] CPU: 0 PID: 90 Comm: insmod\n"
      "[  1.3] RIP: 0010:vigil_crash_softlockup+0x20/0x40 [vigil_crash]\n"
      "[  1.4] Call Trace:\n"
      "[  1.5]  <IRQ>\n");
  EXPECT_TRUE(d.report_open());
  d.Feed("[  2.1]  </IRQ>\n[  2.2]  <TASK>\n[  2.3]  vigil_crash_init+0x30/0xff0 [vigil_crash]\n"
         "[  2.3]  do_syscall_64+0x38/0x90\n[  2.4]  </TASK>\n");
  d.Feed("[  3.0] Oops: divide error: 0000 [#1] PREEMPT SMP NOPTI\n[  3.1] CPU: 0 PID: 91 Comm: insmod\n"
         "[  3.2] RIP: 0010:vigil_crash_divide+0x10/0x20 [vigil_crash]\n");
  ASSERT_EQ(completed.size(), 1u);
  // A stall is named by the last frame before the system call or worker
  // that started the work.
  EXPECT_EQ(completed[0], "BUG: soft lockup in vigil_crash_init");
  d.Quiet();
  ASSERT_EQ(completed.size(), 2u);
  EXPECT_EQ(completed[1], "divide error in vigil_crash_divide");
  EXPECT_FALSE(d.report_open());
}

TEST(DetectorTest, BoundedOnHostileInput) {
  DetectorOptions o;
  o.max_reports = 5;
  o.max_report_bytes = 1024;
  Detector d(o);
  for (int i = 0; i < 50; ++i) {
    // (Each at its own time: the same lines at the same time are a replay.)
    std::string t = std::to_string(i + 1);
    d.Feed("[ " + t + ".0] BUG: unable to handle page fault for address: ffffffffc0000000\n[ " + t +
           ".1] CPU: 0 PID: 1 Comm: x\n" + std::string(100000, 'A') + "\n[ " + t + ".2] " + std::string(5000, '\0') +
           "\n");
  }
  d.Feed(std::string(1 << 20, '\xff'));  // one long line without '\n'
  d.Finish();
  EXPECT_EQ(d.reports().size(), 5u);
  EXPECT_EQ(d.dropped_reports(), 45u);
  for (const Report& r : d.reports()) {
    EXPECT_LE(r.text.size(), 1024u);
    EXPECT_EQ(r.type, ReportType::kPageFault);
  }
}

TEST(DetectorTest, PanicAloneAndStackProtector) {
  auto a = Scan(
      "[ 1.0] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n"
      "[ 1.1] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1\n"
      "[ 1.2] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].type, ReportType::kPanic);
  // Numbers in titles are replaced: one bug, one title.
  EXPECT_EQ(a[0].title, "kernel panic: VFS: Unable to mount root fs on unknown-block(NUM,NUM)");
  EXPECT_TRUE(a[0].fatal);
  auto b = Scan(
      "[ 1.0] Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: tcp_rcv+0x2a0/0x2b0\n"
      "[ 1.1] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1\n");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].type, ReportType::kStackProtector);
  EXPECT_EQ(b[0].title, "kernel panic: stack is corrupted in tcp_rcv");
}

struct KindCase {
  const char* name;
  const char* log;
  ReportType type;
  const char* title;
};

// Report kinds the crash module cannot make on a distribution kernel
// (sanitizers, lockdep, kmemleak) and older or newer formats, as printed.
const KindCase kKinds[] = {
    {"kcsan",
     "[ 10.0] ==================================================================\n"
     "[ 10.0] BUG: KCSAN: data-race in tcp_poll / tcp_sendmsg_locked\n"
     "[ 10.0] \n"
     "[ 10.0] write to 0xffff88810a7c1234 of 4 bytes by task 1 on cpu 0:\n"
     "[ 10.0]  tcp_sendmsg_locked+0x1c2/0x2000\n"
     "[ 10.0] \n"
     "[ 10.0] read to 0xffff88810a7c1234 of 4 bytes by task 2 on cpu 1:\n"
     "[ 10.0]  tcp_poll+0x3a/0x400\n"
     "[ 10.0] CPU: 1 PID: 2 Comm: a Not tainted 6.12.0 #1\n"
     "[ 10.0] ==================================================================\n",
     ReportType::kKcsan, "KCSAN: data-race in tcp_poll / tcp_sendmsg_locked"},
    {"kmsan",
     "[ 10.0] BUG: KMSAN: uninit-value in mptcp_recvmsg+0x12/0x400\n"
     "[ 10.0]  mptcp_recvmsg+0x12/0x400\n"
     "[ 10.0]  inet_recvmsg+0x40/0x100\n"
     "[ 10.0] CPU: 1 PID: 2 Comm: a Not tainted 6.12.0 #1\n",
     ReportType::kKmsan, "KMSAN: uninit-value in mptcp_recvmsg"},
    {"kfence",
     "[ 10.0] ==================================================================\n"
     "[ 10.0] BUG: KFENCE: use-after-free read in vigil_uaf+0x1c/0x30 [vigil]\n"
     "[ 10.0] \n"
     "[ 10.0] Use-after-free read at 0x00000000deadbeef (in kfence-#12):\n"
     "[ 10.0]  vigil_uaf+0x1c/0x30 [vigil]\n"
     "[ 10.0] CPU: 0 PID: 1 Comm: insmod Not tainted 6.12.0 #1\n",
     ReportType::kKfence, "KFENCE: use-after-free read in vigil_uaf"},
    {"ubsan",
     "[ 1.0] ================================================================================\n"
     "[ 1.0] UBSAN: array-index-out-of-bounds in net/foo.c:12:34\n"
     "[ 1.0] index 5 is out of range for type 'int [4]'\n"
     "[ 1.0] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1\n"
     "[ 1.0] Call Trace:\n"
     "[ 1.0]  <TASK>\n"
     "[ 1.0]  dump_stack_lvl+0x44/0x5c\n"
     "[ 1.0]  __ubsan_handle_out_of_bounds+0xa1/0xe0\n"
     "[ 1.0]  foo_index+0x12/0x40\n"
     "[ 1.0]  </TASK>\n"
     "[ 1.0] ================================================================================\n",
     ReportType::kUbsan, "UBSAN: array-index-out-of-bounds in foo_index"},
    {"lockdep circular",
     "[ 100.0] ======================================================\n"
     "[ 100.0] WARNING: possible circular locking dependency detected\n"
     "[ 100.0] 6.1.0 #1 Not tainted\n"
     "[ 100.0] ------------------------------------------------------\n"
     "[ 100.0] a/1234 is trying to acquire lock:\n"
     "[ 100.0] ffff888012345678 (&sb->s_type->i_mutex_key#10){+.+.}-{3:3}, at: "
     "ext4_buffered_write_iter+0xb0/0x460\n"
     "[ 100.0] \n"
     "[ 100.0] but task is already holding lock:\n"
     "[ 100.0] ffff888012345000 (&mm->mmap_lock){++++}-{3:3}, at: do_user_addr_fault+0x1b6/0x6a0\n"
     "[ 100.0] stack backtrace:\n"
     "[ 100.0] CPU: 0 PID: 1234 Comm: a Not tainted 6.1.0 #1\n"
     "[ 100.0] Call Trace:\n"
     "[ 100.0]  <TASK>\n"
     "[ 100.0]  dump_stack_lvl+0x44/0x5c\n"
     "[ 100.0]  check_noncircular+0x1a/0x20\n"
     "[ 100.0]  __lock_acquire+0x1234/0x2000\n"
     "[ 100.0]  down_write+0x3a/0x50\n"
     "[ 100.0]  ext4_buffered_write_iter+0xb0/0x460\n"
     "[ 100.0]  </TASK>\n",
     ReportType::kLockdep, "possible deadlock in ext4_buffered_write_iter"},
    {"lockdep inconsistent",
     "[ 5.0] WARNING: inconsistent lock state\n"
     "[ 5.0] --------------------------------\n"
     "[ 5.0] inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage.\n"
     "[ 5.0] swapper/0/0 [HC0[0]:SC1[1]:HE1:SE0] takes:\n"
     "[ 5.0] ffff888012345678 (&pm->lock){+.?.}-{2:2}, at: mptcp_pm_nl_work+0x33/0x100\n"
     "[ 5.0] CPU: 0 PID: 0 Comm: swapper/0 Not tainted 6.1.0 #1\n"
     "[ 5.0] Call Trace:\n"
     "[ 5.0]  <IRQ>\n"
     "[ 5.0]  dump_stack_lvl+0x44/0x5c\n"
     "[ 5.0]  mark_lock+0x1/0x2\n"
     "[ 5.0]  _raw_spin_lock+0x30/0x40\n"
     "[ 5.0]  mptcp_pm_nl_work+0x33/0x100\n"
     "[ 5.0]  </IRQ>\n",
     ReportType::kLockdep, "inconsistent lock state in mptcp_pm_nl_work"},
    {"kmemleak from debugfs",
     "BUG: memory leak\n"
     "unreferenced object 0xffff888112345678 (size 32):\n"
     "  comm \"insmod\", pid 1234, jiffies 4294967\n"
     "  hex dump (first 32 bytes):\n"
     "    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................\n"
     "  backtrace (crc 0):\n"
     "    [<ffffffff81234567>] kmalloc_trace+0x26/0x90\n"
     "    [<ffffffff81234600>] vigil_leak+0x12/0x40 [vigil]\n"
     "    [<ffffffff81234700>] do_one_initcall+0x5b/0x320\n",
     ReportType::kKmemleak, "memory leak in vigil_leak"},
    {"double fault",
     "[ 2.0] PANIC: double fault, error_code: 0x0\n"
     "[ 2.0] CPU: 0 PID: 1 Comm: a Not tainted 6.1.0 #1\n"
     "[ 2.0] RIP: 0010:recurse_forever+0x8/0x20\n"
     "[ 2.0] Kernel panic - not syncing: Machine halted.\n",
     ReportType::kDoubleFault, "PANIC: double fault in recurse_forever"},
    {"hard lockup",
     "[ 30.0] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1\n"
     "[ 30.0] Modules linked in: vigil\n"
     "[ 30.0] CPU: 1 PID: 80 Comm: spin Not tainted 6.1.0 #1\n"
     "[ 30.0] RIP: 0010:spin_with_irqs_off+0x10/0x20 [vigil]\n",
     ReportType::kHardLockup, "BUG: hard lockup in spin_with_irqs_off"},
    {"sleeping in atomic context",
     "[ 3.0] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580\n"
     "[ 3.0] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: swapper/0\n"
     "[ 3.0] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1\n"
     "[ 3.0] Call Trace:\n"
     "[ 3.0]  <TASK>\n"
     "[ 3.0]  dump_stack_lvl+0x44/0x5c\n"
     "[ 3.0]  __might_resched.cold+0xcc/0xdf\n"
     "[ 3.0]  mutex_lock+0x1a/0x40\n"
     "[ 3.0]  mptcp_nl_cmd_add_addr+0x11/0x200\n"
     "[ 3.0]  </TASK>\n",
     ReportType::kAtomicSleep, "BUG: sleeping function called from invalid context in mptcp_nl_cmd_add_addr"},
    {"old WARNING format",
     "WARNING: at drivers/net/foo.c:123 foo_xmit+0x12/0x40 [foo]()\n"
     "Modules linked in: foo\n"
     "Pid: 1, comm: swapper Not tainted 2.6.32 #1\n"
     "Call Trace:\n"
     " [<ffffffff81062c3f>] warn_slowpath_common+0x7f/0xc0\n"
     " [<ffffffff81062c9a>] warn_slowpath_null+0x1a/0x20\n"
     " [<ffffffffa0001234>] foo_xmit+0x12/0x40 [foo]\n"
     "---[ end trace 4eaa2a86a8e2da22 ]---\n",
     ReportType::kWarning, "WARNING in foo_xmit"},
    {"new WARNING format",
     "[ 9.0] WARNING: net/ipv4/tcp.c:123 at tcp_sendmsg+0x12/0x40, CPU#1: a/123\n"
     "[ 9.0] Modules linked in:\n"
     "[ 9.0] CPU: 1 UID: 0 PID: 123 Comm: a Not tainted 6.18.0 #1\n"
     "[ 9.0] RIP: 0010:tcp_sendmsg+0x12/0x40\n"
     "[ 9.0] ---[ end trace 0000000000000000 ]---\n",
     ReportType::kWarning, "WARNING in tcp_sendmsg"},
    {"netdev refcount without timestamps",
     "unregister_netdevice: waiting for veth0 to become free. Usage count = 2\n",
     ReportType::kNetdevRefcnt, "unregister_netdevice: waiting for DEV to become free"},
    {"workqueue lockup",
     "[ 40.0] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 32s!\n"
     "[ 40.0] Showing busy workqueues and worker pools:\n"
     "[ 40.0] workqueue events: flags=0x0\n"
     "[ 40.0]   pwq 0: cpus=0 node=0 flags=0x0 nice=0 active=1/256 refcnt=2\n",
     ReportType::kWorkqueueLockup, "BUG: workqueue lockup"},
    {"page fault",
     "[ 7.0] BUG: unable to handle page fault for address: ffffc90000a00000\n"
     "[ 7.0] #PF: supervisor read access in kernel mode\n"
     "[ 7.0] Oops: 0000 [#1] PREEMPT SMP NOPTI\n"
     "[ 7.0] RIP: 0010:read_past_end+0x5/0x10\n",
     ReportType::kPageFault, "BUG: unable to handle kernel paging request in read_past_end"},
};

TEST(DetectorTest, EveryKindHasItsTypeAndTitle) {
  for (const KindCase& c : kKinds) {
    SCOPED_TRACE(c.name);
    auto reports = Scan(c.log);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].type, c.type);
    EXPECT_EQ(reports[0].title, c.title);
  }
}

TEST(DetectorTest, TitlesInTheBackgroundAreTheSame) {
  // Every kind, many times over with renamed functions: more reports than
  // the first reserve (1024), so the titler is drained before they move.
  std::string log = std::string(kWarn);
  for (int round = 0; round < 160; ++round) {
    for (const KindCase& c : kKinds) {
      std::string one = c.log;
      for (size_t at = one.find("vigil_crash_"); at != std::string::npos; at = one.find("vigil_crash_", at + 1)) {
        one.replace(at, 12, "vigil_r" + std::to_string(round % 7) + "_");
      }
      // Each round at its own time ("[    5.1]" -> "[    0125.1]"): the same
      // lines at the same time would be a replay of the first round.
      std::string timed;
      for (size_t at = 0; at < one.size();) {
        size_t end = std::min(one.find('\n', at), one.size() - 1) + 1;
        std::string line = one.substr(at, end - at);
        size_t digit = line.find_first_not_of(' ', 1);
        if (line[0] == '[' && digit != std::string::npos) line.insert(digit, fmt::format("{:03d}", round + 1));
        timed += line;
        at = end;
      }
      one = timed;
      log += one;
    }
  }
  DetectorOptions options;
  options.max_reports = 5000;
  auto run = [&](bool background, size_t chunk) {
    options.title_in_background = background;
    Detector d(options);
    for (size_t i = 0; i < log.size(); i += chunk) d.Feed(std::string_view(log).substr(i, chunk));
    d.Finish();
    return d.reports();
  };
  std::vector<Report> inline_titles = run(false, 4096);
  std::vector<Report> background = run(true, 777);
  ASSERT_GT(inline_titles.size(), 1024u);
  ASSERT_EQ(background.size(), inline_titles.size());
  for (size_t i = 0; i < inline_titles.size(); ++i) {
    EXPECT_EQ(background[i].title, inline_titles[i].title) << i;
    EXPECT_EQ(background[i].guilty, inline_titles[i].guilty) << i;
    EXPECT_EQ(background[i].fingerprint, inline_titles[i].fingerprint) << i;
  }
  // A detector dropped before Finish() stops its titler first.
  options.title_in_background = true;
  auto d = std::make_unique<Detector>(options);
  d->Feed(log.substr(0, log.size() / 2));
  d.reset();
}

TEST(FrameTest, ParsesTheFormatsKernelsPrint) {
  Frame f;
  ASSERT_TRUE(ParseFrame("  ? tcp_sendmsg_locked.isra.0+0x12/0x40 [mptcp]", &f));
  EXPECT_EQ(f.function, "tcp_sendmsg_locked.isra.0");
  EXPECT_EQ(f.module, "mptcp");
  EXPECT_EQ(f.offset, 0x12u);
  EXPECT_EQ(f.size, 0x40u);
  EXPECT_FALSE(f.reliable);
  ASSERT_TRUE(ParseFrame("[<ffffffff81234567>] do_one_initcall+0x5b/0x320", &f));
  EXPECT_EQ(f.function, "do_one_initcall");
  EXPECT_TRUE(f.reliable);
  ASSERT_TRUE(ParseFrame("RIP: 0010:vigil_crash_warn+0x9/0x10 [vigil_crash 1234abcd]", &f));
  EXPECT_EQ(f.function, "vigil_crash_warn");
  EXPECT_EQ(f.module, "vigil_crash");
  EXPECT_EQ(f.raw, "vigil_crash_warn+0x9/0x10 [vigil_crash 1234abcd]");
  EXPECT_FALSE(ParseFrame("Modules linked in: x", &f));
  EXPECT_FALSE(ParseFrame("+0x12/0x40", &f));
  // A few address prefixes, not a line of them (vigil decode tries a frame
  // at every position of a line: each try must stay short).
  ASSERT_TRUE(ParseFrame("[<ffffffff81234567>] [<ffffffff81234567>] f+0x1/0x2", &f));
  EXPECT_EQ(f.function, "f");
  std::string many;
  for (int i = 0; i < 5; ++i) many += "[<ffffffff81234567>] ";
  EXPECT_FALSE(ParseFrame(many + "f+0x1/0x2", &f));
  EXPECT_EQ(NormaliseFunction("foo.constprop.0"), "foo");
  EXPECT_EQ(NormaliseFunction("__x64_sys_finit_module"), "finit_module");
  EXPECT_EQ(NormaliseFunction("__do_sys_sendmsg.cold"), "sendmsg");
  EXPECT_TRUE(IsGenericFrame("dump_stack_lvl"));
  EXPECT_TRUE(IsGenericFrame("kmalloc_trace"));
  EXPECT_TRUE(IsGenericFrame("_raw_spin_lock_irqsave"));
  EXPECT_TRUE(IsGenericFrame("refcount_warn_saturate"));
  EXPECT_FALSE(IsGenericFrame("tcp_sendmsg"));
  EXPECT_FALSE(IsGenericFrame("vigil_crash_warn"));
  EXPECT_EQ(TypeName(ReportType::kNetdevRefcnt), "netdev_refcnt");
  EXPECT_EQ(TypeName(ReportType::kOther), "other");
}

}  // namespace
}  // namespace vigil::console
