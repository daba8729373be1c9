// `vigil export html DIR`: the dashboard's pages as static files (for GitHub
// Pages or a CI artifact), the same pages `vigil serve` serves with relative
// links: index.html (the runs), runs/ID.html (+ .json, -junit.xml,
// -console.txt), tests/<hash>.html, compare/A-B.html (each run against its
// baseline), flakes.html, crashes.html, builds.html, builds/ID.html,
// series.html, series/ID.html, static/vigil.{css,js}.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "store/store.h"
#include "web/site.h"

namespace vigil::web {

struct ExportOptions {
  std::string dir;
  int runs = 50;  // the newest N runs get pages (with their tests' histories)
  SiteOptions site;
};

struct ExportSummary {
  int64_t files = 0;
  int64_t bytes = 0;
  int64_t runs = 0;
};

// Writes every page; the directory is created (its parents too). A page that
// cannot be read from the store fails the export with the page named.
Result<ExportSummary> ExportHtml(store::Store& db, const ExportOptions& o);

}  // namespace vigil::web
