#include "web/server.h"

#include <fmt/format.h>

#include "sys/net_module.h"

namespace vigil::web {

Status ParseListen(const std::string& listen, std::string* host, int* port) {
  std::string h, p;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return Status::InvalidArgument(fmt::format("'{}' is not [ADDRESS]:PORT", listen));
    }
    h = listen.substr(1, close - 1);
    p = listen.substr(close + 2);
  } else if (size_t colon = listen.rfind(':'); colon != std::string::npos) {
    h = listen.substr(0, colon);
    p = listen.substr(colon + 1);
    if (h.find(':') != std::string::npos) {
      return Status::InvalidArgument(fmt::format("'{}': write an IPv6 address as [ADDRESS]:PORT", listen));
    }
  } else {
    p = listen;
  }
  if (h.empty()) h = "127.0.0.1";
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 65535) {
    return Status::InvalidArgument(fmt::format("'{}' has no port from 0 to 65535", listen));
  }
  *host = h;
  *port = std::stoi(p);
  return Status::OK();
}

Server::Server(ServeOptions o) {
  auto make = sys::NetFunction<Backend*(ServeOptions*)>("vigil_net_new_server");
  if (make.ok()) {
    backend_.reset((*make)(&o));
  } else {
    unavailable_ = make.status();
  }
}

Server::~Server() = default;

Status Server::Run() { return backend_ ? backend_->Run() : unavailable_; }

void Server::Stop() {
  if (backend_) backend_->Stop();
}

}  // namespace vigil::web
