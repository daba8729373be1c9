#include "sys/net_module.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "sys/process.h"

namespace vigil::sys {
namespace {

TEST(NetModuleTest, IsFoundBesideTheExecutable) {
  EXPECT_EQ(std::filesystem::path(NetModulePath()).parent_path(), std::filesystem::path(SelfExe()).parent_path());
  EXPECT_EQ(std::filesystem::path(NetModulePath()).filename(), "vigil-net.so");
}

TEST(NetModuleTest, GivesEachEntryPointOnce) {
  for (const char* name :
       {"vigil_net_new_curl_transport", "vigil_net_send_mail_v3", "vigil_net_open_postgres", "vigil_net_new_server"}) {
    auto a = NetSymbol(name);
    ASSERT_TRUE(a.ok()) << name << ": " << a.status().ToString();
    auto b = NetSymbol(name);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(*a, *b) << name;
  }
}

TEST(NetModuleTest, AnUnknownNameIsAnErrorNamingTheModule) {
  auto p = NetSymbol("vigil_net_no_such_function");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kIOError);
  EXPECT_NE(p.status().message().find(NetModulePath()), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find("vigil_net_no_such_function"), std::string::npos);
}

}  // namespace
}  // namespace vigil::sys
