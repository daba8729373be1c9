#include "vm/sysrq.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

namespace vigil::vm {
namespace {

using std::chrono::milliseconds;

// A QMP server on a Unix socket that answers as QEMU does: the greeting,
// then one line per command. chardev-send-break is answered with an error
// when `refuse_break`; every command is recorded.
class FakeQmp {
 public:
  explicit FakeQmp(bool refuse_break) : refuse_break_(refuse_break) {
    path_ = (std::filesystem::temp_directory_path() / ("vigil-qmp-" + std::to_string(getpid()) + "-" +
                                                       std::to_string(counter_++)))
                .string();
    listen_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    unlink(path_.c_str());
    EXPECT_EQ(bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listen_, 1), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeQmp() {
    shutdown(listen_, SHUT_RDWR);
    thread_.join();
    close(listen_);
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> commands() {
    std::lock_guard<std::mutex> lock(mu_);
    return commands_;
  }

 private:
  void Say(int fd, const std::string& line) { ASSERT_EQ(write(fd, line.data(), line.size()), ssize_t(line.size())); }
  void Serve() {
    int fd = accept(listen_, nullptr, nullptr);
    if (fd < 0) return;
    Say(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
    std::string buf;
    char c[512];
    ssize_t n;
    while ((n = read(fd, c, sizeof c)) > 0) {
      buf.append(c, size_t(n));
      size_t end;
      while ((end = buf.find('\n')) != std::string::npos) {
        std::string cmd = buf.substr(0, end);
        buf.erase(0, end + 1);
        {
          std::lock_guard<std::mutex> lock(mu_);
          commands_.push_back(cmd);
        }
        if (refuse_break_ && cmd.find("chardev-send-break") != std::string::npos) {
          Say(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"chardev 'serial0' not found\"}}\r\n");
        } else {
          // An event first, as QEMU may send one at any time: one with an
          // error of its own is no answer to the command.
          Say(fd,
              "{\"timestamp\": {\"seconds\": 1}, \"event\": \"BLOCK_IO_ERROR\", \"data\": {\"error\": \"x\"}}\r\n"
              "{\"return\": {}}\r\n");
        }
      }
    }
    close(fd);
  }
  static inline std::atomic<int> counter_{0};
  bool refuse_break_;
  std::string path_;
  int listen_ = -1;
  std::mutex mu_;
  std::vector<std::string> commands_;
  std::thread thread_;
};

// What reached the serial port's input.
std::string Drain(int fd) {
  std::string got;
  char c[64];
  ssize_t n;
  while ((n = recv(fd, c, sizeof c, MSG_DONTWAIT)) > 0) got.append(c, size_t(n));
  return got;
}

size_t Count(const std::vector<std::string>& commands, const std::string& what) {
  size_t n = 0;
  for (const auto& c : commands) n += c.find(what) != std::string::npos;
  return n;
}

class SendSysrqTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, serial_), 0); }
  void TearDown() override {
    close(serial_[0]);
    close(serial_[1]);
  }
  int serial_[2];  // [1] is what vigil writes to, [0] what QEMU's serial port reads
  SysrqTiming timing_{milliseconds(20000), milliseconds(300), milliseconds(10)};
};

TEST_F(SendSysrqTest, AKernelThatAnswersOnTheSerialLineGetsEveryKeyThere) {
  FakeQmp qmp(false);
  // The kernel answers once the first key arrives.
  std::string heard_keys;
  auto heard = [&] {
    heard_keys += Drain(serial_[0]);
    return !heard_keys.empty();
  };
  EXPECT_EQ(SendSysrq(qmp.path(), serial_[1], {"w", "t"}, heard, timing_), "on the serial line");
  heard_keys += Drain(serial_[0]);
  EXPECT_EQ(heard_keys, "wt");
  auto cmds = qmp.commands();
  EXPECT_EQ(Count(cmds, "qmp_capabilities"), 1u);
  EXPECT_EQ(Count(cmds, "\"chardev-send-break\",\"arguments\":{\"id\":\"serial0\"}"), 2u);
  EXPECT_EQ(Count(cmds, "sendkey"), 0u);
}

// A kernel built without MAGIC_SYSRQ_SERIAL takes the break and the key
// silently: the keyboard sends the key again, and the rest.
TEST_F(SendSysrqTest, AKernelThatDoesNotAnswerOnTheSerialLineGetsTheKeysFromTheKeyboard) {
  FakeQmp qmp(false);
  EXPECT_EQ(SendSysrq(qmp.path(), serial_[1], {"w", "t"}, [] { return false; }, timing_), "from the keyboard");
  EXPECT_EQ(Drain(serial_[0]), "w");
  auto cmds = qmp.commands();
  EXPECT_EQ(Count(cmds, "chardev-send-break"), 1u);
  EXPECT_EQ(Count(cmds, "sendkey alt-sysrq-w"), 1u);
  EXPECT_EQ(Count(cmds, "sendkey alt-sysrq-t"), 1u);
}

// QMP's error (no serial0) is an answer: the keyboard is tried at once, not
// after the 20 s a missing answer would take.
TEST_F(SendSysrqTest, ARefusedBreakFallsBackToTheKeyboardWithoutWaiting) {
  FakeQmp qmp(true);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(SendSysrq(qmp.path(), serial_[1], {"w", "t"}, [] { return true; }, timing_), "from the keyboard");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Drain(serial_[0]), "");
  auto cmds = qmp.commands();
  EXPECT_EQ(Count(cmds, "chardev-send-break"), 1u);
  EXPECT_EQ(Count(cmds, "sendkey alt-sysrq-w"), 1u);
  EXPECT_EQ(Count(cmds, "sendkey alt-sysrq-t"), 1u);
}

TEST_F(SendSysrqTest, WithoutASerialInputOnlyTheKeyboard) {
  FakeQmp qmp(false);
  EXPECT_EQ(SendSysrq(qmp.path(), -1, {"w"}, [] { return true; }, timing_), "from the keyboard");
  auto cmds = qmp.commands();
  EXPECT_EQ(Count(cmds, "chardev-send-break"), 0u);
  EXPECT_EQ(Count(cmds, "sendkey alt-sysrq-w"), 1u);
}

TEST(SendSysrq, NoMonitorSendsNothing) {
  EXPECT_EQ(SendSysrq("/nonexistent/qmp.sock", -1, {"w"}, [] { return true; }), "");
}

TEST(HasSysrqLine, TheKernelsAnswerOldAndNew) {
  EXPECT_TRUE(HasSysrqLine("[   12.000001] sysrq: Show Blocked State\n"));
  EXPECT_TRUE(HasSysrqLine("[   12.000001] SysRq : Show State\n"));
  EXPECT_FALSE(HasSysrqLine("[   12.000001] task:sleep state:S\n"));
}

}  // namespace
}  // namespace vigil::vm
