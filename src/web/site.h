// The dashboard: every page of `vigil serve` and `vigil export html`, each
// also as JSON under /api/v1/ (the same data: the page is rendered from the
// JSON). Read-only over the store; no I/O but the store's reads (and the
// known-issues file given). A front-end (web/server.h over HTTP, the export
// command writing files) hands Site a path and its query and sends or
// writes what comes back.
//
//   /                      runs, newest first: status, origin, environment,
//   /runs?page=N&env=&origin=&status=   counts, duration, a pass-rate trend
//   /runs/ID               a run: verdict and reasons, failures first, every
//                          test with subtests, attempts, output, kernel reports
//   /runs/ID/output?test=P&attempt=N    one attempt's whole (capped) output
//   /runs/ID/console.txt   the VM's console log
//   /runs/ID/junit.xml     the run as JUnit
//   /tests?path=C:T[:S]    history matrix: subtests x the last runs
//   /flakes                vigil flakes' classes, quarantine
//   /crashes               kernel reports by fingerprint
//   /builds, /builds/ID    kernel builds and their diagnostics
//   /series, /series/ID    the patch loop's series: patches, checks, runs
//   /compare?a=A&b=B       vigil compare as a page
//   /static/vigil.css, /static/vigil.js
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "judge/known_issues.h"
#include "store/store.h"

namespace vigil::web {

struct Response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
};

struct SiteOptions {
  // Where the pages are served from, for links ("" = the root; a proxy's
  // prefix "https://ci.example.org/vigil" gives "/vigil/runs/1" paths).
  std::string base_url;
  std::string known_issues;  // a known-issues TOML file for every run; "" = each run's own
  int runs_per_page = 50;
  int history_runs = 30;     // columns of a test's matrix
  int flakes_window = 30;
  size_t output_cap = 256 * 1024;  // bytes of one attempt's output shown
  std::string today;               // YYYY-MM-DD for known issues' expiry; "" = today
};

// Where a page links to: the server's paths, or the files of a static
// export (relative to the page being written; pages not exported are not
// links).
class Links {
 public:
  // Server paths under `prefix` ("" or "/vigil").
  static Links Server(std::string prefix);
  // Files, from a page `depth` directories below the export's top.
  // `exported_tests`: the tests whose pages the export writes (null: every
  // test is linked).
  static Links Files(int depth, std::shared_ptr<const std::set<int64_t>> exported_runs, int pages = 1,
                     std::shared_ptr<const std::set<std::string>> exported_tests = nullptr);

  bool files() const { return files_; }
  std::string Runs(int page) const;  // page 1 = the index
  std::string Runs(int page, const std::map<std::string, std::string>& filters) const;
  std::string RunsPath() const { return prefix_ + "/runs"; }  // a server's filter form
  // "" when the run is not part of an export.
  std::string Run(int64_t id) const;
  std::string Output(int64_t run, const std::string& test, int attempt) const;
  std::string Console(int64_t run) const;
  std::string Junit(int64_t run) const;
  std::string RunJson(int64_t run) const;
  std::string Test(const std::string& path) const;
  std::string Flakes() const;
  std::string FlakesAll() const;  // every entry, stable ones too (server only)
  std::string Crashes() const;
  std::string Builds() const;
  std::string Build(int64_t id) const;
  std::string SeriesList() const;
  std::string Series(int64_t id) const;
  std::string Compare(int64_t a, int64_t b) const;
  std::string Static(const std::string& name) const;
  std::string Api(const std::string& page_path) const;  // "" in an export
  // The JSON of a page of runs with these filters ("" in an export).
  std::string RunsApi(int page, const std::map<std::string, std::string>& filters) const;

  // A test's page file name in an export: tests/<FNV-1a of the path>.html.
  // A subtest's is its test's (the matrix there has its row): the longest
  // exported test that the path is or starts with, followed by ':' (a
  // test's own name may hold colons). "" when no exported test is.
  std::string TestFile(const std::string& path) const;

 private:
  std::string Path(const std::string& server, const std::string& file) const;
  bool files_ = false;
  std::string prefix_;  // server
  std::string up_;      // files: "../" x depth
  std::shared_ptr<const std::set<int64_t>> runs_;
  std::shared_ptr<const std::set<std::string>> tests_;
  int pages_ = 1;  // files: the list pages written
};

class Site {
 public:
  Site(store::Store& db, SiteOptions o);

  // GET `path` (decoded, without the query) with its query parameters. Never
  // throws; unknown paths and ids are 404 pages, bad parameters 400, store
  // errors 500, each a page (or JSON under /api/).
  Response Get(const std::string& path, const std::map<std::string, std::string>& query);
  // The pages whose data this Site keeps now.
  size_t cached_pages() const { return cache_.size(); }

  // The JSON of each page (what /api/v1/... serves).
  Result<nlohmann::json> RunsData(int page, const std::map<std::string, std::string>& filters);
  Result<nlohmann::json> RunData(int64_t id);
  Result<nlohmann::json> TestData(const std::string& path);
  // Only what needs attention (flaky, broken, regressed, fixed, quarantined)
  // and a count of the rest by class ("hidden"), unless `all`.
  Result<nlohmann::json> FlakesData(bool all = false);
  // The latest report's text of the 50 most recent kinds (every kind's with
  // `all_texts`: an export, which has no run page for most of them).
  Result<nlohmann::json> CrashesData(bool all_texts = false);
  Result<nlohmann::json> BuildsData();
  Result<nlohmann::json> BuildData(int64_t id);
  Result<nlohmann::json> SeriesListData();
  Result<nlohmann::json> SeriesData(int64_t id);
  Result<nlohmann::json> CompareData(int64_t a, int64_t b);

  // The pages rendered with `links` (the server's or an export's).
  std::string RunsPage(const nlohmann::json& d, const Links& links);
  std::string RunPage(const nlohmann::json& d, const Links& links);
  std::string TestPage(const nlohmann::json& d, const Links& links);
  std::string FlakesPage(const nlohmann::json& d, const Links& links);
  std::string CrashesPage(const nlohmann::json& d, const Links& links);
  std::string BuildsPage(const nlohmann::json& d, const Links& links);
  std::string BuildPage(const nlohmann::json& d, const Links& links);
  std::string SeriesListPage(const nlohmann::json& d, const Links& links);
  std::string SeriesPage(const nlohmann::json& d, const Links& links);
  std::string ComparePage(const nlohmann::json& d, const Links& links);
  std::string ErrorPage(int status, const std::string& message, const Links& links);
  // A whole document around `body` (markup): the head, the navigation with
  // `section` marked, the footer. `refresh`: the page of something still
  // running, which the script reloads.
  std::string Frame(const std::string& title, const std::string& section, const std::string& body,
                    const Links& links, bool refresh = false);

  // The run's JUnit XML; NotFound for an unknown run.
  Result<std::string> Junit(int64_t id);
  // The run's console log (capped); NotFound when it has none.
  Result<std::string> Console(int64_t id);

 private:
  Response Dispatch(const std::string& path, const std::map<std::string, std::string>& query, bool api);
  // Watches the file first (WatchKnownIssues).
  Result<std::optional<judge::KnownIssues>> KnownIssuesFor(const std::string& tests_dir);
  // The known-issues file a page of a run of `tests_dir` is judged with
  // (--known-issues, else known-issues.toml beside the tests), kept with how
  // it looks now: an edit, or the file appearing or going, makes every kept
  // page stale (Cached). Called before the file is read.
  void WatchKnownIssues(const std::string& tests_dir);
  // The origin of each of `run_ids` a series names (Store::LoadRunOrigins):
  // {kind: series|branch, series id, name, role: tested|base}.
  Result<std::map<int64_t, nlohmann::json>> Origins(const std::vector<int64_t>& run_ids);

  // The data of `key` (a path and its query) as computed while the store is
  // at the same DataVersion (the day and the watched known-issues files the
  // same); computed otherwise.
  // Kept whole and shared, never copied: a page's JSON can be megabytes.
  Result<std::shared_ptr<const nlohmann::json>> Cached(const std::string& key,
                                                      const std::function<Result<nlohmann::json>()>& compute);

  store::Store& db_;
  SiteOptions o_;
  Links server_links_;
  int64_t cache_version_ = -1;
  std::string cache_day_;
  std::map<std::string, std::shared_ptr<const nlohmann::json>> cache_;  // one Site serves one request at a time
  std::map<std::string, std::string> known_files_;  // path -> FileStamp when a page was judged with it
};

// The stylesheet and the script the pages load (served by the binary).
extern const char* const kStylesheet;
extern const char* const kScript;

// The headers every response carries: a Content-Security-Policy that allows
// only this origin's stylesheet and script (no inline script or style), no
// sniffing, no framing.
const std::vector<std::pair<std::string, std::string>>& SecurityHeaders();

}  // namespace vigil::web
