// libcurl's HttpTransport, in vigil-net.so (sys/net_module.h).
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "sys/http.h"

namespace vigil::sys {
namespace {

constexpr size_t kMaxHeaderBytes = 1 << 20;

struct Receiver {
  size_t max_body = 0;
  bool body_over_cap = false;
  bool headers_over_cap = false;
  size_t header_bytes = 0;
  HttpResponse response;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Receiver*>(user);
  size_t len = size * n;
  if (len > r->max_body - r->response.body.size()) {
    r->body_over_cap = true;
    return 0;  // CURLE_WRITE_ERROR
  }
  r->response.body.append(data, len);
  return len;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Receiver*>(user);
  size_t len = size * n;
  r->header_bytes += len;
  if (r->header_bytes > kMaxHeaderBytes) {
    r->headers_over_cap = true;
    return 0;
  }
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100 Continue): its headers only.
    r->response.headers.clear();
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return len;
  std::string name(Trim(line.substr(0, colon)));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  r->response.headers.emplace_back(std::move(name), std::string(Trim(line.substr(colon + 1))));
  return len;
}

class CurlTransport : public HttpTransport {
 public:
  explicit CurlTransport(size_t max_body_bytes) : max_body_(max_body_bytes) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<HttpResponse> Perform(const HttpRequest& request) override {
    std::string what = fmt::format("{} {}", request.method, request.url);
    std::string scheme;
    if (request.url.starts_with("http://")) {
      scheme = "http";
    } else if (request.url.starts_with("https://")) {
      scheme = "https";
    } else {
      return Status::InvalidArgument(fmt::format("{}: not an http or https URL", what));
    }
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) return Status::IOError(fmt::format("{}: curl_easy_init failed", what));
    struct curl_slist* list = nullptr;
    for (const auto& h : request.headers) list = curl_slist_append(list, h.c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(list, &curl_slist_free_all);

    Receiver r;
    r.max_body = max_body_;
    char error[CURL_ERROR_SIZE] = {};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, scheme.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(std::max(1, request.timeout_seconds)));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::clamp(request.timeout_seconds, 1, 30)));
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl decodes
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(max_body_));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    if (request.method == "GET" || request.method == "HEAD") {
      // Redirects of reads only (a redirected POST would turn into a GET),
      // within the request's scheme; curl drops Authorization on another host.
      curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
      curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, scheme.c_str());
      if (request.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (!request.body.empty() || request.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    }

    CURLcode rc = curl_easy_perform(c);
    if (r.body_over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
      return Status::IOError(fmt::format("{}: response body over {} bytes", what, max_body_));
    }
    if (r.headers_over_cap) {
      return Status::IOError(fmt::format("{}: response headers over {} bytes", what, kMaxHeaderBytes));
    }
    if (rc != CURLE_OK) {
      std::string detail = error[0] ? std::string(Trim(error)) : std::string(curl_easy_strerror(rc));
      return Status::IOError(fmt::format("{}: {}", what, detail));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.response.status);
    return std::move(r.response);
  }

 private:
  size_t max_body_;
};

}  // namespace
}  // namespace vigil::sys

// The module's entry point behind sys::NewCurlTransport.
extern "C" vigil::sys::HttpTransport* vigil_net_new_curl_transport(size_t max_body_bytes) {
  return new vigil::sys::CurlTransport(max_body_bytes);
}
