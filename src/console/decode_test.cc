#include "console/decode.h"

#include <unistd.h>

#include <climits>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

// A function of this binary (built with debug info) for the decoder to find.
extern "C" __attribute__((noinline, used)) int vigil_decode_probe(int x) { return x * 3 + 1; }

namespace vigil::console {
namespace {

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(DecoderTest, FramesAreDecodedToTheirSourceLine) {
  Decoder d(SelfPath(), "");
  std::string line = d.DecodeLine("[   1.0]  vigil_decode_probe+0x1/0x40");
  EXPECT_EQ(line.rfind("[   1.0]  vigil_decode_probe (", 0), 0u) << line;
  EXPECT_NE(line.find("decode_test.cc:"), std::string::npos) << line;
}

TEST(DecoderTest, AConsoleOfDistinctFramesIsBounded) {
  Decoder::Limits limits;
  limits.max_frames = 2;
  Decoder d(SelfPath(), "", "", limits);
  for (int off = 1; off <= 2; ++off) {
    std::string line = d.DecodeLine(fmt::format(" vigil_decode_probe+0x{:x}/0x40", off));
    EXPECT_NE(line.find("decode_test.cc:"), std::string::npos) << line;
  }
  // A third distinct frame is left as it is; the ones seen are still decoded.
  EXPECT_EQ(d.DecodeLine(" vigil_decode_probe+0x3/0x40"), " vigil_decode_probe+0x3/0x40");
  EXPECT_NE(d.DecodeLine(" vigil_decode_probe+0x2/0x40").find("decode_test.cc:"), std::string::npos);
  ASSERT_EQ(d.warnings().size(), 1u);
  EXPECT_EQ(d.warnings()[0], "more than 2 distinct frames: the others are left as they are");
}

TEST(DecoderTest, MissingModulesAndTheirWarningsAreBounded) {
  Decoder::Limits limits;
  limits.max_missing = 10;
  limits.max_warnings = 4;
  Decoder d("", "", "", limits);
  for (int i = 0; i < 1000; ++i) {
    std::string line = fmt::format("  f+0x1/0x2 [m{}]", i);
    EXPECT_EQ(d.DecodeLine(line), line);
  }
  auto w = d.warnings();
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[0], "cannot find the .ko of module m0");
  EXPECT_EQ(w[4], "6 more warnings not shown");
}

}  // namespace
}  // namespace vigil::console
