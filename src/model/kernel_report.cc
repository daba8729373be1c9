#include "model/kernel_report.h"

#include <array>

namespace vigil::model {
namespace {

using std::string_view;

constexpr std::array<string_view, 29> kTypeNames = {
    "panic", "oops", "bug", "warning", "null_deref", "page_fault", "gpf", "soft_lockup", "hard_lockup",
    "hung_task", "rcu_stall", "workqueue_lockup", "refcount", "list_corruption", "atomic_sleep", "kasan",
    "kfence", "kcsan", "kmsan", "ubsan", "kmemleak", "lockdep", "slab_corruption", "stack_protector",
    "divide_error", "invalid_opcode", "double_fault", "netdev_refcnt", "other"};

}  // namespace

std::string_view TypeName(ReportType type) { return kTypeNames[static_cast<size_t>(type)]; }

}  // namespace vigil::model
