#include "learner/row_trie.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstring>
#include <new>
#include <utility>

#include "base/hash.h"

namespace ranker::learner {

// Every node starts with its reference count (how many parents and tries
// hold it) and its kind. An inner node's `count` is its non-null children;
// a leaf's, its rows.
struct RowTrie::Node {
  std::atomic<uint32_t> refs{1};
  bool leaf = false;
  uint16_t count = 0;
};

struct RowTrie::Inner : Node {
  Node* child[kFanout] = {};
};

// Followed in the same allocation by keys[count], last_seen[count] and
// values[count * width].
struct RowTrie::Leaf : Node {};

RowTrie::RowTrie(int width) : width_(width) {}

RowTrie::RowTrie(const RowTrie& other)
    : width_(other.width_), size_(other.size_), root_(other.root_) {
  if (root_ != nullptr) Ref(root_);
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
      root_(std::exchange(other.root_, nullptr)) {}

RowTrie& RowTrie::operator=(RowTrie&& other) noexcept {
  if (this != &other) {
    Clear();
    width_ = other.width_;
    size_ = std::exchange(other.size_, 0);
    root_ = std::exchange(other.root_, nullptr);
  }
  return *this;
}

RowTrie::~RowTrie() { Clear(); }

void RowTrie::Clear() {
  if (root_ != nullptr) Unref(root_);
  root_ = nullptr;
  size_ = 0;
}

int RowTrie::ChildIndex(uint64_t hash, int depth) {
  return static_cast<int>((hash >> (64 - kBits * (depth + 1))) & (kFanout - 1));
}

void RowTrie::Ref(Node* n) { n->refs.fetch_add(1, std::memory_order_relaxed); }

// The last holder frees the node (on whichever thread drops it last): the
// acq_rel decrement orders every other holder's reads before the free.
void RowTrie::Unref(Node* n) {
  if (n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (n->leaf) {
    static_cast<Leaf*>(n)->~Leaf();
    ::operator delete(static_cast<void*>(n));
    return;
  }
  auto* inner = static_cast<Inner*>(n);
  for (Node* c : inner->child) {
    if (c != nullptr) Unref(c);
  }
  delete inner;
}

// Acquire: pairs with the release in another holder's Unref, so that
// holder's reads of the node happen before this trie changes it in place.
bool RowTrie::Unique(const Node* n) { return n->refs.load(std::memory_order_acquire) == 1; }

size_t RowTrie::LeafBytes(int count) const {
  return sizeof(Leaf) + static_cast<size_t>(count) * (2 * sizeof(uint64_t) + sizeof(Real) * width_);
}

RowTrie::Leaf* RowTrie::NewLeaf(int count) const {
  auto* l = new (::operator new(LeafBytes(count))) Leaf;
  l->leaf = true;
  l->count = static_cast<uint16_t>(count);
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
    Leaf* c = NewLeaf(l->count);
    std::memcpy(static_cast<void*>(c + 1), l + 1, LeafBytes(l->count) - sizeof(Leaf));
    return c;
  }
  auto* c = new Inner;
  const auto* inner = static_cast<const Inner*>(n);
  c->count = inner->count;
  for (int i = 0; i < kFanout; ++i) {
    c->child[i] = inner->child[i];
    if (c->child[i] != nullptr) Ref(c->child[i]);
  }
  return c;
}

// Makes the node in *slot one that only this trie holds (a copy when it is
// shared). REQUIRES: the node holding `slot` is itself unshared.
RowTrie::Node** RowTrie::Own(Node** slot) const {
  if (!Unique(*slot)) {
    Node* copy = Clone(*slot);
    Unref(*slot);
    *slot = copy;
  }
  return slot;
}

// The inner node at `depth` that replaces the full leaf `l`.
RowTrie::Inner* RowTrie::Split(const Leaf* l, int depth) const {
  int counts[kFanout] = {};
  const uint64_t* keys = Keys(l);
  for (int i = 0; i < l->count; ++i) ++counts[ChildIndex(Mix64(keys[i]), depth)];
  auto* inner = new Inner;
  for (int c = 0; c < kFanout; ++c) {
    if (counts[c] == 0) continue;
    inner->child[c] = NewLeaf(counts[c]);
    ++inner->count;
    counts[c] = 0;  // now the next free row of child c
  }
  for (int i = 0; i < l->count; ++i) {
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

RowTrie::Row RowTrie::Mutable(uint64_t key) {
  if (Find(key).values == nullptr) return {};  // copy nothing for a missing key
  const uint64_t h = Mix64(key);
  Node** slot = &root_;
  for (int d = 0;; ++d) {
    Node* n = *Own(slot);
    if (n->leaf) return RowOf(static_cast<Leaf*>(n), IndexIn(static_cast<Leaf*>(n), key));
    slot = &static_cast<Inner*>(n)->child[ChildIndex(h, d)];
  }
}

RowTrie::Row RowTrie::Upsert(uint64_t key, bool* created) {
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
    Unref(*slot);
    *slot = inner;
    return Insert(key);  // one level deeper now; the path is owned
  }
  const auto* old = static_cast<const Leaf*>(*slot);
  const int n = old == nullptr ? 0 : old->count;
  Leaf* l = NewLeaf(n + 1);
  for (int i = 0; i < n; ++i) CopyRow(old, i, l, i);
  Keys(l)[n] = key;
  if (old != nullptr) {
    Unref(*slot);
  } else if (parent != nullptr) {
    ++parent->count;
  }
  *slot = l;
  ++size_;
  return RowOf(l, n);
}

bool RowTrie::Erase(uint64_t key) {
  if (Find(key).values == nullptr) return false;
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
    Leaf* l = NewLeaf(old->count - 1);
    for (int i = 0, j = 0; i < old->count; ++i) {
      if (i != gone) CopyRow(old, i, l, j++);
    }
    replacement = l;
  }
  Unref(*path[d]);
  *path[d] = replacement;
  // Inner nodes left without children go too.
  for (; replacement == nullptr && d > 0; --d) {
    auto* parent = static_cast<Inner*>(*path[d - 1]);
    if (--parent->count > 0) break;
    Unref(parent);
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
