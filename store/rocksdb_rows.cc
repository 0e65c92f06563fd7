#include <algorithm>

#include "base/coding.h"
#include "store/rocksdb_internal.h"

namespace ranker::store::internal {
namespace {

using format::Lineage;

std::string What(uint64_t id) { return "snapshot " + std::to_string(id); }

// Reads into *value (backed by *buf) the version of row `key` that `lineage`
// sees; a removal (live == false) when it sees none.
Status FindVisible(rocksdb::Iterator* it, uint64_t key, const Lineage& lineage,
                   format::RowValue* value, std::string* buf) {
  *value = format::RowValue{};
  for (it->Seek(format::RowKey(key, lineage.newest())); it->Valid(); it->Next()) {
    if (!format::IsRowKey(it->key().ToStringView())) break;  // past the rows
    uint64_t row_key = 0, version = 0;
    if (!format::ParseRowKey(it->key().ToStringView(), &row_key, &version)) {
      return Status::Corruption("malformed row key");
    }
    if (row_key != key) break;
    if (!lineage.Contains(version)) continue;
    buf->assign(it->value().data(), it->value().size());
    return format::DecodeRowValue(*buf, value);
  }
  return FromRocks(it->status(), "row lookup");
}

std::string RowWhat(uint64_t key, uint64_t version) {
  return "row " + std::to_string(key) + " version " + std::to_string(version);
}

// The keys whose versions the GC pass looks at, one group at a time.
struct RowGroup {
  uint64_t key = 0;
  std::vector<std::pair<uint64_t, bool>> versions;  // (version, live), newest first
};

// Adds to *batch the deletion of every version of `g` that no lineage in
// `kept` sees, and of removals that no longer hide anything.
void CollectGroup(const RowGroup& g, const std::vector<Lineage>& kept, rocksdb::WriteBatch* batch) {
  std::vector<bool> needed(g.versions.size(), false);
  for (const Lineage& lineage : kept) {
    for (size_t i = 0; i < g.versions.size(); ++i) {
      if (lineage.Contains(g.versions[i].first)) {
        needed[i] = true;
        break;
      }
    }
  }
  bool older_live_needed = false;  // scanning oldest to newest
  for (size_t i = g.versions.size(); i-- > 0;) {
    const auto [version, live] = g.versions[i];
    if (needed[i] && !live && !older_live_needed) needed[i] = false;
    if (needed[i] && live) older_live_needed = true;
    if (!needed[i]) batch->Delete(format::RowKey(g.key, version));
  }
}

// Appends the row version under `it` to `group`; a malformed value counts as
// live, so it is kept.
void AddVersion(const rocksdb::Iterator& it, uint64_t version, RowGroup* group,
                uint64_t* examined) {
  format::RowValue value;
  const bool malformed = !format::DecodeRowValue(it.value().ToStringView(), &value).ok();
  group->versions.emplace_back(version, malformed || value.live);
  ++*examined;
}

}  // namespace

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  const std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsIOError()) return Status::IOError(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

PrefixRead::PrefixRead(char prefix, const rocksdb::Snapshot* snap)
    : first(1, prefix), limit(1, static_cast<char>(prefix + 1)), limit_slice(limit) {
  ro.snapshot = snap;
  ro.iterate_upper_bound = &limit_slice;
  ro.total_order_seek = true;
}

rocksdb::ReadOptions RowVersionsRead() {
  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = true;
  return ro;
}

Status ScanVisibleRows(rocksdb::DB* db, const rocksdb::Snapshot* snap, const Lineage& lineage,
                       SnapshotSink* sink, uint64_t* count, uint64_t* digest, bool* sink_failed) {
  PrefixRead read(format::kRowPrefix, snap);
  // One pass over the whole row range: RocksDB's prefetching beats its
  // block cache here, and the blocks are not read again.
  read.ro.fill_cache = false;
  read.ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read.ro));
  bool have_group = false, found = false;
  uint64_t group = 0;
  for (it->Seek(read.first); it->Valid(); it->Next()) {
    uint64_t key = 0, version = 0;
    if (!format::ParseRowKey(it->key().ToStringView(), &key, &version)) {
      return Status::Corruption("malformed row key");
    }
    if (!have_group || key != group) {
      have_group = true, group = key, found = false;
    }
    if (found || !lineage.Contains(version)) continue;
    found = true;
    format::RowValue value;
    Status st = format::DecodeRowValue(it->value().ToStringView(), &value);
    if (!st.ok()) return Status::Corruption(RowWhat(key, version) + ": " + st.message());
    if (!value.live) continue;
    if (format::RowHash(key, value.bytes) != value.hash) {
      return Status::Corruption(RowWhat(key, version) + ": checksum mismatch");
    }
    *digest += value.hash;
    ++*count;
    st = sink->Row(key, value.bytes);
    if (!st.ok()) {
      *sink_failed = true;
      return st;
    }
  }
  return FromRocks(it->status(), "row scan");
}

Status SubtractReplaced(rocksdb::DB* db, const Snapshot& s, const Lineage& base, uint64_t* live,
                        uint64_t* digest, std::vector<uint64_t>* removed_live) {
  std::vector<std::pair<uint64_t, bool>> keys;  // (key, is a removal), sorted
  keys.reserve(s.changed_rows.size() + s.removed_rows.size());
  for (const auto& row : s.changed_rows) keys.emplace_back(row.first, false);
  for (uint64_t key : s.removed_rows) keys.emplace_back(key, true);
  std::sort(keys.begin(), keys.end());
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(RowVersionsRead()));
  format::RowValue value;
  std::string buf;
  for (const auto& [key, removal] : keys) {
    Status st = FindVisible(it.get(), key, base, &value, &buf);
    if (!st.ok())
      return Status::Corruption(What(s.base_id) + " (base of " + What(s.id) + "): " + st.message());
    if (!value.live) continue;
    *digest -= value.hash;
    --*live;
    if (removal) removed_live->push_back(key);
  }
  return Status::OK();
}

Status CollectGarbage(rocksdb::DB* db, const std::vector<Lineage>& kept, rocksdb::WriteBatch* batch,
                      uint64_t* examined) {
  PrefixRead read(format::kRowPrefix, nullptr);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read.ro));
  RowGroup group;
  for (it->Seek(read.first); it->Valid(); it->Next()) {
    uint64_t key = 0, version = 0;
    if (!format::ParseRowKey(it->key().ToStringView(), &key, &version)) continue;
    if (key != group.key || group.versions.empty()) {
      if (!group.versions.empty()) CollectGroup(group, kept, batch);
      group.key = key;
      group.versions.clear();
    }
    AddVersion(*it, version, &group, examined);
  }
  RANKER_RETURN_IF_ERROR(FromRocks(it->status(), "row garbage collection"));
  if (!group.versions.empty()) CollectGroup(group, kept, batch);
  return Status::OK();
}

namespace {

uint64_t IdCount(const Lineage& l) {
  uint64_t n = 0;
  for (const auto& [first, last] : l.intervals()) n += last - first + 1;
  return n;
}

}  // namespace

Lineage GarbageCandidates(const std::vector<Lineage>& dropped, const std::vector<Lineage>& kept) {
  Lineage seen_dropped, seen_kept;
  for (const Lineage& x : dropped) seen_dropped = Lineage::Union(seen_dropped, x);
  for (const Lineage& y : kept) seen_kept = Lineage::Union(seen_kept, y);
  Lineage out = seen_dropped.Minus(seen_kept);
  for (const Lineage& x : dropped) {
    // A kept lineage y0 holding all of x sees every version x saw as newest,
    // unless y0 wrote the key again in an id x lacks: the keys of y0 - x
    // are then all x's candidates (one chain's retention: the oldest kept
    // snapshot's delta, not the union of every newer one's). The smallest
    // such y0 - x is enough.
    const Lineage* best = nullptr;
    uint64_t best_ids = 0;
    for (const Lineage& y : kept) {
      if (!x.Minus(y).empty()) continue;
      const uint64_t ids = IdCount(y.Minus(x));
      if (best == nullptr || ids < best_ids) best = &y, best_ids = ids;
    }
    if (best != nullptr) {
      out = Lineage::Union(out, best->Minus(x));
      continue;
    }
    for (const Lineage& y : kept) {
      const Lineage shared = Lineage::Intersect(x, y);
      if (shared.empty()) continue;
      out = Lineage::Union(out, y.Minus(x).Above(shared.oldest()));
    }
  }
  return out;
}

void AddWritten(uint64_t id, const std::vector<uint64_t>& keys, rocksdb::WriteBatch* batch) {
  uint32_t chunk = 0;
  size_t i = 0;
  do {  // one record even when empty: "wrote nothing" is known, not missing
    std::string value;
    const size_t end = std::min(keys.size(), i + format::kWrittenChunkKeys);
    value.reserve(8 * (end - i));
    for (; i < end; ++i) PutFixed64(&value, keys[i]);
    batch->Put(format::WrittenKey(id, chunk++), value);
  } while (i < keys.size());
}

Status CollectGarbageOf(rocksdb::DB* db, const Lineage& candidates, const Lineage& unreachable,
                        const std::vector<Lineage>& kept, rocksdb::WriteBatch* batch,
                        uint64_t* examined) {
  std::vector<uint64_t> keys;
  {
    PrefixRead read(format::kWrittenPrefix, nullptr);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read.ro));
    for (const auto& [first, last] : candidates.intervals()) {
      for (it->Seek(format::WrittenKey(first, 0)); it->Valid(); it->Next()) {
        uint64_t id = 0;
        if (!format::ParseWrittenKey(it->key().ToStringView(), &id)) {
          return Status::Corruption("malformed written-keys record");
        }
        if (id > last) break;
        const std::string_view value = it->value().ToStringView();
        if (value.size() % 8 != 0) return Status::Corruption("malformed written-keys record");
        for (size_t at = 0; at < value.size(); at += 8) {
          Decoder d(value.substr(at, 8), "written keys");
          uint64_t key = 0;
          RANKER_RETURN_IF_ERROR(d.GetFixed64(&key));
          keys.push_back(key);
        }
        if (unreachable.Contains(id)) batch->Delete(it->key());
      }
      RANKER_RETURN_IF_ERROR(FromRocks(it->status(), "written keys"));
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(RowVersionsRead()));
  RowGroup group;
  for (uint64_t key : keys) {
    group.key = key;
    group.versions.clear();
    for (it->Seek(format::RowKey(key, ~uint64_t{0})); it->Valid(); it->Next()) {
      if (!format::IsRowKey(it->key().ToStringView())) break;  // past the rows
      uint64_t row_key = 0, version = 0;
      if (!format::ParseRowKey(it->key().ToStringView(), &row_key, &version)) continue;
      if (row_key != key) break;
      AddVersion(*it, version, &group, examined);
    }
    RANKER_RETURN_IF_ERROR(FromRocks(it->status(), "row garbage collection"));
    if (!group.versions.empty()) CollectGroup(group, kept, batch);
  }
  return Status::OK();
}

}  // namespace ranker::store::internal
