#include "base/coding.h"

#include <bit>

namespace ranker {

static_assert(std::endian::native == std::endian::little, "encoding assumes a little-endian host");

void PutFixed32(std::string* dst, uint32_t v) { dst->append(reinterpret_cast<const char*>(&v), 4); }
void PutFixed64(std::string* dst, uint64_t v) { dst->append(reinterpret_cast<const char*>(&v), 8); }
void PutDouble(std::string* dst, double v) { PutFixed64(dst, std::bit_cast<uint64_t>(v)); }
void PutFloat(std::string* dst, float v) { PutFixed32(dst, std::bit_cast<uint32_t>(v)); }

void PutString(std::string* dst, std::string_view s) {
  PutFixed32(dst, static_cast<uint32_t>(s.size()));
  dst->append(s);
}

Status Decoder::Truncated(std::string_view field) const {
  return Status::Corruption(std::string(what_) + ": truncated or malformed " + std::string(field));
}

Status Decoder::GetFixed32(uint32_t* v) {
  if (in_.size() < 4) return Truncated("fixed32");
  std::memcpy(v, in_.data(), 4);
  in_.remove_prefix(4);
  return Status::OK();
}

Status Decoder::GetFixed64(uint64_t* v) {
  if (in_.size() < 8) return Truncated("fixed64");
  std::memcpy(v, in_.data(), 8);
  in_.remove_prefix(8);
  return Status::OK();
}

Status Decoder::GetDouble(double* v) {
  uint64_t bits = 0;
  RANKER_RETURN_IF_ERROR(GetFixed64(&bits));
  *v = std::bit_cast<double>(bits);
  return Status::OK();
}

Status Decoder::GetFloat(float* v) {
  uint32_t bits = 0;
  RANKER_RETURN_IF_ERROR(GetFixed32(&bits));
  *v = std::bit_cast<float>(bits);
  return Status::OK();
}

Status Decoder::GetString(std::string* s) {
  uint32_t n = 0;
  RANKER_RETURN_IF_ERROR(GetFixed32(&n));
  if (in_.size() < n) return Truncated("string");
  s->assign(in_.data(), n);
  in_.remove_prefix(n);
  return Status::OK();
}

}  // namespace ranker
