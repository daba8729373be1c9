#include "patchwork/client.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"

namespace vigil::patchwork {

namespace {

using nlohmann::json;

constexpr std::chrono::milliseconds kMaxBackoff{30'000};
constexpr int kPerPage = 250;         // Patchwork's MAX_REST_RESULTS_PER_PAGE
constexpr int kMaxPages = 10'000;
constexpr size_t kMaxDetailBytes = 300;

Status Corrupt(std::string_view what) { return Status::Corruption(fmt::format("patchwork: {}", what)); }

const json* Field(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// A positive integer id at `key` of `obj`.
Result<int64_t> RequiredId(const json& obj, std::string_view key, std::string_view where) {
  const json* v = Field(obj, key);
  if (v == nullptr) return Corrupt(fmt::format("{}: no \"{}\"", where, key));
  int64_t id = 0;
  if (v->is_number_unsigned()) {
    auto u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Corrupt(fmt::format("{}: \"{}\" out of range", where, key));
    }
    id = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    id = v->get<int64_t>();
  } else {
    return Corrupt(fmt::format("{}: \"{}\" is not an integer", where, key));
  }
  if (id <= 0) return Corrupt(fmt::format("{}: \"{}\" is not positive", where, key));
  return id;
}

std::string OptString(const json& obj, std::string_view key) {
  const json* v = Field(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

int OptInt(const json& obj, std::string_view key, int fallback) {
  const json* v = Field(obj, key);
  if (v == nullptr) return fallback;
  if (v->is_number_unsigned()) {
    auto u = v->get<uint64_t>();
    return u > static_cast<uint64_t>(std::numeric_limits<int>::max()) ? fallback : static_cast<int>(u);
  }
  if (v->is_number_integer()) {
    auto i = v->get<int64_t>();
    return i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max() ? fallback
                                                                                       : static_cast<int>(i);
  }
  return fallback;
}

bool OptBool(const json& obj, std::string_view key) {
  const json* v = Field(obj, key);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

Result<json> ParseArray(std::string_view text, std::string_view what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Corrupt(fmt::format("{}: not JSON", what));
  if (!j.is_array()) return Corrupt(fmt::format("{}: not a JSON array", what));
  return j;
}

Result<PatchRef> ParsePatchRef(const json& j, std::string_view where) {
  if (!j.is_object()) return Corrupt(fmt::format("{}: not an object", where));
  auto id = RequiredId(j, "id", where);
  if (!id.ok()) return id.status();
  PatchRef p;
  p.id = *id;
  p.msgid = OptString(j, "msgid");
  p.name = OptString(j, "name");
  p.mbox_url = OptString(j, "mbox");
  return p;
}

// `s` cut to at most `max` bytes at a UTF-8 character boundary, "..." added.
std::string Cap(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s + "...";
}

std::string_view ReasonPhrase(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

std::string StatusLine(long status) {
  std::string_view phrase = ReasonPhrase(status);
  return phrase.empty() ? fmt::format("HTTP {}", status) : fmt::format("{} {}", status, phrase);
}

bool Retryable(long status) { return status >= 500 || status == 429 || status == 408; }

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// Seconds of a Retry-After header (the HTTP-date form is not honoured).
std::chrono::milliseconds RetryAfter(const std::string& value) {
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || seconds < 0) return {};
  return std::min<std::chrono::milliseconds>(kMaxBackoff, std::chrono::seconds(std::min(seconds, 3600LL)));
}

}  // namespace

Result<std::vector<Event>> ParseEvents(std::string_view text) {
  auto j = ParseArray(text, "events");
  if (!j.ok()) return j.status();
  std::vector<Event> events;
  for (const json& e : *j) {
    if (!e.is_object()) return Corrupt("events: an event is not an object");
    std::string category = OptString(e, "category");
    if (Field(e, "category") != nullptr && category != "series-completed") continue;
    auto id = RequiredId(e, "id", "event");
    if (!id.ok()) return id.status();
    std::string where = fmt::format("event {}", *id);
    const json* payload = Field(e, "payload");
    const json* series = payload != nullptr ? Field(*payload, "series") : nullptr;
    if (series == nullptr) return Corrupt(fmt::format("{}: no payload.series", where));
    auto series_id = RequiredId(*series, "id", where + ": payload.series");
    if (!series_id.ok()) return series_id.status();
    events.push_back(Event{*id, OptString(e, "date"), *series_id});
  }
  return events;
}

Result<Series> ParseSeries(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Corrupt("series: not JSON");
  if (!j.is_object()) return Corrupt("series: not a JSON object");
  auto id = RequiredId(j, "id", "series");
  if (!id.ok()) return id.status();
  Series s;
  s.id = *id;
  std::string where = fmt::format("series {}", s.id);
  s.name = OptString(j, "name");
  s.version = OptInt(j, "version", 1);
  s.total = OptInt(j, "total", 0);
  s.received_all = OptBool(j, "received_all");
  s.date = OptString(j, "date");
  s.web_url = OptString(j, "web_url");
  s.mbox_url = OptString(j, "mbox");
  if (const json* who = Field(j, "submitter"); who != nullptr) {
    s.submitter.name = OptString(*who, "name");
    s.submitter.email = OptString(*who, "email");
  }
  if (const json* cover = Field(j, "cover_letter"); cover != nullptr && !cover->is_null()) {
    auto c = ParsePatchRef(*cover, where + ": cover_letter");
    if (!c.ok()) return c.status();
    s.cover = std::move(*c);
  }
  if (const json* patches = Field(j, "patches"); patches != nullptr && patches->is_array()) {
    for (const json& p : *patches) {
      auto ref = ParsePatchRef(p, where + ": a patch");
      if (!ref.ok()) return ref.status();
      s.patches.push_back(std::move(*ref));
    }
  }
  return s;
}

Result<std::vector<Check>> ParseChecks(std::string_view text) {
  auto j = ParseArray(text, "checks");
  if (!j.ok()) return j.status();
  std::vector<Check> checks;
  for (const json& c : *j) {
    if (!c.is_object()) return Corrupt("checks: a check is not an object");
    Check check{OptString(c, "state"), OptString(c, "context"), OptString(c, "description"),
                OptString(c, "target_url")};
    if (auto id = RequiredId(c, "id", "check"); id.ok()) check.id = *id;
    checks.push_back(std::move(check));
  }
  return checks;
}

std::string NextLink(std::string_view header) {
  // link-value = "<" URI ">" *( ";" param ), values separated by ",".
  size_t pos = 0;
  while (true) {
    size_t open = header.find('<', pos);
    if (open == std::string_view::npos) return "";
    size_t close = header.find('>', open + 1);
    if (close == std::string_view::npos) return "";
    std::string_view url = header.substr(open + 1, close - open - 1);
    size_t end = header.find('<', close + 1);
    std::string_view params = header.substr(close + 1, end == std::string_view::npos ? end : end - close - 1);
    // Each ";"-separated parameter; rel's value is one or more space-separated types.
    size_t p = 0;
    while (p < params.size()) {
      size_t semi = params.find_first_of(";,", p);
      std::string_view param = params.substr(p, semi == std::string_view::npos ? semi : semi - p);
      p = semi == std::string_view::npos ? params.size() : semi + 1;
      size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      std::string name;
      for (char c : param.substr(0, eq)) {
        if (c != ' ' && c != '\t') name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      if (name != "rel") continue;
      std::string_view value = param.substr(eq + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.front() == '"')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '"')) {
        value.remove_suffix(1);
      }
      size_t t = 0;
      while (t <= value.size()) {
        size_t sp = value.find(' ', t);
        std::string_view type = value.substr(t, sp == std::string_view::npos ? sp : sp - t);
        if (type.size() == 4 && std::equal(type.begin(), type.end(), "next", [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) == b;
            })) {
          return std::string(url);
        }
        if (sp == std::string_view::npos) break;
        t = sp + 1;
      }
    }
    if (end == std::string_view::npos) return "";
    pos = end;
  }
}

std::string ErrorDetail(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  std::string detail;
  if (j.is_discarded()) {
    // Not JSON: short plain text only (not a proxy's HTML page).
    if (body.size() <= kMaxDetailBytes && body.find('<') == std::string_view::npos) detail = body;
  } else if (const json* d = Field(j, "detail"); d != nullptr && d->is_string()) {
    detail = d->get<std::string>();
  } else if (j.is_object() || j.is_array()) {
    // Field errors: {"state": ["\"x\" is not a valid choice."]}, or a list.
    auto messages = [](const json& v) {
      std::string out;
      auto add = [&out](const json& m) {
        if (!m.is_string()) return;
        if (!out.empty()) out += ' ';
        out += m.get<std::string>();
      };
      if (v.is_array()) {
        for (const json& m : v) add(m);
      } else {
        add(v);
      }
      return out;
    };
    if (j.is_object()) {
      for (const auto& [key, value] : j.items()) {
        std::string m = messages(value);
        if (m.empty()) continue;
        if (!detail.empty()) detail += "; ";
        detail += key + ": " + m;
        if (detail.size() > kMaxDetailBytes) break;
      }
    } else {
      detail = messages(j);
    }
  }
  std::string line = SanitizeLine(Cap(std::move(detail), 4 * kMaxDetailBytes));
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return Cap(std::move(line), kMaxDetailBytes);
}

Client::Client(sys::HttpTransport& http, Options options) : http_(http), options_(std::move(options)) {
  while (!options_.base_url.empty() && options_.base_url.back() == '/') options_.base_url.pop_back();
  if (options_.attempts < 1) options_.attempts = 1;
  if (!options_.sleep) options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

std::string Client::Scrub(std::string s) const {
  if (options_.token.empty()) return s;
  for (size_t at = s.find(options_.token); at != std::string::npos; at = s.find(options_.token, at)) {
    s.replace(at, options_.token.size(), "<token>");
  }
  return s;
}

std::string Client::Show(const std::string& url) const {
  std::string_view u = url;
  if (!options_.base_url.empty() && u.starts_with(options_.base_url) && u.size() > options_.base_url.size() &&
      u[options_.base_url.size()] == '/') {
    u.remove_prefix(options_.base_url.size());
  }
  return SanitizeLine(Cap(std::string(u), 500));
}

bool NewestIs(const std::vector<Check>& checks, const Check& c) {
  // The newest: the highest id; without ids, the last listed.
  const Check* newest = nullptr;
  for (const auto& e : checks) {
    if (e.context == c.context && (newest == nullptr || e.id >= newest->id)) newest = &e;
  }
  return newest != nullptr && newest->state == c.state && newest->description == c.description &&
         newest->target_url == c.target_url;
}

Result<sys::HttpResponse> Client::Call(sys::HttpRequest request, int attempts) {
  if (attempts <= 0) attempts = options_.attempts;
  request.headers.push_back("Accept: application/json");
  std::string what = fmt::format("{} {}", request.method, Show(request.url));
  std::chrono::milliseconds backoff = std::min(options_.first_backoff, kMaxBackoff);
  std::string last_error;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    std::chrono::milliseconds delay = backoff;
    auto r = http_.Perform(request);
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kInvalidArgument) {
        return Status::InvalidArgument(Scrub(fmt::format("patchwork: {}", SanitizeLine(r.status().message()))));
      }
      last_error = SanitizeLine(r.status().message());
    } else if (r->status >= 200 && r->status < 300) {
      return r;
    } else if (Retryable(r->status)) {
      last_error = StatusLine(r->status);
      if (r->status == 429) delay = std::max(delay, RetryAfter(r->Header("retry-after")));
    } else {
      std::string detail = ErrorDetail(r->body);
      std::string message = Scrub(fmt::format("patchwork: {} on {}{}{}", StatusLine(r->status), what,
                                              detail.empty() ? "" : ": ", detail));
      // Not there (deleted, or never was): the caller knows whether that is
      // one object's trouble or a wrong URL.
      if (r->status == 404 || r->status == 410) return Status::NotFound(message);
      return Status::InvalidArgument(message);
    }
    if (attempt == attempts) break;
    if (options_.log) {
      options_.log(Scrub(fmt::format("patchwork: {}: {} (attempt {} of {}); retrying in {} ms", what, last_error,
                                     attempt, attempts, delay.count())));
    }
    options_.sleep(delay);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  return Status::IOError(
      Scrub(fmt::format("patchwork: {} failed after {} attempts: {}", what, attempts, last_error)));
}

Status Client::GetPages(std::string url, const std::function<Status(std::string_view)>& page) {
  std::set<std::string> seen;
  for (int n = 0; !url.empty(); ++n) {
    if (n == kMaxPages) return Corrupt(fmt::format("more than {} pages at {}", kMaxPages, Show(url)));
    if (!seen.insert(url).second) return Corrupt(fmt::format("the pages loop back to {}", Show(url)));
    sys::HttpRequest request;
    request.url = url;
    auto r = Call(request);
    if (!r.ok()) return r.status();
    if (Status s = page(r->body); !s.ok()) return s;
    url = NextLink(r->Header("link"));
    if (url.starts_with("/")) url = options_.base_url + url;
  }
  return Status::OK();
}

Result<std::vector<Event>> Client::SeriesCompleted(const std::string& project, const std::string& since) {
  std::string url = fmt::format("{}/api/1.2/events/?project={}&category=series-completed&per_page={}",
                                options_.base_url, PercentEncode(project), kPerPage);
  if (!since.empty()) url += "&since=" + PercentEncode(since);
  std::vector<Event> events;
  Status s = GetPages(url, [&](std::string_view body) -> Status {
    auto page = ParseEvents(body);
    if (!page.ok()) return page.status();
    events.insert(events.end(), page->begin(), page->end());
    return Status::OK();
  });
  // No events page: the URL or the project is wrong, which waiting does not mend.
  if (s.code() == Status::Code::kNotFound) return Status::InvalidArgument(s.message());
  if (!s.ok()) return s;
  // Served newest first; an event arriving between two pages shifts older
  // ones onto the next page, where they come again.
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.id < b.id; });
  events.erase(std::unique(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.id == b.id; }),
               events.end());
  return events;
}

Result<Series> Client::GetSeries(int64_t id) {
  sys::HttpRequest request;
  request.url = fmt::format("{}/api/1.2/series/{}/", options_.base_url, id);
  auto r = Call(request);
  if (!r.ok()) return r.status();
  auto series = ParseSeries(r->body);
  if (series.ok() && series->id != id) {
    return Corrupt(fmt::format("asked for series {}, got series {}", id, series->id));
  }
  return series;
}

Result<std::string> Client::GetMbox(const std::string& url) {
  sys::HttpRequest request;
  request.url = url;
  auto r = Call(request);
  if (!r.ok()) return r.status();
  return std::move(r->body);
}

Result<std::vector<Check>> Client::ListChecks(int64_t patch_id) {
  std::vector<Check> checks;
  Status s = GetPages(fmt::format("{}/api/1.2/patches/{}/checks/?per_page={}", options_.base_url, patch_id, kPerPage),
                      [&](std::string_view body) -> Status {
                        auto page = ParseChecks(body);
                        if (!page.ok()) return page.status();
                        checks.insert(checks.end(), page->begin(), page->end());
                        return Status::OK();
                      });
  if (!s.ok()) return s;
  return checks;
}

Status Client::PostCheck(int64_t patch_id, const Check& check) {
  std::string what = fmt::format("POST /api/1.2/patches/{}/checks/", patch_id);
  if (options_.token.empty()) return Status::InvalidArgument(fmt::format("patchwork: {}: no API token", what));
  if (std::any_of(options_.token.begin(), options_.token.end(),
                  [](unsigned char c) { return c <= ' ' || c >= 0x7f; })) {
    return Status::InvalidArgument(fmt::format("patchwork: {}: the API token has characters a header cannot carry", what));
  }
  static const std::set<std::string, std::less<>> kStates = {"pending", "success", "warning", "fail"};
  if (!kStates.contains(check.state)) {
    return Status::InvalidArgument(
        fmt::format("patchwork: {}: state \"{}\" is none of pending, success, warning, fail", what,
                    SanitizeLine(Cap(check.state, 40))));
  }
  // Patchwork's Check.context is a SlugField of at most 255 characters.
  if (check.context.empty() || check.context.size() > 255 ||
      !std::all_of(check.context.begin(), check.context.end(),
                   [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; })) {
    return Status::InvalidArgument(fmt::format(
        "patchwork: {}: context \"{}\" is not 1 to 255 letters, digits, '-' and '_'", what,
        SanitizeLine(Cap(check.context, 80))));
  }
  json body = {{"state", check.state},
               {"target_url", check.target_url},
               {"context", check.context},
               {"description", check.description}};
  sys::HttpRequest request;
  request.method = "POST";
  request.url = fmt::format("{}/api/1.2/patches/{}/checks/", options_.base_url, patch_id);
  request.headers = {"Content-Type: application/json", "Authorization: Token " + options_.token};
  request.body = DumpJson(body);
  // A POST that failed on the way (a 5xx, a timeout, a reset connection)
  // may still have been recorded: before it is sent again, Patchwork is
  // asked whether the check is there, so it is never posted twice.
  std::chrono::milliseconds backoff = std::min(options_.first_backoff, kMaxBackoff);
  Status last;
  for (int attempt = 1; attempt <= options_.attempts; ++attempt) {
    if (attempt > 1) {
      options_.sleep(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
      auto existing = ListChecks(patch_id);
      if (existing.ok() && NewestIs(*existing, check)) return Status::OK();
    }
    auto r = Call(request, 1);
    if (r.ok()) return Status::OK();
    if (r.status().code() != Status::Code::kIOError) return r.status();  // permanent
    last = r.status();
    if (options_.log && attempt < options_.attempts) {
      options_.log(Scrub(fmt::format("patchwork: {}: {} (attempt {} of {}); looked up before it is sent again", what,
                                     last.message(), attempt, options_.attempts)));
    }
  }
  return Status::IOError(Scrub(fmt::format("patchwork: {} failed after {} attempts: {}", what, options_.attempts,
                                           last.message())));
}

}  // namespace vigil::patchwork
