#include "model/vm_spec.h"

#include <gtest/gtest.h>

namespace vigil::model {
namespace {

// A resumed VM run boots the very kernel it booted, whatever bytes its path has.
TEST(VmSpecTest, PathsAndAppendRoundTripAnyBytes) {
  VmSpec s;
  s.kernel = "/k/bzImage-\xff";
  s.modules = "/k/lib/modules/6.1\xfe";
  s.append = "note=\xe9";
  std::string json;
  ASSERT_NO_THROW(json = s.ToJson());
  auto back = VmSpec::FromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->kernel, s.kernel);
  EXPECT_EQ(back->modules, s.modules);
  EXPECT_EQ(back->append, s.append);
}

}  // namespace
}  // namespace vigil::model
