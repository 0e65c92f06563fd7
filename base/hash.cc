#include "base/hash.h"

#include <cstring>

namespace ranker {

void Digest64::Update(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  // 8 bytes at a time: fast enough for millions of parameters.
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h_ = Mix64(h_ ^ w) * 0x100000001b3ULL;
  }
  for (; i < n; ++i) {
    h_ ^= p[i];
    h_ *= 0x100000001b3ULL;
  }
  n_ += n;
}

std::string_view Digest64::Hex(uint64_t v, char (&buf)[17]) {
  static const char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    buf[i] = kDigits[v & 0xf];
    v >>= 4;
  }
  buf[16] = '\0';
  return std::string_view(buf, 16);
}

}  // namespace ranker
