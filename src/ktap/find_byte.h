// Finding one byte in a short span, inline. Lines and descriptions are a few
// dozen bytes: a call to memchr per search costs more than the search itself.
#pragma once

#include <cstddef>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace vigil::ktap {

// Offset of the first `c` in `p[0..n)`, or n when there is none.
inline size_t FindByte(const char* p, size_t n, char c) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i needle = _mm_set1_epi8(c);
  // 32 bytes per step while they last: one test and branch for two loads.
  for (; i + 32 <= n; i += 32) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(a, needle))) |
                    static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(b, needle))) << 16;
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle)));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
  if (i < n && n >= 16) {
    // The last 16 bytes, overlapping those already searched.
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle)));
    mask >>= i - (n - 16);
    return mask != 0 ? i + static_cast<size_t>(__builtin_ctz(mask)) : n;
  }
#endif
  for (; i < n; ++i) {
    if (p[i] == c) return i;
  }
  return n;
}

}  // namespace vigil::ktap
