// `vigil serve`: the dashboard (web/site.h) over HTTP with cpp-httplib. GET
// and HEAD only; every response carries the security headers; a request is
// answered from one of a few read-only connections to the store, so pages
// are served while vigil run and vigil watch write.
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::web
