#include "model/records.h"

#include <gtest/gtest.h>

namespace vigil::model {
namespace {

std::vector<std::string> Named(std::string_view result_json) {
  std::vector<std::string> out;
  for (const auto& r : SeriesRuns(result_json)) {
    out.push_back(r.role + " " + std::to_string(r.run) + (r.base ? " against " + std::to_string(r.base) : ""));
  }
  return out;
}

TEST(SeriesRuns, TheRunsAResultNamesForTheSeriesAndEachVariant) {
  EXPECT_EQ(Named(R"({"run":3,"base_run":1,"variants":[{"name":"normal","run":3,"base_run":1},)"
                  R"({"name":"debug","run":4,"base_run":2}],"email":{"body":"run 9"}})"),
            (std::vector<std::string>{"tested 3 against 1", "base 1", "tested 4 against 2", "base 2"}));
  // A series' run without a base (its base did not run) takes the one a variant names for it.
  EXPECT_EQ(Named(R"({"run":3,"variants":[{"run":3,"base_run":1}]})"),
            (std::vector<std::string>{"tested 3 against 1", "base 1"}));
  // A branch's result, and one before any run.
  EXPECT_EQ(Named(R"({"run":6})"), std::vector<std::string>{"tested 6"});
  EXPECT_TRUE(Named(R"({"conclusion":"fail: does not apply"})").empty());
}

TEST(SeriesRuns, WhatIsNotARunIdNamesNone) {
  EXPECT_TRUE(Named("").empty());
  EXPECT_TRUE(Named("not json").empty());
  EXPECT_TRUE(Named("[1,2]").empty());
  EXPECT_TRUE(Named(R"({"run":0,"base_run":-4})").empty());
  EXPECT_TRUE(Named(R"({"run":"3","base_run":1.5,"variants":{"run":3}})").empty());
  EXPECT_EQ(Named(R"({"variants":[7,null,{"run":8},{"run":[9]}]})"), std::vector<std::string>{"tested 8"});
}

}  // namespace
}  // namespace vigil::model
