#include "learner/embedding_table.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "base/random.h"

namespace ranker::learner {
namespace {

// Separates the sketch's hashes from the index's and the initialiser's.
constexpr uint64_t kSketchSalt = 0xc0417e5cULL;
// 1: rows carry their last-seen time; the meta state its fields below.
constexpr uint32_t kMetaVersion = 1;

int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}

}  // namespace

CountMinSketch::CountMinSketch(int64_t bytes)
    : width_(std::bit_floor(static_cast<size_t>(bytes) / (kDepth * sizeof(uint16_t)))) {
  cells_.assign(kDepth * width_, 0);
}

size_t CountMinSketch::Cell(uint64_t key, int r) const {
  return static_cast<size_t>(r) * width_ + (HashCombine(key, kSketchSalt + r) & (width_ - 1));
}

uint32_t CountMinSketch::Estimate(uint64_t key) const {
  if (empty()) return 0;
  uint32_t est = UINT16_MAX;
  for (int r = 0; r < kDepth; ++r) est = std::min<uint32_t>(est, cells_[Cell(key, r)]);
  return est;
}

void CountMinSketch::Add(uint64_t key, uint32_t n) {
  if (empty()) return;
  for (int r = 0; r < kDepth; ++r) {
    uint16_t& c = cells_[Cell(key, r)];
    c = static_cast<uint16_t>(std::min<uint32_t>(UINT16_MAX, c + n));
  }
  since_aging_ += n;
  if (since_aging_ >= width_) {
    for (uint16_t& c : cells_) c >>= 1;
    since_aging_ = 0;
  }
}

void CountMinSketch::Subtract(uint64_t key, uint32_t n) {
  if (empty()) return;
  for (int r = 0; r < kDepth; ++r) {
    uint16_t& c = cells_[Cell(key, r)];
    c = static_cast<uint16_t>(c - std::min<uint32_t>(c, n));
  }
}

void CountMinSketch::Digest(Digest64* d) const {
  d->UpdateU64(since_aging_);
  d->UpdateU64(cells_.size());
  d->Update(cells_.data(), cells_.size() * sizeof(uint16_t));
}

void CountMinSketch::Serialize(std::string* out) const {
  PutFixed64(out, since_aging_);
  PutArray(out, cells_.data(), cells_.size());
}

Status CountMinSketch::Deserialize(Decoder* in) {
  uint64_t since = 0;
  std::vector<uint16_t> cells;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&since));
  RANKER_RETURN_IF_ERROR(in->GetArray(&cells));
  if (cells.empty() || empty()) return Status::OK();  // admission was or is off: start at zero
  if (cells.size() != cells_.size()) {
    return Status::InvalidArgument(
        "embedding table: the saved admission sketch has " + std::to_string(cells.size()) +
        " counters, model.embedding_admit_sketch_bytes gives " + std::to_string(cells_.size()));
  }
  cells_ = std::move(cells);
  since_aging_ = since;
  return Status::OK();
}

EmbeddingTable::EmbeddingTable(int dim, int state_width, Real state_init, uint64_t seed,
                               double init_scale, const RowPolicy& policy)
    : dim_(dim),
      state_width_(state_width),
      state_init_(state_init),
      seed_(seed),
      init_scale_(init_scale),
      policy_(policy) {
  if (admission()) sketch_ = CountMinSketch(policy_.admit_sketch_bytes);
}

Real* EmbeddingTable::RowPtr(size_t row) {
  return chunks_[row / kRowsPerChunk].data() + (row % kRowsPerChunk) * stride();
}

const Real* EmbeddingTable::RowPtr(size_t row) const {
  return chunks_[row / kRowsPerChunk].data() + (row % kRowsPerChunk) * stride();
}

size_t EmbeddingTable::SlotOf(uint64_t key) const {
  const size_t mask = slots_.size() - 1;
  size_t i = key & mask;
  while (slots_[i].row != kNoRow && slots_[i].key != key) i = (i + 1) & mask;
  return i;
}

uint32_t EmbeddingTable::RowOf(uint64_t key) const {
  return slots_.empty() ? kNoRow : slots_[SlotOf(key)].row;
}

void EmbeddingTable::Reindex(size_t num_slots) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(num_slots, Slot{});
  for (const Slot& s : old) {
    if (s.row != kNoRow) slots_[SlotOf(s.key)] = s;
  }
}

void EmbeddingTable::IndexInsert(uint64_t key, uint32_t row) {
  // Grow to keep the load <= 1/2; rows keep their numbers.
  if (2 * (keys_.size() + 1) > slots_.size()) Reindex(std::max<size_t>(64, 2 * slots_.size()));
  slots_[SlotOf(key)] = {key, row};
}

// Backward-shift deletion: moves each later entry of the probe run into the
// hole unless its home slot lies cyclically after the hole, so every key
// stays reachable from its home without crossing an empty slot.
void EmbeddingTable::IndexErase(size_t slot) {
  const size_t mask = slots_.size() - 1;
  size_t hole = slot;
  for (size_t j = (hole + 1) & mask; slots_[j].row != kNoRow; j = (j + 1) & mask) {
    const size_t home = slots_[j].key & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
}

const Real* EmbeddingTable::Find(uint64_t key) const {
  const uint32_t row = RowOf(key);
  return row == kNoRow ? nullptr : RowPtr(row);
}

void EmbeddingTable::Lookup(uint64_t key, Real* out) const {
  const Real* row = Find(key);
  if (row != nullptr) {
    std::memcpy(out, row, sizeof(Real) * dim_);
  } else if (admission()) {
    std::fill(out, out + dim_, Real(0));
  } else {
    InitialWeights(key, out);
  }
}

void EmbeddingTable::InitialWeights(uint64_t key, Real* out) const {
  Rng rng(HashCombine(key, seed_));
  for (int i = 0; i < dim_; ++i) {
    out[i] = static_cast<Real>((2 * rng.Uniform() - 1) * init_scale_);
  }
}

bool EmbeddingTable::Admits(uint64_t key, uint32_t sightings) const {
  if (!admission()) return true;
  return sketch_.Estimate(key) + sightings >= static_cast<uint32_t>(policy_.admit_after);
}

int64_t EmbeddingTable::LastSeen(uint64_t key) const {
  const uint32_t row = RowOf(key);
  return row == kNoRow ? -1 : last_seen_[row];
}

size_t EmbeddingTable::AppendRow(uint64_t key) {
  const size_t row = keys_.size();
  if (row % kRowsPerChunk == 0) chunks_.emplace_back(kRowsPerChunk * stride());
  IndexInsert(key, static_cast<uint32_t>(row));
  keys_.push_back(key);
  dirty_bits_.push_back(0);
  last_seen_.push_back(clock_ms_);
  Real* p = RowPtr(row);
  InitialWeights(key, p);
  std::fill(p + dim_, p + stride(), state_init_);
  ForgetRemoved(key);
  return row;
}

void EmbeddingTable::ForgetRemoved(uint64_t key) {
  for (DirtySet& d : dirty_) {
    const auto it = d.removed_index.find(key);
    if (it == d.removed_index.end()) continue;
    const size_t i = it->second;
    d.removed_index.erase(it);
    if (i + 1 != d.removed.size()) {
      d.removed[i] = d.removed.back();
      d.removed_index[d.removed[i]] = i;
    }
    d.removed.pop_back();
  }
}

void EmbeddingTable::MarkRemoved(uint64_t key) {
  for (DirtySet& d : dirty_) {
    d.removed_index.emplace(key, d.removed.size());
    d.removed.push_back(key);
  }
}

std::span<Real> EmbeddingTable::Mutable(uint64_t key, int64_t ts_ms) {
  size_t row = RowOf(key);
  if (row == kNoRow) {
    row = AppendRow(key);
    ++admitted_rows_;
    if (admission()) {
      // Its true count is below admit_after: take at most that much out.
      const auto most = static_cast<uint32_t>(policy_.admit_after - 1);
      sketch_.Subtract(key, std::min(sketch_.Estimate(key), most));
    }
  }
  if (ts_ms >= 0) last_seen_[row] = std::max(last_seen_[row], ts_ms);
  constexpr uint8_t kAll = (1u << kDirtyChannels) - 1;
  if (dirty_bits_[row] != kAll) {
    for (int c = 0; c < kDirtyChannels; ++c) {
      if (!(dirty_bits_[row] & (1u << c))) dirty_[c].keys.push_back(key);
    }
    dirty_bits_[row] = kAll;
  }
  return {RowPtr(row), stride()};
}

void EmbeddingTable::EndStep(const StepSightings& step) {
  for (const auto& [key, n] : step.probation) {
    sketch_.Add(key, n);
    rejected_sightings_ += n;
  }
  clock_ms_ = std::max(clock_ms_, step.newest_ts_ms);
  if (policy_.ttl_ms > 0 && clock_ms_ >= 0 && clock_ms_ >= next_sweep_ms_) {
    Expire();
    next_sweep_ms_ = SaturatingAdd(clock_ms_, std::max<int64_t>(1, policy_.ttl_ms / 4));
  }
}

// Removes the rows last seen before clock - ttl, in ascending key order
// (so removed_keys() and the row moves do not depend on insertion order).
void EmbeddingTable::Expire() {
  const int64_t cutoff = clock_ms_ - policy_.ttl_ms;
  std::vector<uint64_t> expired;
  for (size_t row = 0; row < keys_.size(); ++row) {
    if (last_seen_[row] < cutoff) expired.push_back(keys_[row]);
  }
  if (expired.empty()) return;
  std::sort(expired.begin(), expired.end());
  for (uint64_t key : expired) RemoveRow(key);
  for (DirtySet& d : dirty_) {
    std::erase_if(
        d.keys, [&](uint64_t k) { return std::binary_search(expired.begin(), expired.end(), k); });
  }
  evicted_rows_ += expired.size();
  // Shrink the index once it is mostly empty (load < 1/8).
  if (slots_.size() > 64 && 8 * keys_.size() < slots_.size()) {
    Reindex(std::max<size_t>(64, std::bit_ceil(4 * keys_.size())));
  }
}

// Swap-removes the row of `key` (the last row moves into its place).
void EmbeddingTable::RemoveRow(uint64_t key) {
  const size_t slot = SlotOf(key);
  const uint32_t row = slots_[slot].row;
  IndexErase(slot);
  const uint32_t last = static_cast<uint32_t>(keys_.size() - 1);
  if (row != last) {
    std::memcpy(RowPtr(row), RowPtr(last), sizeof(Real) * stride());
    keys_[row] = keys_[last];
    last_seen_[row] = last_seen_[last];
    dirty_bits_[row] = dirty_bits_[last];
    slots_[SlotOf(keys_[row])].row = row;
  }
  keys_.pop_back();
  last_seen_.pop_back();
  dirty_bits_.pop_back();
  if (keys_.size() % kRowsPerChunk == 0) chunks_.pop_back();
  MarkRemoved(key);
}

void EmbeddingTable::ClearDirty(int channel) {
  DirtySet& d = dirty_[channel];
  const auto bit = static_cast<uint8_t>(1u << channel);
  for (uint64_t key : d.keys) dirty_bits_[RowOf(key)] &= static_cast<uint8_t>(~bit);
  d.keys.clear();
  d.removed.clear();
  d.removed_index.clear();
}

bool EmbeddingTable::ExportRow(uint64_t key, std::string* out) const {
  const uint32_t row = RowOf(key);
  if (row == kNoRow) return false;
  PutArray(out, RowPtr(row), stride());
  PutFixed64(out, static_cast<uint64_t>(last_seen_[row]));
  return true;
}

Status EmbeddingTable::ImportRow(uint64_t key, std::string_view bytes) {
  const size_t expected = 2 * sizeof(uint64_t) + sizeof(Real) * stride();
  if (bytes.size() != expected) {
    return Status::Corruption("embedding row " + std::to_string(key) + ": " +
                              std::to_string(bytes.size()) + " bytes, expected " +
                              std::to_string(expected));
  }
  const uint32_t found = RowOf(key);
  const size_t row = found == kNoRow ? AppendRow(key) : found;
  Decoder in(bytes, "embedding row");
  RANKER_RETURN_IF_ERROR(in.GetInto(RowPtr(row), stride()));
  uint64_t last_seen = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&last_seen));
  last_seen_[row] = static_cast<int64_t>(last_seen);
  return Status::OK();
}

void EmbeddingTable::SerializeMeta(std::string* out) const {
  PutFixed32(out, kMetaVersion);
  PutFixed64(out, static_cast<uint64_t>(clock_ms_));
  PutFixed64(out, static_cast<uint64_t>(next_sweep_ms_));
  PutFixed64(out, evicted_rows_);
  PutFixed64(out, admitted_rows_);
  PutFixed64(out, rejected_sightings_);
  sketch_.Serialize(out);
}

Status EmbeddingTable::DeserializeMeta(Decoder* in) {
  uint32_t version = 0;
  uint64_t clock = 0, next_sweep = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed32(&version));
  if (version != kMetaVersion) {
    return Status::Corruption("embedding table meta: unknown version " + std::to_string(version));
  }
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&clock));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&next_sweep));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&evicted_rows_));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&admitted_rows_));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&rejected_sightings_));
  clock_ms_ = static_cast<int64_t>(clock);
  next_sweep_ms_ = static_cast<int64_t>(next_sweep);
  return sketch_.Deserialize(in);
}

void EmbeddingTable::Clear() {
  *this = EmbeddingTable(dim_, state_width_, state_init_, seed_, init_scale_, policy_);
}

std::vector<uint64_t> EmbeddingTable::SortedKeys() const {
  std::vector<uint64_t> keys = keys_;
  std::sort(keys.begin(), keys.end());
  return keys;
}

void EmbeddingTable::Digest(Digest64* d) const {
  d->UpdateU64(keys_.size());
  for (uint64_t key : SortedKeys()) {
    const uint32_t row = RowOf(key);
    d->UpdateU64(key);
    d->Update(RowPtr(row), sizeof(Real) * stride());
    d->UpdateU64(static_cast<uint64_t>(last_seen_[row]));
  }
  std::string meta;
  SerializeMeta(&meta);
  d->Update(meta.data(), meta.size());
}

void EmbeddingTable::Serialize(std::string* out) const {
  PutFixed64(out, keys_.size());
  PutFixed32(out, static_cast<uint32_t>(stride()));
  for (uint64_t key : SortedKeys()) {
    PutFixed64(out, key);
    ExportRow(key, out);
  }
  SerializeMeta(out);
}

Status EmbeddingTable::Deserialize(Decoder* in) {
  uint64_t n = 0;
  uint32_t width = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&n));
  RANKER_RETURN_IF_ERROR(in->GetFixed32(&width));
  if (width != stride()) return Status::Corruption("embedding table: row width mismatch");
  if (n > in->remaining() / (24 + sizeof(Real) * stride())) {
    return Status::Corruption("embedding table: row count exceeds the data");
  }
  Clear();
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t key = 0, last_seen = 0;
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&key));
    if (RowOf(key) != kNoRow) return Status::Corruption("embedding table: duplicate key");
    const size_t row = AppendRow(key);
    RANKER_RETURN_IF_ERROR(in->GetInto(RowPtr(row), stride()));
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&last_seen));
    last_seen_[row] = static_cast<int64_t>(last_seen);
  }
  return DeserializeMeta(in);
}

}  // namespace ranker::learner
