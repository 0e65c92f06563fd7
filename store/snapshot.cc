#include "store/snapshot.h"

#include <algorithm>
#include <cassert>
#include <unordered_set>

#include "base/coding.h"
#include "base/hash.h"

namespace ranker::store {
namespace {

constexpr uint32_t kMagic = 0x4e534b52;  // "RKSN" little-endian
// 2 adds `isa` after param_checksum; 1 is still read (isa empty).
constexpr uint32_t kFormatVersion = 2;
constexpr size_t kDigestBytes = 8;

uint64_t DigestOf(std::string_view bytes) {
  Digest64 d;
  d.Update(bytes.data(), bytes.size());
  return d.value();
}

void PutOffsetsImpl(std::string* dst, const OffsetMap& offsets) {
  PutFixed64(dst, offsets.size());
  for (const auto& [tp, offset] : offsets) {
    PutString(dst, tp.first);
    PutFixed32(dst, static_cast<uint32_t>(tp.second));
    PutFixed64(dst, static_cast<uint64_t>(offset));
  }
}

Status GetOffsetsImpl(Decoder* in, OffsetMap* offsets) {
  uint64_t n = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&n));
  for (uint64_t i = 0; i < n; ++i) {
    std::string topic;
    uint32_t partition = 0;
    uint64_t offset = 0;
    RANKER_RETURN_IF_ERROR(in->GetString(&topic));
    RANKER_RETURN_IF_ERROR(in->GetFixed32(&partition));
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&offset));
    (*offsets)[{std::move(topic), static_cast<int32_t>(partition)}] = static_cast<int64_t>(offset);
  }
  return Status::OK();
}

Status GetRows(Decoder* in, std::vector<Row>* rows) {
  uint64_t n = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&n));
  if (n > in->remaining() / 12) return Status::Corruption("row count exceeds the bytes left");
  rows->resize(n);
  for (auto& [key, bytes] : *rows) {
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&key));
    RANKER_RETURN_IF_ERROR(in->GetString(&bytes));
  }
  return Status::OK();
}

Status Corrupt(std::string_view what, std::string_view why) {
  return Status::Corruption(std::string(what) + ": " + std::string(why));
}

}  // namespace

void PutOffsetMap(std::string* dst, const OffsetMap& offsets) { PutOffsetsImpl(dst, offsets); }
Status GetOffsetMap(Decoder* in, OffsetMap* offsets) { return GetOffsetsImpl(in, offsets); }

Snapshot HeadOf(const Snapshot& s) {
  Snapshot head;
  head.id = s.id;
  head.created_ms = s.created_ms;
  head.model_version = s.model_version;
  head.param_checksum = s.param_checksum;
  head.isa = s.isa;
  head.offsets = s.offsets;
  head.dense_state = s.dense_state;
  return head;
}

SnapshotInfo InfoOf(const Snapshot& s) {
  SnapshotInfo info;
  info.id = s.id;
  info.base_id = s.base_id;
  info.created_ms = s.created_ms;
  info.model_version = s.model_version;
  info.param_checksum = s.param_checksum;
  info.isa = s.isa;
  info.offsets = s.offsets;
  info.bytes = PayloadBytes(s);
  info.changed_rows = s.changed_rows.size();
  info.removed_rows = s.removed_rows.size();
  return info;
}

uint64_t PayloadBytes(const Snapshot& s) {
  uint64_t bytes = s.dense_state.size() + 8 * s.removed_rows.size();
  for (const auto& row : s.changed_rows) bytes += 8 + row.second.size();
  return bytes;
}

Status ValidateForPut(const Snapshot& s) {
  const std::string where = "snapshot " + std::to_string(s.id) + ": ";
  if (s.id == 0) return Status::InvalidArgument(where + "id must be > 0");
  if (s.base_id >= s.id) return Status::InvalidArgument(where + "base_id must be < id");
  if (s.base_id == 0 && !s.removed_rows.empty()) {
    return Status::InvalidArgument(where + "removed_rows must be empty when base_id == 0");
  }
  std::unordered_set<uint64_t> keys;
  keys.reserve(s.changed_rows.size() + s.removed_rows.size());
  for (const auto& row : s.changed_rows) {
    if (!keys.insert(row.first).second) {
      return Status::InvalidArgument(where + "changed_rows has key " + std::to_string(row.first) +
                                     " twice");
    }
  }
  for (uint64_t key : s.removed_rows) {
    if (!keys.insert(key).second) {
      return Status::InvalidArgument(where + "removed_rows key " + std::to_string(key) +
                                     " repeated or also in changed_rows");
    }
  }
  return Status::OK();
}

std::string EncodeSnapshot(const Snapshot& s) { return EncodeSnapshotVersion(s, kFormatVersion); }

std::string EncodeSnapshotVersion(const Snapshot& s, uint32_t version) {
  assert(s.base_id == 0 && s.removed_rows.empty());
  assert(version == 1 || version == kFormatVersion);
  std::string out;
  PutFixed32(&out, kMagic);
  PutFixed32(&out, version);
  PutFixed64(&out, s.id);
  PutFixed64(&out, static_cast<uint64_t>(s.created_ms));
  PutFixed64(&out, s.model_version);
  PutString(&out, s.param_checksum);
  if (version >= 2) PutString(&out, s.isa);
  PutOffsetMap(&out, s.offsets);
  PutFixed64(&out, s.dense_state.size());
  out.append(s.dense_state);
  PutFixed64(&out, s.changed_rows.size());
  for (const auto& [key, bytes] : s.changed_rows) {
    PutFixed64(&out, key);
    PutString(&out, bytes);
  }
  PutFixed64(&out, DigestOf(out));
  return out;
}

StatusOr<Snapshot> DecodeSnapshot(std::string_view in, std::string_view what) {
  if (in.size() < 8 + kDigestBytes) return Corrupt(what, "too short for a snapshot");
  Decoder header(in, what);
  uint32_t magic = 0, version = 0;
  RANKER_RETURN_IF_ERROR(header.GetFixed32(&magic));
  RANKER_RETURN_IF_ERROR(header.GetFixed32(&version));
  if (magic != kMagic) return Corrupt(what, "bad magic");
  if (version != 1 && version != kFormatVersion) {
    return Corrupt(what, "unsupported format version " + std::to_string(version));
  }
  const std::string_view body = in.substr(0, in.size() - kDigestBytes);
  Decoder tail(in.substr(body.size()), what);
  uint64_t stored = 0;
  RANKER_RETURN_IF_ERROR(tail.GetFixed64(&stored));
  if (stored != DigestOf(body)) return Corrupt(what, "checksum mismatch");

  Decoder d(body.substr(8), what);
  Snapshot s;
  uint64_t created = 0, dense_size = 0;
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&s.id));
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&created));
  s.created_ms = static_cast<int64_t>(created);
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&s.model_version));
  RANKER_RETURN_IF_ERROR(d.GetString(&s.param_checksum));
  if (version >= 2) RANKER_RETURN_IF_ERROR(d.GetString(&s.isa));
  RANKER_RETURN_IF_ERROR(GetOffsetMap(&d, &s.offsets));
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&dense_size));
  if (dense_size > d.remaining()) return Corrupt(what, "truncated dense_state");
  const size_t dense_at = body.size() - d.remaining();
  s.dense_state.assign(body.substr(dense_at, dense_size));
  d = Decoder(body.substr(dense_at + dense_size), what);
  Status rows = GetRows(&d, &s.changed_rows);
  if (!rows.ok()) return Corrupt(what, rows.message());
  if (!d.done()) return Corrupt(what, "trailing bytes");
  return s;
}

}  // namespace ranker::store
