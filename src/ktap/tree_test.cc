#include "ktap/tree.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace vigil::ktap {
namespace {

// The VmFlags line of the mapping that holds `p` in /proc/self/smaps ("hg":
// huge pages advised).
std::string VmFlagsOf(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in = false;
  auto addr = reinterpret_cast<uintptr_t>(p);
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      in = lo <= addr && addr < hi;
      continue;
    }
    if (in && line.rfind("VmFlags:", 0) == 0) return line + " ";
  }
  return "";
}

TEST(Chunk, HugePagesStopOnceOneCostMoreThanSmallPagesWould) {
  {
    Chunk probe(ChunkSource::kBytes, false);
    if (madvise(probe.data(), ChunkSource::kBytes, MADV_HUGEPAGE) != 0) {
      GTEST_SKIP() << "no transparent huge pages in this kernel";
    }
  }
  ResetHugePagesForTest();
  NoteHugeFault(2 << 20, 0.2);  // what a huge page costs while the guest has them backed
  EXPECT_TRUE(HugePagesPay());
  {
    Chunk big(ChunkSource::kBytes, true);
    EXPECT_NE(VmFlagsOf(big.data()).find(" hg "), std::string::npos) << VmFlagsOf(big.data());
    Chunk small(ChunkSource::kBytes, false);
    EXPECT_EQ(VmFlagsOf(small.data()).find(" hg "), std::string::npos) << VmFlagsOf(small.data());
  }
  ResetHugePagesForTest();  // whatever the real fault of `big` cost
  NoteHugeFault(8 << 20, 11.0);  // four huge pages at 2.75 ms: still cheaper than small ones
  EXPECT_TRUE(HugePagesPay());
  NoteHugeFault(2 << 20, 30.0);  // one the host had to find first
  EXPECT_FALSE(HugePagesPay());
  {
    Chunk big(ChunkSource::kBytes, true);  // asked for huge, given small
    EXPECT_NE(VmFlagsOf(big.data()), "");
    EXPECT_EQ(VmFlagsOf(big.data()).find(" hg "), std::string::npos) << VmFlagsOf(big.data());
    big.data()[ChunkSource::kBytes - 1] = 1;  // usable all the same
  }
  NoteHugeFault(2 << 20, 0.1);  // for the rest of the process
  EXPECT_FALSE(HugePagesPay());
  ResetHugePagesForTest();
}

}  // namespace
}  // namespace vigil::ktap
