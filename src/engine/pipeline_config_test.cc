#include "engine/pipeline_config.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

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

TEST(PipelineConfig, BuildsAKernel) {
  auto p = ParsePipeline(R"(
[[tree]]
name = "net"
branch = "main"
[build]
base_config = "tinyconfig"
fragments = ["frag/mptcp.config"]
set = ["CONFIG_MPTCP=y"]
variant = "debug"
jobs = 4
ccache_dir = "cache"
[run]
collections = ["net/mptcp"]
memory = "1536M"
cpus = 1
panic_on = "warn"
append = "mptcp.enabled=1"
hang_timeout = 300
)",
                         "/etc/vigil/pipeline.toml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->build.enabled);
  EXPECT_EQ(p->build.base_config, "tinyconfig");  // a make target stays one
  EXPECT_EQ(p->build.fragments, std::vector<std::string>{"/etc/vigil/frag/mptcp.config"});
  EXPECT_EQ(p->build.set, std::vector<std::string>{"CONFIG_MPTCP=y"});
  EXPECT_EQ(p->build.variants, std::vector<std::string>{"debug"});
  EXPECT_EQ(p->build.jobs, 4);
  EXPECT_EQ(p->build.ccache_dir, "/etc/vigil/cache");
  EXPECT_EQ(p->build.context, "vigil-build");
  EXPECT_EQ(p->run.context, "vigil-test");
  EXPECT_EQ(p->run.memory, "1536M");
  EXPECT_EQ(p->run.cpus, 1);
  EXPECT_EQ(p->run.panic_on, "warn");
  EXPECT_EQ(p->run.append, "mptcp.enabled=1");
  EXPECT_EQ(p->run.hang_timeout, 300);

  auto file = ParsePipeline("[[tree]]\nname='t'\nbranch='m'\n[build]\nbase_config='configs/base'\n[run]\ncollections=['c']\n",
                            "/p/x.toml");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->build.base_config, "/p/configs/base");  // a file, beside the pipeline
  EXPECT_FALSE(ParsePipeline("[[tree]]\nname='t'\nbranch='m'\n[run]\ntests='s'\n", "p.toml")->build.enabled);
}

// A fragment edited without the pipeline's text changing: the base's run
// is not reused (its key changes); the same contents give the same key.
TEST(PipelineConfig, TheBuildInputsHashFollowsTheFragmentsContents) {
  char tmpl[] = "/tmp/vigil-pipeline-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/mptcp.config") << "CONFIG_MPTCP=y\n";
  auto p = ParsePipeline("[[tree]]\nname='t'\nbranch='m'\n[build]\nfragments=['mptcp.config']\n[run]\ncollections=['c']\n",
                         dir + "/pipeline.toml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const std::string before = BuildInputsHash(*p);
  EXPECT_EQ(BuildInputsHash(*p), before);
  std::ofstream(dir + "/mptcp.config") << "CONFIG_MPTCP=y\nCONFIG_NET_SCH_NETEM=y\n";
  EXPECT_NE(BuildInputsHash(*p), before);
  std::ofstream(dir + "/mptcp.config") << "CONFIG_MPTCP=y\n";
  EXPECT_EQ(BuildInputsHash(*p), before);
  std::filesystem::remove_all(dir);
  // Without [build], the pipeline's own hash.
  auto plain = ParsePipeline("[[tree]]\nname='t'\nbranch='m'\n[run]\ntests='s'\n", "p.toml");
  EXPECT_EQ(BuildInputsHash(*plain), plain->hash);
}

TEST(PipelineConfig, SeveralVariantsFromAVariantsFile) {
  char dir[] = "/tmp/vigil-pipeline-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::ofstream(std::string(dir) + "/variants.toml") << "[variant.timed]\nset = [\"CONFIG_PRINTK_TIME=y\"]\n";
  auto p = ParsePipeline(
      "[[tree]]\nname='t'\nbranch='m'\n[build]\nvariants=['normal','timed']\nvariants_file='variants.toml'\n"
      "[run]\ncollections=['c']\n",
      std::string(dir) + "/pipeline.toml");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->build.variants, (std::vector<std::string>{"normal", "timed"}));
  EXPECT_EQ(p->build.variants_file, std::string(dir) + "/variants.toml");
  auto missing = ParsePipeline(
      "[[tree]]\nname='t'\nbranch='m'\n[build]\nvariants=['normal','fast']\nvariants_file='variants.toml'\n"
      "[run]\ncollections=['c']\n",
      std::string(dir) + "/pipeline.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("variant fast"), std::string::npos) << missing.status().message();
  std::filesystem::remove_all(dir);
}

TEST(PipelineConfig, RejectsABuildThatCannotWork) {
  const std::string head = "[[tree]]\nname='t'\nbranch='m'\n";
  struct Case {
    std::string text, says;
  } cases[] = {
      {head + "[build]\n[run]\ntests='s'\ncollections=['c']\n", "no tests or build there"},
      {head + "[build]\n[run]\n", "needs the collections"},
      {head + "[build]\n[run]\ntests_filter=['justatest']\n", "COLL:TEST"},
      {head + "[build]\nset=['MPTCP']\n[run]\ncollections=['c']\n", "set: MPTCP"},
      {head + "[build]\nvariant='fast'\n[run]\ncollections=['c']\n", "variant fast"},
      {head + "[build]\nvariants=['normal','normal']\n[run]\ncollections=['c']\n", "named twice"},
      {head + "[build]\nvariants=[]\n[run]\ncollections=['c']\n", "cannot be empty"},
      {head + "[build]\nvariant='debug'\nvariants=['normal']\n[run]\ncollections=['c']\n", "not both"},
      {head + "[build]\nvariants=['../x']\n[run]\ncollections=['c']\n", "not a name"},
      {head + "[build]\ncontext='x'\n[run]\ncollections=['c']\ncontext='x'\n", "different check contexts"},
      {head + "[build]\njobs=-1\n[run]\ncollections=['c']\n", "jobs"},
      {head + "[build]\nbogus=1\n[run]\ncollections=['c']\n", "bogus"},
      {head + "[run]\ntests='s'\nmemory='1G'\n", "only with [build]"},
      {head + "[build]\n[run]\ncollections=['c']\nmemory='lots'\n", "QEMU size"},
      {head + "[build]\n[run]\ncollections=['c']\npanic_on='always'\n", "panic_on"},
      {head + "[build]\n[run]\ncollections=['c']\ncpus=0\n", "cpus"},
  };
  for (const auto& c : cases) {
    auto p = ParsePipeline(c.text, "p.toml");
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_NE(p.status().message().find(c.says), std::string::npos) << p.status().message();
  }
}

}  // namespace
}  // namespace vigil::engine
