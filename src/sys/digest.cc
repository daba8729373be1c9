#include "sys/digest.h"

#include "sys/net_module.h"

namespace vigil::sys {

Result<std::string> Sha256Hex(std::string_view bytes) {
  auto f = NetFunction<bool(const char*, size_t, char*)>("vigil_net_sha256_hex");
  if (!f.ok()) return f.status();
  char hex[65];
  if (!(*f)(bytes.data(), bytes.size(), hex)) return Status::IOError("SHA-256: libcrypto refused to compute it");
  return std::string(hex, 64);
}

}  // namespace vigil::sys
