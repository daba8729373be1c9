#include "vm/channel.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

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


// A socket whose other end closed (QEMU gone) fails the write; before,
// SIGPIPE ended vigil there. A descriptor that is no socket (the guest's
// port) is written as before.
TEST(ChannelTest, WritingToAPeerThatIsGoneFailsWithoutASignal) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  close(sv[1]);
  EXPECT_FALSE(WriteAll(sv[0], EncodeFrame(FrameType::kQuit, 0, "")));
  close(sv[0]);

  char path[] = "/tmp/vigil-channel-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  EXPECT_TRUE(WriteAll(fd, "frame"));
  EXPECT_EQ(lseek(fd, 0, SEEK_END), 5);
  close(fd);
}

}  // namespace
}  // namespace vigil::vm
