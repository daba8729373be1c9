#include "sys/digest.h"

#include <gtest/gtest.h>

namespace vigil::sys {
namespace {

TEST(Digest, Sha256OfKnownInputs) {
  // FIPS 180-2's examples.
  EXPECT_EQ(Sha256Hex("").value(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc").value(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')).value(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Bytes, not text: NULs and high bytes count.
  EXPECT_NE(Sha256Hex(std::string("a\0b", 3)).value(), Sha256Hex("a").value());
}

}  // namespace
}  // namespace vigil::sys
