// web::Server's HTTP side with cpp-httplib, in vigil-net.so (sys/net_module.h).
#include <malloc.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

#include "base/json.h"
#include "store/store.h"
#include "web/server.h"

namespace vigil::web {
namespace {

class HttplibServer final : public Server::Backend {
 public:
  explicit HttplibServer(ServeOptions options) : o(std::move(options)) {}
  Status Run() override;
  void Stop() override { http.stop(); }

  ServeOptions o;
  httplib::Server http;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<store::Store>> stores;
  std::vector<std::unique_ptr<Site>> sites;
  std::vector<Site*> idle;

  Site* Borrow() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return !idle.empty(); });
    Site* s = idle.back();
    idle.pop_back();
    return s;
  }
  void Return(Site* s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      idle.push_back(s);
    }
    cv.notify_one();
  }
};

Status HttplibServer::Run() {
  HttplibServer& im = *this;
#ifdef __GLIBC__
  // A page's data can take megabytes for a moment (the flakes page's series:
  // a point per subtest and run). glibc would give it back to the system at
  // once and fault it in again on the next request (a third of that page's
  // time); a server keeps it for the next one instead.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
#endif
  int n = std::max(im.o.threads, 1);
  for (int i = 0; i < n; ++i) {
    auto s = store::Store::OpenReadOnly(im.o.db_path);
    if (!s.ok()) return s.status();
    im.stores.push_back(std::move(s.value()));
    im.sites.push_back(std::make_unique<Site>(*im.stores.back(), im.o.site));
    im.idle.push_back(im.sites.back().get());
  }
  im.http.new_task_queue = [n] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  im.http.set_payload_max_length(4096);
  im.http.set_read_timeout(10, 0);
  im.http.set_write_timeout(30, 0);
  im.http.set_keep_alive_max_count(1000);
  auto headers = [](httplib::Response& res) {
    for (const auto& [k, v] : SecurityHeaders()) res.set_header(k, v);
  };
  // One range of a page is a slice of it; several are a multipart reply
  // built in memory, one copy a range: "bytes=0-,0-,..." in a 6 KiB header
  // made a 150 KB page into 300 MB. Refused.
  im.http.set_pre_routing_handler([headers](const httplib::Request& req, httplib::Response& res) {
    if (req.ranges.size() <= 1) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 416;
    headers(res);
    res.set_content("vigil serve sends one range of a page at most\n", "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
  im.http.Get(".*", [&im, headers](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> query;
    for (const auto& [k, v] : req.params) query.emplace(k, v);  // the first of a repeated key
    auto t0 = std::chrono::steady_clock::now();
    Site* site = im.Borrow();
    Response r = site->Get(req.path, query);
    im.Return(site);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    res.status = r.status;
    // A range of the page (the only one asked, at most: above) goes out as
    // what it is, a part: httplib slices the body but keeps the status set.
    if (r.status == 200 && req.ranges.size() == 1) res.status = 206;
    headers(res);
    // The page's own time (store reads and rendering), for benchmarks and browsers' tools.
    res.set_header("Server-Timing", fmt::format("page;dur={:.2f}", ms));
    res.set_content(std::move(r.body), r.content_type.c_str());
  });
  auto refuse = [headers](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    headers(res);
    res.set_header("Allow", "GET, HEAD");
    res.set_content("vigil serve is read-only: GET and HEAD only\n", "text/plain; charset=utf-8");
  };
  im.http.Post(".*", refuse);
  im.http.Put(".*", refuse);
  im.http.Delete(".*", refuse);
  im.http.Patch(".*", refuse);
  im.http.Options(".*", refuse);
  im.http.set_error_handler([headers](const httplib::Request&, httplib::Response& res) {
    // Errors httplib finds itself (a request it cannot parse, a URI too long).
    if (!res.body.empty()) return;
    headers(res);
    res.set_content(fmt::format("the request was refused (HTTP {})\n", res.status),
                    "text/plain; charset=utf-8");
  });
  int port = im.o.port;
  if (port == 0) {
    port = im.http.bind_to_any_port(im.o.host);
    if (port < 0) return Status::IOError(fmt::format("cannot listen on {}: no free port", im.o.host));
  } else if (!im.http.bind_to_port(im.o.host, port)) {
    return Status::IOError(fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                                       im.o.host, port));
  }
  if (im.o.on_listening) im.o.on_listening(port);
  if (!im.http.listen_after_bind()) return Status::IOError("the server stopped with an error");
  return Status::OK();
}

}  // namespace
}  // namespace vigil::web

// The module's entry point behind web::Server.
extern "C" vigil::web::Server::Backend* vigil_net_new_server(vigil::web::ServeOptions* o) {
  return new vigil::web::HttplibServer(std::move(*o));
}
