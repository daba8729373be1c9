#include "base/kernel_modules.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace vigil {
namespace {

namespace fs = std::filesystem;

TEST(IndexModules, TakesFilesAndLinksWithinTheTreeButNoLinkOutOfIt) {
  fs::path dir = fs::temp_directory_path() / fmt::format("vigil-modules-test-{}", getpid());
  fs::path tree = dir / "lib/modules/6.12.0";
  fs::create_directories(tree / "kernel/net");
  std::ofstream(tree / "kernel/net/veth.ko") << "module";
  std::ofstream(tree / "kernel/net/dummy.ko.xz") << "module";
  std::ofstream(dir / "secret") << "not a module";
  fs::create_symlink(dir / "secret", tree / "kernel/net/evil.ko");             // out of the tree
  fs::create_symlink(tree / "kernel/net/veth.ko", tree / "kernel/net/alias.ko");  // within it
  auto got = IndexModules(tree.string());
  EXPECT_EQ(got.count("veth"), 1u);
  EXPECT_EQ(got.count("dummy"), 1u);
  EXPECT_EQ(got.count("alias"), 1u);
  EXPECT_EQ(got.count("evil"), 0u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil
