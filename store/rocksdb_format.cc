#include "store/rocksdb_format.h"

#include <algorithm>
#include <cstring>

#include "base/coding.h"
#include "base/hash.h"

namespace ranker::store::format {
namespace {

constexpr uint32_t kLayoutMagic = 0x44534b52;    // "RKSD"
constexpr uint32_t kManifestMagic = 0x4d534b52;  // "RKSM"
constexpr uint32_t kLayoutVersion = 1;
// Manifest format 2 adds SnapshotInfo::isa after param_checksum; 1 is still
// read (isa empty), so stores written before it open and restore.
constexpr uint32_t kManifestVersion = 2;
constexpr char kLive = 'L';
constexpr char kRemoved = 'X';

void PutBigEndian64(std::string* dst, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) dst->push_back(static_cast<char>(v >> shift));
}

uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string PrefixedKey(char prefix, uint64_t id) {
  std::string key(1, prefix);
  PutBigEndian64(&key, id);
  return key;
}

std::string What(uint64_t id) { return "snapshot " + std::to_string(id) + " manifest"; }

void PutInfo(std::string* out, const SnapshotInfo& info, uint32_t version) {
  PutFixed64(out, info.id);
  PutFixed64(out, info.base_id);
  PutFixed64(out, static_cast<uint64_t>(info.created_ms));
  PutFixed64(out, info.model_version);
  PutString(out, info.param_checksum);
  if (version >= 2) PutString(out, info.isa);
  PutOffsetMap(out, info.offsets);
  PutFixed64(out, info.bytes);
  PutFixed64(out, info.rows);
  PutFixed64(out, info.changed_rows);
  PutFixed64(out, info.removed_rows);
}

Status GetInfo(Decoder* in, SnapshotInfo* info, uint32_t version) {
  uint64_t created = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&info->id));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&info->base_id));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&created));
  info->created_ms = static_cast<int64_t>(created);
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&info->model_version));
  RANKER_RETURN_IF_ERROR(in->GetString(&info->param_checksum));
  if (version >= 2) RANKER_RETURN_IF_ERROR(in->GetString(&info->isa));
  RANKER_RETURN_IF_ERROR(GetOffsetMap(in, &info->offsets));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&info->bytes));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&info->rows));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&info->changed_rows));
  return in->GetFixed64(&info->removed_rows);
}

// Sorted, disjoint, non-empty, and ending at the snapshot's own id.
bool ValidLineage(const std::vector<std::pair<uint64_t, uint64_t>>& iv, uint64_t id) {
  if (iv.empty() || iv.back().second != id) return false;
  for (size_t i = 0; i < iv.size(); ++i) {
    if (iv[i].first > iv[i].second) return false;
    if (i > 0 && iv[i - 1].second >= iv[i].first) return false;
  }
  return true;
}

}  // namespace

std::string LayoutValue() {
  std::string v;
  PutFixed32(&v, kLayoutMagic);
  PutFixed32(&v, kLayoutVersion);
  return v;
}

std::string ManifestKey(uint64_t id) { return PrefixedKey(kManifestPrefix, id); }
std::string DenseKey(uint64_t id) { return PrefixedKey(kDensePrefix, id); }

std::string RowKey(uint64_t row_key, uint64_t version) {
  std::string key = PrefixedKey(kRowPrefix, row_key);
  PutBigEndian64(&key, ~version);
  return key;
}

std::string WrittenKey(uint64_t id, uint32_t chunk) {
  std::string key = PrefixedKey(kWrittenPrefix, id);
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(chunk >> shift));
  return key;
}

bool ParseWrittenKey(std::string_view key, uint64_t* id) {
  if (key.size() != 13 || key[0] != kWrittenPrefix) return false;
  *id = GetBigEndian64(key.substr(1));
  return true;
}

bool ParseManifestKey(std::string_view key, uint64_t* id) {
  if (key.size() != 9 || key[0] != kManifestPrefix) return false;
  *id = GetBigEndian64(key.substr(1));
  return true;
}

bool ParseRowKey(std::string_view key, uint64_t* row_key, uint64_t* version) {
  if (key.size() != 17 || key[0] != kRowPrefix) return false;
  *row_key = GetBigEndian64(key.substr(1));
  *version = ~GetBigEndian64(key.substr(9));
  return true;
}

Lineage Lineage::Extend(uint64_t id, bool linear) const {
  Lineage out = *this;
  if (linear && !out.intervals_.empty()) {
    out.intervals_.back().second = id;
  } else {
    out.intervals_.emplace_back(id, id);
  }
  return out;
}

namespace {

// Sorted, disjoint intervals with adjacent ones merged.
std::vector<std::pair<uint64_t, uint64_t>> Normalise(
    std::vector<std::pair<uint64_t, uint64_t>> iv) {
  std::sort(iv.begin(), iv.end());
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& [first, last] : iv) {
    if (first > last) continue;
    if (!out.empty() && first <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, last);
    } else {
      out.emplace_back(first, last);
    }
  }
  return out;
}

}  // namespace

Lineage Lineage::Union(const Lineage& a, const Lineage& b) {
  std::vector<std::pair<uint64_t, uint64_t>> iv = a.intervals_;
  iv.insert(iv.end(), b.intervals_.begin(), b.intervals_.end());
  return Lineage(Normalise(std::move(iv)));
}

Lineage Lineage::Intersect(const Lineage& a, const Lineage& b) {
  std::vector<std::pair<uint64_t, uint64_t>> iv;
  for (const auto& [af, al] : a.intervals_) {
    for (const auto& [bf, bl] : b.intervals_) {
      const uint64_t first = std::max(af, bf), last = std::min(al, bl);
      if (first <= last) iv.emplace_back(first, last);
    }
  }
  return Lineage(Normalise(std::move(iv)));
}

Lineage Lineage::Minus(const Lineage& other) const {
  std::vector<std::pair<uint64_t, uint64_t>> iv;
  for (auto [first, last] : intervals_) {
    for (const auto& [of, ol] : other.intervals_) {
      if (ol < first || of > last) continue;
      if (of > first) iv.emplace_back(first, of - 1);
      if (ol >= last) {
        first = 1, last = 0;  // nothing left of this interval
        break;
      }
      first = ol + 1;
    }
    if (first <= last) iv.emplace_back(first, last);
  }
  return Lineage(Normalise(std::move(iv)));
}

Lineage Lineage::Above(uint64_t id) const {
  std::vector<std::pair<uint64_t, uint64_t>> iv;
  for (const auto& [first, last] : intervals_) {
    if (last > id) iv.emplace_back(std::max(first, id + 1), last);
  }
  return Lineage(std::move(iv));
}

bool Lineage::Contains(uint64_t version) const {
  // Few intervals (one per restore since the last full snapshot): scan.
  for (auto it = intervals_.rbegin(); it != intervals_.rend(); ++it) {
    if (version > it->second) return false;
    if (version >= it->first) return true;
  }
  return false;
}

std::string EncodeManifest(const Manifest& m) { return EncodeManifestVersion(m, kManifestVersion); }

std::string EncodeManifestVersion(const Manifest& m, uint32_t version) {
  std::string out;
  PutFixed32(&out, kManifestMagic);
  PutFixed32(&out, version);
  PutInfo(&out, m.info, version);
  PutFixed64(&out, m.lineage.intervals().size());
  for (const auto& [first, last] : m.lineage.intervals()) {
    PutFixed64(&out, first);
    PutFixed64(&out, last);
  }
  PutFixed64(&out, m.dense_size);
  PutFixed64(&out, m.dense_digest);
  PutFixed64(&out, m.rows_digest);
  PutFixed64(&out, BlobDigest(out));
  return out;
}

StatusOr<Manifest> DecodeManifest(std::string_view in, uint64_t id) {
  const std::string what = What(id);
  if (in.size() < 16) return Status::Corruption(what + ": too short");
  const std::string_view body = in.substr(0, in.size() - 8);
  Decoder d(in, what);
  uint32_t magic = 0, version = 0;
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&magic));
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&version));
  if (magic != kManifestMagic) return Status::Corruption(what + ": bad magic");
  if (version != 1 && version != kManifestVersion) {
    return Status::Corruption(what + ": unsupported format version " + std::to_string(version));
  }
  Decoder trailer(in.substr(body.size()), what);
  uint64_t stored = 0;
  RANKER_RETURN_IF_ERROR(trailer.GetFixed64(&stored));
  if (stored != BlobDigest(body)) return Status::Corruption(what + ": checksum mismatch");

  d = Decoder(body.substr(8), what);
  Manifest m;
  RANKER_RETURN_IF_ERROR(GetInfo(&d, &m.info, version));
  uint64_t n = 0;
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&n));
  if (n > d.remaining() / 16) return Status::Corruption(what + ": bad lineage size");
  std::vector<std::pair<uint64_t, uint64_t>> intervals(n);
  for (auto& [first, last] : intervals) {
    RANKER_RETURN_IF_ERROR(d.GetFixed64(&first));
    RANKER_RETURN_IF_ERROR(d.GetFixed64(&last));
  }
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&m.dense_size));
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&m.dense_digest));
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&m.rows_digest));
  if (!d.done()) return Status::Corruption(what + ": trailing bytes");
  if (m.info.id != id)
    return Status::Corruption(what + ": records id " + std::to_string(m.info.id));
  if (!ValidLineage(intervals, id)) return Status::Corruption(what + ": malformed lineage");
  m.lineage = Lineage(std::move(intervals));
  return m;
}

uint64_t RowHash(uint64_t row_key, std::string_view bytes) {
  Digest64 d;
  d.UpdateU64(row_key);
  d.Update(bytes.data(), bytes.size());
  return d.value();
}

uint64_t BlobDigest(std::string_view bytes) {
  Digest64 d;
  d.Update(bytes.data(), bytes.size());
  return d.value();
}

std::string EncodeRowValue(bool live, uint64_t hash, std::string_view bytes) {
  std::string out(1, live ? kLive : kRemoved);
  if (live) {
    PutFixed64(&out, hash);
    out.append(bytes);
  }
  return out;
}

Status DecodeRowValue(std::string_view in, RowValue* out) {
  if (in.size() == 1 && in[0] == kRemoved) {
    *out = RowValue{};
    return Status::OK();
  }
  if (in.size() < 9 || in[0] != kLive) return Status::Corruption("malformed row value");
  out->live = true;
  std::memcpy(&out->hash, in.data() + 1, 8);
  out->bytes = in.substr(9);
  return Status::OK();
}

}  // namespace ranker::store::format
