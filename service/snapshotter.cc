#include "service/snapshotter.h"

#include <cstdio>
#include <utility>

#include "base/coding.h"
#include "base/thread.h"
#include "learner/instruction_set.h"
#include "store/rocksdb_snapshot_store.h"

namespace ranker::app {
namespace {

constexpr uint32_t kMagic = 0x44534b52;  // "RKSD": the snapshot's dense_state
// 2: param_checksum is the incremental digest (Model::ParamChecksum); 1:
// the legacy key-ordered one (Model::LegacyParamChecksumHex).
constexpr uint32_t kVersion = 2;
constexpr uint32_t kLegacyVersion = 1;
constexpr size_t kOutcomesKept = 64;

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// The model's rows for a capture: all of them (ascending), or `keys`.
void ExportRows(const learner::EmbeddingTable& table, bool full, const std::vector<uint64_t>& keys,
                store::Snapshot* s) {
  const std::vector<uint64_t> all = full ? table.SortedKeys() : std::vector<uint64_t>{};
  const std::vector<uint64_t>& rows = full ? all : keys;
  s->changed_rows.reserve(rows.size());
  for (uint64_t key : rows) {
    std::string bytes;
    if (table.ExportRow(key, &bytes)) s->changed_rows.emplace_back(key, std::move(bytes));
  }
}

}  // namespace

StatusOr<std::unique_ptr<Snapshotter>> Snapshotter::Open(const SnapshotOptions& options,
                                                         const Clock* clock) {
  RANKER_RETURN_IF_ERROR(options.Validate());
  store::RocksDbStoreOptions o;
  o.sync = options.sync;
  StatusOr<std::unique_ptr<store::RocksDbSnapshotStore>> db =
      store::RocksDbSnapshotStore::Open(options.dir, o);
  if (!db.ok()) return db.status();
  return std::make_unique<Snapshotter>(std::move(db).value(), options, clock);
}

Snapshotter::Snapshotter(std::unique_ptr<store::SnapshotStore> store,
                         const SnapshotOptions& options, const Clock* clock)
    : store_(std::move(store)), options_(options), clock_(clock) {
  // Ids continue above every stored one, corrupt ones included.
  StatusOr<std::vector<uint64_t>> ids = store_->Ids();
  if (ids.ok() && !ids->empty()) next_id_ = ids->front() + 1;
  last_capture_mono_ms_ = clock_->MonotonicNs() / 1000000;
  thread_ = std::thread([this] { Run(); });
}

Snapshotter::~Snapshotter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

StatusOr<store::Snapshot> Snapshotter::LoadLatest() {
  Status skipped;
  StatusOr<store::Snapshot> s = store_->Latest(&skipped);
  if (!skipped.ok()) {
    std::fprintf(stderr, "ranker snapshots: skipped corrupt snapshots: %s\n",
                 skipped.message().c_str());
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.corrupt_skipped = store_->corrupt_skipped();
  return s;
}

StatusOr<store::Snapshot> Snapshotter::Load(uint64_t id) const { return store_->Get(id); }

std::vector<store::SnapshotInfo> Snapshotter::List() const { return store_->List(); }

Status Snapshotter::RestoreInto(const store::Snapshot& s, LearningPipeline* pipeline) {
  // The decoder keeps a view of its name: the string must outlive it.
  const std::string what = "snapshot " + std::to_string(s.id) + " state";
  Decoder in(s.dense_state, what);
  uint32_t magic = 0, version = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&magic));
  if (magic != kMagic) return Status::Corruption("snapshot state: bad magic number");
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&version));
  if (version != kVersion && version != kLegacyVersion) {
    return Status::Corruption("snapshot state: unsupported version " + std::to_string(version) +
                              " (this build reads versions 1 and 2)");
  }
  std::string model_state, pipeline_state;
  RANKER_RETURN_IF_ERROR(in.GetString(&model_state));
  RANKER_RETURN_IF_ERROR(in.GetString(&pipeline_state));
  if (!in.done()) return Status::Corruption("snapshot state: trailing bytes");
  const PipelineOptions& config = pipeline->options();
  StatusOr<std::unique_ptr<learner::Model>> model =
      learner::Model::Restore(model_state, s.changed_rows, config.model, config.optimizer);
  if (!model.ok()) {
    const std::string why = "snapshot " + std::to_string(s.id) + ": " + model.status().message();
    // Options of another shape than the snapshot's: a configuration problem.
    return model.status().code() == Status::Code::kInvalidArgument ? Status::InvalidArgument(why)
                                                                   : Status::Corruption(why);
  }
  const std::string checksum =
      version == kLegacyVersion ? (*model)->LegacyParamChecksumHex() : (*model)->ParamChecksumHex();
  if (checksum != s.param_checksum) {
    return Status::Corruption("snapshot " + std::to_string(s.id) + " (state version " +
                              std::to_string(version) +
                              "): restored parameters do not match its param_checksum");
  }
  return pipeline->Restore(std::move(model).value(), pipeline_state);
}

void Snapshotter::Rebase(const store::Snapshot& s) {
  base_id_ = s.id;
  const std::string mismatch = learner::InstructionSetMismatch(s.isa);
  if (!mismatch.empty()) {
    std::fprintf(stderr, "ranker snapshots: snapshot %llu: %s\n",
                 static_cast<unsigned long long>(s.id), mismatch.c_str());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!mismatch.empty()) ++stats_.isa_mismatch;
  need_full_ = false;
  if (stats_.last.id == 0) {  // what /v1/model shows until the next one
    stats_.last = store::InfoOf(s);
    stats_.last.rows = s.changed_rows.size();
  }
}

bool Snapshotter::Due() const {
  const int64_t now = clock_->MonotonicNs() / 1000000;
  if (now - last_capture_mono_ms_ < options_.interval_ms) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return !writing_ && queue_.empty();
}

uint64_t Snapshotter::Capture(LearningPipeline* pipeline, const ingest::OffsetMap& offsets,
                              uint64_t model_version,
                              std::shared_ptr<const PublishedModel> published) {
  const auto start = std::chrono::steady_clock::now();
  bool full;
  {
    std::lock_guard<std::mutex> lock(mu_);
    full = need_full_ || base_id_ == 0;
    need_full_ = false;
  }
  (void)published;
  learner::Model* model = pipeline->mutable_trainer()->mutable_model();
  Pending p;
  store::Snapshot& s = p.snapshot;
  s.id = next_id_++;
  s.base_id = full ? 0 : base_id_;
  s.created_ms = clock_->NowMs();
  s.model_version = model_version;
  s.isa = learner::CompiledInstructionSets();
  s.offsets = ToStoreOffsets(offsets);
  std::string part;
  pipeline->SerializeState(&part);
  s.dense_state = std::move(part);  // the pipeline's part; Fill() frames it
  p.model = model->Clone();
  p.full = full;
  model->mutable_embeddings()->TakeDirty(0, &p.dirty_keys, &s.removed_rows);
  if (full) s.removed_rows.clear();
  base_id_ = s.id;
  last_capture_mono_ms_ = clock_->MonotonicNs() / 1000000;
  const uint64_t id = s.id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.last_capture_ms = MsSince(start);
    queue_.push_back(std::move(p));
  }
  cv_.notify_all();
  return id;
}

StatusOr<store::SnapshotInfo> Snapshotter::Wait(uint64_t id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return outcomes_.contains(id); })) {
    return Status::Unavailable("snapshot " + std::to_string(id) + " is not written yet");
  }
  const Status s = outcomes_.at(id);
  if (!s.ok()) return s;
  if (stats_.last.id == id) return stats_.last;
  for (const store::SnapshotInfo& info : store_->List()) {
    if (info.id == id) return info;
  }
  return Status::NotFound("snapshot " + std::to_string(id) + " was written, then dropped");
}

SnapshotStats Snapshotter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SnapshotStats s = stats_;
  s.corrupt_skipped = store_->corrupt_skipped();
  return s;
}

void Snapshotter::Run() {
  SetUpBackgroundThread("ranker-snapshot", options_.thread_nice);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();
    Write(std::move(p));
    lock.lock();
    writing_ = false;
    cv_.notify_all();
  }
}

// Writer thread: one Put (atomic, synced), then retention.
void Snapshotter::Write(Pending p) {
  const auto start = std::chrono::steady_clock::now();
  Fill(&p);
  store::Snapshot& s = p.snapshot;
  store::SnapshotInfo info = store::InfoOf(s);
  Status status = store_->Put(s);
  if (status.ok()) {
    Status retained = store_->Retain(options_.retain);
    if (!retained.ok()) {
      std::fprintf(stderr, "ranker snapshots: retention failed: %s\n", retained.message().c_str());
    }
    if (on_durable_) on_durable_(ToSourceOffsets(s.offsets));
  } else {
    std::fprintf(stderr, "ranker snapshots: snapshot %llu failed: %s\n",
                 static_cast<unsigned long long>(s.id), status.ToString().c_str());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (status.ok()) {
    ++stats_.written;
    stats_.last_write_ms = MsSince(start);
    stats_.last_bytes = info.bytes;
    stats_.last_rows = info.changed_rows + info.removed_rows;
    stats_.last = info;
  } else {
    ++stats_.failed;
    stats_.last_error = status.ToString();
    need_full_ = true;  // the rows this one carried are in no stored snapshot
  }
  outcomes_[s.id] = status;
  while (outcomes_.size() > kOutcomesKept) outcomes_.erase(outcomes_.begin());
}

void Snapshotter::Fill(Pending* p) {
  store::Snapshot& s = p->snapshot;
  const std::string pipeline_state = std::move(s.dense_state);
  s.dense_state.clear();
  PutFixed32(&s.dense_state, kMagic);
  PutFixed32(&s.dense_state, kVersion);
  std::string part;
  p->model->SerializeState(&part);
  PutString(&s.dense_state, part);
  PutString(&s.dense_state, pipeline_state);
  ExportRows(p->model->embeddings(), p->full, p->dirty_keys, &s);
  s.param_checksum = p->model->ParamChecksumHex();  // a copy: already folded
  p->model.reset();  // the rows changed since are no longer held twice
}

ingest::OffsetMap Snapshotter::ToSourceOffsets(const store::OffsetMap& offsets) {
  ingest::OffsetMap out;
  for (const auto& [tp, next] : offsets) out[ingest::TopicPartition{tp.first, tp.second}] = next;
  return out;
}

store::OffsetMap Snapshotter::ToStoreOffsets(const ingest::OffsetMap& offsets) {
  store::OffsetMap out;
  for (const auto& [tp, next] : offsets) out[{tp.topic, tp.partition}] = next;
  return out;
}

}  // namespace ranker::app
