// The hashes of the last `capacity` keys added (a key added twice counts
// twice), in an open-addressing table: no allocation per key. The joiner
// remembers recently closed (request_id, item_id) pairs with it, to tell a
// late engagement from an orphan.
//
// Thread-safety: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ranker::learner {

class RecentKeys {
 public:
  // capacity 0 remembers nothing (Contains is always false).
  explicit RecentKeys(size_t capacity);
  void Add(uint64_t key_hash);  // forgets the oldest beyond capacity
  bool Contains(uint64_t key_hash) const;
  // The remembered keys, oldest first (serialisation: adding them in this
  // order to a new RecentKeys rebuilds the same set).
  std::vector<uint64_t> OldestFirst() const;

 private:
  struct Cell {
    uint64_t key = 0;  // 0 = empty (hash 0 is stored as 1)
    uint64_t count = 0;
  };
  size_t Probe(uint64_t key) const;  // the key's cell, or the empty cell ending its run
  void Remove(uint64_t key);

  size_t capacity_;
  std::vector<Cell> table_;     // power-of-two size >= 2 * capacity
  std::vector<uint64_t> fifo_;  // ring of the remembered keys
  size_t head_ = 0;             // oldest entry of fifo_ once it is full
};

}  // namespace ranker::learner
