#include "engine/pipeline_config.h"

#include <gtest/gtest.h>

namespace vigil::engine {
namespace {

constexpr const char* kGood = R"(
[[tree]]
name = "net-next"
branch = "main"
remote = "origin"

[[tree]]
name = "net"
branch = "net"

[run]
tests = "tools/testing/selftests/vigil"
build = "make -C tools/testing/selftests/vigil"
collections = ["c"]
jobs = 2
retries = 1
known_issues = "known.toml"
context = "vigil-host"

[checks]
target_url = "https://ci.example.org/runs/{run}"

[email]
smtp = "smtp://127.0.0.1:2525"
from = "Vigil CI <ci@example.org>"
cc = ["list@example.org"]
)";

TEST(PipelineConfig, ReadsEverySection) {
  auto p = ParsePipeline(kGood, "/etc/vigil/pipeline.toml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->trees.size(), 2u);
  EXPECT_EQ(p->trees[0].name, "net-next");
  EXPECT_EQ(p->trees[0].branch, "main");
  EXPECT_EQ(p->trees[0].remote, "origin");
  EXPECT_EQ(p->trees[1].remote, "");
  EXPECT_EQ(p->FindTree("net"), &p->trees[1]);
  EXPECT_EQ(p->FindTree("bpf"), nullptr);
  EXPECT_EQ(p->run.tests, "tools/testing/selftests/vigil");
  EXPECT_EQ(p->run.collections, std::vector<std::string>{"c"});
  EXPECT_EQ(p->run.jobs, 2);
  EXPECT_EQ(p->run.retries, 1);
  EXPECT_EQ(p->run.known_issues, "/etc/vigil/known.toml");  // beside the pipeline file
  EXPECT_EQ(p->run.context, "vigil-host");
  EXPECT_EQ(p->target_url, "https://ci.example.org/runs/{run}");
  EXPECT_TRUE(p->email.enabled);
  EXPECT_EQ(p->email.cc, std::vector<std::string>{"list@example.org"});
  EXPECT_EQ(p->hash.size(), 16u);
}

TEST(PipelineConfig, DefaultsWithoutOptionalSections) {
  auto p = ParsePipeline("[[tree]]\nname='t'\nbranch='main'\n[run]\ntests='selftests'\n", "p.toml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_FALSE(p->email.enabled);
  EXPECT_EQ(p->run.context, "vigil-test");
  EXPECT_EQ(p->run.jobs, 1);
  EXPECT_EQ(p->target_url, "");
}

TEST(PipelineConfig, TheHashFollowsTheText) {
  auto a = ParsePipeline("[[tree]]\nname='t'\nbranch='main'\n[run]\ntests='selftests'\n", "p.toml");
  auto b = ParsePipeline("[[tree]]\nname='t'\nbranch='main'\n[run]\ntests='selftests'\njobs=2\n", "p.toml");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->hash, b->hash);
}

void ExpectError(const std::string& text, const std::string& words) {
  auto p = ParsePipeline(text, "p.toml");
  ASSERT_FALSE(p.ok()) << text;
  EXPECT_NE(p.status().message().find(words), std::string::npos) << p.status().message();
}

TEST(PipelineConfig, RefusesWhatCannotWork) {
  ExpectError("[run]\ntests='s'\n", "at least one [[tree]]");
  ExpectError("[[tree]]\nname='t'\n[run]\ntests='s'\n", "needs name and branch");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n", "[run]");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n[run]\ntests='../etc'\n", "inside the checkout");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n[run]\ntests='/abs'\n", "inside the checkout");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n[[tree]]\nname='t'\nbranch='c'\n[run]\ntests='s'\n", "named twice");
  ExpectError("[[tree]]\nname='a b'\nbranch='b'\n[run]\ntests='s'\n", "blanks");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n[run]\ntests='s'\njobs=0\n", "jobs must be");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n[run]\ntests='s'\nbogus=1\n", "bogus");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n[run]\ntests='s'\n[email]\nsmtp='http://x'\nfrom='a@b'\n", "smtp://");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n[run]\ntests='s'\n[email]\nsmtp='smtp://x:25'\nfrom='nobody'\n",
              "address");
  ExpectError("[[tree]]\nname='t'\nbranch='b'\n[run\n", "p.toml:");
}

}  // namespace
}  // namespace vigil::engine
