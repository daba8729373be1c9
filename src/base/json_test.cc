#include "base/json.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(JsonTest, DumpReplacesInvalidUtf8InsteadOfThrowing) {
  nlohmann::json j = {{"name", "bad\xff.sh"}, {"list", {"ok", "\xc3\x28"}}};
  std::string text;
  ASSERT_NO_THROW(text = DumpJson(j));
  nlohmann::json back = nlohmann::json::parse(text);
  EXPECT_EQ(back["name"], "bad\xEF\xBF\xBD.sh");
  EXPECT_EQ(back["list"][1], "\xEF\xBF\xBD(");
  nlohmann::ordered_json o = {{"title", "\xfe"}};
  EXPECT_EQ(DumpJson(o), "{\"title\":\"\xEF\xBF\xBD\"}");
}

TEST(JsonTest, BytesRoundTripExactly) {
  for (std::string s : {std::string("plain"), std::string("bad\xff.sh"), std::string("\x00\x01\xfe", 3),
                        std::string("\xc3\xa9")}) {
    nlohmann::json j = nlohmann::json::parse(DumpJson(BytesToJson(s)));
    EXPECT_EQ(BytesFromJson(j), s);
  }
  EXPECT_TRUE(BytesToJson("valid \xc3\xa9").is_string());
  EXPECT_EQ(BytesToJson("a\xff"), nlohmann::json({{"hex", "61ff"}}));
  EXPECT_EQ(BytesFromJson(nlohmann::json({{"hex", "6"}})), std::nullopt);
  EXPECT_EQ(BytesFromJson(nlohmann::json(3)), std::nullopt);
}

}  // namespace
}  // namespace vigil
