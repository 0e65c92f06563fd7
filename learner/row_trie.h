// A persistent (structure-sharing) map from 64-bit keys to fixed-width rows
// of Reals plus a last-seen time: the storage of EmbeddingTable.
//
// Shape: a hash trie on Mix64(key), 4 bits per level (inner nodes of 16
// children), with leaves holding up to kLeafRows rows side by side (keys,
// last-seen times, then the rows' values). A leaf that fills up splits into
// an inner node at the next level (a leaf at the last level holds one key).
// Inner nodes that lose all their children are removed; leaves never merge.
//
// Versions: copying a RowTrie is O(1): the copy shares every node. A trie
// that writes (Mutable, Insert, Upsert, Erase, a Builder's Finish) is its
// lineage's writer; every other trie sharing its nodes is a frozen copy
// (a published version, a snapshot's capture). The writer copies each node
// on a key's path that was born before the last copy was taken (path
// copying) and changes only nodes born since in place, so every copy stays
// unchanged while it lives. The cost of a write after a copy is O(path +
// leaf), and copying a node never touches its children.
//
// Reclamation is by eras, not by reference counts: a node the writer
// replaces goes to the current era's list, and an era's nodes are freed
// when the last copy taken before its end is gone (eras end in order, each
// holding the next). So dropping versions in the order they were published
// frees exactly the nodes they alone held; a copy kept long (a slow reader)
// holds every node replaced after it. Memory: one copy of every row plus
// the leaves and inner nodes replaced since the oldest live copy.
//
// Lineages: a frozen copy that writes takes over as the writer when its
// rows are the lineage's newest (the writer has not written since the
// copy; the former writer then becomes a frozen copy: a follower applies
// each delta to a copy of the version it serves). Otherwise it detaches
// first: an O(table) deep copy into a lineage of its own.
//
// Thread-safety: a RowTrie object is not synchronised, but distinct
// RowTrie objects may be used from distinct threads even when they share
// nodes: one thread may write its trie while others read, copy or destroy
// their copies, with no waiting on either side (copies take a lineage
// mutex, once each). Copying a writer must not race with its writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "learner/tensor.h"

namespace ranker::learner {

class RowTrie {
 public:
  static constexpr int kLeafRows = 16;  // rows per leaf before it splits
  static constexpr int kFanout = 16;    // children per inner node

  // Each row holds `width` Reals.
  explicit RowTrie(int width);
  RowTrie(const RowTrie& other);  // O(1): shares every node
  RowTrie& operator=(const RowTrie& other);
  RowTrie(RowTrie&& other) noexcept;
  RowTrie& operator=(RowTrie&& other) noexcept;
  ~RowTrie();

  int width() const { return width_; }
  size_t size() const { return size_; }

  // One row: its values [width] and its last-seen time.
  struct Row {
    Real* values = nullptr;
    int64_t* last_seen = nullptr;
  };
  struct ConstRow {
    const Real* values = nullptr;
    const int64_t* last_seen = nullptr;
  };

  // The row of `key`, or {nullptr, nullptr}. Valid while this trie lives
  // and until its next write (Mutable, Insert, Erase, assignment).
  ConstRow Find(uint64_t key) const;
  // Find() of n keys at once into out[0, n): the keys walk the trie level
  // by level in groups, each node prefetched one level ahead, so the cache
  // misses of distinct keys overlap (a path in a 10M-row trie is ~6 nodes
  // deep, each a miss when cold). Same validity as Find().
  void FindMany(const uint64_t* keys, size_t n, ConstRow* out) const;
  // Writable access to the row of `key` (copying the shared nodes on its
  // path first), or {nullptr, nullptr} without one. Valid until the next
  // write to this trie.
  Row Mutable(uint64_t key);
  // Creates the row of `key` with unspecified contents, to be filled by the
  // caller. REQUIRES: `key` has no row. Valid until the next write.
  Row Insert(uint64_t key);
  // Mutable(key), or Insert(key) without a row (then *created = true):
  // one walk down the trie for an existing row.
  Row Upsert(uint64_t key, bool* created);
  // Removes the row of `key`; false without one.
  bool Erase(uint64_t key);
  // Drops every row (other versions keep theirs).
  void Clear();

  // Calls f(key, row) for every row, in trie order (not key order: callers
  // that need a canonical order sort).
  void ForEach(const std::function<void(uint64_t, ConstRow)>& f) const;

 private:
  struct Node;
  struct Inner;
  struct Leaf;

 public:
  // Builds a trie from many rows at once (a snapshot's restore): Add()
  // copies each row into a buffer partitioned by the top 8 bits of its
  // hash, and Finish() builds the trie one top-level subtree at a time,
  // each leaf allocated once at its final size and filled in hash order,
  // releasing that subtree's buffers as it goes (so the peak stays near
  // the finished trie's size plus 1/16 of the buffered rows). The result
  // has the shape that inserting the rows one by one gives, whatever their
  // order, and each leaf holds its rows in ascending key order (the
  // one-by-one order too when the keys come ascending, as a snapshot
  // streams them). Row-by-row insertion reallocates a leaf at each insert
  // and walks a cold path per row.
  class Builder {
   public:
    explicit Builder(int width);
    ~Builder();
    Builder(const Builder&) = delete;
    Builder& operator=(const Builder&) = delete;

    // A buffered slot for one more row of `key`, to be filled by the
    // caller before the next Add() or Finish().
    Row Add(uint64_t key);
    size_t size() const { return size_; }

    // Replaces *out's rows (other versions keep theirs) by the buffered
    // ones; calls visit(key, row) once per row right after the row is
    // placed (while it is in cache). Returns false, leaving *out empty and
    // setting *duplicate, if a key was added twice (visit may have seen
    // some rows by then). The builder is empty after.
    bool Finish(RowTrie* out, const std::function<void(uint64_t, ConstRow)>& visit,
                uint64_t* duplicate);

   private:
    struct Entry {
      uint64_t hash;
      uint64_t key;
      const char* record;  // key, last-seen time, values[width]
    };
    static constexpr int kPartitionBits = 8;
    static constexpr int kPartitions = 1 << kPartitionBits;
    struct Partition {
      std::vector<std::unique_ptr<char[]>> chunks;
      std::vector<size_t> chunk_rows;  // rows in each chunk
      size_t room = 0;                 // rows that still fit in the last chunk
    };
    // The subtree at `depth` of the n rows in entries (scratch: as many).
    // nullptr and *duplicate set when two of them have one key.
    Node* Build(const RowTrie& t, int depth, Entry* entries, Entry* scratch, size_t n,
                const std::function<void(uint64_t, ConstRow)>& visit, uint64_t* duplicate) const;
    Leaf* BuildLeaf(const RowTrie& t, const Entry* entries, size_t n,
                    const std::function<void(uint64_t, ConstRow)>& visit,
                    uint64_t* duplicate) const;

    int width_;
    size_t record_bytes_;
    size_t size_ = 0;
    Partition parts_[kPartitions];
  };

  // Nodes allocated by every trie of the process, for tests of reclamation.
  static size_t LiveNodes();

  // Node counts and bytes, for memory reports and tests.
  struct Stats {
    size_t inner_nodes = 0;
    size_t leaves = 0;
    size_t bytes = 0;  // allocated by the nodes (without malloc's overhead)
    int max_depth = 0;
  };
  Stats ComputeStats() const;

 private:
  static constexpr int kBits = 4;
  static constexpr int kMaxDepth = 64 / kBits;  // a leaf at this depth holds one key

  struct Era;
  struct Lineage;

  static int ChildIndex(uint64_t hash, int depth);
  static uint64_t NextSerial();
  static class NodePool& InnerPool();
  static void FreeNode(Node* n);
  static void FreeTree(Node* n);
  // Makes this trie its lineage's writer (the hot path: one test).
  void BeginWrite() {
    if (!wrote_) BeginWriteSlow();
  }
  void BeginWriteSlow();
  // Drops this trie's rows: a writer's death or a copy's release.
  void Release();
  // Node n (no longer reachable from this writer's root) goes: now when it
  // was born in the current epoch, else with the era.
  void Drop(Node* n);
  bool Owned(const Node* n) const;
  Inner* NewInner() const;
  Leaf* NewLeaf(int count) const;
  size_t LeafBytes(int count) const;
  uint64_t* Keys(Leaf* l) const;
  int64_t* LastSeen(Leaf* l) const;
  Real* Values(Leaf* l) const;
  const uint64_t* Keys(const Leaf* l) const;
  const int64_t* LastSeen(const Leaf* l) const;
  const Real* Values(const Leaf* l) const;
  int IndexIn(const Leaf* l, uint64_t key) const;
  Row RowOf(Leaf* l, int i) const;
  void CopyRow(const Leaf* from, int i, Leaf* to, int j) const;
  Node* Clone(const Node* n) const;  // a shallow copy born in this epoch
  Node* DeepCopy(const Node* n) const;
  Node** Own(Node** slot);
  Inner* Split(const Leaf* l, int depth) const;
  void ForEachIn(const Node* n, const std::function<void(uint64_t, ConstRow)>& f) const;
  void StatsOf(const Node* n, int depth, Stats* s) const;
  void FreeOwned(Node* n, std::vector<Node*>* shared) const;

  int width_;
  size_t size_ = 0;
  Node* root_ = nullptr;
  // Versioning. A copy of a writer renews the writer's era and epoch, so
  // these are mutable; the lineage's mutex guards that.
  std::shared_ptr<Lineage> lineage_;  // null until the first write
  mutable std::shared_ptr<Era> era_;  // a writer's: where it retires nodes; a copy's: what it holds
  mutable uint64_t epoch_ = 0;        // nodes born in it are this writer's alone
  mutable bool wrote_ = false;        // this writer wrote since its era began
  uint64_t id_;                       // who is the lineage's writer
};

}  // namespace ranker::learner
