// vigil export kcidb RUN|group:ID|series:ID --origin NAME [-o FILE]
//                    [--submit URL --token-file F]
// A run as KCIDB v5.3 JSON, written out or submitted to KCIDB's REST API.
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "base/json.h"
#include "base/text.h"
#include "cli/command.h"
#include "engine/kcidb_export.h"
#include "engine/verdict.h"
#include "report/kcidb.h"
#include "sys/http.h"

namespace vigil::cli {
namespace {

struct KcidbFlags {
  std::string run = "last";
  std::string origin;
  std::string db_path = "vigil.db";
  std::string output = "-";
  std::string submit;
  std::string token_file;
  bool partial = false;
};

int Fail(const std::string& message, int code) {
  fmt::print(stderr, "vigil export kcidb: {}\n", SanitizeForTerminal(message));
  return code;
}

int RunKcidb(const KcidbFlags& f) {
  if (!report::ValidKcidbOrigin(f.origin)) {
    return Fail(fmt::format("--origin must be KCIDB's name of this CI ([a-z0-9_]+), not '{}'", f.origin), kExitUsage);
  }
  if (f.submit.empty() != f.token_file.empty()) return Fail("--submit and --token-file go together", kExitUsage);
  std::string token;
  if (!f.token_file.empty()) {
    std::ifstream in(f.token_file, std::ios::binary);
    if (!in) return Fail(fmt::format("cannot read the token file {}", f.token_file), kExitUsage);
    token.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty() || token.find_first_of("\r\n") != std::string::npos) {
      return Fail(fmt::format("the token file {} holds no one-line token", f.token_file), kExitUsage);
    }
  }
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) return Fail(db.status().message(), kExitUsage);
  auto in = engine::GatherKcidb(**db, f.run, f.origin, f.partial);
  if (!in.ok()) return Fail(in.status().message(), kExitUsage);
  std::string text = DumpJson(report::KcidbReport(*in));
  if (f.output == "-") {
    if (f.submit.empty()) fmt::print("{}\n", text);
  } else {
    std::ofstream out(f.output, std::ios::binary | std::ios::trunc);
    out << text << "\n";
    if (!out) return Fail(fmt::format("cannot write {}", f.output), kExitUsage);
  }
  if (f.submit.empty()) return 0;
  sys::HttpRequest req;
  req.method = "POST";
  req.url = f.submit;
  req.headers = {"Authorization: Bearer " + token, "Content-Type: application/json"};
  req.body = text;
  auto transport = sys::NewCurlTransport(1 << 20);
  auto resp = transport->Perform(req);
  if (!resp.ok()) return Fail(resp.status().message(), resp.status().code() == Status::Code::kInvalidArgument ? kExitUsage : 1);
  if (resp->status < 200 || resp->status >= 300) {
    std::string body = resp->body.substr(0, 300);
    return Fail(fmt::format("{} refused the report: HTTP {}: {}", f.submit, resp->status, body), 1);
  }
  fmt::print("submitted {} bytes to {}: HTTP {}\n", text.size(), SanitizeForTerminal(f.submit), resp->status);
  return 0;
}

}  // namespace

std::function<int()> AddKcidbExport(CLI::App* export_app) {
  auto f = std::make_shared<KcidbFlags>();
  CLI::App* k = export_app->add_subcommand(
      "kcidb",
      "A run as KCIDB v5.3 JSON (KernelCI's common database): its checkout, build, tests and subtests "
      "(kselftest.<collection>.<test>.<subtest>), and an issue per kernel report with incidents");
  k->add_option("run", f->run, "RUN, last, last~N, group:ID (a split run) or series:ID (the patch loop's series)")
      ->capture_default_str();
  k->add_option("--origin", f->origin, "This CI's origin in KCIDB ([a-z0-9_]+): every id starts with it")->required();
  k->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI (must exist)")
      ->capture_default_str();
  k->add_option("-o,--output", f->output, "Write the JSON to FILE ('-': standard output, unless --submit)")
      ->capture_default_str();
  k->add_option("--submit", f->submit, "POST the report to this URL (KCIDB's REST submission endpoint)");
  k->add_option("--token-file", f->token_file, "File holding the submission's token, sent as Authorization: Bearer");
  k->add_flag("--partial", f->partial, "Export a run that has not finished (a group with shards to come) as it is");
  return [f, k]() -> int { return k->parsed() ? RunKcidb(*f) : -1; };
}

}  // namespace vigil::cli
