#include "web/export.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "base/json.h"
#include "judge/outcome.h"

namespace vigil::web {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class Writer {
 public:
  explicit Writer(std::string dir) : dir_(std::move(dir)) {}
  Status Write(const std::string& rel, const std::string& content) {
    fs::path p = fs::path(dir_) / rel;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) return Status::IOError(fmt::format("cannot create {}: {}", p.parent_path().string(), ec.message()));
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) return Status::IOError(fmt::format("cannot write {}", p.string()));
    ++summary_.files;
    summary_.bytes += static_cast<int64_t>(content.size());
    return Status::OK();
  }
  ExportSummary& summary() { return summary_; }

 private:
  std::string dir_;
  ExportSummary summary_;
};

Status Named(const Status& s, const std::string& page) {
  std::string msg = fmt::format("{}: {}", page, s.message());
  switch (s.code()) {
    case Status::Code::kNotFound: return Status::NotFound(msg);
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(msg);
    case Status::Code::kCorruption: return Status::Corruption(msg);
    case Status::Code::kInternal: return Status::Internal(msg);
    default: return Status::IOError(msg);
  }
}

}  // namespace

Result<ExportSummary> ExportHtml(store::Store& db, const ExportOptions& o) {
  if (o.dir.empty()) return Status::InvalidArgument("no directory to export to");
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec) return Status::IOError(fmt::format("cannot create {}: {}", o.dir, ec.message()));
  Site site(db, o.site);
  Writer w(o.dir);
#define VIGIL_WRITE(rel, content)                \
  do {                                           \
    Status s_ = w.Write((rel), (content));       \
    if (!s_.ok()) return s_;                     \
  } while (0)

  // The newest N runs, and the list pages that show them.
  store::RunQuery q;
  q.newest = std::max(o.runs, 0);
  auto runs = o.runs > 0 ? db.ListRuns(q) : Result<std::vector<model::RunRecord>>(std::vector<model::RunRecord>{});
  if (!runs.ok()) return runs.status();
  auto exported = std::make_shared<std::set<int64_t>>();
  for (const auto& r : *runs) exported->insert(r.id);
  const int per = std::max(o.site.runs_per_page, 1);
  int pages = std::max(1, (static_cast<int>(runs->size()) + per - 1) / per);
  // The tests of those runs: each gets a page, and links to others are none.
  auto exported_tests = std::make_shared<std::set<std::string>>();
  if (!exported->empty()) {
    auto summaries = db.LoadTestSummaries(std::vector<int64_t>(exported->begin(), exported->end()));
    if (!summaries.ok()) return Named(summaries.status(), "the tests");
    for (const auto& t : *summaries) exported_tests->insert(t.test_path);
  }
  auto links = [&](int depth) { return Links::Files(depth, exported, pages, exported_tests); };

  VIGIL_WRITE("static/vigil.css", kStylesheet);
  VIGIL_WRITE("static/vigil.js", kScript);
  for (int p = 1; p <= pages; ++p) {
    auto d = site.RunsData(p, {});
    if (!d.ok()) {
      if (p > 1 && d.status().code() == Status::Code::kNotFound) break;
      return Named(d.status(), "the runs");
    }
    VIGIL_WRITE(p == 1 ? std::string("index.html") : fmt::format("runs-{}.html", p), site.RunsPage(*d, links(0)));
  }
  for (const auto& r : *runs) {
    auto d = site.RunData(r.id);
    if (!d.ok()) return Named(d.status(), fmt::format("run {}", r.id));
    VIGIL_WRITE(fmt::format("runs/{}.html", r.id), site.RunPage(*d, links(1)));
    VIGIL_WRITE(fmt::format("runs/{}.json", r.id), DumpJson(*d));
    auto junit = site.Junit(r.id);
    if (!junit.ok()) return Named(junit.status(), fmt::format("run {}", r.id));
    VIGIL_WRITE(fmt::format("runs/{}-junit.xml", r.id), *junit);
    if (d->value("console", false)) {
      auto c = site.Console(r.id);
      if (c.ok()) VIGIL_WRITE(fmt::format("runs/{}-console.txt", r.id), *c);
    }
    if (d->contains("verdict") && (*d)["verdict"].is_object()) {
      const json& b = (*d)["verdict"]["baseline"];
      if (b.is_number_integer() && exported->count(b.get<int64_t>())) {
        int64_t base = b.get<int64_t>();
        auto c = site.CompareData(base, r.id);
        if (!c.ok()) return Named(c.status(), fmt::format("compare {} {}", base, r.id));
        VIGIL_WRITE(fmt::format("compare/{}-{}.html", base, r.id), site.ComparePage(*c, links(1)));
      }
    }
  }
  for (const auto& t : *exported_tests) {
    auto d = site.TestData(t);
    if (!d.ok()) return Named(d.status(), t);
    VIGIL_WRITE(links(1).TestFile(t), site.TestPage(*d, links(1)));
  }
  auto flakes = site.FlakesData();
  if (!flakes.ok()) return Named(flakes.status(), "the flakes");
  VIGIL_WRITE("flakes.html", site.FlakesPage(*flakes, links(0)));
  auto crashes = site.CrashesData(true);  // most runs' pages are not exported: every text here
  if (!crashes.ok()) return Named(crashes.status(), "the crashes");
  VIGIL_WRITE("crashes.html", site.CrashesPage(*crashes, links(0)));
  auto builds = site.BuildsData();
  if (!builds.ok()) return Named(builds.status(), "the builds");
  VIGIL_WRITE("builds.html", site.BuildsPage(*builds, links(0)));
  for (const auto& b : (*builds)["builds"]) {
    int64_t id = b["build"].get<int64_t>();
    auto d = site.BuildData(id);
    if (!d.ok()) return Named(d.status(), fmt::format("build {}", id));
    VIGIL_WRITE(fmt::format("builds/{}.html", id), site.BuildPage(*d, links(1)));
  }
  auto series = site.SeriesListData();
  if (!series.ok()) return Named(series.status(), "the series");
  VIGIL_WRITE("series.html", site.SeriesListPage(*series, links(0)));
  for (const auto& s : (*series)["series"]) {
    int64_t id = s["id"].get<int64_t>();
    auto d = site.SeriesData(id);
    if (!d.ok()) return Named(d.status(), fmt::format("series {}", id));
    VIGIL_WRITE(fmt::format("series/{}.html", id), site.SeriesPage(*d, links(1)));
  }
#undef VIGIL_WRITE
  ExportSummary out = w.summary();
  out.runs = static_cast<int64_t>(runs->size());
  return out;
}

}  // namespace vigil::web
