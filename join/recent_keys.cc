#include "join/recent_keys.h"

#include <cassert>
#include <cstddef>

namespace ranker::learner {

RecentKeys::RecentKeys(size_t capacity) : capacity_(capacity) {
  if (capacity_ == 0) return;
  size_t size = 2;
  while (size < 2 * capacity_) size *= 2;
  table_.resize(size);
  fifo_.reserve(capacity_);
}

size_t RecentKeys::Probe(uint64_t key) const {
  const size_t mask = table_.size() - 1;
  size_t i = key & mask;
  while (table_[i].key != 0 && table_[i].key != key) i = (i + 1) & mask;
  return i;
}

bool RecentKeys::Contains(uint64_t key_hash) const {
  if (capacity_ == 0) return false;
  const uint64_t key = key_hash == 0 ? 1 : key_hash;
  return table_[Probe(key)].key == key;
}

void RecentKeys::Add(uint64_t key_hash) {
  if (capacity_ == 0) return;
  const uint64_t key = key_hash == 0 ? 1 : key_hash;
  if (fifo_.size() < capacity_) {
    fifo_.push_back(key);
  } else {
    Remove(fifo_[head_]);
    fifo_[head_] = key;
    head_ = (head_ + 1) % capacity_;
  }
  Cell& c = table_[Probe(key)];
  c.key = key;
  ++c.count;
}

// Linear probing with backward-shift deletion (no tombstones): after emptying
// a cell, later cells of the run move back unless their home lies cyclically
// in (hole, cell].
void RecentKeys::Remove(uint64_t key) {
  const size_t mask = table_.size() - 1;
  size_t hole = Probe(key);
  assert(table_[hole].key == key);
  if (--table_[hole].count > 0) return;
  for (size_t j = (hole + 1) & mask; table_[j].key != 0; j = (j + 1) & mask) {
    const size_t home = table_[j].key & mask;
    const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays) continue;
    table_[hole] = table_[j];
    hole = j;
  }
  table_[hole] = Cell();
}

std::vector<uint64_t> RecentKeys::OldestFirst() const {
  std::vector<uint64_t> out(fifo_.begin() + static_cast<std::ptrdiff_t>(head_), fifo_.end());
  out.insert(out.end(), fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(head_));
  return out;
}

}  // namespace ranker::learner
