// `vigil serve`: the dashboard (web/site.h) over HTTP with cpp-httplib. GET
// and HEAD only; every response carries the security headers; a request is
// answered from one of a few read-only connections to the store, so pages
// are served while vigil run and vigil watch write. The HTTP side is in
// vigil-net.so (sys/net_module.h, web/server_httplib.cc).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "web/site.h"

namespace vigil::web {

struct ServeOptions {
  std::string db_path;
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  int threads = 4;  // workers, each with its own read-only connection
  SiteOptions site;
  // Called once listening, with the port (for a test or the log line).
  std::function<void(int port)> on_listening;
};

// "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" -> host, port; InvalidArgument
// for anything else (a port beyond 65535 included).
Status ParseListen(const std::string& listen, std::string* host, int* port);

class Server {
 public:
  explicit Server(ServeOptions o);
  ~Server();
  // Opens the store read-only (its errors come back before listening),
  // binds, then serves until Stop(). IOError when the address is taken.
  Status Run();
  void Stop();

  // What the module gives: Run and Stop as above.
  class Backend {
   public:
    virtual ~Backend() = default;
    virtual Status Run() = 0;
    virtual void Stop() = 0;
  };

 private:
  std::unique_ptr<Backend> backend_;
  Status unavailable_;  // why there is no backend
};

}  // namespace vigil::web
