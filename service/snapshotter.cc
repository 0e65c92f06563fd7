#include "service/snapshotter.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <utility>

#include "base/coding.h"
#include "base/memory.h"
#include "base/thread.h"
#include "learner/instruction_set.h"
#include "store/rocksdb_snapshot_store.h"

namespace ranker::app {
namespace {

constexpr uint32_t kMagic = 0x44534b52;  // "RKSD": the snapshot's dense_state
// 3: 2 + the models record (champion's name, challengers held); 2:
// param_checksum is the incremental digest (Model::ParamChecksum); 1: the
// legacy key-ordered one (Model::LegacyParamChecksumHex). A challenger's
// own state is written as version 2 (it has no models record).
constexpr uint32_t kVersion = 3;
constexpr uint32_t kModelVersion = 2;
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
    if (version_ < kLegacyVersion || version_ > kVersion) {
      return Status::Corruption("snapshot state: unsupported version " + std::to_string(version_) +
                                " (this build reads versions 1 to 3)");
    }
    std::string model_state;
    RANKER_RETURN_IF_ERROR(in.GetString(&model_state));
    RANKER_RETURN_IF_ERROR(in.GetString(&loaded_.pipeline_state));
    if (version_ >= 3) {
      RANKER_RETURN_IF_ERROR(in.GetString(&loaded_.champion));
      uint64_t n = 0;
      RANKER_RETURN_IF_ERROR(in.GetFixed64(&n));
      if (n > in.remaining()) return Status::Corruption("snapshot state: bad model count");
      loaded_.models.resize(n);
      for (std::string& name : loaded_.models) RANKER_RETURN_IF_ERROR(in.GetString(&name));
    }
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
  StatusOr<Loaded> loaded = restorer.Finish();
  if (loaded.ok()) RANKER_RETURN_IF_ERROR(ReadChallengers(&*loaded));
  return loaded;
}

Status Snapshotter::ReadChallengers(Loaded* loaded) const {
  const uint64_t id = loaded->head.id;
  for (const std::string& name : loaded->models) {
    const int i = challengers_ != nullptr ? challengers_->Find(name) : -1;
    if (i < 0) {
      std::fprintf(stderr,
                   "ranker snapshots: snapshot %llu holds challenger '%s', which the config no "
                   "longer names: ignored\n",
                   static_cast<unsigned long long>(id), name.c_str());
      continue;
    }
    StatusOr<store::SnapshotStore*> models = store_->ModelStore(name);
    if (!models.ok()) return models.status();
    ModelRestorer restorer(challengers_->options(i));
    Status read = (*models)->Read(id, &restorer);
    StatusOr<Loaded> one = read.ok() ? restorer.Finish() : StatusOr<Loaded>(read);
    if (!one.ok()) {
      const std::string why = "challenger '" + name + "': " + one.status().message();
      return one.status().code() == Status::Code::kInvalidArgument
                 ? Status::InvalidArgument(why)
                 : Status::Corruption("snapshot " + std::to_string(id) + ": " + why);
    }
    loaded->challengers.push_back({name, std::move(one->model), std::move(one->pipeline_state)});
  }
  return Status::OK();
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
  StatusOr<Loaded> loaded = restorer.Finish();
  if (loaded.ok()) RANKER_RETURN_IF_ERROR(ReadChallengers(&*loaded));
  return loaded;
}

Status Snapshotter::Apply(Loaded loaded, LearningPipeline* pipeline) {
  std::optional<ChallengerSet::Prepared> prepared;
  std::set<std::string> restored;
  for (const RestoredChallenger& c : loaded.challengers) restored.insert(c.name);
  if (challengers_ != nullptr) {
    StatusOr<ChallengerSet::Prepared> p = challengers_->Prepare(std::move(loaded.challengers));
    if (!p.ok()) return p.status();
    prepared = std::move(p).value();
  }
  RANKER_RETURN_IF_ERROR(pipeline->Restore(std::move(loaded.model), loaded.pipeline_state));
  if (prepared.has_value()) {
    std::map<std::string, int64_t> started;
    for (const auto& [tp, next] : ToSourceOffsets(loaded.head.offsets))
      started[OffsetKey(tp)] = next;
    challengers_->Install(std::move(prepared).value(), started);
  }
  applied_models_ = std::move(restored);
  if (set_champion_ && !loaded.champion.empty()) set_champion_(loaded.champion);
  return Status::OK();
}

Status Snapshotter::RestoreInto(const store::Snapshot& s, LearningPipeline* pipeline) {
  ModelRestorer restorer(pipeline->options());
  RANKER_RETURN_IF_ERROR(restorer.Begin(store::HeadOf(s)));  // the rows are not copied
  for (const auto& [key, bytes] : s.changed_rows) RANKER_RETURN_IF_ERROR(restorer.Row(key, bytes));
  StatusOr<Loaded> loaded = restorer.Finish();
  if (!loaded.ok()) return loaded.status();
  return pipeline->Restore(std::move(loaded->model), loaded->pipeline_state);  // the champion only
}

void Snapshotter::Rebase(const store::Snapshot& s, uint64_t rows) {
  base_id_ = s.id;
  base_models_ = std::move(applied_models_);  // the others are written whole next time
  applied_models_.clear();
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
                              uint64_t model_version) {
  const auto start = std::chrono::steady_clock::now();
  bool full;
  {
    MutexLock lock(&mu_);
    full = need_full_ || base_id_ == 0;
    need_full_ = false;
  }
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
  if (challengers_ != nullptr && challengers_->size() > 0) {
    for (size_t i = 0; i < challengers_->size(); ++i) {
      const std::string& name = challengers_->name(i);
      p.challengers.push_back(name);
      p.challenger_full.push_back(full || !base_models_.contains(name));
    }
    p.captures = challengers_->Capture();  // taken on the challenger thread
    base_models_ = std::set<std::string>(p.challengers.begin(), p.challengers.end());
  }
  p.champion = get_champion_ ? get_champion_() : "main";
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
  // The challengers first: the champion's record makes the snapshot exist.
  Status status = WriteChallengers(&p);
  Fill(&p);
  store::Snapshot& s = p.snapshot;
  store::SnapshotInfo info = store::InfoOf(s);
  if (status.ok()) status = store_->Put(s);
  double retain_ms = 0;
  if (status.ok()) {
    const auto retain_start = std::chrono::steady_clock::now();
    Status retained = store_->Retain(options_.retain);
    RetainModels();
    retain_ms = MsSince(retain_start);
    if (!retained.ok()) {
      std::fprintf(stderr, "ranker snapshots: retention failed: %s\n", retained.message().c_str());
    }
    if (on_durable_) on_durable_(ToSourceOffsets(s.offsets));
  } else {
    std::fprintf(stderr, "ranker snapshots: snapshot %llu failed: %s\n",
                 static_cast<unsigned long long>(s.id), status.ToString().c_str());
  }
  // The export's buffers, the version it held (rows the learner changed
  // meanwhile) and what other threads freed since the last one: back to the
  // operating system, here, off the learner thread.
  const uint64_t id = s.id;
  p = Pending();
  const double trim_ms = TrimHeap();
  MutexLock lock(&mu_);
  if (status.ok()) {
    ++stats_.written;
    stats_.last_write_ms = MsSince(start);
    stats_.last_retain_ms = retain_ms;
    stats_.last_trim_ms = trim_ms;
    stats_.last_bytes = info.bytes;
    stats_.last_rows = info.changed_rows + info.removed_rows;
    stats_.last = info;
  } else {
    ++stats_.failed;
    stats_.last_error = status.ToString();
    need_full_ = true;  // the rows this one carried are in no stored snapshot
  }
  outcomes_[id] = status;
  while (outcomes_.size() > kOutcomesKept) outcomes_.erase(outcomes_.begin());
}

Status Snapshotter::WriteChallengers(Pending* p) {
  if (p->challengers.empty()) return Status::OK();
  std::vector<ChallengerCapture> captures;
  try {
    captures = p->captures.get();
  } catch (const std::future_error&) {  // the set went away before the capture
    return Status::Unavailable("the challengers stopped before their capture");
  }
  if (captures.size() != p->challengers.size()) {
    return Status::Internal("challenger capture: set changed size");
  }
  for (size_t i = 0; i < captures.size(); ++i) {
    ChallengerCapture& c = captures[i];
    Pending one;
    store::Snapshot& s = one.snapshot;
    s.id = p->snapshot.id;
    s.base_id = p->challenger_full[i] ? 0 : p->snapshot.base_id;
    s.created_ms = p->snapshot.created_ms;
    s.model_version = p->snapshot.model_version;
    s.isa = p->snapshot.isa;
    s.offsets = p->snapshot.offsets;
    s.dense_state = std::move(c.state);
    if (!p->challenger_full[i]) s.removed_rows = std::move(c.removed_keys);
    one.model = std::move(c.model);
    one.full = p->challenger_full[i];
    one.dirty_keys = std::move(c.dirty_keys);
    Fill(&one, kModelVersion, nullptr);
    StatusOr<store::SnapshotStore*> models = store_->ModelStore(c.name);
    Status put = models.ok() ? (*models)->Put(s) : models.status();
    if (!put.ok()) return Status::IOError("challenger '" + c.name + "': " + put.ToString());
  }
  return Status::OK();
}

void Snapshotter::RetainModels() {
  StatusOr<std::vector<uint64_t>> ids = store_->Ids();
  if (!ids.ok()) return;
  const std::set<uint64_t> kept(ids->begin(), ids->end());
  // Every model store, those of challengers the config dropped included:
  // their rows go with the last snapshot that holds them.
  for (const std::string& name : store_->ModelStoreNames()) {
    StatusOr<store::SnapshotStore*> models = store_->ModelStore(name);
    if (!models.ok()) continue;
    StatusOr<std::vector<uint64_t>> mine = (*models)->Ids();
    if (!mine.ok()) continue;
    for (uint64_t id : *mine) {
      if (kept.contains(id)) continue;
      Status s = (*models)->Delete(id);
      if (!s.ok()) {
        std::fprintf(stderr, "ranker snapshots: retention of challenger '%s': %s\n", name.c_str(),
                     s.message().c_str());
      }
    }
  }
}

void Snapshotter::Fill(Pending* p) {
  std::string models;
  PutString(&models, p->champion);
  PutFixed64(&models, p->challengers.size());
  for (const std::string& name : p->challengers) PutString(&models, name);
  Fill(p, kVersion, &models);
}

void Snapshotter::Fill(Pending* p, uint32_t version, const std::string* models) {
  store::Snapshot& s = p->snapshot;
  const std::string pipeline_state = std::move(s.dense_state);
  s.dense_state.clear();
  PutFixed32(&s.dense_state, kMagic);
  PutFixed32(&s.dense_state, version);
  std::string part;
  p->model->SerializeState(&part);
  PutString(&s.dense_state, part);
  PutString(&s.dense_state, pipeline_state);
  if (models != nullptr) s.dense_state.append(*models);
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
