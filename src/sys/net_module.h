// vigil-net.so: the code that needs libcurl, libpq or cpp-httplib (HTTP and
// SMTP clients, the PostgreSQL store, the dashboard's server). Those three
// bring ~30 shared libraries and OpenSSL's and GnuTLS's start-up work with
// them: linked into vigil, every command paid ~17 ms for them before its
// first line (vigil parse of a small log, each `vigil guest` in a VM). The
// module is loaded instead on the first call that needs it.
//
// Its entry points are extern "C" functions named vigil_net_*; the rest of
// vigil calls them through the wrappers beside their declarations
// (sys/http.h, sys/smtp.h, store/postgres.h, web/server.h). The module's
// own calls into vigil (Status, fmt, the store's SQL, the site) resolve to
// the executable's symbols, which it exports for that.
#pragma once

#include <string>

#include "base/status.h"

namespace vigil::sys {

// The module's file: vigil-net.so beside the running executable.
std::string NetModulePath();

// The address of the module's function `name`, loading the module on the
// first call (thread-safe). IOError naming the file and the loader's words
// when it is missing or is not this build's module.
Result<void*> NetSymbol(const char* name);

template <typename F>
Result<F*> NetFunction(const char* name) {
  auto p = NetSymbol(name);
  if (!p.ok()) return p.status();
  return reinterpret_cast<F*>(*p);
}

}  // namespace vigil::sys
