#include "store/rocksdb_snapshot_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <unordered_set>

#include "base/coding.h"
#include "store/rocksdb_format.h"
#include "store/rocksdb_internal.h"

namespace ranker::store {
namespace {

using format::Lineage;
using format::Manifest;
using internal::FromRocks;
using internal::PrefixRead;

std::string What(uint64_t id) { return "snapshot " + std::to_string(id); }

StatusOr<std::string> ReadValue(rocksdb::DB* db, const rocksdb::ReadOptions& ro,
                                const std::string& key, std::string_view what) {
  std::string value;
  RANKER_RETURN_IF_ERROR(FromRocks(db->Get(ro, key, &value), what));
  return value;
}

StatusOr<Manifest> ReadManifest(rocksdb::DB* db, const rocksdb::ReadOptions& ro, uint64_t id) {
  StatusOr<std::string> v = ReadValue(db, ro, format::ManifestKey(id), What(id) + " manifest");
  if (v.status().code() == Status::Code::kNotFound) {
    return Status::NotFound(What(id) + " is not stored");
  }
  if (!v.ok()) return v.status();
  return format::DecodeManifest(*v, id);
}

// Adds the row versions `s` writes to *batch and their hashes to m->rows_digest.
// In key order: RocksDB's memtable inserts sorted keys several times faster.
void AddRows(const Snapshot& s, const std::vector<uint64_t>& removed_live, Manifest* m,
             rocksdb::WriteBatch* batch) {
  std::vector<const Row*> sorted;
  sorted.reserve(s.changed_rows.size());
  for (const Row& row : s.changed_rows) sorted.push_back(&row);
  std::sort(sorted.begin(), sorted.end(),
            [](const Row* a, const Row* b) { return a->first < b->first; });
  for (const Row* row : sorted) {
    const uint64_t hash = format::RowHash(row->first, row->second);
    m->rows_digest += hash;
    ++m->info.rows;
    batch->Put(format::RowKey(row->first, s.id), format::EncodeRowValue(true, hash, row->second));
  }
  for (uint64_t key : removed_live) {
    batch->Put(format::RowKey(key, s.id), format::EncodeRowValue(false, 0, {}));
  }
  std::vector<uint64_t> written;
  written.reserve(sorted.size() + removed_live.size());
  for (const Row* row : sorted) written.push_back(row->first);
  written.insert(written.end(), removed_live.begin(), removed_live.end());
  internal::AddWritten(s.id, written, batch);
}

}  // namespace

Status RocksDbStoreOptions::Validate() const {
  if (write_buffer_bytes < (1u << 20)) {
    return Status::InvalidArgument("store.write_buffer_bytes must be >= 1 MiB");
  }
  if (row_bloom_bits < 0 || row_bloom_bits > 64) {
    return Status::InvalidArgument("store.row_bloom_bits must be in [0, 64]");
  }
  return Status::OK();
}

RocksDbSnapshotStore::RocksDbSnapshotStore(std::unique_ptr<rocksdb::DB> db, std::string path,
                                           const RocksDbStoreOptions& options, uint64_t max_id)
    : db_(std::move(db)), path_(std::move(path)), options_(options), max_id_(max_id) {}

RocksDbSnapshotStore::~RocksDbSnapshotStore() {
  // A clean close leaves the memtables on disk, so the next Open need not
  // replay them from the WAL (a full snapshot of 10M rows is ~1.5 GB of it:
  // seconds and memory at every restart). A crash still recovers from the WAL.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  (void)db_->Flush(flush);
}

namespace {

rocksdb::Options DbOptions(const RocksDbStoreOptions& options) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.write_buffer_size = options.write_buffer_bytes;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  if (options.row_bloom_bits > 0) {
    // Every key's first kRowKeyPrefix bytes go into the filter; for a row
    // key that is the row, whatever its version (format::RowKey). Scans
    // read in total order (PrefixRead); a row's versions are read in
    // prefix mode (internal::RowVersionsRead).
    o.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(format::kRowKeyPrefix));
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(options.row_bloom_bits));
    table.whole_key_filtering = false;
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

// Checks (or, in a new DB, writes) the layout record; returns the highest
// snapshot id ever stored.
StatusOr<uint64_t> CheckLayout(rocksdb::DB* db, const std::string& path) {
  rocksdb::ReadOptions ro;
  StatusOr<std::string> layout = ReadValue(db, ro, std::string(format::kLayoutKey), path);
  if (layout.status().code() == Status::Code::kNotFound) {
    ro.total_order_seek = true;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    it->SeekToFirst();
    if (it->Valid()) return Status::Corruption(path + ": a RocksDB that is not a snapshot store");
    RANKER_RETURN_IF_ERROR(FromRocks(it->status(), path));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    RANKER_RETURN_IF_ERROR(FromRocks(db->Put(wo, format::kLayoutKey, format::LayoutValue()), path));
    return uint64_t{0};
  }
  if (!layout.ok()) return layout.status();
  if (*layout != format::LayoutValue()) {
    return Status::Corruption(path + ": not a snapshot store of layout version 1");
  }
  StatusOr<std::string> max = ReadValue(db, ro, std::string(format::kMaxIdKey), path);
  if (max.status().code() == Status::Code::kNotFound) return uint64_t{0};
  if (!max.ok()) return max.status();
  uint64_t id = 0;
  const std::string what = path + " max id";  // the decoder keeps a view of it
  Decoder d(*max, what);
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&id));
  return id;
}

// The first snapshot id with "W" records: recorded the first time a store
// is opened by a build that writes them (older snapshots have none, and
// garbage collection that needs theirs scans every row version instead).
StatusOr<uint64_t> WrittenSince(rocksdb::DB* db, const std::string& path, uint64_t max_id) {
  const std::string what = path + " written-since";  // the decoder keeps a view of it
  StatusOr<std::string> v =
      ReadValue(db, rocksdb::ReadOptions(), std::string(format::kWrittenSinceKey), what);
  if (v.status().code() == Status::Code::kNotFound) {
    std::string since;
    PutFixed64(&since, max_id + 1);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    RANKER_RETURN_IF_ERROR(FromRocks(db->Put(wo, format::kWrittenSinceKey, since), what));
    return max_id + 1;
  }
  if (!v.ok()) return v.status();
  uint64_t id = 0;
  Decoder d(*v, what);
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&id));
  return id;
}

}  // namespace

StatusOr<std::unique_ptr<RocksDbSnapshotStore>> RocksDbSnapshotStore::Open(
    const std::string& path, const RocksDbStoreOptions& options) {
  RANKER_RETURN_IF_ERROR(options.Validate());
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Status::IOError("snapshot dir " + path + ": " + ec.message());
  rocksdb::DB* raw = nullptr;
  RANKER_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(DbOptions(options), path, &raw), path));
  std::unique_ptr<rocksdb::DB> db(raw);
  StatusOr<uint64_t> max_id = CheckLayout(db.get(), path);
  if (!max_id.ok()) return max_id.status();
  StatusOr<uint64_t> since = WrittenSince(db.get(), path, *max_id);
  if (!since.ok()) return since.status();
  auto store = std::unique_ptr<RocksDbSnapshotStore>(
      new RocksDbSnapshotStore(std::move(db), path, options, *max_id));
  store->written_since_ = *since;
  return store;
}

Status RocksDbSnapshotStore::Put(const Snapshot& s) {
  RANKER_RETURN_IF_ERROR(ValidateForPut(s));
  MutexLock lock(&mu_);
  if (s.id <= max_id_) {
    return Status::InvalidArgument(What(s.id) + ": id must exceed every id ever stored (" +
                                   std::to_string(max_id_) + ")");
  }
  Manifest m;
  m.info = InfoOf(s);
  m.lineage = Lineage::Single(s.id);
  std::vector<uint64_t> removed_live;
  if (s.base_id != 0) {
    StatusOr<Manifest> base = ReadManifest(db_.get(), rocksdb::ReadOptions(), s.base_id);
    if (base.status().code() == Status::Code::kNotFound) {
      return Status::FailedPrecondition(What(s.id) + ": base " + base.status().message());
    }
    if (!base.ok()) return base.status();
    m.lineage = base->lineage.Extend(s.id, /*linear=*/s.base_id == max_id_);
    m.info.rows = base->info.rows;
    m.rows_digest = base->rows_digest;
    RANKER_RETURN_IF_ERROR(internal::SubtractReplaced(db_.get(), s, base->lineage, &m.info.rows,
                                                      &m.rows_digest, &removed_live));
  }
  rocksdb::WriteBatch batch;
  AddRows(s, removed_live, &m, &batch);
  m.dense_size = s.dense_state.size();
  m.dense_digest = format::BlobDigest(s.dense_state);
  batch.Put(format::DenseKey(s.id), s.dense_state);
  batch.Put(format::ManifestKey(s.id), format::EncodeManifest(m));
  std::string max_id;
  PutFixed64(&max_id, s.id);
  batch.Put(format::kMaxIdKey, max_id);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  RANKER_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), What(s.id) + " write"));
  max_id_ = s.id;
  return Status::OK();
}

StatusOr<Snapshot> RocksDbSnapshotStore::Get(uint64_t id) const {
  Snapshot s;
  CollectingSink collector(&s);
  RANKER_RETURN_IF_ERROR(Read(id, &collector));
  return s;
}

Status RocksDbSnapshotStore::Read(uint64_t id, SnapshotSink* sink) const {
  rocksdb::ManagedSnapshot view(db_.get());  // one consistent read
  rocksdb::ReadOptions ro;
  ro.snapshot = view.snapshot();
  StatusOr<Manifest> m = ReadManifest(db_.get(), ro, id);
  if (!m.ok()) return m.status();
  Snapshot s;
  s.id = id;
  s.created_ms = m->info.created_ms;
  s.model_version = m->info.model_version;
  s.param_checksum = m->info.param_checksum;
  s.isa = m->info.isa;
  s.offsets = m->info.offsets;
  StatusOr<std::string> dense = ReadValue(db_.get(), ro, format::DenseKey(id), What(id));
  if (dense.status().code() == Status::Code::kNotFound) {
    return Status::Corruption(What(id) + ": dense state missing");
  }
  if (!dense.ok()) return dense.status();
  if (dense->size() != m->dense_size || format::BlobDigest(*dense) != m->dense_digest) {
    return Status::Corruption(What(id) + ": dense state checksum mismatch");
  }
  s.dense_state = std::move(*dense);
  RANKER_RETURN_IF_ERROR(sink->Begin(std::move(s)));
  uint64_t count = 0, digest = 0;
  bool sink_failed = false;
  Status rows = internal::ScanVisibleRows(db_.get(), view.snapshot(), m->lineage, sink, &count,
                                          &digest, &sink_failed);
  if (sink_failed) return rows;
  if (!rows.ok()) return Status::Corruption(What(id) + ": " + rows.message());
  if (count != m->info.rows || digest != m->rows_digest) {
    return Status::Corruption(What(id) + ": rows do not match the manifest (" +
                              std::to_string(count) + " read, " + std::to_string(m->info.rows) +
                              " expected, or digest mismatch)");
  }
  return Status::OK();
}

std::vector<SnapshotInfo> RocksDbSnapshotStore::List() const {
  PrefixRead read(format::kManifestPrefix, nullptr);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read.ro));
  std::vector<SnapshotInfo> out;
  for (it->Seek(read.first); it->Valid(); it->Next()) {
    uint64_t id = 0;
    if (!format::ParseManifestKey(it->key().ToStringView(), &id)) continue;
    StatusOr<Manifest> m = format::DecodeManifest(it->value().ToStringView(), id);
    if (m.ok()) {
      out.push_back(std::move(m->info));
    } else {
      SnapshotInfo bad;
      bad.id = id;
      bad.error = m.status().message();
      out.push_back(std::move(bad));
    }
  }
  std::reverse(out.begin(), out.end());
  return out;  // an iterator error ends the list early; Get/Latest report it
}

StatusOr<std::vector<uint64_t>> RocksDbSnapshotStore::Ids() const {
  PrefixRead read(format::kManifestPrefix, nullptr);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read.ro));
  std::vector<uint64_t> ids;
  for (it->Seek(read.first); it->Valid(); it->Next()) {
    uint64_t id = 0;
    if (format::ParseManifestKey(it->key().ToStringView(), &id)) ids.push_back(id);
  }
  RANKER_RETURN_IF_ERROR(FromRocks(it->status(), "snapshot list"));
  std::reverse(ids.begin(), ids.end());
  return ids;
}

Status RocksDbSnapshotStore::Retain(size_t keep_newest) {
  if (keep_newest == 0) return Status::InvalidArgument("Retain: keep_newest must be >= 1");
  MutexLock lock(&mu_);
  std::vector<uint64_t> doomed;
  size_t kept = 0;
  for (const SnapshotInfo& info : List()) {
    if (info.error.empty() && kept < keep_newest) {
      ++kept;
    } else {
      doomed.push_back(info.id);
    }
  }
  return doomed.empty() ? Status::OK() : DropLocked(doomed);
}

Status RocksDbSnapshotStore::Delete(uint64_t id) {
  MutexLock lock(&mu_);
  StatusOr<std::string> m =
      ReadValue(db_.get(), rocksdb::ReadOptions(), format::ManifestKey(id), What(id));
  if (m.status().code() == Status::Code::kNotFound) {
    return Status::NotFound(What(id) + " is not stored");
  }
  if (!m.ok()) return m.status();
  return DropLocked({id});
}

Status RocksDbSnapshotStore::DropLocked(const std::vector<uint64_t>& doomed) {
  rocksdb::WriteBatch batch;
  // The lineages going: an undecodable one is unknown, and only a scan of
  // every row version can tell what it alone saw.
  std::vector<Lineage> going;
  bool known = true;
  for (uint64_t id : doomed) {
    StatusOr<Manifest> m = ReadManifest(db_.get(), rocksdb::ReadOptions(), id);
    if (m.ok()) {
      going.push_back(m->lineage);
    } else {
      known = false;
    }
    batch.Delete(format::ManifestKey(id));
    batch.Delete(format::DenseKey(id));
  }
  // Undecodable manifests cannot say which rows they use: not kept.
  std::vector<Lineage> kept;
  const std::unordered_set<uint64_t> dropped(doomed.begin(), doomed.end());
  for (const SnapshotInfo& info : List()) {
    if (dropped.contains(info.id) || !info.error.empty()) continue;
    StatusOr<Manifest> m = ReadManifest(db_.get(), rocksdb::ReadOptions(), info.id);
    if (m.ok()) {
      kept.push_back(m->lineage);
    } else {
      known = false;  // neither kept nor known to be going
    }
  }
  const Lineage candidates = internal::GarbageCandidates(going, kept);
  uint64_t examined = 0;
  if (known && !options_.gc_full_scan &&
      (candidates.empty() || candidates.oldest() >= written_since_)) {
    Lineage seen_kept;
    for (const Lineage& y : kept) seen_kept = Lineage::Union(seen_kept, y);
    RANKER_RETURN_IF_ERROR(internal::CollectGarbageOf(
        db_.get(), candidates, candidates.Minus(seen_kept), kept, &batch, &examined));
  } else {
    RANKER_RETURN_IF_ERROR(internal::CollectGarbage(db_.get(), kept, &batch, &examined));
    gc_full_scans_.fetch_add(1, std::memory_order_relaxed);
  }
  gc_versions_examined_.fetch_add(examined, std::memory_order_relaxed);
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  return FromRocks(db_->Write(wo, &batch), "snapshot deletion");
}

namespace {

constexpr std::string_view kModelsDir = "models";

// A model name as a directory name: [A-Za-z0-9_-] as is, other bytes %XX.
std::string DirName(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ModelName(std::string_view dir) {
  std::string out;
  for (size_t i = 0; i < dir.size(); ++i) {
    unsigned byte = 0;
    if (dir[i] == '%' && i + 2 < dir.size() &&
        std::from_chars(dir.data() + i + 1, dir.data() + i + 3, byte, 16).ptr ==
            dir.data() + i + 3) {
      out.push_back(static_cast<char>(byte));
      i += 2;
    } else {
      out.push_back(dir[i]);
    }
  }
  return out;
}

}  // namespace

StatusOr<SnapshotStore*> RocksDbSnapshotStore::ModelStore(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("a model store needs a name");
  MutexLock lock(&models_mu_);
  auto it = models_.find(name);
  if (it == models_.end()) {
    const std::string dir = (std::filesystem::path(path_) / kModelsDir / DirName(name)).string();
    StatusOr<std::unique_ptr<RocksDbSnapshotStore>> store = Open(dir, options_);
    if (!store.ok()) return store.status();
    it = models_.emplace(std::string(name), std::move(store).value()).first;
  }
  return static_cast<SnapshotStore*>(it->second.get());
}

std::vector<std::string> RocksDbSnapshotStore::ModelStoreNames() const {
  std::vector<std::string> names;
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::path(path_) / kModelsDir;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) names.push_back(ModelName(entry.path().filename().string()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

StatusOr<uint64_t> RocksDbSnapshotStore::CountRowVersions() const {
  PrefixRead read(format::kRowPrefix, nullptr);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read.ro));
  uint64_t n = 0;
  for (it->Seek(read.first); it->Valid(); it->Next()) ++n;
  RANKER_RETURN_IF_ERROR(FromRocks(it->status(), "row count"));
  return n;
}

}  // namespace ranker::store
