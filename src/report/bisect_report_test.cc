#include "report/bisect_report.h"

#include <gtest/gtest.h>

namespace vigil::report {
namespace {

TEST(BisectReport, SimulationShowsCostAtTheBuildCost) {
  bisect::SimOptions o;
  o.commits = 32;
  o.p = 1.0;
  o.trials = 10;
  o.search.build_cost = 5;
  bisect::SimResult r = bisect::Simulate(o);
  nlohmann::json j = SimulationJson(o, r, 0.95);
  EXPECT_EQ(j["build_cost"].get<double>(), 5.0);
  EXPECT_NEAR(j["mean_cost"].get<double>(), r.vigil.mean_runs + 5 * r.vigil.mean_builds, 1e-9);
  EXPECT_NEAR(j["naive"]["mean_cost"].get<double>(), r.naive.mean_runs + 5 * r.naive.mean_builds, 1e-9);
  EXPECT_NEAR(j["cost_ratio"].get<double>(), r.vigil.mean_cost / r.naive.mean_cost, 1e-9);
  std::string text = SimulationText(o, r, 0.95);
  EXPECT_NE(text.find("mean cost"), std::string::npos);
  EXPECT_NE(text.find("cost = runs + 5 x builds; vigil / naive: "), std::string::npos) << text;
}

}  // namespace
}  // namespace vigil::report
