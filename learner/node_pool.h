// Memory for RowTrie's nodes of one fixed size (its inner nodes), allocated
// by a writer and freed by whichever thread ends an era: at 10M rows
// thousands per publication, in a heap where glibc's bins spent a tenth of
// the batch-32 learner's time splitting and coalescing chunks. Here an
// allocation is a pop and a free a push, blocks are 16-byte multiples with
// no header.
//
// Only for one size: leaves come in every size from 1 to 16 rows and grow
// through them together as the table grows, so per-size free lists would
// keep each size's high-water mark (measured: +44 B/row at 10M rows against
// malloc, which coalesces).
//
// Each thread keeps a free list; a list that grows past 2 * kBatch hands
// kBatch blocks to a shared depot, and an empty list takes a batch back
// (one mutex per batch), so blocks freed on a reclaiming thread return to
// the writer in batches. With nothing free, a 256 KB slab is carved.
// Memory goes back to the pool, never to the system: the pool is the
// high-water mark of its nodes.
//
// Under AddressSanitizer the pool steps aside (operator new and delete), so
// ASan still sees every node's lifetime.
//
// A pool lives as long as the process (threads' caches hold its blocks
// and outlive any owner): RowTrie's is a function-local static.
//
// Thread-safe.
#pragma once

#include <cstddef>

namespace ranker::learner {

class NodePool {
 public:
  static constexpr int kBatch = 64;  // blocks moved per depot trip

  explicit NodePool(size_t block_bytes);
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;

  void* Allocate();
  void Free(void* p);  // on any thread

  size_t block_bytes() const { return block_bytes_; }
  // Bytes of the slabs carved so far: the pool's footprint.
  size_t SlabBytes() const;
  // False under AddressSanitizer (every block is operator new's).
  static bool Pooling();

  struct Impl;  // node_pool.cc

 private:
  size_t block_bytes_;
  Impl* impl_;  // never freed (see above); null under ASan
};

}  // namespace ranker::learner
