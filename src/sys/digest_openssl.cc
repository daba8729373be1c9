// In vigil-net.so: the digests of sys/digest.h, by libcrypto.
#include <openssl/evp.h>

#include <cstddef>

// SHA-256 of `n` bytes at `data` into `hex` (64 digits and a NUL).
extern "C" bool vigil_net_sha256_hex(const char* data, size_t n, char* hex) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr) != 1 || len != 32) return false;
  static constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    hex[2 * i] = kDigits[md[i] >> 4];
    hex[2 * i + 1] = kDigits[md[i] & 15];
  }
  hex[64] = '\0';
  return true;
}
