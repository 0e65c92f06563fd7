#include "service/snapshotter.h"

#include <cstdio>
#include <memory>
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
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

StatusOr<store::Snapshot> Snapshotter::LoadLatest() {
  Status skipped;
  StatusOr<store::Snapshot> s = store_->Latest(&skipped);
  if (!skipped.ok()) {
    std::fprintf(stderr, "ranker snapshots: skipped corrupt snapshots: %s\n",
                 skipped.message().c_str());
  }
  MutexLock lock(&mu_);
  stats_.corrupt_skipped = store_->corrupt_skipped();
  return s;
}

StatusOr<store::Snapshot> Snapshotter::Load(uint64_t id) const { return store_->Get(id); }

std::vector<store::SnapshotInfo> Snapshotter::List() const { return store_->List(); }

namespace {

// The per-model restore: builds a model from a snapshot streamed by the
// store (its state blob at Begin, then its rows one by one into the table)
// and verifies the param_checksum at Finish.
class ModelRestorer final : public store::SnapshotSink {
 public:
  explicit ModelRestorer(const PipelineOptions& config) : config_(config) {}

  Status Begin(store::Snapshot head) override {
    loaded_ = Snapshotter::Loaded{};
    loaded_.head = std::move(head);
    const store::Snapshot& s = loaded_.head;
    // The decoder keeps a view of its name: the string must outlive it.
    const std::string what = "snapshot " + std::to_string(s.id) + " state";
    Decoder in(s.dense_state, what);
    uint32_t magic = 0;
    RANKER_RETURN_IF_ERROR(in.GetFixed32(&magic));
    if (magic != kMagic) return Status::Corruption("snapshot state: bad magic number");
    RANKER_RETURN_IF_ERROR(in.GetFixed32(&version_));
    if (version_ != kVersion && version_ != kLegacyVersion) {
      return Status::Corruption("snapshot state: unsupported version " + std::to_string(version_) +
                                " (this build reads versions 1 and 2)");
    }
    std::string model_state;
    RANKER_RETURN_IF_ERROR(in.GetString(&model_state));
    RANKER_RETURN_IF_ERROR(in.GetString(&loaded_.pipeline_state));
    if (!in.done()) return Status::Corruption("snapshot state: trailing bytes");
    StatusOr<std::unique_ptr<learner::Model>> model =
        learner::Model::RestoreState(model_state, config_.model, config_.optimizer);
    if (!model.ok()) return Named(model.status());
    loaded_.model = std::move(model).value();
    // The rows are buffered and built into the table at Finish, each trie
    // leaf allocated once.
    rows_ =
        std::make_unique<learner::EmbeddingTable::BulkImport>(loaded_.model->mutable_embeddings());
    return Status::OK();
  }

  Status Row(uint64_t key, std::string_view bytes) override {
    ++loaded_.rows;
    const Status s = rows_->Add(key, bytes);
    return s.ok() ? s : Named(s);
  }

  // REQUIRES: the store's Read returned OK into this sink.
  StatusOr<Snapshotter::Loaded> Finish() {
    if (const Status s = rows_->Finish(); !s.ok()) return Named(s);
    rows_.reset();
    const learner::Model& m = *loaded_.model;
    const std::string checksum =
        version_ == kLegacyVersion ? m.LegacyParamChecksumHex() : m.ParamChecksumHex();
    if (checksum != loaded_.head.param_checksum) {
      return Status::Corruption("snapshot " + std::to_string(loaded_.head.id) + " (state version " +
                                std::to_string(version_) +
                                "): restored parameters do not match its param_checksum");
    }
    return std::move(loaded_);
  }

 private:
  // Options of another shape than the snapshot's: a configuration problem.
  Status Named(const Status& s) const {
    const std::string why = "snapshot " + std::to_string(loaded_.head.id) + ": " + s.message();
    return s.code() == Status::Code::kInvalidArgument ? Status::InvalidArgument(why)
                                                      : Status::Corruption(why);
  }

  const PipelineOptions& config_;
  uint32_t version_ = 0;
  Snapshotter::Loaded loaded_;
  std::unique_ptr<learner::EmbeddingTable::BulkImport> rows_;
};

}  // namespace

StatusOr<Snapshotter::Loaded> Snapshotter::Read(uint64_t id, const PipelineOptions& config) const {
  ModelRestorer restorer(config);
  RANKER_RETURN_IF_ERROR(store_->Read(id, &restorer));
  return restorer.Finish();
}

StatusOr<Snapshotter::Loaded> Snapshotter::ReadLatest(const PipelineOptions& config) {
  ModelRestorer restorer(config);
  Status skipped;
  const Status read = store_->ReadLatest(&restorer, &skipped);
  if (!skipped.ok()) {
    std::fprintf(stderr, "ranker snapshots: skipped corrupt snapshots: %s\n",
                 skipped.message().c_str());
  }
  {
    MutexLock lock(&mu_);
    stats_.corrupt_skipped = store_->corrupt_skipped();
  }
  RANKER_RETURN_IF_ERROR(read);
  return restorer.Finish();
}

Status Snapshotter::Apply(Loaded loaded, LearningPipeline* pipeline) {
  return pipeline->Restore(std::move(loaded.model), loaded.pipeline_state);
}

Status Snapshotter::RestoreInto(const store::Snapshot& s, LearningPipeline* pipeline) {
  ModelRestorer restorer(pipeline->options());
  RANKER_RETURN_IF_ERROR(restorer.Begin(store::HeadOf(s)));  // the rows are not copied
  for (const auto& [key, bytes] : s.changed_rows) RANKER_RETURN_IF_ERROR(restorer.Row(key, bytes));
  StatusOr<Loaded> loaded = restorer.Finish();
  if (!loaded.ok()) return loaded.status();
  return Apply(std::move(loaded).value(), pipeline);
}

void Snapshotter::Rebase(const store::Snapshot& s, uint64_t rows) {
  base_id_ = s.id;
  const std::string mismatch = learner::InstructionSetMismatch(s.isa);
  if (!mismatch.empty()) {
    std::fprintf(stderr, "ranker snapshots: snapshot %llu: %s\n",
                 static_cast<unsigned long long>(s.id), mismatch.c_str());
  }
  MutexLock lock(&mu_);
  if (!mismatch.empty()) ++stats_.isa_mismatch;
  need_full_ = false;
  if (stats_.last.id == 0) {  // what /v1/model shows until the next one
    stats_.last = store::InfoOf(s);
    stats_.last.rows = rows;
  }
}

bool Snapshotter::Due() const {
  const int64_t now = clock_->MonotonicNs() / 1000000;
  if (now - last_capture_mono_ms_ < options_.interval_ms) return false;
  MutexLock lock(&mu_);
  return !writing_ && queue_.empty();
}

uint64_t Snapshotter::Capture(LearningPipeline* pipeline, const ingest::OffsetMap& offsets,
                              uint64_t model_version,
                              std::shared_ptr<const PublishedModel> published) {
  const auto start = std::chrono::steady_clock::now();
  bool full;
  {
    MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
    stats_.last_capture_ms = MsSince(start);
    queue_.push_back(std::move(p));
  }
  cv_.SignalAll();
  return id;
}

StatusOr<store::SnapshotInfo> Snapshotter::Wait(uint64_t id, std::chrono::milliseconds timeout) {
  MutexLock lock(&mu_);
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!outcomes_.contains(id)) {
    if (!cv_.WaitUntil(&mu_, until) && !outcomes_.contains(id)) {
      return Status::Unavailable("snapshot " + std::to_string(id) + " is not written yet");
    }
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
  MutexLock lock(&mu_);
  SnapshotStats s = stats_;
  s.corrupt_skipped = store_->corrupt_skipped();
  return s;
}

void Snapshotter::Run() {
  SetUpBackgroundThread("ranker-snapshot", options_.thread_nice);
  MutexLock lock(&mu_);
  while (true) {
    while (!stop_ && queue_.empty()) cv_.Wait(&mu_);
    if (queue_.empty()) return;  // stopping, nothing left
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    mu_.Unlock();
    Write(std::move(p));
    mu_.Lock();
    writing_ = false;
    cv_.SignalAll();
  }
}

// Writer thread: one Put (atomic, synced), then retention.
void Snapshotter::Write(Pending p) {
  const auto start = std::chrono::steady_clock::now();
  Fill(&p);
  store::Snapshot& s = p.snapshot;
  store::SnapshotInfo info = store::InfoOf(s);
  Status status = store_->Put(s);
  double retain_ms = 0;
  if (status.ok()) {
    const auto retain_start = std::chrono::steady_clock::now();
    Status retained = store_->Retain(options_.retain);
    retain_ms = MsSince(retain_start);
    if (!retained.ok()) {
      std::fprintf(stderr, "ranker snapshots: retention failed: %s\n", retained.message().c_str());
    }
    if (on_durable_) on_durable_(ToSourceOffsets(s.offsets));
  } else {
    std::fprintf(stderr, "ranker snapshots: snapshot %llu failed: %s\n",
                 static_cast<unsigned long long>(s.id), status.ToString().c_str());
  }
  MutexLock lock(&mu_);
  if (status.ok()) {
    ++stats_.written;
    stats_.last_write_ms = MsSince(start);
    stats_.last_retain_ms = retain_ms;
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
