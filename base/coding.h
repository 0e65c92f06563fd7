// Little-endian binary encoding for model state, joiner state and snapshots
// (the leveldb coding.h idiom). Writers append to a std::string; a Decoder
// reads from a string_view and reports truncation as Corruption, never UB.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ranker {

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutDouble(std::string* dst, double v);
void PutFloat(std::string* dst, float v);
// Length-prefixed (fixed32) bytes.
void PutString(std::string* dst, std::string_view s);
// Raw arrays of trivially copyable values (count-prefixed).
template <typename T>
void PutArray(std::string* dst, const T* data, size_t n) {
  PutFixed64(dst, n);
  dst->append(reinterpret_cast<const char*>(data), n * sizeof(T));
}

class Decoder {
 public:
  // `what` names the thing decoded, for error messages ("joiner state").
  Decoder(std::string_view in, std::string_view what) : in_(in), what_(what) {}
  Status GetFixed32(uint32_t* v);
  Status GetFixed64(uint64_t* v);
  Status GetDouble(double* v);
  Status GetFloat(float* v);
  Status GetString(std::string* s);
  // Reads a count-prefixed array of exactly `expected` elements (or any count
  // when expected == SIZE_MAX, resizing *out).
  template <typename T>
  Status GetArray(std::vector<T>* out, size_t expected = SIZE_MAX) {
    uint64_t n;
    RANKER_RETURN_IF_ERROR(GetFixed64(&n));
    if (expected != SIZE_MAX && n != expected) return Truncated("array size mismatch");
    if (n > in_.size() / sizeof(T)) return Truncated("array");
    out->resize(n);
    if (n > 0) std::memcpy(out->data(), in_.data(), n * sizeof(T));
    in_.remove_prefix(n * sizeof(T));
    return Status::OK();
  }
  // Copies exactly n elements into data (count must match).
  template <typename T>
  Status GetInto(T* data, size_t n) {
    uint64_t m;
    RANKER_RETURN_IF_ERROR(GetFixed64(&m));
    if (m != n) return Truncated("array size mismatch");
    if (n > in_.size() / sizeof(T)) return Truncated("array");
    if (n > 0) std::memcpy(data, in_.data(), n * sizeof(T));
    in_.remove_prefix(n * sizeof(T));
    return Status::OK();
  }
  bool done() const { return in_.empty(); }
  size_t remaining() const { return in_.size(); }

 private:
  Status Truncated(std::string_view field) const;
  std::string_view in_;
  std::string_view what_;
};

}  // namespace ranker
