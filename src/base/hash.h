// FNV-1a, 64 bits: identities (report fingerprints, cache keys, kernel
// configurations), not secrets.
#pragma once

#include <cstdint>
#include <string_view>

namespace vigil {

inline constexpr uint64_t kFnvOffset = 14695981039346656037ull;

inline uint64_t Fnv1a(std::string_view s, uint64_t h = kFnvOffset) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace vigil
