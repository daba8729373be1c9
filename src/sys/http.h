// HTTP requests: the HttpTransport interface (fakes in tests) and its libcurl
// implementation.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace vigil::sys {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when not empty (or when method is POST)
  int timeout_seconds = 60;          // the whole request, connection included
};

struct HttpResponse {
  long status = 0;
  // Names lowercased, values trimmed, in the order received (of the last
  // response when redirects were followed).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of header `name` (any case); "" if none.
  std::string Header(std::string_view name) const;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // One request. A transport failure (refused, DNS, timeout, body over the
  // cap) is an IOError naming the URL (never a header: headers carry tokens);
  // any HTTP status is a response. A URL the transport will not fetch (not
  // http or https) is InvalidArgument.
  virtual Result<HttpResponse> Perform(const HttpRequest& request) = 0;
};

// libcurl: http and https only (redirects followed, at most 5, never to
// another scheme than the request's), no signals, a body longer than
// `max_body_bytes` is an IOError. Thread-safe: each Perform has its own handle.
std::unique_ptr<HttpTransport> NewCurlTransport(size_t max_body_bytes = 64 << 20);

}  // namespace vigil::sys
