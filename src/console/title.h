// Crash titles in syzkaller's convention ("KASAN: slab-use-after-free Read
// in tcp_v4_rcv", "possible deadlock in rtnl_lock", "INFO: task hung in
// synchronize_rcu"), the names by which kernel bugs are known across CIs,
// mailing lists and syzbot.
//
// A report's text is matched against a table of report kinds, each found by
// a header on its first line ("BUG:", "WARNING:", "INFO:", "general
// protection fault", ...) and titled by the first of its formats whose
// patterns match: the format says which parts of the report name the guilty
// function (the RIP line, the line after "Call Trace:", the lock being
// taken, the allocation's backtrace...) and which frames are never to blame
// (reporting, allocation, locking and string helpers). A report whose
// expected parts are missing is corrupted and named "... in corrupted".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vigil::console {

struct TitleResult {
  bool known = false;      // the first line has a header of the table
  std::string title;       // sanitized: printable ASCII, at most 120 bytes
  std::string guilty;      // the function the title names ("" when none)
  bool corrupted = false;  // the report lacks what its kind must show
};

struct TitleInput {
  // The report's lines, console prefixes stripped, its first line first.
  std::string_view text;
  // The console shows no caller ids: the text used for the title ends
  // before the first line that starts another report.
  bool cut_at_next_report = true;
};

TitleResult TitleReport(const TitleInput& input);

// The table's patterns that RE2 rejects (none: a unit test holds it).
std::vector<std::string> TitlePatternErrors();

// True when `line` holds the header of a report kind of the table and none
// of its suppressions ("WARNING: /etc/ssh/moduli does not exist", ...).
bool HasReportHeader(std::string_view line);

}  // namespace vigil::console
