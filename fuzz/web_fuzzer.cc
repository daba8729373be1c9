// libFuzzer target for the dashboard: a store holding a run whose test name,
// subtest name, output and kernel report are arbitrary bytes, and an
// arbitrary request (path, query key and value). Whatever they hold, Site::Get
// answers (no crash, no exception), a page is valid UTF-8 whose every tag is
// one the pages write (an injected <img> or <iframe> would not be) with one
// <script> (the page's own), and an API answer is JSON.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "base/text.h"
#include "store/memory_store.h"
#include "web/site.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

const std::set<std::string>& Tags() {
  static const std::set<std::string> kTags = {
      "html", "head", "meta", "link", "title", "script", "body", "header", "nav", "a", "main", "footer",
      "h1", "h2", "h3", "h4", "p", "span", "table", "thead", "tbody", "tr", "th", "td", "details",
      "summary", "ul", "li", "pre", "div", "section", "form", "label", "select", "option", "button",
      "figure", "figcaption", "svg", "line", "text", "polyline", "circle", "strong", "code"};
  return kTags;
}

void CheckPage(const std::string& body) {
  Check(vigil::IsValidUtf8(body));
  size_t scripts = 0;
  for (size_t i = body.find('<'); i != std::string::npos; i = body.find('<', i + 1)) {
    size_t j = i + 1;
    if (j < body.size() && (body[j] == '/' || body[j] == '!')) ++j;
    size_t k = j;
    while (k < body.size() && ((body[k] >= 'a' && body[k] <= 'z') || (body[k] >= '0' && body[k] <= '9'))) ++k;
    std::string tag = body.substr(j, k - j);
    if (body.compare(i, 9, "<!DOCTYPE") == 0) continue;
    Check(Tags().count(tag) == 1);
    if (tag == "script" && body[i + 1] != '/') ++scripts;
  }
  Check(scripts == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::string test = "c:" + in.ConsumeRandomLengthString(200);
  std::string subtest = in.ConsumeRandomLengthString(200);
  std::string output = in.ConsumeRandomLengthString(2000);
  std::string title = in.ConsumeRandomLengthString(200);
  std::string path = in.ConsumeRandomLengthString(200);
  std::string key = in.ConsumeRandomLengthString(20);
  std::string value = in.ConsumeRandomLengthString(200);
  bool api = in.ConsumeBool();

  auto db = vigil::store::NewMemoryStore();
  vigil::model::Environment env;
  env.kernel_release = "6.12.1";
  env.where = "vm";
  env.accel = "tcg";
  int64_t env_id = db->EnsureEnvironment(env).value();
  vigil::model::RunRecord r;
  r.started_at = "2026-12-01T10:00:00Z";
  r.plan = {test};
  r.environment_id = env_id;
  int64_t id = db->CreateRun(r).value();
  vigil::model::AttemptRecord a;
  a.test_path = test;
  a.status = "FAIL";
  a.output = output;
  a.subtests = {{subtest, "FAIL", 1}};
  a.crashes = {{"WARNING", title, false, title, title, output}};
  if (!db->RecordAttempt(id, a).ok()) return 0;
  if (!db->FinishRun(id, "FAIL", "2026-12-01T10:01:00Z").ok()) return 0;

  vigil::web::Site site(*db, {});
  std::map<std::string, std::string> query;
  if (!key.empty()) query[key] = value;
  for (const std::string& p : {path, std::string("/"), std::string("/runs/1"), std::string("/crashes")}) {
    vigil::web::Response res = site.Get(api ? "/api/v1" + p : p, query);
    Check(res.status == 200 || res.status == 400 || res.status == 404);
    if (res.content_type.rfind("text/html", 0) == 0) CheckPage(res.body);
    if (res.content_type == "application/json") {
      Check(!nlohmann::json::parse(res.body, nullptr, false).is_discarded());
    }
  }
  auto t = site.Get("/tests", {{"path", test}});
  Check(t.status == 200 || t.status == 400 || t.status == 404);
  CheckPage(t.body);
  return 0;
}
