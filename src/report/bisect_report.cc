#include "report/bisect_report.h"

#include <fmt/format.h>

#include "base/text.h"

namespace vigil::report {

std::string ConclusionText(const nlohmann::json& j) {
  std::string out;
  // An error may quote git or the test (strangers' bytes).
  if (j.contains("error")) return fmt::format("error: {}\n", SanitizeForTerminal(j["error"].get<std::string>()));
  std::string h = j["hypothesis"];
  int reused = j.value("reused_builds", 0);
  out += fmt::format("stopped: {} after {} run(s), {} build(s){}\n", j["stop"].get<std::string>(),
                     j["runs"].get<int>(), j["builds"].get<int>(),
                     reused > 0 ? fmt::format(" ({} time(s) back to a kept build)", reused) : "");
  if (j.contains("build_cost") && j["build_cost"].is_number() && j.value("builds", 0) > 0) {
    double cost = j["build_cost"].get<double>();
    const nlohmann::json& m =
        j.contains("measured") && j["measured"].is_object() ? j["measured"] : nlohmann::json::object();
    auto num = [&](const char* key) {
      return m.contains(key) && m[key].is_number() ? m[key].get<double>() : 0.0;
    };
    if (j.value("build_cost_measured", false)) {
      out += fmt::format(
          "build cost: {:.1f} runs, measured: a build {:.1f} s, a run {:.1f} s ({:.0f} builds, {:.0f} runs "
          "timed)\n",
          cost, num("build_ms") / 1000.0, num("run_ms") / 1000.0, num("builds"), num("runs"));
    } else {
      out += fmt::format("build cost: {:.1f} runs\n", cost);
    }
  }
  if (h == "culprit") {
    const auto& range = j["range"];
    if (range.size() == 1) {
      out += fmt::format("{} commit: {} {}\n", j["fix"].get<bool>() ? "first fixed" : "first bad",
                         range[0]["hash"].get<std::string>(), SanitizeForTerminal(range[0]["subject"].get<std::string>()));
    } else {
      out += fmt::format("the {} is one of {} commits (untestable neighbours cannot be told apart):\n",
                         j["fix"].get<bool>() ? "fix" : "culprit", range.size());
      for (const auto& c : range)
        out += fmt::format("  {} {}\n", c["hash"].get<std::string>(), SanitizeForTerminal(c["subject"].get<std::string>()));
    }
    if (j.contains("merges")) {
      for (const auto& m : j["merges"]) {
        std::string h = m["hash"];
        out += fmt::format("{} merge {} {} (posterior {:.3f} on its line)\n",
                           range.size() == 1 && range[0]["hash"] == h
                               ? "  it is the merge's own change: none of the commits "
                                 "it merged fails alone;"
                               : "  found inside",
                           h.substr(0, 12), SanitizeForTerminal(m["subject"].get<std::string>()), m["posterior"].get<double>());
      }
    }
    out += fmt::format("posterior {:.3f}, failure rate where it fails ~{:.2f}\n",
                       j["posterior"].get<double>(), j["p_estimate"].get<double>());
    for (const auto& [k, e] : j["evidence"].items()) {
      out += fmt::format("  evidence at the {}: {} {} run(s), {} failure(s){}\n", k,
                         e["hash"].get<std::string>().substr(0, 12), e["runs"].get<int>(),
                         e["failures"].get<int>(), e["skipped"].get<bool>() ? " (skipped)" : "");
    }
    out += fmt::format("reproduce: {}\n", SanitizeForTerminal(j["reproduce"].get<std::string>()));
  } else if (h == "not_reproducible") {
    out += fmt::format("not reproducible at the bad end: the failure did not show there (posterior {:.3f})\n",
                       j["posterior"].get<double>());
  } else {
    out += fmt::format("the good end shows the failure too: it is not good (posterior {:.3f})\n",
                       j["posterior"].get<double>());
  }
  return out;
}

namespace {

nlohmann::json StatsJson(const bisect::SimStats& s) {
  return nlohmann::json{{"accuracy", s.accuracy},
                        {"mean_runs", s.mean_runs},
                        {"p90_runs", s.p90_runs},
                        {"mean_builds", s.mean_builds},
                        {"p90_builds", s.p90_builds},
                        {"mean_cost", s.mean_cost}};
}

}  // namespace

nlohmann::json SimulationJson(const bisect::SimOptions& o, const bisect::SimResult& r, double confidence) {
  nlohmann::json j = StatsJson(r.vigil);
  j["format_version"] = 1;
  j["commits"] = o.commits;
  j["p"] = o.p;
  j["epsilon"] = o.epsilon;
  j["trials"] = o.trials;
  j["confidence"] = confidence;
  j["naive"] = StatsJson(r.naive);
  j["naive"]["repeats"] = r.naive_repeats;
  j["history"] = o.history;
  j["build_cost"] = o.search.build_cost;
  j["keep_builds"] = o.search.keep_builds;
  j["cost_ratio"] = r.cost_ratio;
  j["oracle"] = StatsJson(r.oracle);
  j["oracle"]["ratio"] = r.oracle_ratio;
  return j;
}

std::string SimulationText(const bisect::SimOptions& o, const bisect::SimResult& r, double confidence) {
  std::string out;
  out += fmt::format("{} commits, p = {}, epsilon = {}, {} trials, confidence {}{}\n", o.commits, o.p,
                     o.epsilon, o.trials, confidence,
                     o.history ? fmt::format(", {} earlier run(s) at the bad end", o.history) : "");
  out += fmt::format("{:<28} {:>9} {:>10} {:>9} {:>11} {:>10} {:>10}\n", "", "accuracy", "mean runs", "p90 runs",
                     "mean builds", "p90 builds", "mean cost");
  out += fmt::format("{:<28} {:>8.1f}% {:>10.1f} {:>9.0f} {:>11.1f} {:>10.0f} {:>10.1f}\n", "vigil bisect",
                     100 * r.vigil.accuracy, r.vigil.mean_runs, r.vigil.p90_runs, r.vigil.mean_builds,
                     r.vigil.p90_builds, r.vigil.mean_cost);
  out += fmt::format("{:<28} {:>8.1f}% {:>10.1f} {:>9.0f} {:>11.1f} {:>10.0f} {:>10.1f}\n",
                     fmt::format("naive, each step {}x", r.naive_repeats), 100 * r.naive.accuracy,
                     r.naive.mean_runs, r.naive.p90_runs, r.naive.mean_builds, r.naive.p90_builds, r.naive.mean_cost);
  out += fmt::format("{:<28} {:>8.1f}% {:>10.1f} {:>9.0f} {:>11.1f} {:>10.0f} {:>10.1f}\n",
                     fmt::format("oracle, parent:culprit {}", r.oracle_ratio), 100 * r.oracle.accuracy,
                     r.oracle.mean_runs, r.oracle.p90_runs, r.oracle.mean_builds, r.oracle.p90_builds, r.oracle.mean_cost);
  out += fmt::format("cost = runs + {} x builds{}; vigil / naive: {:.2f}\n", o.search.build_cost,
                     o.search.keep_builds ? " (a commit built before is not built again)" : "", r.cost_ratio);
  out += fmt::format("(oracle: knows the culprit, runs only it and its parent, stops by the same rule)\n");
  return out;
}

}  // namespace vigil::report
