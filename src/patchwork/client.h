// A client of Patchwork's REST API (version 1.2): the series a project's
// mailing list completed, their mboxes, and the checks on their patches.
// Everything the server sends is untrusted: parsed without exceptions,
// strings kept as bytes (sanitize before showing them).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sys/http.h"

namespace vigil::patchwork {

struct Person {
  std::string name, email;
};

struct PatchRef {
  int64_t id = 0;
  std::string msgid;
  std::string name;
  std::string mbox_url;
};

struct Series {
  int64_t id = 0;
  std::string name;
  int version = 1;
  int total = 0;
  bool received_all = false;
  std::string date, web_url, mbox_url;
  Person submitter;
  std::optional<PatchRef> cover;
  std::vector<PatchRef> patches;
};

// A series-completed event.
struct Event {
  int64_t id = 0;
  std::string date;
  int64_t series_id = 0;
};

struct Check {
  std::string state;  // pending|success|warning|fail
  std::string context;  // a slug: 1 to 255 of [A-Za-z0-9_-] (Patchwork refuses others)
  std::string description, target_url;
  int64_t id = 0;  // Patchwork's, when read from it (0: none given)
};

// Whether the newest of `checks` (a patch's, as ListChecks gives them) in
// `c`'s context is `c` (the same state, description and target URL): what
// Patchwork shows for that context. An older check that happens to say the
// same (a retest's earlier round) does not count.
bool NewestIs(const std::vector<Check>& checks, const Check& c);

class Client {
 public:
  struct Options {
    std::string base_url;  // http://host:port, no trailing /api
    std::string token;     // may be empty: read-only
    int attempts = 5;
    std::chrono::milliseconds first_backoff{500};  // doubles, capped at 30 s
    std::function<void(std::chrono::milliseconds)> sleep;  // default: this_thread::sleep_for
    std::function<void(const std::string&)> log;           // retry notices; may be empty
  };

  // `http` must outlive the client.
  Client(sys::HttpTransport& http, Options options);

  // The series-completed events of `project` (its link name) since `since`
  // (ISO 8601, inclusive: the last event seen comes again; may be empty),
  // every page followed through the Link rel="next" header, oldest first
  // (ascending id, each id once).
  Result<std::vector<Event>> SeriesCompleted(const std::string& project, const std::string& since);
  Result<Series> GetSeries(int64_t id);
  // The series mbox at `url` (Series::mbox_url), bytes as served.
  Result<std::string> GetMbox(const std::string& url);
  // GET /api/1.2/patches/ID/checks/, all pages.
  Result<std::vector<Check>> ListChecks(int64_t patch_id);
  // POST /api/1.2/patches/ID/checks/ with the token. InvalidArgument without
  // a request when there is no token, or the state or context would be
  // refused. Only this request carries the token.
  Status PostCheck(int64_t patch_id, const Check& check);

  // Errors: connection failures and 5xx/429/408 are retried with backoff
  // (`attempts` in all; a 429's Retry-After is honoured up to the cap), then
  // IOError "patchwork: <what> failed after N attempts: <last error>". Any
  // other status but 2xx is not retried: InvalidArgument "patchwork: 403
  // Forbidden on POST /api/1.2/patches/7/checks/: <detail>" (permanent: bad
  // token, no permission), except 404 and 410: NotFound, the same words (a
  // series or patch deleted: that one's trouble), and InvalidArgument from
  // SeriesCompleted (no events page: a wrong URL or project). A reply that
  // does not parse is Corruption. The token never appears in a message or a log line.

 private:
  // Retried with backoff on transient errors; at most `attempts` tries (0:
  // the client's own).
  Result<sys::HttpResponse> Call(sys::HttpRequest request, int attempts = 0);
  // GETs `url` and every page its Link headers name after it, each body to `page`.
  Status GetPages(std::string url, const std::function<Status(std::string_view)>& page);
  std::string Show(const std::string& url) const;
  std::string Scrub(std::string s) const;

  sys::HttpTransport& http_;
  Options options_;
};

// The pure parsers behind the client (tests, fuzzer). Required fields (ids)
// missing or ill-typed are Corruption "patchwork: ..."; optional ones take
// their defaults. Never throw.
// An events page (a JSON array); events of another category are skipped.
Result<std::vector<Event>> ParseEvents(std::string_view json);
Result<Series> ParseSeries(std::string_view json);
// A checks page (a JSON array).
Result<std::vector<Check>> ParseChecks(std::string_view json);
// The rel="next" URL of an RFC 8288 Link header; "" when none.
std::string NextLink(std::string_view link_header);
// What a 4xx reply's JSON body says ({"detail": ...} or field errors), one
// sanitized line of at most 300 bytes; "" when the body says nothing.
std::string ErrorDetail(std::string_view body);

}  // namespace vigil::patchwork
