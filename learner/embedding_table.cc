#include "learner/embedding_table.h"

#include <algorithm>
#include <cstring>

#include "base/random.h"

namespace ranker::learner {

EmbeddingTable::EmbeddingTable(int dim, int state_width, Real state_init, uint64_t seed,
                               double init_scale)
    : dim_(dim),
      state_width_(state_width),
      state_init_(state_init),
      seed_(seed),
      init_scale_(init_scale) {}

Real* EmbeddingTable::RowPtr(size_t row) {
  return chunks_[row / kRowsPerChunk].data() + (row % kRowsPerChunk) * stride();
}

const Real* EmbeddingTable::RowPtr(size_t row) const {
  return chunks_[row / kRowsPerChunk].data() + (row % kRowsPerChunk) * stride();
}

uint32_t EmbeddingTable::RowOf(uint64_t key) const {
  if (slots_.empty()) return kNoRow;
  const size_t mask = slots_.size() - 1;
  for (size_t i = key & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.row == kNoRow || s.key == key) return s.row;
  }
}

void EmbeddingTable::IndexInsert(uint64_t key, uint32_t row) {
  if (2 * (keys_.size() + 1) > slots_.size()) {
    // Grow to keep the load <= 1/2; rows keep their numbers.
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(64, 2 * old.size()), Slot{});
    for (const Slot& s : old) {
      if (s.row != kNoRow) IndexInsert(s.key, s.row);
    }
  }
  const size_t mask = slots_.size() - 1;
  size_t i = key & mask;
  while (slots_[i].row != kNoRow) i = (i + 1) & mask;
  slots_[i] = {key, row};
}

const Real* EmbeddingTable::Find(uint64_t key) const {
  const uint32_t row = RowOf(key);
  return row == kNoRow ? nullptr : RowPtr(row);
}

void EmbeddingTable::Lookup(uint64_t key, Real* out) const {
  const Real* row = Find(key);
  if (row == nullptr) {
    InitialWeights(key, out);
  } else {
    std::memcpy(out, row, sizeof(Real) * dim_);
  }
}

void EmbeddingTable::InitialWeights(uint64_t key, Real* out) const {
  Rng rng(HashCombine(key, seed_));
  for (int i = 0; i < dim_; ++i) {
    out[i] = static_cast<Real>((2 * rng.Uniform() - 1) * init_scale_);
  }
}

size_t EmbeddingTable::AppendRow(uint64_t key) {
  const size_t row = keys_.size();
  if (row % kRowsPerChunk == 0) chunks_.emplace_back(kRowsPerChunk * stride());
  IndexInsert(key, static_cast<uint32_t>(row));
  keys_.push_back(key);
  dirty_.push_back(0);
  Real* p = RowPtr(row);
  InitialWeights(key, p);
  std::fill(p + dim_, p + stride(), state_init_);
  return row;
}

std::span<Real> EmbeddingTable::Mutable(uint64_t key) {
  const uint32_t found = RowOf(key);
  const size_t row = found == kNoRow ? AppendRow(key) : found;
  if (!dirty_[row]) {
    dirty_[row] = 1;
    dirty_keys_.push_back(key);
  }
  return {RowPtr(row), stride()};
}

void EmbeddingTable::ClearDirty() {
  for (uint64_t key : dirty_keys_) dirty_[RowOf(key)] = 0;
  dirty_keys_.clear();
}

std::vector<uint64_t> EmbeddingTable::SortedKeys() const {
  std::vector<uint64_t> keys = keys_;
  std::sort(keys.begin(), keys.end());
  return keys;
}

void EmbeddingTable::Digest(Digest64* d) const {
  d->UpdateU64(keys_.size());
  for (uint64_t key : SortedKeys()) {
    d->UpdateU64(key);
    d->Update(Find(key), sizeof(Real) * stride());
  }
}

void EmbeddingTable::Serialize(std::string* out) const {
  PutFixed64(out, keys_.size());
  PutFixed32(out, static_cast<uint32_t>(stride()));
  for (uint64_t key : SortedKeys()) {
    PutFixed64(out, key);
    PutArray(out, Find(key), stride());
  }
}

Status EmbeddingTable::Deserialize(Decoder* in) {
  uint64_t n = 0;
  uint32_t width = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&n));
  RANKER_RETURN_IF_ERROR(in->GetFixed32(&width));
  if (width != stride()) return Status::Corruption("embedding table: row width mismatch");
  if (n > in->remaining() / (16 + sizeof(Real) * stride())) {
    return Status::Corruption("embedding table: row count exceeds the data");
  }
  *this = EmbeddingTable(dim_, state_width_, state_init_, seed_, init_scale_);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t key = 0;
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&key));
    if (RowOf(key) != kNoRow) return Status::Corruption("embedding table: duplicate key");
    Real* p = RowPtr(AppendRow(key));
    RANKER_RETURN_IF_ERROR(in->GetInto(p, stride()));
  }
  return Status::OK();
}

}  // namespace ranker::learner
