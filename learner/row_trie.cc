#include "learner/row_trie.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstring>
#include <new>
#include <utility>

#include "base/hash.h"
#include "base/mutex.h"
#include "learner/node_pool.h"

namespace ranker::learner {

// Every node starts with the epoch it was born in (unique in the process,
// so a node is its writer's alone exactly when born in the writer's
// current epoch) and its kind. An inner node's `count` is its non-null
// children; a leaf's, its rows.
struct RowTrie::Node {
  uint64_t birth : 48 = 0;
  uint64_t count : 15 = 0;
  uint64_t leaf : 1 = 0;
};

struct RowTrie::Inner : Node {
  Node* child[kFanout] = {};
};

// Followed in the same allocation by keys[count], last_seen[count] and
// values[count * width].
struct RowTrie::Leaf : Node {};

// The nodes a writer replaced during one era, freed when the era goes: when
// no copy taken before its end lives. Each era holds the next, so eras go
// in order.
struct RowTrie::Era {
  std::vector<Node*> nodes;
  std::shared_ptr<Era> next;

  ~Era() {
    for (Node* n : nodes) FreeNode(n);
    // Releasing `next` may end it too, and so on down the chain (a slow
    // reader's release may end thousands of eras): the outermost release
    // on this thread drains them in a loop instead of recursing. Each era
    // ends through its shared_ptr's own release, never by peeking at the
    // count (the writer links new eras concurrently).
    thread_local std::vector<std::shared_ptr<Era>>* draining = nullptr;
    if (draining != nullptr) {
      draining->push_back(std::move(next));
      return;
    }
    std::vector<std::shared_ptr<Era>> pending;
    draining = &pending;
    pending.push_back(std::move(next));
    while (!pending.empty()) {
      std::shared_ptr<Era> e = std::move(pending.back());
      pending.pop_back();
      e.reset();  // may end e, which queues its own next here
    }
    draining = nullptr;
  }
};

// What the tries sharing nodes share: who writes, the newest era, and the
// subtrees a dead writer left to its copies.
struct RowTrie::Lineage {
  Mutex mu;
  uint64_t writer = 0;        // the writer's id_; 0: none
  Era* head = nullptr;        // the era the writer retires into
  bool head_written = false;  // the writer wrote since head began
  // Reachable from a dead writer's root and never replaced: freed with
  // the lineage (or taken back by a copy that takes over).
  std::vector<Node*> orphans;

  ~Lineage() {
    for (Node* n : orphans) FreeTree(n);
  }
};

namespace {
std::atomic<uint64_t> g_serial{1};

std::atomic<size_t> g_live_nodes{0};
}  // namespace

// Inner nodes come from a pool: one size, thousands copied and freed per
// publication at 10M rows (see learner/node_pool.h).
NodePool& RowTrie::InnerPool() {
  static NodePool* pool = new NodePool(sizeof(Inner));
  return *pool;
}

uint64_t RowTrie::NextSerial() { return g_serial.fetch_add(1, std::memory_order_relaxed); }

size_t RowTrie::LiveNodes() { return g_live_nodes.load(std::memory_order_relaxed); }

RowTrie::RowTrie(int width) : width_(width), id_(NextSerial()) {}

RowTrie::RowTrie(const RowTrie& other)
    : width_(other.width_),
      size_(other.size_),
      root_(other.root_),
      lineage_(other.lineage_),
      id_(NextSerial()) {
  if (lineage_ == nullptr) return;
  MutexLock lock(&lineage_->mu);
  if (lineage_->writer == other.id_ && other.wrote_) {
    // The writer's later writes must leave this copy unchanged: a new era
    // (this copy holds it) and a new epoch (every node is shared now).
    auto era = std::make_shared<Era>();
    other.era_->next = era;
    other.era_ = era;
    other.epoch_ = NextSerial();
    other.wrote_ = false;
    lineage_->head = era.get();
    lineage_->head_written = false;
  }
  era_ = other.era_;
}

RowTrie& RowTrie::operator=(const RowTrie& other) {
  if (this != &other) {
    RowTrie copy(other);
    *this = std::move(copy);
  }
  return *this;
}

RowTrie::RowTrie(RowTrie&& other) noexcept
    : width_(other.width_),
      size_(std::exchange(other.size_, 0)),
      root_(std::exchange(other.root_, nullptr)),
      lineage_(std::move(other.lineage_)),
      era_(std::move(other.era_)),
      epoch_(std::exchange(other.epoch_, 0)),
      wrote_(std::exchange(other.wrote_, false)),
      id_(std::exchange(other.id_, NextSerial())) {}

RowTrie& RowTrie::operator=(RowTrie&& other) noexcept {
  if (this != &other) {
    Release();
    width_ = other.width_;
    size_ = std::exchange(other.size_, 0);
    root_ = std::exchange(other.root_, nullptr);
    lineage_ = std::move(other.lineage_);
    era_ = std::move(other.era_);
    epoch_ = std::exchange(other.epoch_, 0);
    wrote_ = std::exchange(other.wrote_, false);
    id_ = std::exchange(other.id_, NextSerial());
  }
  return *this;
}

RowTrie::~RowTrie() { Release(); }

void RowTrie::Clear() { Release(); }

void RowTrie::Release() {
  Node* root = std::exchange(root_, nullptr);
  size_ = 0;
  if (lineage_ != nullptr) {
    std::vector<Node*> shared;
    {
      MutexLock lock(&lineage_->mu);
      if (lineage_->writer == id_) {
        lineage_->writer = 0;
        if (!wrote_) {
          // Every node is its copies' too, and one of them may take over.
          if (root != nullptr) lineage_->orphans.push_back(root);
          root = nullptr;
        }
      } else {
        root = nullptr;  // a copy's rows are the writer's or an era's
      }
    }
    if (root != nullptr) {
      // A writer that wrote since its last copy: no copy can take over, so
      // the walk needs no lock. Its own nodes go now, the shared subtrees
      // with the lineage.
      FreeOwned(root, &shared);
      if (!shared.empty()) {
        MutexLock lock(&lineage_->mu);
        lineage_->orphans.insert(lineage_->orphans.end(), shared.begin(), shared.end());
      }
    }
  }
  era_.reset();
  lineage_.reset();
  epoch_ = 0;
  wrote_ = false;
}

// Frees the nodes of n's subtree born in this epoch (a connected top part:
// a node born in it has a parent born in it); the subtrees below them that
// copies share go to *shared.
void RowTrie::FreeOwned(Node* n, std::vector<Node*>* shared) const {
  if (!Owned(n)) {
    shared->push_back(n);
    return;
  }
  if (!n->leaf) {
    for (Node* c : static_cast<Inner*>(n)->child) {
      if (c != nullptr) FreeOwned(c, shared);
    }
  }
  FreeNode(n);
}

void RowTrie::BeginWriteSlow() {
  if (lineage_ == nullptr) {  // the first write: a lineage of its own
    lineage_ = std::make_shared<Lineage>();
    era_ = std::make_shared<Era>();
    lineage_->head = era_.get();
  }
  // Held past the lock (a detach replaces both): the old era's release may
  // free nodes, and the lock's mutex lives in the old lineage.
  const std::shared_ptr<Lineage> held = lineage_;
  std::shared_ptr<Era> old_era;
  {
    MutexLock lock(&held->mu);
    Lineage& l = *held;
    if (l.writer == id_) {
      // The writer, after a copy was taken: the era began with it.
      l.head_written = true;
    } else if (era_.get() == l.head && !l.head_written) {
      // A copy of the newest rows (nobody wrote since): it takes over. A
      // dead writer left these rows to the lineage; they are this trie's
      // again.
      if (!l.orphans.empty()) {
        assert(l.orphans.size() == 1 && l.orphans[0] == root_);
        l.orphans.clear();
      }
      l.writer = id_;
      l.head_written = true;
      epoch_ = NextSerial();
    } else {
      // A copy of older rows: a deep copy into a lineage of its own. The
      // nodes read are this copy's, unchanged while its era is held.
      old_era = std::move(era_);
      epoch_ = NextSerial();
      if (root_ != nullptr) root_ = DeepCopy(root_);
      lineage_ = std::make_shared<Lineage>();
      era_ = std::make_shared<Era>();
      lineage_->writer = id_;
      lineage_->head = era_.get();
      lineage_->head_written = true;
    }
  }
  wrote_ = true;
}

RowTrie::Node* RowTrie::DeepCopy(const Node* n) const {
  Node* c = Clone(n);
  if (!c->leaf) {
    for (Node*& child : static_cast<Inner*>(c)->child) {
      if (child != nullptr) child = DeepCopy(child);
    }
  }
  return c;
}

int RowTrie::ChildIndex(uint64_t hash, int depth) {
  return static_cast<int>((hash >> (64 - kBits * (depth + 1))) & (kFanout - 1));
}

bool RowTrie::Owned(const Node* n) const { return n->birth == epoch_; }

void RowTrie::FreeNode(Node* n) {
  g_live_nodes.fetch_sub(1, std::memory_order_relaxed);
  if (n->leaf) {
    static_cast<Leaf*>(n)->~Leaf();
    ::operator delete(static_cast<void*>(n));
  } else {
    static_cast<Inner*>(n)->~Inner();
    InnerPool().Free(n);
  }
}

void RowTrie::FreeTree(Node* n) {
  if (!n->leaf) {
    for (Node* c : static_cast<Inner*>(n)->child) {
      if (c != nullptr) FreeTree(c);
    }
  }
  FreeNode(n);
}

void RowTrie::Drop(Node* n) {
  if (Owned(n)) {
    FreeNode(n);
  } else {
    era_->nodes.push_back(n);
  }
}

size_t RowTrie::LeafBytes(int count) const {
  return sizeof(Leaf) + static_cast<size_t>(count) * (2 * sizeof(uint64_t) + sizeof(Real) * width_);
}

RowTrie::Inner* RowTrie::NewInner() const {
  auto* inner = new (InnerPool().Allocate()) Inner;
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
  inner->birth = epoch_;
  return inner;
}

RowTrie::Leaf* RowTrie::NewLeaf(int count) const {
  auto* l = new (::operator new(LeafBytes(count))) Leaf;
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
  l->birth = epoch_;
  l->leaf = 1;
  l->count = static_cast<uint64_t>(count);
  return l;
}
uint64_t* RowTrie::Keys(Leaf* l) const { return reinterpret_cast<uint64_t*>(l + 1); }
int64_t* RowTrie::LastSeen(Leaf* l) const { return reinterpret_cast<int64_t*>(Keys(l) + l->count); }
Real* RowTrie::Values(Leaf* l) const { return reinterpret_cast<Real*>(LastSeen(l) + l->count); }
const uint64_t* RowTrie::Keys(const Leaf* l) const {
  return reinterpret_cast<const uint64_t*>(l + 1);
}
const int64_t* RowTrie::LastSeen(const Leaf* l) const {
  return reinterpret_cast<const int64_t*>(Keys(l) + l->count);
}
const Real* RowTrie::Values(const Leaf* l) const {
  return reinterpret_cast<const Real*>(LastSeen(l) + l->count);
}

int RowTrie::IndexIn(const Leaf* l, uint64_t key) const {
  const uint64_t* keys = Keys(l);
  for (int i = 0; i < l->count; ++i) {
    if (keys[i] == key) return i;
  }
  return -1;
}

RowTrie::Row RowTrie::RowOf(Leaf* l, int i) const {
  return {Values(l) + static_cast<size_t>(i) * width_, LastSeen(l) + i};
}

void RowTrie::CopyRow(const Leaf* from, int i, Leaf* to, int j) const {
  Keys(to)[j] = Keys(from)[i];
  LastSeen(to)[j] = LastSeen(from)[i];
  std::memcpy(Values(to) + static_cast<size_t>(j) * width_,
              Values(from) + static_cast<size_t>(i) * width_, sizeof(Real) * width_);
}

RowTrie::Node* RowTrie::Clone(const Node* n) const {
  if (n->leaf) {
    const auto* l = static_cast<const Leaf*>(n);
    Leaf* c = NewLeaf(static_cast<int>(l->count));
    std::memcpy(static_cast<void*>(c + 1), l + 1,
                LeafBytes(static_cast<int>(l->count)) - sizeof(Leaf));
    return c;
  }
  // The children are shared by the copy and the original, untouched: no
  // counts to raise (the cache misses a refcounted copy pays per child).
  auto* c = new (InnerPool().Allocate()) Inner(*static_cast<const Inner*>(n));
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
  c->birth = epoch_;
  return c;
}

// Makes the node in *slot this writer's alone (a copy when it was born
// before the last copy of the trie). REQUIRES: the node holding `slot` is
// this writer's.
RowTrie::Node** RowTrie::Own(Node** slot) {
  if (!Owned(*slot)) {
    Node* copy = Clone(*slot);
    era_->nodes.push_back(*slot);
    *slot = copy;
  }
  return slot;
}

// The inner node at `depth` that replaces the full leaf `l`.
RowTrie::Inner* RowTrie::Split(const Leaf* l, int depth) const {
  int counts[kFanout] = {};
  const uint64_t* keys = Keys(l);
  for (int i = 0; i < static_cast<int>(l->count); ++i) ++counts[ChildIndex(Mix64(keys[i]), depth)];
  Inner* inner = NewInner();
  for (int c = 0; c < kFanout; ++c) {
    if (counts[c] == 0) continue;
    inner->child[c] = NewLeaf(counts[c]);
    ++inner->count;
    counts[c] = 0;  // now the next free row of child c
  }
  for (int i = 0; i < static_cast<int>(l->count); ++i) {
    const int c = ChildIndex(Mix64(keys[i]), depth);
    CopyRow(l, i, static_cast<Leaf*>(inner->child[c]), counts[c]++);
  }
  return inner;
}

RowTrie::ConstRow RowTrie::Find(uint64_t key) const {
  const uint64_t h = Mix64(key);
  const Node* n = root_;
  for (int d = 0; n != nullptr && !n->leaf; ++d) {
    n = static_cast<const Inner*>(n)->child[ChildIndex(h, d)];
  }
  if (n == nullptr) return {};
  const auto* l = static_cast<const Leaf*>(n);
  const int i = IndexIn(l, key);
  if (i < 0) return {};
  return {Values(l) + static_cast<size_t>(i) * width_, LastSeen(l) + i};
}

void RowTrie::FindMany(const uint64_t* keys, size_t n, ConstRow* out) const {
  constexpr size_t kGroup = 16;  // misses in flight per group
  const Node* node[kGroup];
  uint64_t hash[kGroup];
  for (size_t first = 0; first < n; first += kGroup) {
    const size_t m = std::min(kGroup, n - first);
    for (size_t i = 0; i < m; ++i) {
      hash[i] = Mix64(keys[first + i]);
      node[i] = root_;
    }
    for (int d = 0;; ++d) {
      bool deeper = false;
      for (size_t i = 0; i < m; ++i) {
        if (node[i] == nullptr || node[i]->leaf) continue;
        const Node* next = static_cast<const Inner*>(node[i])->child[ChildIndex(hash[i], d)];
        node[i] = next;
        if (next == nullptr) continue;
        deeper = true;
        // Its header and, were it an inner node, the child slot read next
        // (an address only: nothing is read through it).
        __builtin_prefetch(next);
        if (d + 1 < kMaxDepth) {
          __builtin_prefetch(reinterpret_cast<const char*>(next) + sizeof(Node) +
                             sizeof(Node*) * ChildIndex(hash[i], d + 1));
        }
      }
      if (!deeper) break;
    }
    for (size_t i = 0; i < m; ++i) {
      out[first + i] = {};
      if (node[i] == nullptr) continue;
      const auto* l = static_cast<const Leaf*>(node[i]);
      const int j = IndexIn(l, keys[first + i]);
      if (j < 0) continue;
      out[first + i] = {Values(l) + static_cast<size_t>(j) * width_, LastSeen(l) + j};
      __builtin_prefetch(out[first + i].values);
    }
  }
}

RowTrie::Row RowTrie::Mutable(uint64_t key) {
  if (Find(key).values == nullptr) return {};  // copy nothing for a missing key
  BeginWrite();
  const uint64_t h = Mix64(key);
  Node** slot = &root_;
  for (int d = 0;; ++d) {
    Node* n = *Own(slot);
    if (n->leaf) return RowOf(static_cast<Leaf*>(n), IndexIn(static_cast<Leaf*>(n), key));
    slot = &static_cast<Inner*>(n)->child[ChildIndex(h, d)];
  }
}

RowTrie::Row RowTrie::Upsert(uint64_t key, bool* created) {
  BeginWrite();
  const uint64_t h = Mix64(key);
  Node** slot = &root_;
  for (int d = 0; *slot != nullptr; ++d) {
    if ((*slot)->leaf) {
      const int i = IndexIn(static_cast<const Leaf*>(*slot), key);
      if (i < 0) break;  // Insert replaces the leaf: no copy of it first
      *created = false;
      return RowOf(static_cast<Leaf*>(*Own(slot)), i);  // a copy keeps the row order
    }
    slot = &static_cast<Inner*>(*Own(slot))->child[ChildIndex(h, d)];
  }
  *created = true;
  return Insert(key);
}

RowTrie::Row RowTrie::Insert(uint64_t key) {
  BeginWrite();
  const uint64_t h = Mix64(key);
  Node** slot = &root_;
  Inner* parent = nullptr;
  int d = 0;
  while (*slot != nullptr && !(*slot)->leaf) {  // a leaf is replaced, not copied
    parent = static_cast<Inner*>(*Own(slot));
    slot = &parent->child[ChildIndex(h, d++)];
  }
  if (*slot != nullptr && (*slot)->count >= kLeafRows && d < kMaxDepth) {
    Inner* inner = Split(static_cast<Leaf*>(*slot), d);
    Drop(*slot);
    *slot = inner;
    return Insert(key);  // one level deeper now; the path is owned
  }
  const auto* old = static_cast<const Leaf*>(*slot);
  const int n = old == nullptr ? 0 : static_cast<int>(old->count);
  Leaf* l = NewLeaf(n + 1);
  for (int i = 0; i < n; ++i) CopyRow(old, i, l, i);
  Keys(l)[n] = key;
  if (old != nullptr) {
    Drop(*slot);
  } else if (parent != nullptr) {
    ++parent->count;
  }
  *slot = l;
  ++size_;
  return RowOf(l, n);
}

bool RowTrie::Erase(uint64_t key) {
  if (Find(key).values == nullptr) return false;
  BeginWrite();
  const uint64_t h = Mix64(key);
  Node** path[kMaxDepth + 1];
  int d = 0;
  path[0] = &root_;
  while (!(*path[d])->leaf) {
    Own(path[d]);
    path[d + 1] = &static_cast<Inner*>(*path[d])->child[ChildIndex(h, d)];
    ++d;
  }
  const auto* old = static_cast<const Leaf*>(*path[d]);
  const int gone = IndexIn(old, key);
  Node* replacement = nullptr;
  if (old->count > 1) {
    Leaf* l = NewLeaf(static_cast<int>(old->count) - 1);
    for (int i = 0, j = 0; i < static_cast<int>(old->count); ++i) {
      if (i != gone) CopyRow(old, i, l, j++);
    }
    replacement = l;
  }
  Drop(*path[d]);
  *path[d] = replacement;
  // Inner nodes left without children go too (owned: freed now).
  for (; replacement == nullptr && d > 0; --d) {
    auto* parent = static_cast<Inner*>(*path[d - 1]);
    if (--parent->count > 0) break;
    Drop(parent);
    *path[d - 1] = nullptr;
  }
  --size_;
  return true;
}

void RowTrie::ForEach(const std::function<void(uint64_t, ConstRow)>& f) const {
  if (root_ != nullptr) ForEachIn(root_, f);
}

void RowTrie::ForEachIn(const Node* n, const std::function<void(uint64_t, ConstRow)>& f) const {
  if (!n->leaf) {
    for (const Node* c : static_cast<const Inner*>(n)->child) {
      if (c != nullptr) ForEachIn(c, f);
    }
    return;
  }
  const auto* l = static_cast<const Leaf*>(n);
  for (int i = 0; i < l->count; ++i) {
    f(Keys(l)[i], {Values(l) + static_cast<size_t>(i) * width_, LastSeen(l) + i});
  }
}

RowTrie::Stats RowTrie::ComputeStats() const {
  Stats s;
  if (root_ != nullptr) StatsOf(root_, 0, &s);
  return s;
}

void RowTrie::StatsOf(const Node* n, int depth, Stats* s) const {
  s->max_depth = std::max(s->max_depth, depth);
  if (n->leaf) {
    ++s->leaves;
    s->bytes += LeafBytes(n->count);
    return;
  }
  ++s->inner_nodes;
  s->bytes += sizeof(Inner);
  for (const Node* c : static_cast<const Inner*>(n)->child) {
    if (c != nullptr) StatsOf(c, depth + 1, s);
  }
}

}  // namespace ranker::learner

namespace ranker::learner {

// --- RowTrie::Builder ---

namespace {
constexpr size_t kFirstChunkRows = 8;
constexpr size_t kMaxChunkBytes = 64 << 10;
}  // namespace

RowTrie::Builder::Builder(int width)
    : width_(width),
      // key, last-seen, values; 8-aligned so the next record's key is too
      record_bytes_((2 * sizeof(uint64_t) + sizeof(Real) * width + 7) / 8 * 8) {}

RowTrie::Builder::~Builder() = default;

RowTrie::Row RowTrie::Builder::Add(uint64_t key) {
  const uint64_t hash = Mix64(key);
  Partition& p = parts_[hash >> (64 - kPartitionBits)];
  if (p.room == 0) {
    // Chunks double up to 64 KB: small restores stay small, big ones
    // allocate rarely.
    const size_t rows = p.chunk_rows.empty()
                            ? kFirstChunkRows
                            : std::max<size_t>(1, std::min(2 * p.chunk_rows.back(),
                                                           kMaxChunkBytes / record_bytes_));
    p.chunks.push_back(std::make_unique_for_overwrite<char[]>(rows * record_bytes_));
    p.chunk_rows.push_back(0);
    p.room = rows;
  }
  char* record = p.chunks.back().get() + p.chunk_rows.back() * record_bytes_;
  ++p.chunk_rows.back();
  --p.room;
  std::memcpy(record, &key, sizeof(key));
  ++size_;
  return {reinterpret_cast<Real*>(record + 2 * sizeof(uint64_t)),
          reinterpret_cast<int64_t*>(record + sizeof(uint64_t))};
}

RowTrie::Leaf* RowTrie::Builder::BuildLeaf(const RowTrie& t, const Entry* entries, size_t n,
                                           const std::function<void(uint64_t, ConstRow)>& visit,
                                           uint64_t* duplicate) const {
  if (n > static_cast<size_t>(kLeafRows)) {  // only at the last level: one hash, one key
    *duplicate = entries[0].key;
    return nullptr;
  }
  Entry sorted[kLeafRows];
  std::copy(entries, entries + n, sorted);
  // Mostly in order already (a snapshot streams ascending keys): an
  // insertion sort's n - 1 comparisons, which also find duplicates.
  std::sort(sorted, sorted + n, [](const Entry& a, const Entry& b) { return a.key < b.key; });
  for (size_t i = 1; i < n; ++i) {
    if (sorted[i].key == sorted[i - 1].key) {
      *duplicate = sorted[i].key;
      return nullptr;
    }
  }
  Leaf* l = t.NewLeaf(static_cast<int>(n));
  uint64_t* keys = t.Keys(l);
  int64_t* last_seen = t.LastSeen(l);
  Real* values = t.Values(l);
  const size_t row_bytes = sizeof(Real) * width_;
  for (size_t i = 0; i < n; ++i) {
    const char* record = sorted[i].record;
    keys[i] = sorted[i].key;
    std::memcpy(&last_seen[i], record + sizeof(uint64_t), sizeof(int64_t));
    Real* row = values + i * static_cast<size_t>(width_);
    std::memcpy(row, record + 2 * sizeof(uint64_t), row_bytes);
    visit(keys[i], {row, &last_seen[i]});
  }
  return l;
}

RowTrie::Node* RowTrie::Builder::Build(const RowTrie& t, int depth, Entry* entries, Entry* scratch,
                                       size_t n,
                                       const std::function<void(uint64_t, ConstRow)>& visit,
                                       uint64_t* duplicate) const {
  if (n <= static_cast<size_t>(kLeafRows) || depth == kMaxDepth) {
    return BuildLeaf(t, entries, n, visit, duplicate);
  }
  // A stable counting sort on this level's digit, into scratch; each
  // child then recurses with the roles of the two arrays swapped.
  size_t begin[kFanout + 1] = {};
  for (size_t i = 0; i < n; ++i) ++begin[ChildIndex(entries[i].hash, depth) + 1];
  for (int c = 0; c < kFanout; ++c) begin[c + 1] += begin[c];
  size_t next[kFanout];
  std::copy(begin, begin + kFanout, next);
  for (size_t i = 0; i < n; ++i) scratch[next[ChildIndex(entries[i].hash, depth)]++] = entries[i];
  Inner* inner = t.NewInner();
  for (int c = 0; c < kFanout; ++c) {
    const size_t count = begin[c + 1] - begin[c];
    if (count == 0) continue;
    Node* child =
        Build(t, depth + 1, scratch + begin[c], entries + begin[c], count, visit, duplicate);
    if (child == nullptr) {
      FreeTree(inner);
      return nullptr;
    }
    inner->child[c] = child;
    ++inner->count;
  }
  return inner;
}

bool RowTrie::Builder::Finish(RowTrie* out, const std::function<void(uint64_t, ConstRow)>& visit,
                              uint64_t* duplicate) {
  assert(out->width_ == width_);
  out->Clear();
  out->BeginWrite();  // a lineage of its own: every node is born in its epoch
  const size_t total = size_;
  std::vector<Entry> entries, scratch;
  // The entries of partitions [first, last), partition by partition (so
  // grouped by their top digits), each in Add() order.
  auto gather = [&](int first, int last) {
    entries.clear();
    for (int i = first; i < last; ++i) {
      const Partition& p = parts_[i];
      for (size_t c = 0; c < p.chunks.size(); ++c) {
        const char* record = p.chunks[c].get();
        for (size_t r = 0; r < p.chunk_rows[c]; ++r, record += record_bytes_) {
          uint64_t key;
          std::memcpy(&key, record, sizeof(key));
          entries.push_back({Mix64(key), key, record});
        }
      }
    }
    scratch.resize(entries.size());
  };
  auto release = [&](int first, int last) {
    for (int i = first; i < last; ++i) parts_[i] = Partition{};
  };
  bool ok = true;
  if (total <= static_cast<size_t>(kLeafRows)) {
    gather(0, kPartitions);
    if (!entries.empty()) {
      out->root_ = Build(*out, 0, entries.data(), scratch.data(), entries.size(), visit, duplicate);
      ok = out->root_ != nullptr;
    }
  } else {
    // The root is an inner node; each of its subtrees is built from its
    // 16 partitions, which are released right after.
    Inner* root = out->NewInner();
    out->root_ = root;
    constexpr int kPerChild = kPartitions / kFanout;
    for (int c = 0; c < kFanout && ok; ++c) {
      gather(c * kPerChild, (c + 1) * kPerChild);
      if (entries.empty()) continue;
      Node* child =
          Build(*out, 1, entries.data(), scratch.data(), entries.size(), visit, duplicate);
      release(c * kPerChild, (c + 1) * kPerChild);
      if (child == nullptr) {
        ok = false;
        break;
      }
      root->child[c] = child;
      ++root->count;
    }
  }
  release(0, kPartitions);
  size_ = 0;
  if (!ok) {
    out->Clear();
    return false;
  }
  out->size_ = total;
  return true;
}

}  // namespace ranker::learner
