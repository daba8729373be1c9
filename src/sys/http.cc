#include "sys/http.h"

#include <algorithm>
#include <cctype>

#include "sys/net_module.h"

namespace vigil::sys {

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() &&
        std::equal(n.begin(), n.end(), name.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      return v;
    }
  }
  return "";
}

namespace {

// Stands in for libcurl when the network module cannot be loaded: every
// request fails with the loader's words.
class UnavailableTransport : public HttpTransport {
 public:
  explicit UnavailableTransport(Status why) : why_(std::move(why)) {}
  Result<HttpResponse> Perform(const HttpRequest&) override { return why_; }

 private:
  Status why_;
};

}  // namespace

std::unique_ptr<HttpTransport> NewCurlTransport(size_t max_body_bytes) {
  auto make = NetFunction<HttpTransport*(size_t)>("vigil_net_new_curl_transport");
  if (!make.ok()) return std::make_unique<UnavailableTransport>(make.status());
  return std::unique_ptr<HttpTransport>((*make)(max_body_bytes));
}

}  // namespace vigil::sys
