#include "vm/channel.h"

#include <gtest/gtest.h>

#include "base/json.h"

namespace vigil::vm {
namespace {

// What the host sends the guest are bytes: an environment variable or a test
// name that is not UTF-8 reaches the guest's test exactly (and never throws).
TEST(ChannelTest, RequestsCarryAnyBytesExactly) {
  sys::ProcessOptions o;
  o.argv = {"/bin/sh", "./bad\xff.sh", "esc\x1b[31m"};
  o.cwd = "/t/dir\xfe";
  o.env = {"PATH=/bin", "CI_NOTE=caf\xe9 latin-1", "OK=\xc3\xa9"};
  o.cgroup_name = "vigil-1-2";
  o.timeout = std::chrono::milliseconds(1500);
  std::string payload;
  ASSERT_NO_THROW(payload = DumpJson(OptionsToJson(o)));
  sys::ProcessOptions back = OptionsFromJson(nlohmann::json::parse(payload));
  EXPECT_EQ(back.argv, o.argv);
  EXPECT_EQ(back.cwd, o.cwd);
  EXPECT_EQ(back.env, o.env);
  EXPECT_EQ(back.timeout, o.timeout);
}

// The guest's environment (tool version lines) is display text: invalid
// bytes are replaced, the hello frame still goes.
TEST(ChannelTest, HelloWithInvalidToolVersionsIsReplacedNotThrown) {
  model::Environment e;
  e.tools["ip"] = "ip utility, iproute2-\xff";
  std::string payload;
  ASSERT_NO_THROW(payload = DumpJson(EnvironmentToJson(e)));
  EXPECT_EQ(EnvironmentFromJson(nlohmann::json::parse(payload)).tools.at("ip"), "ip utility, iproute2-\xEF\xBF\xBD");
}

}  // namespace
}  // namespace vigil::vm
