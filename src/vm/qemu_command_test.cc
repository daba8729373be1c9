#include "vm/qemu_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "sys/process.h"

namespace vigil::vm {
namespace {

using Argv = std::vector<std::string>;

VmOptions Options() {
  VmOptions o;
  o.kernel = "/k/vmlinuz-6.12";
  o.modules_dir = "/k/lib/modules/6.12";
  o.vigil_binary = "/build/vigil";
  o.guest_path = "/usr/sbin:/usr/bin";
  o.tests_dir = "/tmp/kst";
  o.work_dir = "/tmp/w";
  return o;
}

QemuBoot Boot(const std::string& accel, const std::string& rootfs) {
  return {accel, rootfs, "/cache/initramfs.img", "/tmp/w/vfs-1.sock", "/tmp/w/ch-1.sock",
          "/tmp/w/qmp-1.sock"};
}

// The argument after `flag`'s n-th occurrence; "" when absent.
std::string After(const Argv& a, const std::string& flag, int n = 0) {
  for (size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == flag && n-- == 0) return a[i + 1];
  return "";
}

bool Has(const Argv& a, const std::string& s) { return std::find(a.begin(), a.end(), s) != a.end(); }

TEST(QemuCommandTest, TcgWithVirtiofsIsTheWholeArgv) {
  Argv want = {"qemu-system-x86_64", "-accel", "tcg", "-m", "2G", "-smp", "2", "-display", "none",
               "-no-reboot", "-serial", "stdio", "-monitor", "none", "-nic", "none",
               "-object", "memory-backend-memfd,id=mem,size=2G,share=on", "-numa", "node,memdev=mem",
               "-chardev", "socket,id=vfs,path=/tmp/w/vfs-1.sock",
               "-device", "vhost-user-fs-pci,chardev=vfs,tag=vigilroot",
               "-qmp", "unix:/tmp/w/qmp-1.sock,server=on,wait=off",
               "-device", "virtio-serial-pci",
               "-chardev", "socket,id=ch,path=/tmp/w/ch-1.sock,server=on,wait=off",
               "-device", "virtserialport,chardev=ch,name=vigil",
               "-kernel", "/k/vmlinuz-6.12", "-initrd", "/cache/initramfs.img", "-append",
               "console=ttyS0 panic=-1 sysrq_always_enabled vigil.bin=/build/vigil vigil.rootfs=virtiofs "
               "vigil.path=/usr/sbin:/usr/bin vigil.modules=/k/lib/modules/6.12 "
               "vigil.keep=/build,/tmp/kst,/k/lib/modules/6.12"};
  EXPECT_EQ(QemuArgv(Options(), Boot("tcg", "virtiofs")), want);
}

TEST(QemuCommandTest, KvmAddsTheHostCpu) {
  Argv a = QemuArgv(Options(), Boot("kvm", "virtiofs"));
  EXPECT_EQ(After(a, "-accel"), "kvm");
  EXPECT_EQ(After(a, "-cpu"), "host");
  EXPECT_FALSE(Has(QemuArgv(Options(), Boot("tcg", "virtiofs")), "-cpu"));
}

TEST(QemuCommandTest, NinePSharesTheRootReadOnlyWithoutVirtiofsd) {
  Argv a = QemuArgv(Options(), Boot("tcg", "9p"));
  EXPECT_EQ(After(a, "-fsdev"), "local,id=fs0,path=/,security_model=none,readonly=on");
  EXPECT_EQ(After(a, "-device"), "virtio-9p-pci,fsdev=fs0,mount_tag=vigilroot");
  EXPECT_FALSE(Has(a, "-object"));
  EXPECT_FALSE(Has(a, "-numa"));
  EXPECT_EQ(After(a, "-chardev"), "socket,id=ch,path=/tmp/w/ch-1.sock,server=on,wait=off");
  EXPECT_NE(After(a, "-append").find(" vigil.rootfs=9p "), std::string::npos);
}

TEST(QemuCommandTest, CpusAndMemoryReachQemuAndTheSharedMemoryBackend) {
  VmOptions o = Options();
  o.cpus = 4;
  o.memory = "3584M";
  Argv a = QemuArgv(o, Boot("tcg", "virtiofs"));
  EXPECT_EQ(After(a, "-smp"), "4");
  EXPECT_EQ(After(a, "-m"), "3584M");
  EXPECT_EQ(After(a, "-object"), "memory-backend-memfd,id=mem,size=3584M,share=on");
}

TEST(QemuCommandTest, ResultsChannelAndQmpSocketsAreThisBootsOwn) {
  QemuBoot b = Boot("tcg", "virtiofs");
  b.channel_socket = "/w/ch-7.sock";
  b.qmp_socket = "/w/qmp-7.sock";
  Argv a = QemuArgv(Options(), b);
  EXPECT_EQ(After(a, "-qmp"), "unix:/w/qmp-7.sock,server=on,wait=off");
  EXPECT_EQ(After(a, "-chardev", 1), "socket,id=ch,path=/w/ch-7.sock,server=on,wait=off");
  EXPECT_EQ(After(a, "-device", 1), "virtio-serial-pci");
  EXPECT_EQ(After(a, "-device", 2), "virtserialport,chardev=ch,name=vigil");
}

TEST(QemuCommandTest, KernelInitramfsAndCommandLineComeLast) {
  Argv a = QemuArgv(Options(), Boot("tcg", "9p"));
  ASSERT_GE(a.size(), 6u);
  Argv tail(a.end() - 6, a.end());
  EXPECT_EQ(tail, (Argv{"-kernel", "/k/vmlinuz-6.12", "-initrd", "/cache/initramfs.img", "-append",
                        KernelCommandLine(Options(), "9p")}));
}

TEST(QemuCommandTest, CommandLinePanicOptionsComeBeforeVigilsAndAppendLast) {
  VmOptions o = Options();
  o.panic_on_warn = true;
  o.panic_on_oops = true;
  o.append = "loglevel=7 kasan.fault=panic";
  EXPECT_EQ(KernelCommandLine(o, "virtiofs"),
            "console=ttyS0 panic=-1 sysrq_always_enabled panic_on_warn=1 oops=panic vigil.bin=/build/vigil "
            "vigil.rootfs=virtiofs vigil.path=/usr/sbin:/usr/bin vigil.modules=/k/lib/modules/6.12 "
            "vigil.keep=/build,/tmp/kst,/k/lib/modules/6.12 loglevel=7 kasan.fault=panic");
}

TEST(QemuCommandTest, CommandLineWithoutModulesOrTestsKeepsOnlyTheBinarysFolder) {
  VmOptions o = Options();
  o.modules_dir.clear();
  o.tests_dir.clear();
  EXPECT_EQ(KernelCommandLine(o, "9p"),
            "console=ttyS0 panic=-1 sysrq_always_enabled vigil.bin=/build/vigil vigil.rootfs=9p "
            "vigil.path=/usr/sbin:/usr/bin vigil.keep=/build");
}

TEST(QemuCommandTest, VirtiofsdSharesTheRootAtTheSocket) {
  EXPECT_EQ(VirtiofsdArgv("/tmp/w/vfs-3.sock"),
            (Argv{"/usr/lib/qemu/virtiofsd", "--socket-path=/tmp/w/vfs-3.sock", "-o", "source=/", "-o",
                  "cache=always", "-o", "sandbox=chroot"}));
}

TEST(QemuCommandTest, ProbeIsATinyKvmGuestOnTheSerialConsole) {
  EXPECT_EQ(ProbeQemuArgv("/k/bz", "/c/i.img"),
            (Argv{"qemu-system-x86_64", "-accel", "kvm", "-m", "256", "-smp", "1", "-display", "none",
                  "-no-reboot", "-serial", "stdio", "-monitor", "none", "-nic", "none", "-kernel", "/k/bz",
                  "-initrd", "/c/i.img", "-append", "console=ttyS0 panic=-1 vigil.probe=1"}));
}

TEST(HidingArgv, TheProgramReadsHiddenFilesAsEmpty) {
  if (geteuid() != 0) GTEST_SKIP() << "unshare --mount needs root";
  char dir[] = "/var/tmp/vigil-hide-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string secret = std::string(dir) + "/token";
  std::string other = std::string(dir) + "/other";
  std::ofstream(secret) << "s3cret\n";
  std::ofstream(other) << "visible\n";
  sys::ProcessOptions po;
  po.argv = HidingArgv({secret});
  po.argv.insert(po.argv.end(), {"/bin/sh", "-c", "cat \"$0\" \"$1\"", secret, other});
  po.env = sys::CurrentEnvironment();
  auto r = sys::RunProcess(po);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->status.exited() && r->status.exit_code() == 0) << r->output;
  EXPECT_EQ(r->output.find("s3cret"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("visible"), std::string::npos) << r->output;
  // Outside, the file is untouched.
  std::ifstream in(secret);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "s3cret\n");
  std::string cmd = std::string("rm -rf ") + dir;
  (void)std::system(cmd.c_str());
}

TEST(HidingArgv, AsAnotherUserTheProgramReadsWhatThatUserCanOnly) {
  if (geteuid() != 0) GTEST_SKIP() << "unshare --mount and setpriv to another user need root";
  char dir[] = "/var/tmp/vigil-hide-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  ASSERT_EQ(chmod(dir, 0755), 0);
  std::string root_only = std::string(dir) + "/root-only";
  std::string world = std::string(dir) + "/world";
  std::ofstream(root_only) << "s3cret\n";
  std::ofstream(world) << "visible\n";
  ASSERT_EQ(chmod(root_only.c_str(), 0600), 0);
  ASSERT_EQ(chmod(world.c_str(), 0644), 0);
  EXPECT_EQ(HidingArgv({}, 65534, 65534, 993),
            (Argv{"unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                  HidingArgv({})[7], "vigil-hide", "--", "setpriv", "--reuid=65534", "--regid=65534",
                  "--groups=993", "--"}));
  sys::ProcessOptions po;
  po.argv = HidingArgv({}, 65534, 65534);
  po.argv.insert(po.argv.end(), {"/bin/sh", "-c", "id -u; cat \"$0\"; cat \"$1\"", root_only, world});
  po.env = sys::CurrentEnvironment();
  auto r = sys::RunProcess(po);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->output.find("s3cret"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("65534\n"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("Permission denied"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("visible"), std::string::npos) << r->output;
  std::string cmd = std::string("rm -rf ") + dir;
  (void)std::system(cmd.c_str());
}

}  // namespace
}  // namespace vigil::vm
