#include "store/in_memory_snapshot_store.h"

#include <algorithm>

namespace ranker::store {
namespace {

std::string What(uint64_t id) { return "snapshot " + std::to_string(id); }

// rows(base) + s.changed_rows - s.removed_rows, sorted by key.
std::vector<Row> ApplyDelta(std::vector<Row> base_rows, const Snapshot& s) {
  std::map<uint64_t, std::string> rows;
  for (auto& [key, bytes] : base_rows) rows.emplace(key, std::move(bytes));
  for (uint64_t key : s.removed_rows) rows.erase(key);
  for (const auto& [key, bytes] : s.changed_rows) rows[key] = bytes;
  std::vector<Row> out;
  out.reserve(rows.size());
  for (auto& [key, bytes] : rows) out.emplace_back(key, std::move(bytes));
  return out;
}

}  // namespace

StatusOr<Snapshot> InMemorySnapshotStore::DecodeLocked(uint64_t id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return Status::NotFound(What(id) + " is not stored");
  return DecodeSnapshot(it->second.encoded, What(id));
}

Status InMemorySnapshotStore::Put(const Snapshot& s) {
  RANKER_RETURN_IF_ERROR(ValidateForPut(s));
  MutexLock lock(&mu_);
  if (s.id <= max_id_) {
    return Status::InvalidArgument(What(s.id) + ": id must exceed every id ever stored (" +
                                   std::to_string(max_id_) + ")");
  }
  std::vector<Row> base_rows;
  if (s.base_id != 0) {
    if (!entries_.contains(s.base_id)) {
      return Status::FailedPrecondition(What(s.id) + ": base " + What(s.base_id) +
                                        " is not stored");
    }
    StatusOr<Snapshot> base = DecodeLocked(s.base_id);
    if (!base.ok()) return base.status();
    base_rows = std::move(base->changed_rows);
  }
  Snapshot full = HeadOf(s);
  full.changed_rows = ApplyDelta(std::move(base_rows), s);
  SnapshotInfo info = InfoOf(s);
  info.rows = full.changed_rows.size();
  entries_[s.id] = Entry{EncodeSnapshot(full), std::move(info)};
  max_id_ = s.id;
  return Status::OK();
}

StatusOr<SnapshotStore*> InMemorySnapshotStore::ModelStore(std::string_view name) {
  MutexLock lock(&mu_);
  auto it = models_.find(name);
  if (it == models_.end()) {
    it = models_.emplace(std::string(name), std::make_unique<InMemorySnapshotStore>()).first;
  }
  return static_cast<SnapshotStore*>(it->second.get());
}

std::vector<std::string> InMemorySnapshotStore::ModelStoreNames() const {
  MutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const auto& [name, store] : models_) names.push_back(name);
  return names;
}

StatusOr<Snapshot> InMemorySnapshotStore::Get(uint64_t id) const {
  MutexLock lock(&mu_);
  return DecodeLocked(id);
}

std::vector<SnapshotInfo> InMemorySnapshotStore::List() const {
  MutexLock lock(&mu_);
  std::vector<SnapshotInfo> out;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    StatusOr<Snapshot> s = DecodeLocked(it->first);
    if (s.ok()) {
      out.push_back(it->second.info);
    } else {
      SnapshotInfo bad;
      bad.id = it->first;
      bad.error = s.status().message();
      out.push_back(std::move(bad));
    }
  }
  return out;
}

StatusOr<std::vector<uint64_t>> InMemorySnapshotStore::Ids() const {
  MutexLock lock(&mu_);
  std::vector<uint64_t> ids;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) ids.push_back(it->first);
  return ids;
}

Status InMemorySnapshotStore::Retain(size_t keep_newest) {
  if (keep_newest == 0) return Status::InvalidArgument("Retain: keep_newest must be >= 1");
  MutexLock lock(&mu_);
  size_t kept = 0;
  for (auto it = entries_.rbegin(); it != entries_.rend();) {
    const bool readable = DecodeLocked(it->first).ok();
    if (readable && kept < keep_newest) {
      ++kept;
      ++it;
    } else {
      it = std::make_reverse_iterator(entries_.erase(std::next(it).base()));
    }
  }
  return Status::OK();
}

Status InMemorySnapshotStore::Delete(uint64_t id) {
  MutexLock lock(&mu_);
  if (entries_.erase(id) == 0) return Status::NotFound(What(id) + " is not stored");
  return Status::OK();
}

std::string* InMemorySnapshotStore::MutableEncodingForTest(uint64_t id) {
  MutexLock lock(&mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second.encoded;
}

}  // namespace ranker::store
