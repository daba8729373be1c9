// The HTML of each page, rendered from the page's JSON (what /api/v1/
// serves). Every string from the store goes through Html (web/html.h).
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/hash.h"
#include "base/json.h"
#include "engine/run_group.h"
#include "web/html.h"
#include "web/site.h"

namespace vigil::web {

using nlohmann::json;

namespace {

std::string Str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return "";
}

int64_t Int(const json& j, const char* key, int64_t def = 0) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return def;
  return j[key].get<int64_t>();
}

bool Bool(const json& j, const char* key) { return j.is_object() && j.contains(key) && j[key].is_boolean() && j[key].get<bool>(); }

const json& Arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  if (!j.is_object() || !j.contains(key) || !j[key].is_array()) return kEmpty;
  return j[key];
}

// A status as a CSS class: only A-Z and _ pass, anything else is OTHER.
std::string StatusClass(const std::string& s) {
  if (s.empty() || s.size() > 20) return "OTHER";
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || c == '_')) return s == "running" ? "RUNNING" : "OTHER";
  }
  return s;
}

// The letter of a status in a matrix cell (the color is not all it says).
std::string Letter(const std::string& s) {
  if (s == "PASS") return "P";
  if (s == "FAIL") return "F";
  if (s == "SKIP") return "S";
  if (s == "XFAIL") return "X";
  if (s == "XPASS") return "U";
  if (s == "KNOWN") return "N";
  if (s == "NO_TESTS") return "0";
  if (s == "ERROR") return "E";
  if (s == "TIMEOUT") return "T";
  if (s == "CRASH") return "C";
  if (s == "FLAKY") return "K";
  if (s == "MISSING") return "M";
  if (s.empty()) return "·";
  return "?";
}

void Badge(Html& h, const std::string& status) {
  h.Element("span", status, {"class", "st st-" + StatusClass(status)});
}

std::string Num(double v, int digits = 0) { return fmt::format("{:.{}f}", v, digits); }

// A chart of values in [0, max] over the x axis, as SVG made here.
std::string LineChart(const std::vector<double>& values, const std::vector<std::string>& labels, double max,
                      const std::string& unit, const std::string& title) {
  const int w = 600, hgt = 120, pad = 24;
  Html h;
  h.Open("svg", {"class", "chart", "viewBox", fmt::format("0 0 {} {}", w, hgt), "role", "img", "aria-label", title,
                 "xmlns", "http://www.w3.org/2000/svg"});
  h.Element("title", title);
  h.Raw(fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" class=\"axis\"/>", pad, hgt - pad, w - 4));
  h.Raw(fmt::format("<line x1=\"{0}\" y1=\"4\" x2=\"{0}\" y2=\"{1}\" class=\"axis\"/>", pad, hgt - pad));
  h.Open("text", {"x", "2", "y", "12", "class", "tick"}).Text(unit == "%" ? "100%" : Num(max / 1000.0, 1) + "s").Close("text");
  h.Open("text", {"x", "2", "y", std::to_string(hgt - pad), "class", "tick"}).Text("0").Close("text");
  if (values.empty() || max <= 0) {
    h.Close("svg");
    return h.Take();
  }
  double step = values.size() > 1 ? static_cast<double>(w - pad - 12) / (values.size() - 1) : 0;
  std::string points;
  std::string dots;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) continue;
    double x = pad + 6 + step * i;
    double y = (hgt - pad) - (hgt - pad - 8) * std::clamp(values[i] / max, 0.0, 1.0);
    points += fmt::format("{:.1f},{:.1f} ", x, y);
    Html d;
    d.Raw(fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" class=\"dot\">", x, y));
    d.Element("title", labels[i]);
    d.Raw("</circle>");
    dots += d.str();
  }
  if (!points.empty()) h.Raw(fmt::format("<polyline points=\"{}\" class=\"line\"/>", points));
  h.Raw(dots);
  h.Close("svg");
  return h.Take();
}

void Maybe(Html& h, const std::string& href, const std::string& text) {
  if (href.empty()) {
    h.Text(text);
  } else {
    h.Link(href, text);
  }
}

std::string EnvText(const json& env) {
  if (!env.is_object()) return "(no environment)";
  std::string where = Str(env, "where");
  std::string accel = Str(env, "accel");
  return where + (accel.empty() ? "" : " " + accel) + " · " + Str(env, "kernel");
}

void KeyValues(Html& h, const std::vector<std::pair<std::string, std::string>>& rows) {
  h.Open("table", {"class", "kv"});
  for (const auto& [k, v] : rows) {
    h.Open("tr").Element("th", k).Element("td", v).Close("tr");
  }
  h.Close("table");
}

}  // namespace

std::string Site::Frame(const std::string& title, const std::string& section, const std::string& body,
                        const Links& links, bool refresh) {
  Html h;
  h.Raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
  h.Raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
  h.Raw("<link rel=\"icon\" href=\"data:,\">");  // no /favicon.ico request
  h.Open("title").Text(title + " · vigil").Close("title");
  h.Open("link", {"rel", "stylesheet", "href", links.Static("vigil.css")});
  h.Open("script", {"src", links.Static("vigil.js"), "defer", "defer"}).Close("script");
  h.Raw("</head>");
  if (refresh) {
    h.Open("body", {"data-refresh", "5"});
  } else {
    h.Raw("<body>");
  }
  h.Raw("<header class=\"top\">");
  h.Link(links.Runs(1), "vigil", {"class", "brand"});
  h.Raw("<nav>");
  auto item = [&](const std::string& href, const char* name, const char* key) {
    if (section == key) {
      h.Link(href, name, {"class", "on", "aria-current", "page"});
    } else {
      h.Link(href, name);
    }
  };
  item(links.Runs(1), "Runs", "runs");
  item(links.Flakes(), "Flakes", "flakes");
  item(links.Crashes(), "Crashes", "crashes");
  item(links.Builds(), "Builds", "builds");
  item(links.SeriesList(), "Series", "series");
  h.Raw("</nav></header><main id=\"main\">");
  h.Raw(body);
  h.Raw("</main><footer>vigil · a read-only view of the results store</footer></body></html>\n");
  return h.Take();
}

std::string Site::ErrorPage(int status, const std::string& message, const Links& links) {
  Html h;
  const char* what = status == 404 ? "Not found" : status == 400 ? "Bad request" : "Error";
  h.Element("h1", fmt::format("{} ({})", what, status));
  h.Element("p", message, {"class", "error"});
  h.Open("p").Link(links.Runs(1), "Back to the runs").Close("p");
  return Frame(what, "", h.str(), links);
}

std::string Site::RunsPage(const json& d, const Links& links) {
  Html h;
  h.Element("h1", "Runs");
  const json& filters = d.contains("filters") ? d["filters"] : json::object();
  std::map<std::string, std::string> applied;
  for (const char* k : {"env", "origin", "status"}) {
    if (!Str(filters, k).empty()) applied[k] = Str(filters, k);
  }
  // The pager's links keep the list where it was (see RunsData).
  std::map<std::string, std::string> pinned = applied;
  if (Int(d, "up_to") > 0) pinned["up_to"] = std::to_string(Int(d, "up_to"));
  if (!links.files()) {
    h.Open("form", {"class", "filters", "method", "get", "action", links.RunsPath()});
    auto select = [&](const char* name, const char* label, std::initializer_list<const char*> values) {
      h.Open("label").Text(label).Text(" ");
      h.Open("select", {"name", name});
      h.Open("option", {"value", ""}).Text("any").Close("option");
      for (const char* v : values) {
        if (applied[name] == v) {
          h.Open("option", {"value", v, "selected", "selected"});
        } else {
          h.Open("option", {"value", v});
        }
        h.Text(v).Close("option");
      }
      h.Close("select").Close("label");
    };
    select("env", "Environment", {"host", "vm", "kvm", "tcg"});
    select("origin", "Origin", {"series", "branch", "manual"});
    select("status", "Status", {"running", "PASS", "FAIL", "SKIP", "ERROR", "TIMEOUT", "INTERRUPTED"});
    h.Element("button", "Filter", {"type", "submit"});
    h.Close("form");
  }
  const json& runs = Arr(d, "runs");
  // The pass-rate trend of the runs on this page, oldest first.
  std::vector<double> rates;
  std::vector<std::string> labels;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    const json& r = *it;
    rates.push_back(r.contains("pass_rate") && r["pass_rate"].is_number() ? 100.0 * r["pass_rate"].get<double>()
                                                                           : std::nan(""));
    labels.push_back(fmt::format("run {}: {}", Int(r, "id"),
                                 std::isnan(rates.back()) ? std::string("no results") : Num(rates.back()) + "% passed"));
  }
  h.Open("figure", {"class", "trend"});
  h.Raw(LineChart(rates, labels, 100, "%", "pass rate of these runs, oldest first"));
  h.Element("figcaption", "Pass rate (passed / passed + failed), oldest run on the left");
  h.Close("figure");
  if (runs.empty()) {
    h.Element("p", applied.empty() ? "No runs in the store yet." : "No run matches these filters.", {"class", "empty"});
  } else {
    h.Open("table", {"class", "runs sortable"});
    h.Raw("<thead><tr><th data-sort=\"num\">Run</th><th>Status</th><th>Origin</th><th>Environment</th>"
          "<th data-sort=\"num\">Passed</th><th data-sort=\"num\">Failed</th><th data-sort=\"num\">Skipped</th>"
          "<th data-sort=\"num\">Flaky</th><th data-sort=\"num\">Crashes</th><th data-sort=\"num\">Duration</th>"
          "<th>Started</th></tr></thead><tbody>");
    for (const json& r : runs) {
      int64_t id = Int(r, "id");
      std::string status = Str(r, "status");
      h.Open("tr", {"class", "row-" + StatusClass(status)});
      h.Open("td", {"data-v", std::to_string(id)});
      Maybe(h, links.Run(id), std::to_string(id));
      h.Close("td").Open("td");
      Badge(h, status);
      if (status == "running") h.Text(fmt::format(" {}/{}", Int(r, "done"), Int(r, "planned")));
      h.Close("td").Open("td");
      const json& o = r.contains("origin") ? r["origin"] : json::object();
      if (Str(o, "kind") == "manual" || Str(o, "kind").empty()) {
        h.Text("manual");
      } else {
        h.Text(Str(o, "kind") + " ");
        h.Link(links.Series(Int(o, "series")), Str(o, "name").empty() ? "#" + Str(o, "series") : Str(o, "name"));
        if (Str(o, "role") == "base") h.Text(" (base)");
      }
      h.Close("td");
      h.Element("td", EnvText(r.contains("environment") ? r["environment"] : json()));
      for (const char* k : {"passed", "failed", "skipped", "flaky", "crashes"}) {
        int64_t n = Int(r, k);
        std::string cls = n > 0 && (std::string(k) == "failed" || std::string(k) == "crashes") ? "bad" : "";
        h.Open("td", {"class", "n " + cls, "data-v", std::to_string(n)}).Text(std::to_string(n)).Close("td");
      }
      int64_t ms = Int(r, "duration_ms", -1);
      h.Open("td", {"class", "n", "data-v", std::to_string(ms)}).Text(ms >= 0 ? Duration(ms) : "").Close("td");
      h.Element("td", Str(r, "started_at"));
      h.Close("tr");
    }
    h.Raw("</tbody></table>");
  }
  int64_t page = Int(d, "page", 1), pages = Int(d, "pages", 1);
  h.Open("nav", {"class", "pager"});
  if (page > 1) h.Link(links.Runs(static_cast<int>(page - 1), page == 2 ? applied : pinned), "← newer");
  h.Text(fmt::format(" page {} of {} ({} runs) ", page, pages, Int(d, "total")));
  if (page < pages && !links.Runs(static_cast<int>(page + 1), pinned).empty()) {
    h.Link(links.Runs(static_cast<int>(page + 1), pinned), "older →");
  }
  h.Close("nav");
  if (!links.files()) {
    h.Open("p", {"class", "api"}).Link(links.RunsApi(static_cast<int>(page), applied), "JSON").Close("p");
  }
  bool running = std::any_of(runs.begin(), runs.end(), [](const json& r) { return Str(r, "status") == "running"; });
  return Frame("Runs", "runs", h.str(), links, running && !links.files());
}

namespace {

void VerdictItems(Html& h, const json& v, const char* key, const char* heading, const Links& links) {
  const json& items = Arr(v, key);
  if (items.empty()) return;
  h.Element("h3", fmt::format("{} ({})", heading, items.size()));
  h.Open("ul", {"class", std::string("items ") + key});
  for (const json& i : items) {
    h.Open("li");
    std::string path = Str(i, "path");
    if (!path.empty()) {
      Badge(h, Str(i, "status"));
      h.Text(" ");
      h.Link(links.Test(path), path);
    } else {
      h.Text(Str(i, "type") + ": ");
      h.Element("strong", Str(i, "title"));
      h.Text(" in ");
      h.Link(links.Test(Str(i, "test")), Str(i, "test"));
    }
    if (!Str(i, "detail").empty()) h.Element("span", " — " + Str(i, "detail"), {"class", "detail"});
    h.Close("li");
  }
  h.Close("ul");
}

}  // namespace

std::string Site::RunPage(const json& d, const Links& links) {
  Html h;
  int64_t id = Int(d, "id");
  std::string status = Str(d, "status");
  h.Open("h1").Text(fmt::format("Run {} ", id));
  Badge(h, status);
  h.Close("h1");
  bool running = status == "running";
  if (running) {
    h.Element("p", fmt::format("Running: {} of {} planned tests have a result.", Int(d, "done"), Int(d, "planned")),
              {"class", "progress"});
  }
  // The verdict and its reasons first.
  if (d.contains("verdict") && d["verdict"].is_object()) {
    const json& v = d["verdict"];
    std::string level = Str(v, "verdict");
    h.Open("section", {"class", "verdict verdict-" + StatusClass(level == "Success"    ? "SUCCESS"
                                                               : level == "Unstable" ? "UNSTABLE"
                                                                                     : "CRITICAL")});
    h.Open("h2").Text(level).Close("h2");
    h.Element("p", Str(v, "conclusion"), {"class", "conclusion"});
    int64_t base = Int(v, "baseline");
    if (base > 0) {
      h.Open("p").Text("Judged against baseline ");
      Maybe(h, links.Run(base), fmt::format("run {}", base));
      std::string cmp = links.Compare(base, id);
      if (!cmp.empty()) h.Text(" · ").Link(cmp, "compare");
      h.Close("p");
    } else {
      h.Element("p", "No baseline: no earlier complete run of this environment covers its plan.");
    }
    VerdictItems(h, v, "failures", "New failures (counted)", links);
    VerdictItems(h, v, "crashes", "Kernel reports (counted)", links);
    VerdictItems(h, v, "missing", "Planned, never ran", links);
    VerdictItems(h, v, "skipped_by_accident", "Passed in the baseline, skipped now", links);
    VerdictItems(h, v, "known", "Known issues", links);
    VerdictItems(h, v, "known_crashes", "Known kernel reports", links);
    VerdictItems(h, v, "quarantined", "Quarantined", links);
    VerdictItems(h, v, "preexisting", "Failing in the baseline as well", links);
    VerdictItems(h, v, "flaky", "Flaky (failed, then passed on a retry)", links);
    if (!Arr(v, "warnings").empty()) {
      h.Element("h3", "Warnings");
      h.Open("ul");
      for (const json& w : Arr(v, "warnings")) h.Element("li", w.is_string() ? w.get<std::string>() : DumpJson(w));
      h.Close("ul");
    }
    h.Close("section");
  } else if (!Str(d, "verdict_error").empty()) {
    h.Element("p", "No verdict: " + Str(d, "verdict_error"), {"class", "error"});
  }

  // Links.
  h.Open("p", {"class", "links"});
  std::vector<std::pair<std::string, std::string>> out;
  if (!links.RunJson(id).empty()) out.push_back({links.RunJson(id), "JSON"});
  if (!links.Junit(id).empty()) out.push_back({links.Junit(id), "JUnit"});
  if (Bool(d, "console") && !links.Console(id).empty()) out.push_back({links.Console(id), "console log"});
  for (size_t i = 0; i < out.size(); ++i) {
    if (i) h.Text(" · ");
    h.Link(out[i].first, out[i].second);
  }
  h.Close("p");

  // The environment, and how it differs from the baseline's.
  h.Element("h2", "Environment");
  const json& env = d.contains("environment") ? d["environment"] : json();
  std::vector<std::pair<std::string, std::string>> rows = {{"started", Str(d, "started_at")},
                                                           {"finished", Str(d, "finished_at")},
                                                           {"host", Str(d, "host")},
                                                           {"command", Str(d, "command")}};
  if (env.is_object()) {
    rows.push_back({"where", Str(env, "where") + (Str(env, "accel").empty() ? "" : " (" + Str(env, "accel") + ")")});
    rows.push_back({"kernel", Str(env, "kernel")});
    rows.push_back({"machine", fmt::format("{} · {} CPUs · {} MiB", Str(env, "arch"), Int(env, "cpus"),
                                           Int(env, "memory_kb") / 1024)});
  }
  if (Int(d, "build") > 0) rows.push_back({"build", fmt::format("build {}", Int(d, "build"))});
  if (d.contains("run_group") && d["run_group"].is_object()) {
    rows.push_back({"run group", fmt::format("{} · {} shards", Str(d["run_group"], "name"),
                                             Arr(d["run_group"], "shards").size())});
  }
  KeyValues(h, rows);
  if (Int(d, "build") > 0) h.Open("p").Link(links.Build(Int(d, "build")), "the build it booted").Close("p");
  if (d.contains("run_group") && d["run_group"].is_object()) {
    // Each shard: where it ran and how it ended.
    h.Open("table", {"class", "shards"});
    h.Raw("<tr><th>Shard</th><th>Tests</th><th>Host</th><th>Status</th><th>Started</th><th>Finished</th></tr>");
    for (const json& sh : Arr(d["run_group"], "shards")) {
      std::string status = engine::ShardShown(Str(sh, "state"), Str(sh, "status"));
      h.Open("tr")
          .Element("td", fmt::format("{}", Int(sh, "shard")))
          .Element("td", fmt::format("{}", Int(sh, "tests")))
          .Element("td", Str(sh, "host"))
          .Element("td", status)
          .Element("td", Str(sh, "started_at"))
          .Element("td", Str(sh, "finished_at"))
          .Close("tr");
    }
    h.Close("table");
  }
  if (!Arr(d, "environment_changes").empty()) {
    h.Element("h3", "Changed since the baseline");
    h.Open("table", {"class", "diff"});
    h.Raw("<tr><th>What</th><th>Baseline</th><th>This run</th></tr>");
    for (const json& c : Arr(d, "environment_changes")) {
      h.Open("tr").Element("td", Str(c, "key")).Element("td", Str(c, "baseline")).Element("td", Str(c, "run")).Close("tr");
    }
    h.Close("table");
  }

  // The tests, failures first.
  const json& tests = Arr(d, "tests");
  h.Element("h2", fmt::format("Tests ({})", tests.size()));
  h.Open("div", {"class", "tests"});
  for (const json& t : tests) {
    std::string path = Str(t, "path");
    std::string st = Str(t, "status");
    int failing_subs = 0;
    for (const json& s : Arr(t, "subtests")) {
      std::string ss = Str(s, "status");
      if (ss != "PASS" && ss != "SKIP" && ss != "XFAIL" && ss != "FLAKY") ++failing_subs;
    }
    bool bad = st != "PASS" && st != "SKIP" && st != "XFAIL";
    // Named by its path, not its place: a running run's page refreshes with
    // the tests in another order and opens again what was open.
    h.Open("details", {"class", "test row-" + StatusClass(st), "id", fmt::format("t{:016x}", Fnv1a(path))});
    h.Open("summary");
    Badge(h, st);
    h.Text(" ").Element("span", path, {"class", "path"});
    h.Element("span",
              fmt::format(" {} · {} attempt{}{}{}", Duration(Int(t, "duration_ms")), Arr(t, "attempts").size(),
                          Arr(t, "attempts").size() == 1 ? "" : "s",
                          failing_subs ? fmt::format(" · {} subtests not passing", failing_subs) : std::string(),
                          Arr(t, "crashes").empty() ? std::string()
                                                    : fmt::format(" · {} kernel reports", Arr(t, "crashes").size())),
              {"class", "meta"});
    if (Bool(t, "counted")) h.Element("span", " counted", {"class", "counted"});
    h.Close("summary");
    h.Open("p").Link(links.Test(path), "history of " + path).Close("p");
    if (!Arr(t, "subtests").empty()) {
      h.Open("table", {"class", "subtests"});
      h.Raw("<tr><th>Subtest</th><th>Status</th><th>Duration</th></tr>");
      for (const json& s : Arr(t, "subtests")) {
        std::string ss = Str(s, "status");
        h.Open("tr", {"class", "row-" + StatusClass(ss)});
        h.Open("td").Link(links.Test(path + ":" + Str(s, "path")), Str(s, "path")).Close("td");
        h.Open("td");
        Badge(h, ss);
        h.Close("td");
        h.Element("td", s.contains("duration_ms") ? Duration(Int(s, "duration_ms")) : "");
        h.Close("tr");
      }
      h.Close("table");
    }
    h.Open("table", {"class", "attempts"});
    h.Raw("<tr><th>Attempt</th><th>Status</th><th>Exit</th><th>Duration</th><th>Output</th></tr>");
    for (const json& a : Arr(t, "attempts")) {
      h.Open("tr");
      h.Element("td", Str(a, "attempt"));
      h.Open("td");
      Badge(h, Str(a, "status"));
      h.Close("td");
      std::string exit = a.contains("exit_code") && a["exit_code"].is_number() ? Str(a, "exit_code") : "";
      if (Int(a, "signal") > 0) exit += fmt::format(" signal {}", Int(a, "signal"));
      if (Bool(a, "timed_out")) exit += " timed out";
      if (Bool(a, "interrupted")) exit += " interrupted";
      h.Element("td", exit);
      h.Element("td", Duration(Int(a, "duration_ms")));
      h.Open("td");
      std::string out = links.Output(Int(d, "id"), path, static_cast<int>(Int(a, "attempt", 1)));
      if (out.empty()) {
        h.Text(fmt::format("{} bytes", Int(a, "output_bytes")));
      } else {
        h.Link(out, fmt::format("{} bytes", Int(a, "output_bytes")));
      }
      h.Close("td");
      h.Close("tr");
    }
    h.Close("table");
    for (const json& e : Arr(t, "environment_issues")) {
      h.Element("p", "environment: " + (e.is_string() ? e.get<std::string>() : std::string()), {"class", "envissue"});
    }
    for (const json& c : Arr(t, "crashes")) {
      h.Open("div", {"class", "crash"});
      h.Open("h4").Text(Str(c, "type") + ": ").Element("span", Str(c, "title"), {"class", "title"}).Close("h4");
      if (!Str(c, "text").empty()) h.Element("pre", Str(c, "text"), {"class", "log"});
      h.Close("div");
    }
    for (const json& a : Arr(t, "attempts")) {
      if (!a.contains("output_tail")) continue;
      h.Element("h4", fmt::format("Output of attempt {}{}", Int(a, "attempt"),
                                  Bool(a, "output_cut") ? " (the end)" : ""));
      h.Element("pre", Str(a, "output_tail"), {"class", "log"});
    }
    (void)bad;
    h.Close("details");
  }
  h.Close("div");
  if (!Arr(d, "not_run").empty()) {
    h.Element("h2", fmt::format("{} ({})", running ? "Not run yet" : "Never ran", Arr(d, "not_run").size()));
    h.Open("ul", {"class", "notrun"});
    for (const json& p : Arr(d, "not_run")) h.Element("li", p.is_string() ? p.get<std::string>() : std::string());
    h.Close("ul");
  }
  return Frame(fmt::format("Run {}", id), "runs", h.str(), links, running && !links.files());
}

std::string Site::TestPage(const json& d, const Links& links) {
  Html h;
  std::string test = Str(d, "test"), sub = Str(d, "subtest");
  std::string title = sub.empty() ? test : test + ":" + sub;
  h.Element("h1", title);
  if (!sub.empty()) h.Open("p").Text("A subtest of ").Link(links.Test(test), test).Close("p");
  const json& runs = Arr(d, "runs");
  h.Element("p", fmt::format("The last {} runs that ran it, oldest on the left. Letters: P pass, F fail, S skip, "
                             "X expected failure, U unexpected pass (a failure), E error, T timeout, C crash, "
                             "K flaky (failed, then passed), N a known issue's failure, M missing, 0 no tests, "
                             "· not in that run.",
                             runs.size()),
            {"class", "legend"});
  bool any_series = std::any_of(runs.begin(), runs.end(), [](const json& r) { return Int(r, "series") > 0; });
  if (any_series) {
    h.Element("p",
              "S: the run tested a patch series (a patch applied to the tree), not the tree itself; flakes, quarantine "
              "and verdicts leave such runs out of the tree's history.",
              {"class", "note"});
  }
  h.Open("div", {"class", "scroll"});
  h.Open("table", {"class", "matrix"});
  h.Raw("<thead><tr><th>Subtest</th>");
  for (const json& r : runs) {
    int64_t id = Int(r, "run");
    h.Open("th", {"title", fmt::format("run {} · {} · {}", id, Str(r, "started_at"), Str(r, "env"))});
    Maybe(h, links.Run(id), std::to_string(id));
    h.Close("th");
  }
  h.Raw("</tr>");
  // Which runs tested a patch series: a row of links to their series.
  if (any_series) {
    h.Raw("<tr class=\"origin\"><th>Tested a series</th>");
    for (const json& r : runs) {
      int64_t series = Int(r, "series");
      if (series <= 0) {
        h.Element("th", "");
        continue;
      }
      h.Open("th", {"title", fmt::format("run {} tested series {} (a patch applied to the tree)", Int(r, "run"), series)});
      Maybe(h, links.Series(series), "S");
      h.Close("th");
    }
    h.Raw("</tr>");
  }
  h.Raw("</thead><tbody>");
  for (const json& row : Arr(d, "rows")) {
    std::string name = Str(row, "subtest");
    h.Open("tr");
    h.Open("th", {"class", "name"});
    if (name.empty()) {
      h.Text("(the test)");
    } else {
      h.Link(links.Test(test + ":" + name), name);
    }
    h.Close("th");
    const json& cells = Arr(row, "cells");
    for (size_t i = 0; i < cells.size() && i < runs.size(); ++i) {
      std::string st = cells[i].is_string() ? cells[i].get<std::string>() : "";
      int64_t id = Int(runs[i], "run");
      h.Open("td", {"class", "c st-" + (st.empty() ? std::string("NONE") : StatusClass(st)), "title",
                    fmt::format("run {}: {}", id, st.empty() ? std::string("not run") : st)});
      std::string href = links.Run(id);
      if (href.empty() || st.empty()) {
        h.Text(Letter(st));
      } else {
        h.Link(href, Letter(st));
      }
      h.Close("td");
    }
    h.Close("tr");
  }
  h.Raw("</tbody></table></div>");
  if (Bool(d, "rows_cut")) h.Element("p", "Only the first 1000 subtests are shown.", {"class", "note"});
  // Durations over time.
  std::vector<double> ms;
  std::vector<std::string> labels;
  double max = 0;
  for (const json& r : runs) {
    ms.push_back(static_cast<double>(Int(r, "duration_ms")));
    max = std::max(max, ms.back());
    labels.push_back(fmt::format("run {}: {}", Int(r, "run"), Duration(Int(r, "duration_ms"))));
  }
  h.Element("h2", "Duration");
  h.Open("figure", {"class", "trend"});
  h.Raw(LineChart(ms, labels, max, "s", "duration of the test in each run"));
  h.Close("figure");
  h.Element("h2", "Known issues");
  if (Arr(d, "known_issues").empty()) {
    h.Element("p", Str(d, "known_issues_error").empty() ? "None matches it."
                                                        : "The known issues could not be read: " +
                                                              Str(d, "known_issues_error"));
  } else {
    h.Open("ul");
    for (const json& k : Arr(d, "known_issues")) {
      h.Open("li").Element("code", Str(k, "match")).Text(" — " + Str(k, "reason"));
      if (!Str(k, "link").empty()) h.Text(" (" + Str(k, "link") + ")");
      if (!Str(k, "expires").empty()) h.Text(", expires " + Str(k, "expires"));
      h.Element("span", " " + Str(k, "defined"), {"class", "detail"});
      h.Close("li");
    }
    h.Close("ul");
  }
  if (!links.files()) h.Open("p", {"class", "api"}).Link(links.Api("/tests?path=" + UrlEncode(title)), "JSON").Close("p");
  return Frame(title, "runs", h.str(), links);
}

std::string Site::FlakesPage(const json& d, const Links& links) {
  Html h;
  h.Element("h1", "Flakes");
  h.Element("p", fmt::format("Over the last {} runs of each environment class ({} runs looked at). Unhealthy first.",
                             Int(d, "window"), Int(d, "runs")));
  // The data has what needs attention and counts the rest ("hidden"), or,
  // with ?all=1, has every entry.
  const json& entries = Arr(d, "entries");
  bool all = !d.contains("hidden");
  int64_t hidden = 0;
  if (!all && d["hidden"].is_object()) {
    for (const auto& [cls, n] : d["hidden"].items()) hidden += n.is_number_integer() ? n.get<int64_t>() : 0;
  }
  if (entries.empty()) {
    h.Element("p", "Nothing flaky, broken, regressed or fixed.", {"class", "empty"});
  } else {
    h.Open("table", {"class", "flakes sortable"});
    h.Raw("<thead><tr><th>Class</th><th>Test</th><th>Subtest</th><th>Environment</th><th data-sort=\"num\">Runs</th>"
          "<th data-sort=\"num\">Failures</th><th data-sort=\"num\">Failure rate</th>"
          "<th data-sort=\"num\">Retry flakes</th><th>Last</th><th>Quarantine</th></tr></thead><tbody>");
    for (const json& e : entries) {
      std::string test = Str(e, "test"), sub = Str(e, "subtest");
      h.Open("tr", {"class", "cls-" + StatusClass(Str(e, "class") == "flaky" ? "FLAKY" : "OTHER")});
      h.Element("td", Str(e, "class"), {"class", "cls " + Str(e, "class")});
      h.Open("td").Link(links.Test(test), test).Close("td");
      h.Open("td");
      if (!sub.empty()) h.Link(links.Test(test + ":" + sub), sub);
      h.Close("td");
      h.Element("td", Str(e, "env"));
      h.Element("td", Str(e, "runs"), {"class", "n", "data-v", Str(e, "runs")});
      h.Element("td", Str(e, "failures"), {"class", "n", "data-v", Str(e, "failures")});
      double rate = e.contains("fail_rate") && e["fail_rate"].is_number() ? e["fail_rate"].get<double>() : 0;
      h.Element("td", Num(100 * rate, 1) + "%", {"class", "n", "data-v", Num(rate, 4)});
      h.Element("td", Str(e, "retry_flakes"), {"class", "n", "data-v", Str(e, "retry_flakes")});
      h.Open("td");
      Badge(h, Str(e, "last_status"));
      h.Close("td");
      h.Open("td");
      if (Bool(e, "quarantined")) {
        h.Element("strong", "quarantined");
        h.Text(fmt::format(" since run {}; released after {} more passes in a row", Int(e, "quarantined_since"),
                           Int(e, "release_in")));
        h.Element("span", " " + Str(e, "quarantine_reason"), {"class", "detail"});
      }
      h.Close("td");
      h.Close("tr");
    }
    h.Raw("</tbody></table>");
  }
  if (!all) {
    h.Open("p", {"class", "note"}).Text(fmt::format("{} more are stable, new or always skipped", hidden));
    if (!links.files()) h.Text(" (").Link(links.FlakesAll(), "list them").Text(")");
    h.Text(".").Close("p");
  }
  if (!links.files()) {
    h.Open("p", {"class", "api"}).Link(links.Api(all ? "/flakes?all=1" : "/flakes"), "JSON").Close("p");
  }
  return Frame("Flakes", "flakes", h.str(), links);
}

std::string Site::CrashesPage(const json& d, const Links& links) {
  Html h;
  h.Element("h1", "Kernel crashes");
  const json& crashes = Arr(d, "crashes");
  h.Element("p", fmt::format("{} kernel reports, {} distinct (by fingerprint), the most recent first.",
                             Int(d, "reports"), crashes.size()));
  if (crashes.empty()) h.Element("p", "No kernel report recorded.", {"class", "empty"});
  for (const json& c : crashes) {
    h.Open("details", {"class", "crash"});
    h.Open("summary");
    h.Element("span", Str(c, "type"), {"class", std::string("ctype") + (Bool(c, "fatal") ? " fatal" : "")});
    h.Text(" ").Element("span", Str(c, "title"), {"class", "title"});
    h.Element("span", fmt::format(" ×{} in {} runs", Int(c, "count"), Int(c, "runs")), {"class", "count"});
    h.Close("summary");
    const json& first = c.contains("first_seen") ? c["first_seen"] : json();
    const json& last = c.contains("last_seen") ? c["last_seen"] : json();
    h.Open("table", {"class", "kv"});
    h.Open("tr").Element("th", "first seen").Open("td");
    Maybe(h, links.Run(Int(first, "run")), fmt::format("run {}", Int(first, "run")));
    h.Text(" " + Str(first, "at")).Close("td").Close("tr");
    h.Open("tr").Element("th", "last seen").Open("td");
    Maybe(h, links.Run(Int(last, "run")), fmt::format("run {}", Int(last, "run")));
    h.Text(" " + Str(last, "at")).Close("td").Close("tr");
    h.Open("tr").Element("th", "tests").Open("td");
    bool first_item = true;
    for (const json& t : Arr(c, "tests")) {
      if (!first_item) h.Text(", ");
      first_item = false;
      std::string p = t.is_string() ? t.get<std::string>() : "";
      h.Link(links.Test(p), p);
    }
    h.Close("td").Close("tr");
    std::string kernels;
    for (const json& k : Arr(c, "kernels")) kernels += (kernels.empty() ? "" : ", ") + (k.is_string() ? k.get<std::string>() : "");
    h.Open("tr").Element("th", "kernels").Element("td", kernels).Close("tr");
    h.Open("tr").Element("th", "fingerprint").Element("td", Str(c, "fingerprint")).Close("tr");
    h.Close("table");
    const json& ex = c.contains("example") ? c["example"] : json();
    h.Element("h4", fmt::format("The latest, in {} (run {})", Str(ex, "test"), Int(ex, "run")));
    if (Bool(ex, "text_not_shown")) {
      h.Open("p", {"class", "empty"}).Text("Its text is on ");
      Maybe(h, links.Run(Int(ex, "run")), fmt::format("run {}", Int(ex, "run")));
      h.Text("'s page.").Close("p");
    } else {
      h.Element("pre", Str(ex, "text"), {"class", "log"});
    }
    h.Close("details");
  }
  if (!links.files()) h.Open("p", {"class", "api"}).Link(links.Api("/crashes"), "JSON").Close("p");
  return Frame("Crashes", "crashes", h.str(), links);
}

std::string Site::BuildsPage(const json& d, const Links& links) {
  Html h;
  h.Element("h1", "Kernel builds");
  const json& builds = Arr(d, "builds");
  if (builds.empty()) {
    h.Element("p", "No kernel build recorded yet: vigil build, vigil run --build and the patch loop's [build] "
                   "record theirs here.",
              {"class", "empty"});
  } else {
    h.Open("table", {"class", "builds sortable"});
    h.Raw("<thead><tr><th data-sort=\"num\">Build</th><th>Status</th><th>Tree</th><th>Variant</th><th>Commit</th>"
          "<th data-sort=\"num\">Warnings</th><th data-sort=\"num\">Errors</th><th data-sort=\"num\">Duration</th>"
          "<th>Started</th></tr></thead><tbody>");
    for (const json& b : builds) {
      int64_t id = Int(b, "build");
      h.Open("tr", {"class", "row-" + StatusClass(Str(b, "status") == "built" ? "PASS" : "FAIL")});
      h.Open("td", {"data-v", std::to_string(id)}).Link(links.Build(id), std::to_string(id)).Close("td");
      h.Element("td", Str(b, "status"), {"class", "bstatus " + StatusClass(Str(b, "status") == "built" ? "PASS" : "FAIL")});
      h.Element("td", Str(b, "tree"));
      h.Element("td", Str(b, "variant"));
      h.Element("td", Str(b, "describe").empty() ? Str(b, "commit").substr(0, 12) : Str(b, "describe"));
      h.Element("td", Str(b, "warnings"), {"class", "n", "data-v", Str(b, "warnings")});
      h.Element("td", Str(b, "errors"), {"class", "n", "data-v", Str(b, "errors")});
      h.Element("td", Duration(Int(b, "duration_ms")), {"class", "n", "data-v", Str(b, "duration_ms")});
      h.Element("td", Str(b, "started_at"));
      h.Close("tr");
    }
    h.Raw("</tbody></table>");
  }
  return Frame("Builds", "builds", h.str(), links);
}

std::string Site::BuildPage(const json& d, const Links& links) {
  Html h;
  const json& b = d.contains("build") ? d["build"] : json();
  int64_t id = Int(b, "build");
  h.Element("h1", fmt::format("Build {}: {}", id, Str(b, "status")));
  if (!Str(b, "failure").empty()) h.Element("p", Str(b, "failure"), {"class", "error"});
  std::string mismatches;
  for (const json& m : Arr(b, "config_mismatches")) mismatches += (mismatches.empty() ? "" : "; ") + (m.is_string() ? m.get<std::string>() : "");
  std::string colls;
  for (const json& c : Arr(b, "collections")) colls += (colls.empty() ? "" : ", ") + (c.is_string() ? c.get<std::string>() : "");
  KeyValues(h, {{"tree", Str(b, "tree")},
                {"commit", Str(b, "commit") + (Bool(b, "dirty") ? " (dirty)" : "")},
                {"describe", Str(b, "describe")},
                {"variant", Str(b, "variant")},
                {"collections", colls},
                {"compiler", Str(b, "compiler")},
                {"config hash", Str(b, "config_hash")},
                {"options not set", mismatches},
                {"duration", Duration(Int(b, "duration_ms"))},
                {"steps", Str(b, "steps")},
                {"warnings / errors", Str(b, "warnings") + " / " + Str(b, "errors")},
                {"command", Str(b, "command")}});
  if (!Arr(d, "runs").empty()) {
    h.Open("p").Text("Booted by ");
    bool first = true;
    for (const json& r : Arr(d, "runs")) {
      if (!first) h.Text(", ");
      first = false;
      int64_t rid = r.is_number_integer() ? r.get<int64_t>() : 0;
      Maybe(h, links.Run(rid), fmt::format("run {}", rid));
    }
    h.Close("p");
  }
  if (d.contains("new_diagnostics")) {
    const json& fresh = Arr(d, "new_diagnostics");
    h.Open("h2").Text(fmt::format("New against build {} ({})", Int(d, "compared_to"), fresh.size())).Close("h2");
    h.Open("ul", {"class", "diags"});
    for (const json& x : fresh) {
      h.Element("li", fmt::format("{}:{}:{}: {}: {}{}{}", Str(x, "file"), Int(x, "line"), Int(x, "column"),
                                  Str(x, "severity"), Str(x, "message"),
                                  Str(x, "flag").empty() ? std::string() : " [" + Str(x, "flag") + "]",
                                  Str(x, "inlined_from").empty() ? std::string()
                                                                 : " (inlined from " + Str(x, "inlined_from") + ")"));
    }
    h.Close("ul");
  }
  const json& diags = Arr(d, "diagnostics");
  h.Element("h2", fmt::format("Diagnostics ({}{})", diags.size(), Bool(d, "diagnostics_cut") ? ", the first" : ""));
  if (!diags.empty()) {
    h.Open("table", {"class", "diags sortable"});
    h.Raw("<thead><tr><th>Severity</th><th>Where</th><th>Message</th><th>Flag</th></tr></thead><tbody>");
    for (const json& x : diags) {
      h.Open("tr", {"class", "sev-" + StatusClass(Str(x, "severity") == "warning" ? "WARNING" : Str(x, "severity") == "note" ? "NOTE" : "ERROR")});
      h.Element("td", Str(x, "severity"));
      h.Element("td", fmt::format("{}:{}:{}{}", Str(x, "file"), Int(x, "line"), Int(x, "column"),
                                  Str(x, "inlined_from").empty() ? std::string()
                                                                 : ", inlined from " + Str(x, "inlined_from")));
      h.Element("td", Str(x, "message"));
      h.Element("td", Str(x, "flag"));
      h.Close("tr");
    }
    h.Raw("</tbody></table>");
  }
  return Frame(fmt::format("Build {}", id), "builds", h.str(), links);
}

std::string Site::SeriesListPage(const json& d, const Links& links) {
  Html h;
  h.Element("h1", "Series");
  const json& list = Arr(d, "series");
  if (list.empty()) {
    h.Element("p", "No series yet: vigil watch, test-series and test-branch record theirs here.", {"class", "empty"});
  } else {
    h.Open("table", {"class", "series sortable"});
    h.Raw("<thead><tr><th data-sort=\"num\">Id</th><th>Series</th><th>Submitter</th><th>State</th><th>Conclusion</th>"
          "<th>Tree</th><th>Queued</th></tr></thead><tbody>");
    for (const json& s : list) {
      int64_t id = Int(s, "id");
      h.Open("tr");
      h.Open("td", {"data-v", std::to_string(id)}).Link(links.Series(id), std::to_string(id)).Close("td");
      std::string name = Str(s, "name");
      if (Int(s, "round") > 1) name += fmt::format(" (round {})", Int(s, "round"));
      h.Open("td").Link(links.Series(id), name.empty() ? "(no name)" : name).Close("td");
      h.Element("td", Str(s, "submitter"));
      h.Element("td", Str(s, "state"), {"class", "state " + StatusClass(Str(s, "state") == "done" ? "PASS" : Str(s, "state") == "failed" || Str(s, "state") == "error" ? "FAIL" : "RUNNING")});
      h.Element("td", Str(s, "conclusion"));
      h.Element("td", Str(s, "tree"));
      h.Element("td", Str(s, "queued_at"));
      h.Close("tr");
    }
    h.Raw("</tbody></table>");
  }
  return Frame("Series", "series", h.str(), links);
}

std::string Site::SeriesPage(const json& d, const Links& links) {
  Html h;
  int64_t id = Int(d, "id");
  h.Element("h1", Str(d, "name").empty() ? fmt::format("Series {}", id) : Str(d, "name"));
  h.Element("p", Str(d, "conclusion"), {"class", "conclusion"});
  KeyValues(h, {{"state", Str(d, "state")},
                {"source", Str(d, "source")},
                {"Patchwork series", Str(d, "series_id")},
                {"round", Str(d, "round")},
                {"version", Str(d, "version")},
                {"submitter", Str(d, "submitter")},
                {"tree", Str(d, "tree")},
                {"base", Str(d, "base")},
                {"head", Str(d, "head")},
                {"queued", Str(d, "queued_at")},
                {"updated", Str(d, "updated_at")}});
  if (!Arr(d, "passes").empty()) {
    h.Element("h2", "Builds and runs");
    h.Open("table", {"class", "passes"});
    h.Raw("<tr><th>Variant</th><th>Build</th><th>Run</th><th>Base run</th><th></th></tr>");
    for (const json& p : Arr(d, "passes")) {
      h.Open("tr").Element("td", Str(p, "variant").empty() ? "—" : Str(p, "variant"));
      h.Open("td");
      if (Int(p, "build") > 0) h.Link(links.Build(Int(p, "build")), fmt::format("build {}", Int(p, "build")));
      h.Close("td").Open("td");
      if (Int(p, "run") > 0) Maybe(h, links.Run(Int(p, "run")), fmt::format("run {}", Int(p, "run")));
      h.Close("td").Open("td");
      if (Int(p, "base_run") > 0) Maybe(h, links.Run(Int(p, "base_run")), fmt::format("run {}", Int(p, "base_run")));
      h.Close("td").Open("td");
      if (Int(p, "run") > 0 && Int(p, "base_run") > 0) {
        std::string cmp = links.Compare(Int(p, "base_run"), Int(p, "run"));
        if (!cmp.empty()) h.Link(cmp, "compare");
      }
      h.Close("td").Close("tr");
    }
    h.Close("table");
  }
  h.Element("h2", "Patches and checks");
  std::map<int64_t, std::vector<const json*>> checks;
  for (const json& c : Arr(d, "checks")) checks[Int(c, "patch")].push_back(&c);
  h.Open("table", {"class", "checks"});
  h.Raw("<tr><th>Patch</th><th>Context</th><th>Phase</th><th>State</th><th>Description</th><th>Posted</th></tr>");
  auto patch_rows = [&](int64_t pid, const std::string& name) {
    auto it = checks.find(pid);
    if (it == checks.end() || it->second.empty()) {
      h.Open("tr").Element("td", name).Element("td", "").Element("td", "").Element("td", "").Element("td", "no check").Element("td", "").Close("tr");
      return;
    }
    for (const json* c : it->second) {
      h.Open("tr").Element("td", name).Element("td", Str(*c, "context")).Element("td", Str(*c, "phase"));
      h.Element("td", Str(*c, "state"), {"class", "state " + StatusClass(Str(*c, "state") == "success" ? "PASS" : Str(*c, "state") == "pending" ? "RUNNING" : "FAIL")});
      h.Element("td", Str(*c, "description"));
      h.Element("td", Str(*c, "status") == "posted" ? Str(*c, "posted_at") : Str(*c, "status"));
      h.Close("tr");
    }
    checks.erase(it);
  };
  for (const json& p : Arr(d, "patches")) patch_rows(Int(p, "id"), Str(p, "name"));
  while (!checks.empty()) patch_rows(checks.begin()->first, fmt::format("patch {}", checks.begin()->first));
  h.Close("table");
  if (d.contains("email") && d["email"].is_object()) {
    const json& m = d["email"];
    h.Element("p", fmt::format("E-mail {}: {} ({})", Str(m, "message_id"), Str(m, "status"), Str(m, "updated_at")));
    // Recipients refused it for now: still to reach, or given up.
    for (const auto& [key, what] : {std::pair{"pending", "Refused for now by"}, {"never_reached", "Never reached"}}) {
      if (Arr(m, key).empty()) continue;
      std::string who;
      for (const json& a : Arr(m, key)) who += (who.empty() ? "" : ", ") + (a.is_string() ? a.get<std::string>() : "");
      h.Element("p", fmt::format("{} {} (since {})", what, who,
                                 Str(m, std::string_view(key) == "pending" ? "pending_since" : "refused_since")));
    }
  }
  return Frame(Str(d, "name").empty() ? fmt::format("Series {}", id) : Str(d, "name"), "series", h.str(), links);
}

std::string Site::ComparePage(const json& d, const Links& links) {
  Html h;
  int64_t a = Int(d, "run_a"), b = Int(d, "run_b");
  h.Open("h1").Text("Run ");
  Maybe(h, links.Run(a), std::to_string(a));
  h.Text(" → run ");
  Maybe(h, links.Run(b), std::to_string(b));
  h.Close("h1");
  const json& details = d.contains("details") ? d["details"] : json::object();
  auto list = [&](const char* key, const char* heading, bool detailed) {
    const json& items = detailed ? Arr(details, key) : Arr(d, key);
    h.Element("h2", fmt::format("{} ({})", heading, items.size()));
    if (items.empty()) return;
    h.Open("ul", {"class", std::string("items ") + key});
    for (const json& i : items) {
      h.Open("li");
      if (i.is_string()) {
        std::string p = i.get<std::string>();
        h.Link(links.Test(p), p);
      } else {
        std::string p = Str(i, "path");
        h.Link(links.Test(p), p);
        h.Text(fmt::format(": {} → {}", Str(i, "a"), Str(i, "b")));
      }
      h.Close("li");
    }
    h.Close("ul");
  };
  list("new_failures", "New failures", true);
  list("fixes", "Fixed", true);
  list("pass_to_skip", "Passed, now skipped", false);
  list("skip_to_pass", "Skipped, now passing", false);
  list("fail_to_skip", "Failed, now skipped", false);
  list("appeared", "Appeared", false);
  list("disappeared", "Disappeared", false);
  list("slower", "Slower", true);
  list("subtest_count_changed", "Number of subtests changed", false);
  if (!Arr(d, "only_in_a").empty() || !Arr(d, "only_in_b").empty()) {
    h.Element("p", fmt::format("{} tests ran only in run {}, {} only in run {} (not compared).",
                               Arr(d, "only_in_a").size(), a, Arr(d, "only_in_b").size(), b),
              {"class", "note"});
  }
  h.Element("h2", "Environment");
  const json& env = d.contains("environment") ? d["environment"] : json();
  if (!env.is_object() || env.empty()) {
    h.Element("p", "The same.");
  } else {
    h.Open("table", {"class", "diff"});
    h.Raw("<tr><th>What</th><th>Run A</th><th>Run B</th></tr>");
    for (const auto& [k, v] : env.items()) {
      std::string va, vb;
      if (v.is_array() && v.size() == 2) {
        va = v[0].is_string() ? v[0].get<std::string>() : DumpJson(v[0]);
        vb = v[1].is_string() ? v[1].get<std::string>() : DumpJson(v[1]);
      } else if (v.is_object()) {
        va = Str(v, "a");
        vb = Str(v, "b");
      }
      h.Open("tr").Element("td", k).Element("td", va).Element("td", vb).Close("tr");
    }
    h.Close("table");
  }
  if (!links.files()) {
    h.Open("p", {"class", "api"}).Link(links.Api(fmt::format("/compare?a={}&b={}", a, b)), "JSON").Close("p");
  }
  return Frame(fmt::format("Run {} → {}", a, b), "runs", h.str(), links);
}

}  // namespace vigil::web
