// Cryptographic digests, from OpenSSL's libcrypto in the network module
// (sys/net_module.h): only what talks to other services needs them, and
// libcrypto is not worth its start-up cost to every command.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::sys {

// SHA-256 of `bytes`, 64 lower-case hex digits. IOError when the network
// module cannot be loaded.
Result<std::string> Sha256Hex(std::string_view bytes);

}  // namespace vigil::sys
