#include "vm/vm_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vigil::vm {
namespace {

namespace fs = std::filesystem;

bool Has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

TEST(CheckKvmTest, AMissingDeviceIsNamedWithTheReason) {
  Status s = CheckKvm("/nonexistent/kvm");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s, "/nonexistent/kvm: No such file or directory")) << s.message();
}

// A device that opens but is no KVM (a node left in a container, a wrong
// path): the API version ioctl is what tells.
TEST(CheckKvmTest, ADeviceThatIsNotKvmIsRefused) {
  Status s = CheckKvm("/dev/null");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s, "/dev/null is not a KVM device")) << s.message();
}

class CheckVmOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigil-vmcheck-" + std::to_string(getpid()));
    fs::create_directories(dir_ / "modules");
    std::ofstream(dir_ / "vmlinuz") << "not really a kernel";
    o_.kernel = (dir_ / "vmlinuz").string();
    o_.accel = "tcg";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  VmOptions o_;
};

TEST_F(CheckVmOptionsTest, WhatCanBootPasses) {
  EXPECT_TRUE(CheckVmOptions(o_).ok());
  o_.modules_dir = (dir_ / "modules").string();
  EXPECT_TRUE(CheckVmOptions(o_).ok());
}

// A missing --modules directory once gave three failed boots and 432 lines.
TEST_F(CheckVmOptionsTest, MissingModulesDirectoryIsSaidOnce) {
  o_.modules_dir = (dir_ / "nope").string();
  Status s = CheckVmOptions(o_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "--modules " + o_.modules_dir + ": No such file or directory");
  o_.modules_dir = o_.kernel;
  s = CheckVmOptions(o_);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s, "Not a directory")) << s.message();
}

TEST_F(CheckVmOptionsTest, UnreadableKernelIsNamed) {
  o_.kernel = (dir_ / "missing-vmlinuz").string();
  Status s = CheckVmOptions(o_);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s, "cannot read the kernel " + o_.kernel)) << s.message();
}

TEST_F(CheckVmOptionsTest, AccelKvmWithoutAUsableDeviceFailsBeforeBooting) {
  o_.accel = "kvm";
  o_.kvm_device = "/dev/null";
  Status s = CheckVmOptions(o_);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s, "--accel kvm: cannot use KVM: /dev/null is not a KVM device")) << s.message();
  o_.kvm_device = (dir_ / "kvm").string();
  s = CheckVmOptions(o_);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s, "No such file or directory")) << s.message();
  // auto and tcg do not need it.
  o_.accel = "auto";
  EXPECT_TRUE(CheckVmOptions(o_).ok());
}

}  // namespace
}  // namespace vigil::vm
