// vigil serve --db PATH [--listen 127.0.0.1:8080] [--base-url URL]
// vigil export html DIR --db PATH [--runs N]
#include <signal.h>

#include <memory>
#include <string>

#include <fmt/format.h>

#include "base/text.h"
#include "cli/command.h"
#include "engine/verdict.h"
#include "sys/cancel.h"
#include "web/export.h"
#include "web/server.h"
#include "store/postgres.h"

namespace vigil::cli {
namespace {

struct ServeFlags {
  std::string db_path = "vigil.db";
  std::string listen = "127.0.0.1:8080";
  std::string base_url;
  std::string known_issues;
  int threads = 4;
  int runs_per_page = 50;
  int history = 30;
};

int RunServe(const ServeFlags& f) {
  web::ServeOptions o;
  o.db_path = f.db_path;
  if (Status s = web::ParseListen(f.listen, &o.host, &o.port); !s.ok()) {
    fmt::print(stderr, "vigil serve: --listen {}\n", s.message());
    return kExitUsage;
  }
  o.threads = f.threads;
  o.site.base_url = f.base_url;
  o.site.known_issues = f.known_issues;
  o.site.runs_per_page = f.runs_per_page;
  o.site.history_runs = f.history;
  std::string shown_host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  o.on_listening = [&](int port) {
    fmt::print(stderr, "vigil serve: {} (read-only) on http://{}:{}/  (Ctrl-C stops)\n",
               SanitizeForTerminal(store::ShownPath(f.db_path)), shown_host, port);
  };
  web::Server server(o);
  sys::Cancellation cancel;
  sys::SignalCanceller signals(cancel, [&server](int, sys::Cancellation::Level) { server.Stop(); });
  Status s = server.Run();
  if (!s.ok()) {
    fmt::print(stderr, "vigil serve: {}\n", SanitizeForTerminal(s.message()));
    return kExitUsage;
  }
  return 0;
}

struct ExportFlags {
  std::string dir;
  std::string db_path = "vigil.db";
  std::string known_issues;
  int runs = 50;
  int runs_per_page = 50;
  int history = 30;
};

int RunExport(const ExportFlags& f) {
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil export html: {}\n", SanitizeForTerminal(db.status().message()));
    return kExitUsage;
  }
  web::ExportOptions o;
  o.dir = f.dir;
  o.runs = f.runs;
  o.site.known_issues = f.known_issues;
  o.site.runs_per_page = f.runs_per_page;
  o.site.history_runs = f.history;
  auto r = web::ExportHtml(**db, o);
  if (!r.ok()) {
    fmt::print(stderr, "vigil export html: {}\n", SanitizeForTerminal(r.status().message()));
    return r.status().code() == Status::Code::kIOError ? 1 : kExitUsage;
  }
  fmt::print("{}: {} files, {:.1f} MiB, {} runs; open {}/index.html\n", SanitizeForTerminal(f.dir), r->files,
             static_cast<double>(r->bytes) / (1024.0 * 1024.0), r->runs, SanitizeForTerminal(f.dir));
  return 0;
}

}  // namespace

Runner SetupServeCommand(CLI::App* app) {
  auto f = std::make_shared<ServeFlags>();
  app->description(
      "The dashboard: runs, a run's verdict and tests, a test's history matrix, flakes, kernel crashes, builds, "
      "series and comparisons as web pages (each also as JSON under /api/v1/). Read-only: it opens the store "
      "read-only and never writes, so it runs beside vigil run and vigil watch; pages of running runs refresh. "
      "Listens on loopback unless told otherwise.");
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI (must exist)")->capture_default_str();
  app->add_option("--listen", f->listen, "ADDRESS:PORT to listen on ([::1]:8080 for IPv6; port 0 picks a free one)")
      ->capture_default_str();
  app->add_option("--base-url", f->base_url,
                  "The URL the pages are reached at behind a proxy (https://ci.example.org/vigil): links start "
                  "with its path");
  app->add_option("--known-issues", f->known_issues,
                  "Known-issues TOML for every run (default: known-issues.toml of each run's tests directory)");
  app->add_option("--threads", f->threads, "Requests served at once, each with its own read-only connection")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app->add_option("--runs-per-page", f->runs_per_page, "Runs on a page of the list")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app->add_option("--history", f->history, "Runs (columns) in a test's history matrix")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  return [f] { return RunServe(*f); };
}

Runner SetupExportCommand(CLI::App* app) {
  app->description(
      "A store's contents for elsewhere: the dashboard's pages as static files (html, for GitHub Pages or a CI "
      "artifact), or a run as KCIDB JSON (kcidb, for KernelCI's common database).");
  app->require_subcommand(1);
  auto f = std::make_shared<ExportFlags>();
  CLI::App* html = app->add_subcommand(
      "html", "Write the pages vigil serve serves (relative links) into DIR: index.html, runs/, tests/, flakes.html, "
              "crashes.html, builds, series");
  html->add_option("dir", f->dir, "Directory to write (created)")->required();
  html->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI (must exist)")->capture_default_str();
  html->add_option("--runs", f->runs, "The newest N runs get pages, with the histories of their tests")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  html->add_option("--known-issues", f->known_issues,
                   "Known-issues TOML for every run (default: known-issues.toml of each run's tests directory)");
  html->add_option("--runs-per-page", f->runs_per_page, "Runs on a page of the list")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  html->add_option("--history", f->history, "Runs (columns) in a test's history matrix")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  auto kcidb = AddKcidbExport(app);
  return [f, html, kcidb]() -> int { return html->parsed() ? RunExport(*f) : kcidb(); };
}

}  // namespace vigil::cli
