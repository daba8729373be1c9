#include "console/title.h"

#include <gtest/gtest.h>

namespace vigil::console {
namespace {

TitleResult Title(const std::string& text, bool cut = true) { return TitleReport({text, cut}); }

TEST(TitleTest, EveryPatternCompiles) { EXPECT_EQ(TitlePatternErrors(), std::vector<std::string>{}); }

TEST(TitleTest, KasanNamesTheAccessAndSkipsHelpers) {
  auto t = Title(
      "BUG: KASAN: slab-use-after-free in memcpy+0x20/0x60\n"
      "Read of size 8 at addr ffff888012345678 by task a/1\n"
      "CPU: 0 PID: 1 Comm: a Not tainted 6.12.0 #1\n"
      "Call Trace:\n"
      " <TASK>\n"
      " dump_stack_lvl+0x44/0x5c\n"
      " kasan_report+0xbd/0xf0\n"
      " memcpy+0x20/0x60\n"
      " tcp_v4_rcv+0x123/0x900\n"
      " ip_local_deliver+0x12/0x40\n"
      "Allocated by task 1:\n"
      " kasan_save_stack+0x1/0x2\n"
      " kmalloc_trace+0x26/0x90\n"
      " tcp_conn_request+0x1/0x2\n");
  EXPECT_TRUE(t.known);
  EXPECT_EQ(t.title, "KASAN: slab-use-after-free Read in tcp_v4_rcv");
  EXPECT_EQ(t.guilty, "tcp_v4_rcv");
  EXPECT_FALSE(t.corrupted);
}

TEST(TitleTest, HungTaskInRtnlLockAndSynchronizeRcu) {
  const std::string head =
      "INFO: task a:12 blocked for more than 143 seconds.\n"
      "      Not tainted 6.12.0 #1\n"
      "Call Trace:\n"
      " <TASK>\n"
      " __schedule+0x1/0x2\n"
      " schedule+0x1/0x2\n";
  EXPECT_EQ(Title(head + " __mutex_lock+0x1/0x2\n rtnl_lock+0x1/0x2\n do_setlink+0x1/0x2\n").title,
            "INFO: task hung in rtnl_lock");
  EXPECT_EQ(Title(head + " wait_for_completion+0x1/0x2\n __synchronize_srcu+0x1/0x2\n netns_free+0x1/0x2\n").title,
            "INFO: task hung in synchronize_rcu");
  EXPECT_EQ(Title(head + " io_schedule+0x1/0x2\n folio_wait_bit+0x1/0x2\n ext4_read+0x1/0x2\n").title,
            "INFO: task hung in ext4_read");
}

TEST(TitleTest, CircularLockingNamesTheLockTaken) {
  auto t = Title(
      "WARNING: possible circular locking dependency detected\n"
      "6.12.0 #1 Not tainted\n"
      "a/1 is trying to acquire lock:\n"
      "ffff8880 (rtnl_mutex){+.+.}-{3:3}, at: rtnl_lock+0x17/0x20\n"
      "but task is already holding lock:\n"
      "ffff8881 (&sb->s_type->i_mutex_key){+.+.}-{3:3}, at: inode_lock+0x1/0x2\n"
      "stack backtrace:\n"
      "Call Trace:\n"
      " dump_stack_lvl+0x44/0x5c\n"
      " check_noncircular+0x1/0x2\n");
  EXPECT_EQ(t.title, "possible deadlock in rtnl_lock");
}

TEST(TitleTest, WarningTakesTheRipUnlessItIsAHelper) {
  EXPECT_EQ(Title("WARNING: CPU: 1 PID: 2 at net/mptcp/protocol.c:123 mptcp_sendmsg+0x1/0x2\n"
                  "Modules linked in:\n"
                  "RIP: 0010:mptcp_sendmsg+0x1/0x2\n"
                  "Call Trace:\n"
                  " sock_sendmsg+0x1/0x2\n")
                .title,
            "WARNING in mptcp_sendmsg");
  // ODEBUG: the object's helpers are skipped, the call trace names the caller.
  EXPECT_EQ(Title("WARNING: CPU: 1 PID: 2 at lib/debugobjects.c:505 debug_print_object+0x1/0x2\n"
                  "RIP: 0010:debug_print_object+0x1/0x2\n"
                  "Call Trace:\n"
                  " debug_check_no_obj_freed+0x1/0x2\n"
                  " kfree+0x1/0x2\n"
                  " pppol2tp_release+0x1/0x2\n")
                .title,
            "WARNING: ODEBUG bug in pppol2tp_release");
}

TEST(TitleTest, StallIsNamedByTheFrameBeforeTheDispatch) {
  auto t = Title(
      "INFO: rcu_preempt self-detected stall on CPU\n"
      "Call Trace:\n"
      " <IRQ>\n"
      " rcu_sched_clock_irq+0x1/0x2\n"
      " sysvec_apic_timer_interrupt+0x1/0x2\n"
      " </IRQ>\n"
      " <TASK>\n"
      " asm_sysvec_apic_timer_interrupt+0x1a/0x20\n"
      "RIP: 0010:hash_walk+0x1/0x2\n"
      " hash_walk+0x1/0x2\n"
      " __x64_sys_rmdir+0x1/0x2\n"
      " do_syscall_64+0x1/0x2\n");
  EXPECT_EQ(t.title, "INFO: rcu detected stall in sys_rmdir");
}

TEST(TitleTest, MemoryLeakNamesTheAllocationSite) {
  auto t = Title(
      "unreferenced object 0xffff888112345678 (size 32):\n"
      "  comm \"a\", pid 1, jiffies 4294967\n"
      "  backtrace (crc 1a2b):\n"
      "    kmemleak_alloc+0x1/0x2\n"
      "    __kmalloc_cache_noprof+0x1/0x2\n"
      "    mptcp_pm_nl_append_new_local_addr+0x1/0x2\n"
      "    mptcp_nl_cmd_add_addr+0x1/0x2\n");
  EXPECT_EQ(t.title, "memory leak in mptcp_pm_nl_append_new_local_addr");
}

TEST(TitleTest, MissingFramesAreCorrupted) {
  auto t = Title("BUG: unable to handle page fault for address: ffffc90000a00000\n#PF: supervisor read\n");
  EXPECT_EQ(t.title, "BUG: unable to handle kernel paging request in corrupted");
  EXPECT_TRUE(t.corrupted);
  EXPECT_EQ(t.guilty, "");
}

TEST(TitleTest, NumbersAddressesAndNamesAreNormalised) {
  EXPECT_EQ(Title("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n"
                  "CPU: 0 PID: 1 Comm: swapper/0\nCall Trace:\n dump_stack+0x1/0x2\n panic+0x1/0x2\n"
                  " mount_root+0x1/0x2\n")
                .title,
            "kernel panic: VFS: Unable to mount root fs on unknown-block(NUM,NUM)");
  // C++ names demangled; non-ASCII and control bytes dropped; 120 bytes.
  EXPECT_EQ(Title("WARNING: possible circular locking dependency detected\n"
                  "x is trying to acquire lock:\n"
                  "ffff (a){+.+.}, at: _Z8fakeNameiii+0x1/0x2\n"
                  "ffff (b){+.+.}, at: g+0x1/0x2\n")
                .title,
            "possible deadlock in fakeName");
  auto t = Title("Kernel panic - not syncing: \x1b[31m\xff" + std::string(300, 'x') + "\n");
  EXPECT_LE(t.title.size(), 120u);
  for (char c : t.title) EXPECT_TRUE(c >= 0x20 && c < 0x7f);
}

TEST(TitleTest, SuppressedAndUnknownLines) {
  EXPECT_FALSE(HasReportHeader("WARNING: /etc/ssh/moduli does not exist, using fixed modulus"));
  EXPECT_FALSE(HasReportHeader("INFO: lockdep is turned off."));
  EXPECT_TRUE(HasReportHeader("BUG: KASAN: use-after-free in f+0x1/0x2"));
  EXPECT_FALSE(Title("refcount_t: underflow; use-after-free.\n").known);
  // The first line with a header opens the report.
  EXPECT_EQ(Title("refcount_t: underflow; use-after-free.\n"
                  "WARNING: CPU: 0 PID: 80 at lib/refcount.c:28 refcount_warn_saturate+0xba/0x110\n"
                  "RIP: 0010:refcount_warn_saturate+0xba/0x110\n"
                  "Call Trace:\n"
                  " sk_free+0x1/0x2\n")
                .title,
            "WARNING: refcount bug in sk_free");
}

TEST(TitleTest, HostileTextIsBounded) {
  std::string big = "BUG: KASAN: use-after-free in f+0x1/0x2\n";
  for (int i = 0; i < 20000; ++i) big += "(.*\\n)+? at: \xff\x00 [<ffff>] g+0x1/0x2\n";
  auto t = Title(big);
  EXPECT_TRUE(t.known);
  EXPECT_LE(t.title.size(), 120u);
  EXPECT_FALSE(Title("").known);
  EXPECT_FALSE(Title("\n\n\n").known);
}

}  // namespace
}  // namespace vigil::console
