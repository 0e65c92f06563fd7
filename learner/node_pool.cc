#include "learner/node_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <new>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"

#if defined(__SANITIZE_ADDRESS__)
#define RANKER_NODE_POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RANKER_NODE_POOL_OFF 1
#endif
#endif

namespace ranker::learner {
namespace {

static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= 16);
constexpr size_t kSlabBytes = 256 << 10;

struct FreeBlock {
  FreeBlock* next;
};

struct Batch {
  FreeBlock* head;
  int count;
};

}  // namespace

struct NodePool::Impl {
  explicit Impl(size_t bytes) : bytes(bytes) {}
  const size_t bytes;
  std::atomic<size_t> slab_bytes{0};
  Mutex mu;
  std::vector<Batch> batches RANKER_GUARDED_BY(mu);
  std::vector<std::unique_ptr<char[]>> slabs RANKER_GUARDED_BY(mu);

  bool Take(Batch* out) {
    MutexLock lock(&mu);
    if (batches.empty()) return false;
    *out = batches.back();
    batches.pop_back();
    return true;
  }
  void Give(Batch b) {
    MutexLock lock(&mu);
    batches.push_back(b);
  }
  // A batch carved from a new slab; the slab's other blocks go to the depot.
  Batch Carve() {
    // operator new[] aligns to 16 (__STDCPP_DEFAULT_NEW_ALIGNMENT__), and
    // blocks are multiples of 16.
    auto slab = std::make_unique_for_overwrite<char[]>(kSlabBytes);
    slab_bytes.fetch_add(kSlabBytes, std::memory_order_relaxed);
    char* p = slab.get();
    const int n = static_cast<int>(kSlabBytes / bytes);
    std::vector<Batch> carved;
    for (int first = 0; first < n; first += kBatch) {
      const int count = std::min(kBatch, n - first);
      FreeBlock* head = nullptr;
      for (int i = first + count - 1; i >= first; --i) {
        auto* block = reinterpret_cast<FreeBlock*>(p + static_cast<size_t>(i) * bytes);
        block->next = head;
        head = block;
      }
      carved.push_back({head, count});
    }
    const Batch mine = carved.back();
    carved.pop_back();
    MutexLock lock(&mu);
    slabs.push_back(std::move(slab));
    batches.insert(batches.end(), carved.begin(), carved.end());
    return mine;
  }
};

namespace {

// One thread's free lists, one per pool it has used.
class Cache {
 public:
  ~Cache() {
    for (auto& [pool, list] : lists_) {
      while (list.count > 0) pool->Give(Split(&list));
    }
  }

  struct List {
    FreeBlock* head = nullptr;
    int count = 0;
  };

  List& For(NodePool::Impl* pool) {
    if (pool == last_pool_) return *last_list_;
    last_pool_ = pool;
    last_list_ = &lists_[pool];
    return *last_list_;
  }

  static Batch Split(List* list) {
    const int count = std::min(NodePool::kBatch, list->count);
    FreeBlock* head = list->head;
    FreeBlock* last = head;
    for (int i = 1; i < count; ++i) last = last->next;
    list->head = last->next;
    last->next = nullptr;
    list->count -= count;
    return {head, count};
  }

 private:
  std::unordered_map<NodePool::Impl*, List> lists_;
  NodePool::Impl* last_pool_ = nullptr;
  List* last_list_ = nullptr;
};

[[maybe_unused]] Cache& ThisThreadsCache() {  // unused under ASan
  thread_local Cache cache;
  return cache;
}

}  // namespace

NodePool::NodePool(size_t block_bytes)
    : block_bytes_((std::max(block_bytes, sizeof(FreeBlock)) + 15) & ~size_t{15}),
      // Nothing to share under ASan (operator new serves every block).
      impl_(Pooling() ? new Impl(block_bytes_) : nullptr) {}

void* NodePool::Allocate() {
#ifdef RANKER_NODE_POOL_OFF
  return ::operator new(block_bytes_);
#else
  Cache::List& list = ThisThreadsCache().For(impl_);
  if (list.head == nullptr) {
    Batch b;
    if (!impl_->Take(&b)) b = impl_->Carve();
    list.head = b.head;
    list.count = b.count;
  }
  FreeBlock* block = list.head;
  list.head = block->next;
  --list.count;
  return block;
#endif
}

void NodePool::Free(void* p) {
#ifdef RANKER_NODE_POOL_OFF
  ::operator delete(p);
#else
  Cache::List& list = ThisThreadsCache().For(impl_);
  auto* block = static_cast<FreeBlock*>(p);
  block->next = list.head;
  list.head = block;
  if (++list.count >= 2 * kBatch) impl_->Give(Cache::Split(&list));
#endif
}

bool NodePool::Pooling() {
#ifdef RANKER_NODE_POOL_OFF
  return false;
#else
  return true;
#endif
}

size_t NodePool::SlabBytes() const {
  return impl_ == nullptr ? 0 : impl_->slab_bytes.load(std::memory_order_relaxed);
}

}  // namespace ranker::learner
