#include "console/title.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <string.h>

#include <algorithm>
#include <array>
#include <map>
#include <unordered_map>
#include <memory>
#include <vector>

namespace vigil::console {
namespace {

using std::string_view;

bool Contains(string_view s, string_view p) { return s.find(p) != string_view::npos; }
// " ? " by its rare middle byte (find would stop at every space).
bool HasUnreliableMark(string_view s) {
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    const void* q = memchr(s.data() + i, '?', s.size() - 1 - i);
    if (!q) return false;
    i = static_cast<size_t>(static_cast<const char*>(q) - s.data());
    if (s[i - 1] == ' ' && s[i + 1] == ' ') return true;
  }
  return false;
}
bool StartsWith(string_view s, string_view p) { return s.substr(0, p.size()) == p; }

// Patterns are written with four shorthands: an address, a printed program
// counter ("[<ffffffff81234567>]"), a function name followed by its offset
// or a compiler suffix (captured) and a source location (captured).
std::string Expand(std::string p) {
  static constexpr std::array<std::pair<string_view, string_view>, 4> kShorthands = {{
      {"{{ADDR}}", "0x[0-9a-f]+"},
      {"{{PC}}", R"(\[\<?(?:0x)?[0-9a-f]+\>?\])"},
      {"{{FUNC}}", R"(([a-zA-Z0-9_]+)(?:\.|\+))"},
      {"{{SRC}}", R"(([-a-zA-Z0-9_/.]+\.[a-z]+:[0-9]+))"},
  }};
  for (const auto& [from, to] : kShorthands) {
    for (size_t pos = p.find(from); pos != std::string::npos; pos = p.find(from, pos + to.size()))
      p.replace(pos, from.size(), to);
  }
  return p;
}

RE2::Options PatternOptions() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);  // bytes, whatever the console sent
  o.set_log_errors(false);
  // Each pattern's program and lazily built DFA stay within 2 MiB whatever
  // the text (RE2 falls back to its NFA, same results, when the DFA is full).
  o.set_max_mem(2 << 20);
  return o;
}

std::unique_ptr<RE2> Compile(const std::string& pattern) {
  return std::make_unique<RE2>(Expand(pattern), PatternOptions());
}

// A stack trace's frames: "[<ffffffff8123>] f+0x1/0x2", "  f.isra.0+0x1/0x2",
// and arm's "[<c0123>] (f) from [<c0456>] (g+0x..)".
const std::string kRip =
    R"((?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{{PC}} +){0,2}{{FUNC}}|(?:[0-9]+:)?0x[0-9a-f]+|)"
    R"((?:[0-9]+:)?{{PC}} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\)))";
const std::string kCallTrace = "(?:Call (?:T|t)race:)|(?:Backtrace:)";
// Where a part list says "the stack trace that follows".
const std::string kStackHere = "\x01stack";

// Frames that report, allocate, lock, copy, print or tear down on behalf of
// the code at fault: never the guilty one.
constexpr string_view kSkipFrames[] = {
    "__sanitizer", "__asan", "kasan", "hwasan", "__msan", "kmsan", "kcsan_setup_watchpoint",
    "check_memory_region", "check_heap_object", "check_object", "read_word_at_a_time",
    "(read|write)_once_.*nocheck", "print_address_description", "panic", "invalid_op", "report_bug",
    "fixup_bug", "print_report", "print_usage_bug", "do_error", "_trap$|do_trap", "show_stack", "dump_stack",
    "walk_stack", "dump_backtrace", "warn_slowpath", "warn_alloc", "warn_bogus", "__warn", "alloc_page",
    "k?v?(?:m|z|c)alloc", "krealloc", "kmem_cache", "allocate_slab", "__alloc_frozen_pages_noprof",
    "folio_(?:alloc|unlock)", "filemap_alloc_folio", "__filemap_get_folio", "find_or_create_page",
    "do_read_cache_folio", "read_cache_page", "pagecache_get_page", "grab_cache_page_write_begin", "slab_",
    "debug_object", "timer_is_static_object", "work_is_static_object", "__might_fault", "print_unlock",
    "imbalance_bug", "lockdep", "bh_enable", "bh_disable", "perf_trace", "lock_acquire", "lock_release",
    "lock_class", "mark_lock", "(reacquire|mark)_held_locks", "raw_spin_rq", "spin_lock", "spin_trylock",
    "spin_unlock", "read_lock", "read_trylock", "write_lock", "write_trylock", "read_unlock", "write_unlock",
    "^down$", "down_read", "down_write", "down_read_trylock", "down_write_trylock", "down_trylock", "up_read",
    "up_write", "^mutex_", "^__mutex_", "^rt_mutex_", "owner_on_cpu", "osq_lock", "osq_unlock",
    "atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)", "(set|clear|change|test)_bit",
    "__wake_up", "^refcount_", "^kref_", "ref_tracker", "seqprop_assert", "memcpy", "memcmp", "memset",
    "memchr", "memmove", "memdup", "strcmp", "strncmp", "strcpy", "strlcpy", "strncpy", "strscpy", "strlen",
    "strstr", "strnstr", "strnlen", "strchr", "strdup", "strndup", "copy_to_user", "copy_from_user",
    "copy_to_iter", "copy_from_iter", "copy_page_to_iter", "copy_page_from_iter", "copy_folio_to_iter",
    "^copyin$", "^copyout$", "put_user", "get_user", "might_fault", "might_sleep", "list_add", "list_del",
    "list_replace", "list_move", "list_splice", "^rb_", "^__rb_", "_indirect_thunk_", "string", "pointer",
    "snprintf", "scnprintf", "kasprintf", "kvasprintf", "printk", "va_format", "dev_info", "dev_notice",
    "dev_warn", "dev_err", "dev_alert", "dev_crit", "dev_emerg", "program_check_exception",
    "program_check_common", "del_timer", "flush_work", "__cancel_work_timer", "cancel_work_sync",
    "try_to_grab_pending", "flush_workqueue", "drain_workqueue", "destroy_workqueue", "queue_work",
    "finish_wait", "kthread_stop", "kobject_", "add_uevent_var", "get_device_parent", "device_add",
    "device_del", "device_unregister", "device_destroy", "device_release", "devres_release_all",
    "hwrng_unregister", "i2c_del_adapter", "__unregister_client", "device_for_each_child",
    "rollback_registered", "unregister_netdev", "sysfs_remove", "device_remove_file", "tty_unregister_device",
    "dummy_urb_enqueue", "usb_kill_urb", "usb_kill_anchored_urbs", "usb_control_msg", "usb_hcd_submit_urb",
    "usb_submit_urb", "^complete$", "wait_for_completion", "^kv?free$", "kfree_skb", "readb$", "readw$",
    "readl$", "readq$", "writeb$", "writew$", "writel$", "writeq$", "logic_in", "logic_out", "^crc\\d+",
    "crc_itu_t", "__might_resched", "assertfail", "^iput$", "^iput_final$", "^ihold$", "hex_dump_to_buffer",
    "print_hex_dump", "^klist_", "(trace|lockdep)_(hard|soft)irq", "^(un)?lock_page",
    "stack_trace_consume_entry", "arch_stack_walk", "stack_trace_save", "insert_work",
    "__queue_delayed_work", "queue_delayed_work_on", "ida_free", "do_(kernel|translation)_fault",
    "do_mem_abort", "el1_abort", "el1h_64_sync(?:_handler)?", "print_tainted", "xas_(?:start|load|find)",
    "find_lock_entries", "truncate_inode_pages_range", "__phys_addr", "__fortify_report",
    "cleanup_srcu_struct", "rhashtable_lookup", "extract_(user|iter)_to_sg", "drop_nlink", "^get_taint$",
    "^put_device$", "lock_timer_base", "__timer_delete_sync", "sk_stop_timer_sync", "__mod_timer",
    "fast_dput", "dput"};

// System call entry prefixes: "__x64_sys_foo" is named "sys_foo",
// "__do_sys_foo" "foo" (the shortest of the prefixes' removals).
constexpr string_view kStripPrefixes[] = {
    "SYSC_", "SyS_", "sys_", "__x64_", "__ia32_", "__arm64_", "____sys_", "___sys_", "__sys_", "__se_",
    "__se_sys_", "__do_sys_", "compat_SYSC_", "compat_SyS_", "ksys_"};

// The frame before the first of these names a stall: what was running
// when the watchdog fired, not the interrupt or dispatch code around it.
constexpr string_view kStallAnchors[] = {
    "process_one_work", "do_syscall_", "do_fast_syscall_", "sysenter_dispatch", "tracesys_phase2",
    "el0_svc_handler", "invoke_syscall", "ret_fast_syscall", "netif_receive_skb", "do_softirq",
    "call_timer_fn", "_run_timers", "run_timer_softirq", "hrtimer_run", "run_ksoftirqd", "smpboot_thread_fn",
    "^kthread$", "start_secondary", "cpu_startup_entry", "ret_from_fork", "vfs_write", "vfs_read",
    "vfs_iter_read", "vfs_iter_write", "do_iter_read", "do_iter_write", "call_read_iter", "call_write_iter",
    "new_sync_read", "new_sync_write", "vfs_ioctl", "ksys_ioctl", "compat_ioctl", "compat_sys_ioctl",
    "blkdev_driver_ioctl", "blkdev_ioctl", "^call_read_iter", "^call_write_iter", "do_iter_readv_writev",
    "^call_mmap", "mmap_region", "do_mmap", "do_dentry_open", "vfs_open", "^sock_sendmsg", "^sock_recvmsg",
    "^sock_release", "^__sock_release", "^setsockopt$", "kernel_setsockopt", "sock_common_setsockopt",
    "^listen$", "kernel_listen", "sk_common_release", "^sock_mmap", "^accept$", "kernel_accept",
    "^sock_do_ioctl", "^sock_ioctl", "^compat_sock_ioctl", "^nfnetlink_rcv_msg", "^rtnetlink_rcv_msg",
    "^netlink_dump", "^(sys_)?(socketpair|connect|ioctl)", "__do_fault", "do_page_fault", "^page_fault$",
    "__fput", "task_work_run", "exit_to_usermode", "smp_call_function", "tasklet_action",
    "tasklet_hi_action"};

enum class Extractor : uint8_t { kFirst, kStall, kHang };

struct StackDef {
  std::vector<std::string> parts;
  std::vector<std::string> parts2;  // tried when `parts` finds no frame
  std::vector<std::string> skip;
  Extractor extractor = Extractor::kFirst;
};

// One way a kind of report is titled.
struct FormatDef {
  std::string title;   // where the report's title is found
  std::string report;  // optional: the text the title's arguments come from
  std::string fmt;     // "%[N]v": the Nth capture, then one per frame group
  bool has_stack = false;
  StackDef stack;
  bool no_stack_trace = false;  // the report has no stack trace to check
  bool corrupted = false;       // a damaged form of the report

  FormatDef& R(std::string r) { report = std::move(r); return *this; }
  FormatDef& S(StackDef s) { has_stack = true; stack = std::move(s); return *this; }
  FormatDef& NoStack() { no_stack_trace = true; return *this; }
  FormatDef& Corrupted() { corrupted = true; return *this; }
};

FormatDef F(std::string title, std::string fmt) {
  FormatDef f;
  f.title = std::move(title);
  f.fmt = std::move(fmt);
  return f;
}

StackDef Parts(std::vector<std::string> parts, std::vector<std::string> skip = {},
               Extractor e = Extractor::kFirst) {
  return StackDef{std::move(parts), {}, std::move(skip), e};
}
// The RIP line names a WARNING; the call trace only when it names a skipped
// function or the kernel printed none.
StackDef WarningStack(std::vector<std::string> skip = {}) {
  return StackDef{{"(?:" + kRip + "|--- interrupt: [0-9]+ at {{FUNC}})", kStackHere},
                  {kCallTrace, kStackHere}, std::move(skip), Extractor::kFirst};
}
StackDef RipStack(std::vector<std::string> skip = {}, Extractor e = Extractor::kFirst) {
  return Parts({kRip, kCallTrace, kStackHere}, std::move(skip), e);
}
StackDef TraceStack(std::vector<std::string> skip = {}, Extractor e = Extractor::kFirst) {
  return Parts({kCallTrace, kStackHere}, std::move(skip), e);
}

// A kmemleak report is named by its allocation's backtrace, past the
// allocators.
StackDef LeakStack() {
  return Parts({"backtrace(?: \\(crc [[:xdigit:]]*\\))?:", kStackHere},
               {"kmemleak", "mmap", "kmem", "slab", "alloc", "create_object", "idr_get", "list_lru_init", "kasprintf",
                "kvasprintf", "pcpu_create", "strdup", "strndup", "memdup"});
}

struct OopsDef {
  std::string header;
  std::vector<FormatDef> formats;
  std::vector<std::string> suppressions;
};

std::vector<OopsDef> Definitions() {
  const std::string kasan_skip_parts = "BUG: KASAN: (?:[a-z\\-]+) in {{FUNC}}";
  const std::string kfence_part = "BUG: KFENCE: (?:[a-z\\- ]+) in {{FUNC}}";
  const std::string kmsan_origin = "(Local variable .* created at:|Uninit was created at:)";
  const std::string lock_at = "at: (?:{{PC}} +)?{{FUNC}}";
  std::vector<OopsDef> d;
  d.push_back(OopsDef{
      "BUG:",
      {
          F("BUG: KASAN:", "KASAN: %[1]v %[3]v in %[4]v")
              .R("BUG: KASAN: ([a-z\\-]+) in {{FUNC}}(?:.*\\n)+?.*(Read|Write) (?:of size|at addr) (?:[0-9a-f]+)")
              .S(Parts({kasan_skip_parts, kCallTrace, kStackHere},
                       {"kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"})),
          F("BUG: KASAN:", "KASAN: invalid-free in %[2]v")
              .R("BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}")
              .S(Parts({"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}",
                        kCallTrace, kStackHere},
                       {"slab_", "kfree", "vunmap", "vfree"})),
          F("BUG: KASAN: ([a-z\\-]+) on address(?:.*\\n)+?.*(Read|Write) of size ([0-9]+)", "KASAN: %[1]v %[2]v"),
          F("BUG: KASAN: (.*)", "KASAN: %[1]v").Corrupted(),
          F("BUG: KMSAN: kernel-usb-infoleak", "KMSAN: kernel-usb-infoleak in %[2]v")
              .R("BUG: KMSAN: kernel-usb-infoleak in {{FUNC}}")
              .S(Parts({kStackHere, kmsan_origin, kStackHere},
                       {"alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg",
                        "usb_control_msg"}))
              .NoStack(),
          F("BUG: KMSAN:", "KMSAN: %[1]v in %[3]v")
              .R("BUG: KMSAN: ([a-z\\-]+) in {{FUNC}}")
              .S(Parts({kStackHere, kmsan_origin, kStackHere},
                       {"alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$", "^(?:crypto|cipher|drbg|rng)_"}))
              .NoStack(),
          F("BUG: KCSAN: data-race", "KCSAN: %[1]v").R("BUG: KCSAN: (.*)").NoStack(),
          F("BUG: KCSAN:", "KCSAN: %[1]v").R("BUG: KCSAN: (.*)").NoStack(),
          F("BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in {{FUNC}}", "KFENCE: %[1]v %[2]v in %[4]v")
              .S(Parts({kfence_part, kStackHere})),
          F("BUG: KFENCE: invalid free in {{FUNC}}", "KFENCE: invalid free in %[2]v")
              .S(Parts({kfence_part, kStackHere}))
              .NoStack(),
          F("BUG: KFENCE: invalid (read|write) in {{FUNC}}", "KFENCE: invalid %[1]v in %[3]v")
              .S(Parts({kfence_part, kStackHere})),
          F("BUG: KFENCE: memory corruption in {{FUNC}}", "KFENCE: memory corruption in %[2]v")
              .S(Parts({kfence_part, kStackHere}))
              .NoStack(),
          F("BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|"
            "Unable to handle kernel data access)",
            "BUG: unable to handle kernel paging request in %[1]v")
              .S(RipStack()),
          F("BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|"
            "Kernel NULL pointer dereference)",
            "BUG: unable to handle kernel NULL pointer dereference in %[1]v")
              .S(RipStack()),
          F("BUG: (?:unable to handle kernel|Unable to handle kernel)", "BUG: unable to handle kernel").Corrupted(),
          F("BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic|"
            "wrong owner|wrong CPU|trylock failure on UP)",
            "BUG: %[1]v %[2]v in %[3]v")
              .S(TraceStack({"spin_", "_lock", "_unlock"})),
          F("BUG: soft lockup", "BUG: soft lockup in %[1]v").S(RipStack({}, Extractor::kStall)),
          F("BUG: .*still has locks held!", "BUG: still has locks held in %[1]v")
              .R("BUG: .*still has locks held!(?:.*\\n)+?.*{{PC}} +{{FUNC}}"),
          F("BUG: scheduling while atomic", "BUG: scheduling while atomic in %[1]v").S(TraceStack({"schedule"})),
          F("BUG: lock held when returning to user space", "BUG: lock held when returning to user space in %[1]v")
              .R("BUG: lock held when returning to user space(?:.*\\n)+?.*leaving the kernel with locks still "
                 "held(?:.*\\n)+?.*at: (?:{{PC}} +)?{{FUNC}}")
              .NoStack(),
          F("BUG: bad unlock balance detected!", "BUG: bad unlock balance in %[1]v")
              .S(Parts({"{{PC}} +{{FUNC}}", kCallTrace, kStackHere})),
          F("BUG: held lock freed!", "BUG: held lock freed in %[1]v")
              .R("BUG: held lock freed!(?:.*\\n)+?.*{{PC}} +{{FUNC}}"),
          F("BUG: Bad rss-counter state", "BUG: Bad rss-counter state").NoStack(),
          F("BUG: non-zero nr_ptes on freeing mm", "BUG: non-zero nr_ptes on freeing mm").NoStack(),
          F("BUG: non-zero nr_pmds on freeing mm", "BUG: non-zero nr_pmds on freeing mm").NoStack(),
          F("BUG: Dentry .* still in use", "BUG: Dentry still in use in %[1]v")
              .R("BUG: Dentry .* still in use \\([0-9]+\\) \\[(unmount) of ([^\\]]+)\\]"),
          F("BUG: Bad page (state|cache)", "BUG: Bad page %[1]v in %[2]v")
              .S(Parts({"page last allocated", kStackHere},
                       {"(free|put|get|update|release)_page", "free_unref", "^_*folio", "truncate_inode_pages",
                        "page_frag_free", "alloc", "vmap", "page_owner"})),
          F("BUG: Bad page map", "BUG: Bad page map"),
          F("BUG: workqueue lockup", "BUG: workqueue lockup").NoStack(),
          F("BUG: sleeping function called from invalid context at (.*)",
            "BUG: sleeping function called from invalid context in %[2]v")
              .S(TraceStack()),
          F("BUG: using ([a-z_]+)\\(\\) in preemptible", "BUG: using %[1]v() in preemptible code in %[2]v")
              .S(TraceStack({"dump_stack", "preemption", "preempt", "debug_", "processor_id", "this_cpu"})),
          F("BUG: workqueue leaked lock or atomic", "BUG: workqueue leaked lock or atomic in %[1]v")
              .R("BUG: workqueue leaked lock or atomic(?:.*\\n)+?.*last function: ([a-zA-Z0-9_]+)\\n")
              .NoStack(),
          F("BUG: memory leak", "memory leak in %[1]v").S(LeakStack()),
          F("BUG: .*stack guard page was hit at", "BUG: stack guard page was hit in %[1]v")
              .S(RipStack({}, Extractor::kStall)),
          F("BUG: Invalid wait context", "WARNING: locking bug in %[1]v")
              .S(TraceStack({"lock_sock", "release_sock"})),
          F("BUG:[[:space:]]*(?:\\n|$)", "BUG: corrupted").Corrupted(),
      },
      {"ODEBUG:", "Boot_DEBUG:", "xlog_status:", "DEBUG:", "BUG: no syscalls can create resource"}});
  d.push_back(OopsDef{
      "WARNING:",
      {
          F("WARNING: .*lib/debugobjects\\.c.* (?:debug_print|debug_check|at)", "WARNING: ODEBUG bug in %[1]v")
              .S(WarningStack({"debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_", "vunmap", "vfree",
                               "__free_", "debug_check", "kobject_"})),
          F("WARNING: .*mm/usercopy\\.c.* (?:usercopy_warn|at)", "WARNING: bad usercopy in %[1]v")
              .S(WarningStack({"usercopy", "__check"})),
          F("WARNING: .*lib/kobject\\.c.* (?:kobject_|at)", "WARNING: kobject bug in %[1]v")
              .S(WarningStack({"kobject_"})),
          F("WARNING: .*fs/proc/generic\\.c.* (?:proc_register|at)", "WARNING: proc registration bug in %[1]v")
              .S(WarningStack({"proc_"})),
          F("WARNING: .*lib/refcount\\.c.* (?:refcount_|at)", "WARNING: refcount bug in %[1]v")
              .S(WarningStack({"refcount", "kobject_"})),
          F("WARNING: .*kernel/locking/lockdep\\.c.*lock_", "WARNING: locking bug in %[1]v")
              .S(WarningStack({"lock_sock", "release_sock"})),
          F("WARNING: .*still has locks held!", "WARNING: still has locks held in %[1]v")
              .R("WARNING: .*still has locks held!(?:.*\\n)+?.*at: {{FUNC}}"),
          F("WARNING: Nested lock was not taken", "WARNING: nested lock was not taken in %[1]v").S(WarningStack()),
          F("WARNING: lock held when returning to user space",
            "WARNING: lock held when returning to user space in %[1]v")
              .R("WARNING: lock held when returning to user space(?:.*\\n)+?.*leaving the kernel with locks "
                 "still held(?:.*\\n)+?.*at: (?:{{PC}} +)?{{FUNC}}")
              .NoStack(),
          F("WARNING: .*mm/.*\\.c.* k?.?malloc", "WARNING: kmalloc bug in %[1]v")
              .S(WarningStack({"kmalloc", "krealloc", "slab", "kmem"})),
          F("WARNING: .*mm/vmalloc.c.*__vmalloc_node", "WARNING: zero-size vmalloc in %[1]v").S(WarningStack()),
          F("WARNING: .* usb_submit_urb", "WARNING in %[1]v/usb_submit_urb")
              .S(WarningStack({"usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg",
                               "usb_control_msg"})),
          F("WARNING: {{SRC}} at 0x\\d+, CPU#\\d+", "WARNING in %[2]v").S(WarningStack()),
          F("WARNING: .* at {{SRC}} {{FUNC}}", "WARNING in %[3]v").S(WarningStack()),
          F("WARNING: {{SRC}} at {{FUNC}}", "WARNING in %[3]v").S(WarningStack()),
          F("WARNING: \\[.*\\] {{SRC}} at {{FUNC}}.*", "WARNING in %[3]v").S(WarningStack()),
          // Kernels before 3.x: "WARNING: at FILE:LINE f+0x../0x..()" (not in syzkaller's table).
          F("WARNING: at {{SRC}} {{FUNC}}", "WARNING in %[3]v").S(WarningStack()),
          F("WARNING: possible circular locking dependency detected", "possible deadlock in %[1]v")
              .R("WARNING: possible circular locking dependency detected(?:.*\\n)+?.*is trying to acquire lock")
              .S(Parts({lock_at, lock_at, kStackHere},
                       {"process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue"})),
          F("WARNING: possible irq lock inversion dependency detected", "possible deadlock in %[1]v")
              .R("WARNING: possible irq lock inversion dependency detected(?:.*\\n)+?.*just changed the state of "
                 "lock(?:.*\\n)+?.*" + lock_at),
          F("WARNING: .*-safe -> .*-unsafe lock order detected", "possible deadlock in %[1]v")
              .S(Parts({"which became (?:.*) at:", kStackHere})),
          F("WARNING: possible recursive locking detected", "possible deadlock in %[1]v")
              .R("WARNING: possible recursive locking detected(?:.*\\n)+?.*is trying to acquire "
                 "lock(?:.*\\n)+?.*" + lock_at),
          F("WARNING: inconsistent lock state", "inconsistent lock state in %[2]v")
              .R("WARNING: inconsistent lock state(?:.*\\n)+?.*takes(?:.*\\n)+?.*" + lock_at)
              .S(TraceStack()),
          F("WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in %[2]v")
              .R("WARNING: suspicious RCU usage(?:.*\\n)+?.*?{{SRC}}")
              .S(TraceStack({"rcu", "kmem", "slab"})),
          F("WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value",
            "WARNING: kernel stack regs has bad '%[1]v' value")
              .NoStack(),
          F("WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value",
            "WARNING: kernel stack frame pointer has bad value")
              .NoStack(),
          F("WARNING: bad unlock balance detected!", "WARNING: bad unlock balance in %[1]v")
              .S(Parts({"{{PC}} +{{FUNC}}", kCallTrace, kStackHere})),
          F("WARNING: held lock freed!", "WARNING: held lock freed in %[1]v")
              .R("WARNING: held lock freed!(?:.*\\n)+?.*at:(?: {{PC}})? +{{FUNC}}"),
          F("WARNING: kernel stack regs .* has bad 'bp' value", "WARNING: kernel stack regs has bad value").NoStack(),
          F("WARNING: kernel stack frame pointer .* has bad value", "WARNING: kernel stack regs has bad value")
              .NoStack(),
          F("WARNING:[[:space:]]*(?:\\n|$)", "WARNING: corrupted").Corrupted(),
      },
      {"WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
       "WARNING: workqueue cpumask: online intersect > possible intersect", "WARNING: [Tt]he mand mount option",
       "WARNING: Unsupported flag value\\(s\\) of 0x%x in DT_FLAGS_1",
       "WARNING: Unprivileged eBPF is enabled", "WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size",
       "WARNING: See https.* for mitigation options.", "WARNING: kernel not compiled with CPU_SRSO",
       "EXT4-[Ff][Ss](?: \\(.*\\))?:", "(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)",
       "XFS \\(\\w+\\): WARNING"}});
  const std::string lock_at_pc = "at: {{PC}} +{{FUNC}}";
  d.push_back(OopsDef{
      "INFO:",
      {
          F("INFO: possible circular locking dependency detected", "possible deadlock in %[1]v")
              .R("INFO: possible circular locking dependency detected \\](?:.*\\n)+?.*is trying to acquire "
                 "lock(?:.*\\n)+?.*" + lock_at_pc),
          F("INFO: possible irq lock inversion dependency detected", "possible deadlock in %[1]v")
              .R("INFO: possible irq lock inversion dependency detected \\](?:.*\\n)+?.*just changed the state of "
                 "lock(?:.*\\n)+?.*" + lock_at_pc),
          F("INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", "possible deadlock in %[1]v")
              .R("INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \\](?:.*\\n)+?.*is trying to "
                 "acquire(?:.*\\n)+?.*" + lock_at_pc),
          F("INFO: possible recursive locking detected", "possible deadlock in %[1]v")
              .R("INFO: possible recursive locking detected \\](?:.*\\n)+?.*is trying to acquire "
                 "lock(?:.*\\n)+?.*" + lock_at_pc),
          F("INFO: inconsistent lock state", "inconsistent lock state in %[1]v")
              .R("INFO: inconsistent lock state \\](?:.*\\n)+?.*takes(?:.*\\n)+?.*" + lock_at_pc),
          F("INFO: rcu_(?:preempt|sched|bh) (?:self-)?detected(?: expedited)? stall", "INFO: rcu detected stall in %[1]v")
              .S(StackDef{{"apic_timer_interrupt", kRip, kStackHere},
                          {"(?:apic_timer_interrupt|Exception stack|el1h_64_irq)", kStackHere},
                          {"apic_timer_interrupt", "rcu"},
                          Extractor::kStall}),
          F("INFO: trying to register non-static key", "INFO: trying to register non-static key in %[1]v")
              .S(TraceStack({"stack", "lock", "IRQ"})),
          F("INFO: suspicious RCU usage", "INFO: suspicious RCU usage in %[2]v")
              .R("INFO: suspicious RCU usage(?:.*\\n)+?.*?{{SRC}}")
              .S(TraceStack({"rcu", "kmem", "slab"})),
          F("INFO: task .* blocked for more than [0-9]+ seconds", "INFO: task hung in %[1]v")
              .S(TraceStack({}, Extractor::kHang)),
          F("INFO: task .* can't die for more than .* seconds", "INFO: task can't die in %[1]v")
              .S(TraceStack({"schedule"})),
          F("INFO: (Freed|Allocated) in (.*)", "INFO: %[1]v in %[2]v").Corrupted(),
          F("INFO:[[:space:]]*(?:\\n|$)", "INFO: corrupted").Corrupted(),
      },
      {"INFO: lockdep is turned off", "INFO: Stall ended before state dump start", "INFO: NMI handler",
       "INFO: recovery required on readonly filesystem", "(handler|interrupt).*took too long",
       "INFO: sys_.* is not present in /proc/kallsyms", "INFO: no syscalls can create resource", "rmt_storage:INFO:",
       "_INFO:"}});
  d.push_back(OopsDef{"Unable to handle kernel",
                      {F("Unable to handle kernel (paging request|NULL pointer dereference|access to user memory)",
                         "BUG: unable to handle kernel %[1]v in %[2]v")
                           .S(RipStack())},
                      {}});
  d.push_back(OopsDef{"general protection fault",
                      {F("general protection fault.*:", "general protection fault in %[1]v").S(RipStack())},
                      {"general protection fault .* error:\\d+ in "}});
  d.push_back(OopsDef{"stack segment: ", {F("stack segment: ", "stack segment fault in %[1]v").S(RipStack())}, {}});
  d.push_back(OopsDef{
      "Kernel panic",
      {
          F("Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in %[1]v")
              .R("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {{FUNC}}")
              .NoStack(),
          F("Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in %[1]v")
              .R("Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9]+")
              .S(TraceStack({"stack_chk"})),
          F("Kernel panic - not syncing: corrupted stack end", "kernel panic: corrupted stack end in %[1]v")
              .R("Kernel panic - not syncing: corrupted stack end detected inside scheduler")
              .S(TraceStack({"schedule", "retint_kernel"}, Extractor::kStall)),
          F("Kernel panic - not syncing: kernel stack overflow", "kernel stack overflow in %[1]v")
              .S(TraceStack({"bad_stack"}, Extractor::kStall)),
          F("Kernel panic - not syncing: Attempted to kill init!", "kernel panic: Attempted to kill init!"),
          F("Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+",
            "kernel panic: Couldn't open N_TTY ldisc"),
          F("Kernel panic - not syncing: Fatal exception", "kernel panic: Fatal exception").Corrupted(),
          F("Kernel panic - not syncing: panic_on_warn set", "kernel panic: panic_on_warn set").Corrupted(),
          F("Kernel panic - not syncing: hung_task: blocked tasks", "kernel panic: hung_task: blocked tasks")
              .Corrupted(),
          F("Kernel panic - not syncing: (.*)", "kernel panic: %[1]v"),
      },
      {}});
  d.push_back(OopsDef{"PANIC: double fault", {F("PANIC: double fault", "PANIC: double fault in %[1]v").S(Parts({kRip}))}, {}});
  d.push_back(OopsDef{"rust_kernel: panicked",
                      {F("rust_kernel: panicked", "%[1]v in %[2]v")
                           .R("rust_kernel: panicked at [^\\n]*?\\n(.+?)\\n")
                           .S(TraceStack({"__rustc::rust_begin_unwind"}))},
                      {}});
  d.push_back(OopsDef{"kernel BUG",
                      {
                          F("kernel BUG at mm/usercopy.c", "BUG: bad usercopy in %[1]v")
                              .S(TraceStack({"usercopy", "__check"})),
                          F("kernel BUG at lib/list_debug.c", "BUG: corrupted list in %[1]v").S(TraceStack()),
                          F("kernel BUG at (.*)", "kernel BUG in %[2]v").S(RipStack({"^skb_"})),
                      },
                      {}});
  d.push_back(OopsDef{"Kernel BUG", {F("Kernel BUG (.*)", "kernel BUG %[1]v")}, {}});
  d.push_back(OopsDef{"BUG kmalloc-", {F("BUG kmalloc-.*: Object already free", "BUG: Object already free")}, {}});
  d.push_back(OopsDef{"divide error:", {F("divide error: ", "divide error in %[1]v").S(Parts({kRip}))}, {}});
  d.push_back(OopsDef{"divide_error:", {F("divide_error: ", "divide error in %[1]v").S(Parts({kRip}))}, {}});
  d.push_back(OopsDef{"invalid opcode:", {F("invalid opcode: ", "invalid opcode in %[1]v").S(Parts({kRip}))}, {}});
  d.push_back(OopsDef{"UBSAN:",
                      {
                          F("UBSAN:", "UBSAN: undefined-behaviour in %[1]v")
                              .R("UBSAN: Undefined behaviour in")
                              .S(TraceStack({"ubsan", "overflow"})),
                          F("UBSAN: array-index-out-of-bounds in", "UBSAN: array-index-out-of-bounds in %[1]v")
                              .S(TraceStack({"ubsan", "overflow"})),
                          F("UBSAN:", "UBSAN: %[1]v in %[2]v").R("UBSAN: (.*?) in").S(TraceStack({"ubsan", "overflow"})),
                      },
                      {}});
  // "Booting the kernel." and, since 6.x, "Booting the kernel (entry_offset: 0x0)."
  d.push_back(OopsDef{"Booting the kernel",
                      {F("^Booting the kernel", "unexpected kernel reboot").NoStack()},
                      {"Parsing ELF|Decompressing Linux|Unknown parameter '"}});
  d.push_back(OopsDef{"unregister_netdevice: waiting for",
                      {F("unregister_netdevice: waiting for (?:.*) to become free",
                         "unregister_netdevice: waiting for DEV to become free")
                           .NoStack()},
                      {}});
  d.push_back(OopsDef{"VFS: Close: file count is 0",
                      {F("VFS: Close: file count is 0", "VFS: Close: file count is zero (use-after-free)").NoStack()},
                      {}});
  d.push_back(OopsDef{"VFS: Busy inodes after unmount",
                      {F("VFS: Busy inodes after unmount", "VFS: Busy inodes after unmount (use-after-free)").NoStack()},
                      {}});
  d.push_back(OopsDef{"Internal error:", {F("Internal error:", "Internal error in %[1]v").S(RipStack())}, {}});
  d.push_back(OopsDef{"Unhandled fault:", {F("Unhandled fault:", "Unhandled fault in %[1]v").S(RipStack())}, {}});
  d.push_back(OopsDef{"Alignment trap:", {F("Alignment trap:", "Alignment trap in %[1]v").S(RipStack())}, {}});
  // The kernel's own kmemleak report (syzkaller's executor prints "BUG:
  // memory leak" before it): the same title.
  d.push_back(OopsDef{"unreferenced object 0x",
                      {F("unreferenced object 0x", "memory leak in %[1]v").S(LeakStack())},
                      {}});
  return d;
}

// Compiled tables.
struct Stack {
  std::vector<const RE2*> parts;  // nullptr: the stack trace here (Tables::parts owns them)
  std::vector<const RE2*> parts2;
  std::unique_ptr<RE2> skip;  // this kind's frames to skip, besides the common ones
  Extractor extractor = Extractor::kFirst;
};
struct Format {
  std::unique_ptr<RE2> title;
  std::unique_ptr<RE2> report;
  std::string fmt;
  std::unique_ptr<Stack> stack;
  bool no_stack_trace = false;
  bool corrupted = false;
};
struct Oops {
  std::string header;
  std::vector<Format> formats;
  std::unique_ptr<RE2> suppression;  // all of them, one pattern; null when none
  // Every format's title pattern, anchored: which formats may match where
  // the header is, in one pass.
  std::unique_ptr<RE2::Set> titles;
};

struct Tables {
  std::vector<Oops> oopses;
  // Stack parts by pattern: the RIP and call trace parts serve most kinds.
  std::map<std::string, std::unique_ptr<RE2>> parts;
  std::unique_ptr<RE2> skip;  // kSkipFrames
  std::vector<std::unique_ptr<RE2>> stack_starts;
  // arm's "[<c0123>] (f) from [<c0456>] (g+0x..)" (MatchFrame does the common form by hand)
  std::unique_ptr<RE2> arm_frame;
  std::unique_ptr<RE2> corrupted_line;
  std::unique_ptr<RE2> stall_anchors;
  std::vector<std::unique_ptr<RE2>> report_start_ignores;
  std::unique_ptr<RE2> timestamp_in_title;
  std::vector<std::pair<std::unique_ptr<RE2>, std::string>> replacements;
  std::unique_ptr<RE2> title_frame;
  std::unique_ptr<RE2> any_header;  // every header and info message, literally
};

std::string Join(const std::vector<string_view>& parts) {
  std::string out;
  for (string_view p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += '|';
    out += p;
  }
  return out;
}

std::vector<const RE2*> CompileParts(const std::vector<std::string>& parts,
                                     std::map<std::string, std::unique_ptr<RE2>>* pool) {
  std::vector<const RE2*> out;
  for (const std::string& p : parts) {
    if (p == kStackHere) {
      out.push_back(nullptr);
      continue;
    }
    auto& re = (*pool)[p];
    if (!re) re = Compile(p);
    out.push_back(re.get());
  }
  return out;
}

const Tables& T() {
  static const Tables* tables = [] {
    auto* t = new Tables;
    t->skip = Compile(Join(std::vector<string_view>(std::begin(kSkipFrames), std::end(kSkipFrames))));
    for (OopsDef& od : Definitions()) {
      Oops o;
      o.header = od.header;
      if (!od.suppressions.empty()) {
        std::string all;
        for (const std::string& x : od.suppressions) all += (all.empty() ? "(?:" : "|(?:") + x + ")";
        o.suppression = Compile(all);
      }
      o.titles = std::make_unique<RE2::Set>(PatternOptions(), RE2::ANCHOR_START);
      bool set_ok = true;
      for (FormatDef& fd : od.formats) set_ok = set_ok && o.titles->Add(Expand(fd.title), nullptr) >= 0;
      if (!set_ok || !o.titles->Compile()) o.titles.reset();
      for (FormatDef& fd : od.formats) {
        Format f;
        f.title = Compile(fd.title);
        if (!fd.report.empty()) f.report = Compile(fd.report);
        f.fmt = fd.fmt;
        f.no_stack_trace = fd.no_stack_trace;
        f.corrupted = fd.corrupted;
        if (fd.has_stack) {
          auto s = std::make_unique<Stack>();
          s->parts = CompileParts(fd.stack.parts, &t->parts);
          s->parts2 = CompileParts(fd.stack.parts2, &t->parts);
          if (!fd.stack.skip.empty())
            s->skip = Compile(Join(std::vector<string_view>(fd.stack.skip.begin(), fd.stack.skip.end())));
          s->extractor = fd.stack.extractor;
          f.stack = std::move(s);
        }
        o.formats.push_back(std::move(f));
      }
      t->oopses.push_back(std::move(o));
    }
    for (const char* p : {"Call (?:T|t)race", "Allocated:", "Allocated by task [0-9]+:", "Freed:",
                          "Freed by task [0-9]+:", "[^k] backtrace(?: \\(crc [[:xdigit:]]*\\))?:", "Backtrace:",
                          "Uninit was stored to memory at",
                          "status: [0-9a-f]{16} badaddr: [0-9a-f]{16} cause: [0-9a-f]{16}"})
      t->stack_starts.push_back(Compile(p));
    t->arm_frame = Compile("^ *{{PC}} \\(([a-zA-Z0-9_.]+)\\) from {{PC}} \\({{FUNC}}");
    t->corrupted_line = Compile("^( \\[\\<?(?:0x)?[0-9a-f]+\\>?\\])? should_fail(slab)?(\\.[a-z0-9.]+)?\\+0x");
    t->stall_anchors = Compile(Join(std::vector<string_view>(std::begin(kStallAnchors), std::end(kStallAnchors))));
    for (const char* p : {"invalid opcode: 0000", "Kernel panic - not syncing", "unregister_netdevice: waiting for",
                          "PANIC: double fault", "Internal error:"})
      t->report_start_ignores.push_back(Compile(p));
    t->timestamp_in_title = Compile("\\[ *[0-9]+\\.[0-9]+\\]");
    for (auto [re, rewrite] : std::array<std::pair<const char*, const char*>, 9>{{
             {"syz-executor\\.?[0-9]+((/|:)[0-9]+)?", "syz-executor"},
             {"syzkaller[0-9]+((/|:)[0-9]+)?", "syzkaller"},
             {"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}", "\\1ADDR"},
             {"([0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3})", "IP"},
             {"(\\.\\w+)(:[0-9]+)+", "\\1:LINE"},
             {"([a-zA-Z][a-zA-Z0-9_.]+)\\+0x[0-9a-z]+/0x[0-9a-z]+", "\\1"},
             {"CPU#[0-9]+", "CPU"},
             {"(\\W)(\\d+)(\\W|$)", "\\1NUM\\3"},
             {"(\\d+){7,}", "NUM"},
         }})
      t->replacements.emplace_back(Compile(re), rewrite);
    t->title_frame = Compile(".* in ((?:<[a-zA-Z0-9_: ]+>)?[a-zA-Z0-9_:]+)");
    std::string headers;
    for (const Oops& o : t->oopses) headers += (headers.empty() ? "" : "|") + RE2::QuoteMeta(o.header);
    for (const char* info : {"vmalloc: allocation failure:", "FAULT_INJECTION: forcing a failure",
                             "FAULT_FLAG_ALLOW_RETRY missing"})
      headers += "|" + RE2::QuoteMeta(info);
    t->any_header = Compile(headers);
    return t;
  }();
  return *tables;
}

bool Search(const RE2& re, string_view text) {
  return re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED, nullptr, 0);
}

struct Match {
  size_t start = 0;
  std::vector<string_view> groups;  // captures; data()==nullptr when one did not take part
};

bool Find(const RE2& re, string_view text, Match* m) {
  int n = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> g(static_cast<size_t>(n) + 1);
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED, g.data(), n + 1))
    return false;
  m->start = static_cast<size_t>(g[0].data() - text.data());
  m->groups.clear();
  for (int i = 1; i <= n; ++i) m->groups.emplace_back(g[i].data(), g[i].size());
  return true;
}

std::vector<string_view> SplitLines(string_view text) {
  std::vector<string_view> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == string_view::npos) {
      lines.push_back(text.substr(pos));
      break;
    }
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

// C++ names as their plain (nested) name: "_Z8fakeNameiii" is "fakeName".
std::string Demangle(string_view n) {
  if (!StartsWith(n, "_Z")) return std::string(n);
  size_t p = 2;
  bool nested = p < n.size() && n[p] == 'N';
  if (nested) ++p;
  std::string out;
  while (p < n.size() && n[p] >= '0' && n[p] <= '9') {
    size_t len = 0;
    while (p < n.size() && n[p] >= '0' && n[p] <= '9' && len < 100000) len = len * 10 + static_cast<size_t>(n[p++] - '0');
    if (len == 0 || len > n.size() - p) return std::string(n);
    if (!out.empty()) out += "::";
    out += n.substr(p, len);
    p += len;
    if (!nested) break;
  }
  return out.empty() ? std::string(n) : out;
}

string_view StripPrefix(string_view f) {
  string_view best = f;
  for (string_view p : kStripPrefixes)
    if (StartsWith(f, p) && f.size() - p.size() < best.size()) best = f.substr(p.size());
  return best;
}

// The guilty frame of one group of frames ("" when there is none).
std::string Extract(Extractor e, const std::vector<std::string>& raw) {
  if (raw.empty()) return "";
  std::vector<string_view> frames;
  for (const std::string& f : raw) frames.push_back(StripPrefix(f));
  switch (e) {
    case Extractor::kFirst:
      return std::string(frames[0]);
    case Extractor::kStall: {
      string_view prev = frames[0];
      for (string_view f : frames) {
        if (Search(*T().stall_anchors, f)) {
          if (Contains(f, "smp_call_function")) prev = "smp_call_function";
          return std::string(prev);
        }
        prev = f;
      }
      return "";
    }
    case Extractor::kHang: {
      for (string_view f : frames) {
        if (Contains(f, "rtnl_lock")) return std::string(f);
        for (string_view a : {"synchronize_rcu", "synchronize_srcu", "synchronize_net", "synchronize_sched"})
          if (Contains(f, a)) return "synchronize_rcu";
      }
      for (string_view f : frames) {
        bool waits = false;
        for (string_view w : {"sched", "_lock", "_slowlock", "down", "rwsem", "completion", "kthread", "wait",
                              "synchronize", "context_switch", "__switch_to", "cancel_delayed_work", "rcu_barrier"})
          waits = waits || Contains(f, w);
        if (!waits) return std::string(f);
      }
      return "";
    }
  }
  return "";
}

// The per-line tests, each first screened by a literal it cannot match
// without: a report's lines are checked many times over.
bool IsCorruptedLine(string_view line) {
  return Contains(line, "hould_fail") && Search(*T().corrupted_line, line);
}

// One pass over the line for the literals the stack starts need.
bool MayStartStack(string_view line) {
  static constexpr string_view kNeeds[] = {"Call ", "Allocated", "Freed", "ktrace", "Uninit was stored", "tatus: "};
  static const auto first = [] {
    std::array<int8_t, 256> f{};
    f.fill(-1);
    for (size_t i = 0; i < std::size(kNeeds); ++i) f[static_cast<unsigned char>(kNeeds[i][0])] = static_cast<int8_t>(i);
    return f;
  }();
  for (size_t i = 0; i < line.size(); ++i) {
    int8_t k = first[static_cast<unsigned char>(line[i])];
    if (k >= 0 && line.substr(i, kNeeds[k].size()) == kNeeds[k]) return true;
  }
  return false;
}

bool IsStackStart(string_view line) {
  if (!MayStartStack(line)) return false;
  for (const auto& s : T().stack_starts)
    if (Search(*s, line)) return true;
  return false;
}

bool IsHexDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsWordChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// A frame line: "^ *(?:{{PC}} ){0,2}{{FUNC}}" by hand, else arm's
// "[<c0123>] (f) from [<c0456>] (g+0x..)" (both names) by its pattern.
bool MatchFrame(string_view s, Match* m) {
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  for (int k = 0; k < 2 && i < s.size() && s[i] == '['; ++k) {
    size_t j = i + 1;
    if (j < s.size() && s[j] == '<') ++j;
    if (j + 2 < s.size() && s[j] == '0' && s[j + 1] == 'x' && IsHexDigit(s[j + 2])) j += 2;
    size_t digits = j;
    while (j < s.size() && IsHexDigit(s[j])) ++j;
    if (j == digits) break;
    if (j < s.size() && s[j] == '>') ++j;
    if (j + 1 >= s.size() || s[j] != ']' || s[j + 1] != ' ') break;
    i = j + 2;
  }
  size_t e = i;
  while (e < s.size() && IsWordChar(s[e])) ++e;
  if (e > i && e < s.size() && (s[e] == '.' || s[e] == '+')) {
    m->start = 0;
    m->groups.assign(1, s.substr(i, e - i));
    return true;
  }
  return Contains(s, ") from ") && Find(*T().arm_frame, s, m);
}

// Whether a frame is never to blame (kSkipFrames), remembered per thread:
// the same kernel functions come back report after report.
bool IsSkipped(const std::string& name) {
  thread_local std::unordered_map<std::string, bool> seen;
  if (auto it = seen.find(name); it != seen.end()) return it->second;
  bool skip = Search(*T().skip, name);
  if (seen.size() >= 16384) seen.clear();  // bounded, whatever the input
  seen.emplace(name, skip);
  return skip;
}

// Walks `parts` over the lines: a regex part consumes lines up to the one it
// matches (its captures are frames), a stack part takes the frames up to
// the next stack start. Each stack part after the first, and the end, close
// a group of frames, which gives one guilty frame ("corrupted" if none).
bool ExtractFramesImpl(const Stack& st, const std::vector<const RE2*>& parts,
                       const std::vector<string_view>& lines, std::vector<std::string>* out) {
  std::vector<std::string> raw;
  bool ok = true;
  int stacks = 0;
  size_t li = 0;
  auto append = [&](const Match& m) {
    for (string_view g : m.groups) {
      if (g.data() == nullptr) continue;
      std::string name = Demangle(g);
      if (!IsSkipped(name) && !(st.skip && Search(*st.skip, name))) raw.push_back(std::move(name));
    }
  };
  Match m;
  for (size_t pi = 0;; ++pi) {
    if (pi == parts.size() || (parts[pi] == nullptr && stacks > 0)) {
      std::string f = Extract(st.extractor, raw);
      if (f.empty()) {
        f = "corrupted";
        ok = false;
      }
      out->push_back(std::move(f));
      raw.clear();
    }
    if (pi == parts.size()) break;
    const RE2* part = parts[pi];
    if (part == nullptr) {
      ++stacks;
      while (li < lines.size()) {
        string_view ln = lines[li++];
        if (IsCorruptedLine(ln)) {
          ok = false;
          break;
        }
        if (IsStackStart(ln)) break;
        if (pi + 1 < parts.size() && parts[pi + 1] && Find(*parts[pi + 1], ln, &m)) {
          append(m);
          ++pi;
          break;
        }
        if (MatchFrame(ln, &m)) append(m);
      }
    } else if (li < lines.size()) {
      // The first line the part matches, found by one search over the rest
      // (no part matches across a newline); the lines up to it are passed.
      const char* begin = lines[li].data();
      string_view rest(begin, static_cast<size_t>(lines.back().data() + lines.back().size() - begin));
      bool found = Find(*part, rest, &m);
      while (li < lines.size()) {
        string_view ln = lines[li++];
        if (IsCorruptedLine(ln)) {
          ok = false;
          break;
        }
        size_t off = static_cast<size_t>(ln.data() - begin);
        if (found && m.start <= off + ln.size()) {
          append(m);
          break;
        }
      }
    }
  }
  return ok;
}

bool ExtractFrames(const Stack& st, string_view text, std::vector<std::string>* frames) {
  std::vector<string_view> lines = SplitLines(text);
  frames->clear();
  bool ok = ExtractFramesImpl(st, st.parts, lines, frames);
  if (ok || st.parts2.empty()) return ok;
  frames->clear();
  return ExtractFramesImpl(st, st.parts2, lines, frames);
}

// "%[N]v" is the Nth argument.
std::string Printf(string_view fmt, const std::vector<std::string>& args) {
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] == '%' && i + 1 < fmt.size() && fmt[i + 1] == '[') {
      size_t close = fmt.find(']', i);
      if (close != string_view::npos && close + 1 < fmt.size()) {
        size_t n = 0;
        for (size_t k = i + 2; k < close; ++k) n = n * 10 + static_cast<size_t>(fmt[k] - '0');
        out += n >= 1 && n <= args.size() ? args[n - 1] : std::string("%!v(BADINDEX)");
        i = close + 1;
        continue;
      }
    }
    out += fmt[i];
  }
  return out;
}

struct Description {
  std::string title;
  const Format* format = nullptr;
  bool corrupted = false;
};

// The earliest match of any format's title pattern names the report; among
// formats matching there, the first in the table that produces a title.
// The leftmost match of `re`, whose every match starts with a literal
// found at `starts` (ascending): anchored tries there, not a scan of the
// whole text per pattern.
bool FindFrom(const RE2& re, string_view text, const std::vector<size_t>& starts, Match* m) {
  int n = re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> g(static_cast<size_t>(n) + 1);
  for (size_t pos : starts) {
    if (!re.Match(re2::StringPiece(text.data(), text.size()), pos, text.size(), RE2::ANCHOR_START, g.data(), n + 1))
      continue;
    m->start = pos;
    m->groups.clear();
    for (int i = 1; i <= n; ++i) m->groups.emplace_back(g[i].data(), g[i].size());
    return true;
  }
  return false;
}

Description Describe(string_view text, const Oops& oops) {
  Description d;
  size_t start = text.size();
  bool matched_title = false;
  Match m;
  std::vector<std::string> frames;
  // Every title and report pattern of a kind starts with its header.
  std::vector<size_t> at;
  for (size_t p = text.find(oops.header); p != string_view::npos; p = text.find(oops.header, p + 1)) at.push_back(p);
  // The formats whose title may match at each of those (a superset: "^" of
  // the text's start also matches there).
  std::vector<std::vector<int>> may(at.size());
  for (size_t k = 0; k < at.size(); ++k) {
    if (!oops.titles) break;
    string_view from = text.substr(at[k]);
    RE2::Set::ErrorInfo error{};
    if (!oops.titles->Match(re2::StringPiece(from.data(), from.size()), &may[k], &error) &&
        error.kind != RE2::Set::kNoError) {
      // The set's DFA ran out of its memory: every format may match here.
      may[k].resize(oops.formats.size());
      for (size_t i = 0; i < may[k].size(); ++i) may[k][i] = static_cast<int>(i);
    }
    std::sort(may[k].begin(), may[k].end());
  }
  std::vector<size_t> starts;
  for (size_t fi = 0; fi < oops.formats.size(); ++fi) {
    const Format& f = oops.formats[fi];
    starts.clear();
    for (size_t k = 0; k < at.size(); ++k)
      if (!oops.titles || std::binary_search(may[k].begin(), may[k].end(), static_cast<int>(fi))) starts.push_back(at[k]);
    if (!FindFrom(*f.title, text, starts, &m) || m.start > start) continue;
    if (m.start == start && !d.title.empty()) continue;
    if (m.start < start) {
      d.title.clear();
      d.format = nullptr;
      start = m.start;
    }
    matched_title = true;
    if (f.report && !FindFrom(*f.report, text, at, &m)) continue;
    std::vector<std::string> args;
    for (string_view g : m.groups) args.emplace_back(g.data() ? g : string_view());
    d.corrupted = false;
    if (f.stack) {
      if (!ExtractFrames(*f.stack, text.substr(m.start), &frames)) d.corrupted = true;
      for (std::string& fr : frames) args.push_back(std::move(fr));
    }
    d.title = Printf(f.fmt, args);
    d.format = &f;
  }
  if (d.title.empty()) {
    if (matched_title) d.corrupted = true;
    size_t pos = text.find(oops.header);
    if (pos == string_view::npos) return d;
    size_t eol = text.find('\n', pos);
    d.title = std::string(text.substr(pos, eol == string_view::npos ? string_view::npos : eol - pos));
  }
  if (!d.corrupted && d.format && d.format->corrupted) d.corrupted = true;
  return d;
}

bool IsFrameLine(string_view line) {
  Match m;
  return MatchFrame(line, &m);
}

// A report whose stack trace is missing or empty is damaged.
bool IsCorrupted(string_view raw_title, string_view report, const Format* format) {
  const Tables& t = T();
  if (Search(*t.timestamp_in_title, raw_title)) return true;
  if (format == nullptr || format->no_stack_trace) return false;
  bool has_stack = false;
  // What each stack start's pattern cannot match without.
  static constexpr string_view kLiterals[] = {"Call ", "Allocated:", "Allocated by task ", "Freed:", "Freed by task ",
                                              "backtrace", "Backtrace:", "Uninit was stored to memory at",
                                              "status: "};
  static_assert(std::size(kLiterals) == 9);
  for (size_t k = 0; k < t.stack_starts.size(); ++k) {
    Match m;
    if (!Contains(report, kLiterals[k]) || !Find(*t.stack_starts[k], report, &m)) continue;
    std::vector<string_view> lines = SplitLines(report.substr(m.start));
    if (lines.size() < 4) return true;
    bool ok = false;
    for (size_t i = 1; i < lines.size() && i <= 15; ++i) {
      if (IsStackStart(lines[i])) break;
      if (Contains(lines[i], "(stack is not available)") || IsFrameLine(lines[i])) {
        ok = true;
        has_stack = true;
        break;
      }
    }
    // The last of the stack starts (riscv's trap line) needs no frames.
    if (!ok && k + 1 != t.stack_starts.size()) return true;
  }
  return !has_stack;
}

std::string Sanitize(string_view s) {
  std::string out;
  char prev = ' ';
  for (size_t i = 0; i < s.size() && i < 120; ++i) {
    char c = s[i];
    if (c == '\t') {
      c = ' ';
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      continue;
    }
    if (c == ' ' && prev == ' ') continue;
    out += c;
    prev = c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Run-specific parts of a title (addresses, numbers, line numbers, task
// names) are replaced so that one bug has one title.
std::string Normalise(std::string title) {
  for (const auto& [re, rewrite] : T().replacements) {
    for (int i = 0; i < 100; ++i) {
      std::string before = title;
      RE2::GlobalReplace(&title, *re, rewrite);
      if (title == before) break;
    }
  }
  return Sanitize(title);
}

const Oops* MatchOops(string_view line) {
  for (const Oops& o : T().oopses) {
    if (!Contains(line, o.header)) continue;
    bool suppressed = false;
    if (o.suppression) suppressed = Search(*o.suppression, line);
    if (!suppressed) return &o;
  }
  return nullptr;
}

bool StartsAnotherReport(string_view line) {
  if (MatchOops(line)) {
    for (const auto& s : T().report_start_ignores)
      if (Search(*s, line)) return false;
    return true;
  }
  for (string_view info : {"vmalloc: allocation failure:", "FAULT_INJECTION: forcing a failure",
                           "FAULT_FLAG_ALLOW_RETRY missing"})
    if (Contains(line, info)) return true;
  return false;
}

}  // namespace

bool HasReportHeader(std::string_view line) { return MatchOops(line) != nullptr; }

std::vector<std::string> TitlePatternErrors() {
  const Tables& t = T();
  std::vector<std::string> errors;
  auto check = [&](const std::unique_ptr<RE2>& re) {
    if (re && !re->ok()) errors.push_back(re->pattern() + ": " + re->error());
  };
  for (const Oops& o : t.oopses) {
    check(o.suppression);
    if (!o.titles) errors.push_back(o.header + ": the set of its title patterns does not compile");
    for (const Format& f : o.formats) {
      check(f.title);
      check(f.report);
      if (!f.stack) continue;
      check(f.stack->skip);
    }
  }
  for (const auto* list : {&t.stack_starts, &t.report_start_ignores})
    for (const auto& re : *list) check(re);
  for (const auto& [re, rewrite] : t.replacements) check(re);
  for (const auto& [pattern, re] : t.parts) check(re);
  for (const auto* re : {&t.skip, &t.corrupted_line, &t.stall_anchors, &t.timestamp_in_title, &t.title_frame,
                         &t.arm_frame, &t.any_header})
    check(*re);
  return errors;
}

TitleResult TitleReport(const TitleInput& input) {
  TitleResult r;
  std::vector<string_view> lines = SplitLines(input.text);
  // The first line with a header opens the report (a report may start with
  // "------------[ cut here ]", "list_del corruption" or a WARN message).
  size_t first = 0;
  const Oops* oops = nullptr;
  for (; first < lines.size() && !oops; ++first) oops = MatchOops(lines[first]);
  if (!oops) return r;
  --first;
  r.known = true;
  // The text titled: the oops line, then the lines that are not unreliable
  // ("? f+0x..") frames, up to the next report; after a panic or a lockdep
  // splat that follow a long report, nothing more.
  // The title's text is the report's up to the next report (text_end).
  std::string report;
  report.reserve(input.text.size());
  size_t text_end = string_view::npos;
  // Where the next report starts: the first line after the oops line with a
  // header of the table (or an info message) that starts a report; one scan.
  size_t cut_at = lines.size();
  if (input.cut_at_next_report && first + 1 < lines.size()) {
    string_view all = input.text;
    size_t from = static_cast<size_t>(lines[first + 1].data() - all.data());
    re2::StringPiece hit;
    size_t li = first + 1;
    while (from < all.size() &&
           T().any_header->Match(re2::StringPiece(all.data(), all.size()), from, all.size(), RE2::UNANCHORED, &hit, 1)) {
      size_t off = static_cast<size_t>(hit.data() - all.data());
      while (li + 1 < lines.size() && static_cast<size_t>(lines[li + 1].data() - all.data()) <= off) ++li;
      if (StartsAnotherReport(lines[li])) {
        cut_at = li;
        break;
      }
      from = static_cast<size_t>(lines[li].data() - all.data()) + lines[li].size() + 1;
      ++li;
    }
  }
  bool cut = false, skip_rest = false;
  size_t text_lines = 0;
  size_t min_lines = Contains(lines[first], "BUG: KMSAN:") ? 16 : 22;
  for (size_t i = first; i < lines.size(); ++i) {
    string_view ln = lines[i];
    if (i + 1 == lines.size() && ln.empty()) break;
    bool oops_line = i == first;
    if (i >= cut_at && !cut) {
      cut = true;
      text_end = report.size();
    }
    // "[<ffffffff8123>] ? f+0x..": an unreliable frame (what the pattern
    // "(\[\<[0-9a-f]+\>\])? \? " finds, a " ? " anywhere).
    if (!oops_line && !Contains(ln, "<EOI>") && (HasUnreliableMark(ln) || ln.ends_with(" (unreliable)"))) continue;
    ++text_lines;
    bool skip = skip_rest;
    if (Contains(ln, "Disabling lock debugging due to kernel taint")) {
      skip = true;
    } else if ((Contains(ln, "Kernel panic - not syncing") ||
                Contains(ln, "WARNING: possible circular locking dependency detected")) &&
               text_lines > min_lines) {
      skip = skip_rest = true;
    }
    if (!oops_line && skip) continue;
    report.append(ln).push_back('\n');
  }
  Description d = Describe(string_view(report).substr(0, text_end), *oops);
  if (d.title.empty()) return r;
  r.corrupted = d.corrupted || IsCorrupted(d.title, report, d.format);
  r.title = Normalise(d.title);
  std::string guilty;
  if (RE2::PartialMatch(r.title, *T().title_frame, &guilty) && guilty != "corrupted") r.guilty = guilty;
  return r;
}

}  // namespace vigil::console
