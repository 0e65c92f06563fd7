#include "learner/count_min_sketch.h"

#include <algorithm>
#include <bit>

namespace ranker::learner {
namespace {

// Separates the sketch's hashes from the index's and the initialiser's.
constexpr uint64_t kSketchSalt = 0xc0417e5cULL;

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

}  // namespace ranker::learner
