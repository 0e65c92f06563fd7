// Snapshots of the learning pipeline: a restored pipeline continues
// bit-identically (model, joiner, partial batch, metrics, counts), deltas
// carry only changed rows, damaged or mismatched snapshots are refused, and
// a failed write makes the next capture a full one.
#include "service/snapshotter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/coding.h"
#include "learner/instruction_set.h"
#include "service/pipeline.h"
#include "settings/config.h"
#include "sim/event_json.h"
#include "sim/simulator.h"
#include "store/in_memory_snapshot_store.h"

namespace ranker::app {
namespace {

constexpr auto kWait = std::chrono::seconds(30);

Config SmallConfig() {
  ConfigSources sources;
  sources.use_environment = false;
  // Small batches leave a partial batch buffered at most captures.
  sources.sets = {"train.batch_size=7", "model.expert_hidden=16,8", "model.num_experts=3",
                  "join.window_ms=2000"};
  StatusOr<Config> config = LoadConfig(sources);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return *config;
}

std::vector<std::string> Events(int n) {
  sim::SimOptions o;
  o.seed = 5;
  sim::Simulator simulator(o);
  std::vector<std::string> out;
  std::vector<sim::SimEvent> batch;
  while (static_cast<int>(out.size()) < n) {
    batch.clear();
    simulator.NextRequest(&batch);
    for (const sim::SimEvent& e : batch) {
      if (static_cast<int>(out.size()) < n) out.push_back(sim::EncodeEventJson(e));
    }
  }
  return out;
}

std::unique_ptr<LearningPipeline> NewPipeline(const Config& config) {
  StatusOr<std::unique_ptr<LearningPipeline>> p = LearningPipeline::Create(config.pipeline());
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

void Feed(LearningPipeline* p, const std::vector<std::string>& events, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) p->Ingest(events[i]);
}

ingest::OffsetMap OffsetAt(int64_t next) { return {{{"ranker.events", 0}, next}}; }

// Everything that must match between a pipeline and its restored copy.
void ExpectSameState(const LearningPipeline& a, const LearningPipeline& b) {
  EXPECT_EQ(a.trainer().model().ParamChecksumHex(), b.trainer().model().ParamChecksumHex());
  EXPECT_EQ(a.events_consumed(), b.events_consumed());
  EXPECT_EQ(a.trainer().buffered(), b.trainer().buffered());
  EXPECT_EQ(a.trainer().stats().examples_trained, b.trainer().stats().examples_trained);
  EXPECT_EQ(a.joiner().stats().pending, b.joiner().stats().pending);
  EXPECT_EQ(a.joiner().stats().examples_emitted, b.joiner().stats().examples_emitted);
  EXPECT_EQ(a.rejects().Total(), b.rejects().Total());
  const learner::MetricsReport ra = a.trainer().metrics().Report();
  const learner::MetricsReport rb = b.trainer().metrics().Report();
  ASSERT_EQ(ra.tasks.size(), rb.tasks.size());
  for (size_t t = 0; t < ra.tasks.size(); ++t) {
    EXPECT_EQ(ra.tasks[t].count, rb.tasks[t].count);
    // The metric a task has not (rmse of a binary one) is NaN in both.
    const auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
    EXPECT_TRUE(same(ra.tasks[t].logloss, rb.tasks[t].logloss)) << ra.tasks[t].logloss;
    EXPECT_TRUE(same(ra.tasks[t].rmse, rb.tasks[t].rmse)) << ra.tasks[t].rmse;
    EXPECT_TRUE(same(ra.tasks[t].auc, rb.tasks[t].auc)) << ra.tasks[t].auc;
  }
}

class SnapshotterTest : public ::testing::Test {
 protected:
  SnapshotterTest()
      : config_(SmallConfig()),
        events_(Events(3000)),
        store_(new store::InMemorySnapshotStore()),
        snapshots_(std::unique_ptr<store::SnapshotStore>(store_), SnapshotOptions{}, &clock_) {}

  uint64_t CaptureAt(LearningPipeline* p, int64_t next_offset) {
    const uint64_t id = snapshots_.Capture(p, OffsetAt(next_offset), /*model_version=*/7);
    StatusOr<store::SnapshotInfo> info = snapshots_.Wait(id, kWait);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return id;
  }

  Config config_;
  std::vector<std::string> events_;
  ManualClock clock_{1000};
  store::InMemorySnapshotStore* store_;  // owned by snapshots_
  Snapshotter snapshots_;
};

TEST_F(SnapshotterTest, RestoredPipelineContinuesBitIdentically) {
  auto live = NewPipeline(config_);
  Feed(live.get(), events_, 0, 1000);
  const uint64_t first = CaptureAt(live.get(), 1000);
  Feed(live.get(), events_, 1000, 1001);  // a few rows change
  const uint64_t second = CaptureAt(live.get(), 1001);
  Feed(live.get(), events_, 1001, 1700);
  const uint64_t third = CaptureAt(live.get(), 1700);
  ASSERT_LT(first, second);
  ASSERT_LT(second, third);
  ASSERT_GT(live->trainer().buffered(), 0u) << "pick sizes that leave a partial batch";

  // Deltas: the first capture carries every row, the second only a few.
  const std::vector<store::SnapshotInfo> list = snapshots_.List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[2].base_id, 0u);
  EXPECT_EQ(list[1].base_id, first);
  EXPECT_LT(list[1].changed_rows * 10, list[2].changed_rows);
  EXPECT_EQ(list[0].rows, live->trainer().model().embedding_rows());

  StatusOr<store::Snapshot> latest = snapshots_.LoadLatest();
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->id, third);
  EXPECT_EQ(Snapshotter::ToSourceOffsets(latest->offsets), OffsetAt(1700));
  auto restored = NewPipeline(config_);
  ASSERT_TRUE(Snapshotter::RestoreInto(*latest, restored.get()).ok());
  ExpectSameState(*live, *restored);

  Feed(live.get(), events_, 1700, 3000);
  Feed(restored.get(), events_, 1700, 3000);
  ExpectSameState(*live, *restored);
  live->Finish();
  restored->Finish();
  ExpectSameState(*live, *restored);
}

TEST_F(SnapshotterTest, AnOlderSnapshotRestoresItsOwnState) {
  auto live = NewPipeline(config_);
  Feed(live.get(), events_, 0, 800);
  const std::string at_800 = live->trainer().model().ParamChecksumHex();
  const uint64_t id = CaptureAt(live.get(), 800);
  Feed(live.get(), events_, 800, 1600);
  CaptureAt(live.get(), 1600);
  ASSERT_NE(live->trainer().model().ParamChecksumHex(), at_800);

  StatusOr<store::Snapshot> old = snapshots_.Load(id);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->param_checksum, at_800);
  ASSERT_TRUE(Snapshotter::RestoreInto(*old, live.get()).ok());  // in place: a rollback
  EXPECT_EQ(live->trainer().model().ParamChecksumHex(), at_800);
  EXPECT_EQ(live->events_consumed(), 800);
}

// Determinism holds on one instruction set: captures record the build's,
// and restoring one from another build warns (stderr, stats) but loads.
TEST_F(SnapshotterTest, CapturesRecordTheInstructionSetsAndAForeignOneWarnsOnRestore) {
  auto live = NewPipeline(config_);
  Feed(live.get(), events_, 0, 500);
  const uint64_t id = CaptureAt(live.get(), 500);
  StatusOr<store::Snapshot> own = snapshots_.Load(id);
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(own->isa, learner::CompiledInstructionSets());
  ::testing::internal::CaptureStderr();
  snapshots_.Rebase(*own);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(snapshots_.stats().isa_mismatch, 0u);

  store::Snapshot foreign = *own;
  foreign.isa = "sse4.2; eigen: SSE, SSE2";
  auto restored = NewPipeline(config_);
  ASSERT_TRUE(Snapshotter::RestoreInto(foreign, restored.get()).ok());
  ::testing::internal::CaptureStderr();
  snapshots_.Rebase(foreign);
  const std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("[sse4.2; eigen: SSE, SSE2]"), std::string::npos) << warning;
  EXPECT_EQ(snapshots_.stats().isa_mismatch, 1u);
  EXPECT_EQ(restored->trainer().model().ParamChecksumHex(), own->param_checksum);
}

TEST_F(SnapshotterTest, AMismatchedChecksumOrDamagedStateIsRefusedAndChangesNothing) {
  auto live = NewPipeline(config_);
  Feed(live.get(), events_, 0, 500);
  const uint64_t id = CaptureAt(live.get(), 500);
  StatusOr<store::Snapshot> good = snapshots_.Load(id);
  ASSERT_TRUE(good.ok());

  auto target = NewPipeline(config_);
  Feed(target.get(), events_, 0, 100);
  const std::string before = target->trainer().model().ParamChecksumHex();

  store::Snapshot wrong_sum = *good;
  wrong_sum.param_checksum = "0000000000000000";
  Status s = Snapshotter::RestoreInto(wrong_sum, target.get());
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("param_checksum"), std::string::npos) << s.message();

  store::Snapshot truncated = *good;
  truncated.dense_state.resize(truncated.dense_state.size() / 2);
  EXPECT_EQ(Snapshotter::RestoreInto(truncated, target.get()).code(), Status::Code::kCorruption);

  store::Snapshot bad_row = *good;
  bad_row.changed_rows[0].second.pop_back();
  EXPECT_FALSE(Snapshotter::RestoreInto(bad_row, target.get()).ok());

  EXPECT_EQ(target->trainer().model().ParamChecksumHex(), before);
  EXPECT_EQ(target->events_consumed(), 100);
}

// State version 1 (before the incremental param_checksum) recorded the
// legacy key-ordered digest: it restores, verified against that digest; an
// unknown version is refused with a message naming it.
TEST_F(SnapshotterTest, APreviousFormatSnapshotRestoresAndAnUnknownOneIsRefused) {
  auto live = NewPipeline(config_);
  Feed(live.get(), events_, 0, 600);
  StatusOr<store::Snapshot> current = snapshots_.Load(CaptureAt(live.get(), 600));
  ASSERT_TRUE(current.ok());
  const std::string checksum = live->trainer().model().ParamChecksumHex();
  EXPECT_EQ(current->param_checksum, checksum);

  // Version 3's framing without its models record, as version 1.
  store::Snapshot v1 = *current;
  {
    Decoder in(current->dense_state, "state");
    uint32_t magic = 0, version = 0;
    std::string model_state, pipeline_state;
    ASSERT_TRUE(in.GetFixed32(&magic).ok());
    ASSERT_TRUE(in.GetFixed32(&version).ok());
    EXPECT_EQ(version, 3u);
    ASSERT_TRUE(in.GetString(&model_state).ok());
    ASSERT_TRUE(in.GetString(&pipeline_state).ok());
    v1.dense_state.clear();
    PutFixed32(&v1.dense_state, magic);
    PutFixed32(&v1.dense_state, 1);
    PutString(&v1.dense_state, model_state);
    PutString(&v1.dense_state, pipeline_state);
  }
  v1.param_checksum = live->trainer().model().LegacyParamChecksumHex();
  ASSERT_NE(v1.param_checksum, checksum);
  auto restored = NewPipeline(config_);
  const Status ok = Snapshotter::RestoreInto(v1, restored.get());
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(restored->trainer().model().ParamChecksumHex(), checksum);

  store::Snapshot v1_new_sum = v1;
  v1_new_sum.param_checksum = checksum;  // v1 with a v2 checksum: does not verify
  EXPECT_EQ(Snapshotter::RestoreInto(v1_new_sum, restored.get()).code(), Status::Code::kCorruption);

  store::Snapshot v9 = *current;
  v9.dense_state[4] = 9;
  const Status refused = Snapshotter::RestoreInto(v9, restored.get());
  EXPECT_EQ(refused.code(), Status::Code::kCorruption);
  EXPECT_NE(refused.message().find("version 9"), std::string::npos) << refused.message();
}

TEST_F(SnapshotterTest, SnapshotsOfAnotherModelShapeAreRefusedAsAConfigurationError) {
  auto live = NewPipeline(config_);
  Feed(live.get(), events_, 0, 300);
  StatusOr<store::Snapshot> s = snapshots_.Load(CaptureAt(live.get(), 300));
  ASSERT_TRUE(s.ok());
  Config other = config_;
  other.model.num_experts = 4;
  auto target = NewPipeline(other);
  Status restored = Snapshotter::RestoreInto(*s, target.get());
  EXPECT_EQ(restored.code(), Status::Code::kInvalidArgument) << restored.ToString();
}

// Startup's path: the newest snapshot streamed into a new model (no
// Snapshot with every row in between), verified against its saved
// param_checksum; a corrupt newer one is skipped and counted.
TEST_F(SnapshotterTest, ReadLatestStreamsTheNewestValidSnapshotIntoANewModel) {
  auto live = NewPipeline(config_);
  Feed(live.get(), events_, 0, 1000);
  const uint64_t first = CaptureAt(live.get(), 1000);
  const std::string first_sum = live->trainer().model().ParamChecksumHex();
  auto at_first = NewPipeline(config_);
  StatusOr<store::Snapshot> whole = snapshots_.Load(first);
  ASSERT_TRUE(whole.ok());
  ASSERT_TRUE(Snapshotter::RestoreInto(*whole, at_first.get()).ok());
  Feed(live.get(), events_, 1000, 1300);
  const uint64_t second = CaptureAt(live.get(), 1300);

  StatusOr<Snapshotter::Loaded> latest = snapshots_.ReadLatest(config_.pipeline());
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ(latest->head.id, second);
  EXPECT_TRUE(latest->head.changed_rows.empty());
  EXPECT_EQ(latest->rows, live->trainer().model().embedding_rows());
  EXPECT_EQ(latest->model->ParamChecksumHex(), live->trainer().model().ParamChecksumHex());
  auto restored = NewPipeline(config_);
  ASSERT_TRUE(snapshots_.Apply(std::move(latest).value(), restored.get()).ok());
  ExpectSameState(*live, *restored);

  std::string* encoding = store_->MutableEncodingForTest(second);
  ASSERT_NE(encoding, nullptr);
  (*encoding)[encoding->size() / 2] ^= 0x20;
  StatusOr<Snapshotter::Loaded> older = snapshots_.ReadLatest(config_.pipeline());
  ASSERT_TRUE(older.ok()) << older.status().ToString();
  EXPECT_EQ(older->head.id, first);
  EXPECT_EQ(older->model->ParamChecksumHex(), first_sum);
  EXPECT_EQ(snapshots_.stats().corrupt_skipped, 1u);
  auto restored_first = NewPipeline(config_);
  ASSERT_TRUE(snapshots_.Apply(std::move(older).value(), restored_first.get()).ok());
  ExpectSameState(*at_first, *restored_first);
}

// The same through RocksDB, whose Read streams from one iterator: a full
// snapshot plus a delta, read back row by row, equal the live model.
TEST(SnapshotterRocksDb, ReadStreamsADeltaChainBackToTheSavedChecksum) {
  const Config config = SmallConfig();
  const std::vector<std::string> events = Events(2000);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("ranker_snapshot_stream_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ManualClock clock(1000);
  SnapshotOptions options;
  options.dir = dir.string();
  options.sync = false;
  {
    StatusOr<std::unique_ptr<Snapshotter>> snapshots = Snapshotter::Open(options, &clock);
    ASSERT_TRUE(snapshots.ok()) << snapshots.status().ToString();
    auto live = NewPipeline(config);
    Feed(live.get(), events, 0, 1200);
    ASSERT_TRUE(
        (*snapshots)->Wait((*snapshots)->Capture(live.get(), OffsetAt(1200), 1), kWait).ok());
    Feed(live.get(), events, 1200, 2000);
    const uint64_t id = (*snapshots)->Capture(live.get(), OffsetAt(2000), 2);
    StatusOr<store::SnapshotInfo> info = (*snapshots)->Wait(id, kWait);
    ASSERT_TRUE(info.ok());
    ASSERT_NE(info->base_id, 0u) << "the second capture is a delta";

    StatusOr<Snapshotter::Loaded> loaded = (*snapshots)->Read(id, config.pipeline());
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->head.param_checksum, live->trainer().model().ParamChecksumHex());
    EXPECT_EQ(loaded->rows, live->trainer().model().embedding_rows());
    auto restored = NewPipeline(config);
    ASSERT_TRUE((*snapshots)->Apply(std::move(loaded).value(), restored.get()).ok());
    ExpectSameState(*live, *restored);
    EXPECT_EQ((*snapshots)->Read(id + 5, config.pipeline()).status().code(),
              Status::Code::kNotFound);
  }
  std::filesystem::remove_all(dir);
}

// A store whose next Put fails (a full disk, say).
class FlakyStore final : public store::SnapshotStore {
 public:
  Status Put(const store::Snapshot& s) override {
    if (fail_next_) {
      fail_next_ = false;
      return Status::IOError("disk full (injected)");
    }
    return inner_.Put(s);
  }
  StatusOr<store::Snapshot> Get(uint64_t id) const override { return inner_.Get(id); }
  std::vector<store::SnapshotInfo> List() const override { return inner_.List(); }
  StatusOr<std::vector<uint64_t>> Ids() const override { return inner_.Ids(); }
  Status Retain(size_t keep) override { return inner_.Retain(keep); }
  Status Delete(uint64_t id) override { return inner_.Delete(id); }
  void FailNext() { fail_next_ = true; }

 private:
  store::InMemorySnapshotStore inner_;
  bool fail_next_ = false;  // the writer thread is the only caller of Put
};

TEST(SnapshotterFailures, AFailedWriteIsReportedAndTheNextCaptureCarriesEveryRow) {
  const Config config = SmallConfig();
  const std::vector<std::string> events = Events(1500);
  ManualClock clock(1000);
  auto* store = new FlakyStore();
  SnapshotOptions options;
  options.retain = 2;
  Snapshotter snapshots(std::unique_ptr<store::SnapshotStore>(store), options, &clock);
  auto live = NewPipeline(config);

  Feed(live.get(), events, 0, 500);
  ASSERT_TRUE(snapshots.Wait(snapshots.Capture(live.get(), OffsetAt(500), 1), kWait).ok());
  Feed(live.get(), events, 500, 1000);
  store->FailNext();
  const uint64_t failed = snapshots.Capture(live.get(), OffsetAt(1000), 2);
  StatusOr<store::SnapshotInfo> lost = snapshots.Wait(failed, kWait);
  EXPECT_EQ(lost.status().code(), Status::Code::kIOError);
  EXPECT_EQ(snapshots.stats().failed, 1u);

  Feed(live.get(), events, 1000, 1001);
  StatusOr<store::SnapshotInfo> next =
      snapshots.Wait(snapshots.Capture(live.get(), OffsetAt(1001), 3), kWait);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->base_id, 0u) << "the rows of the failed one must be written again";
  EXPECT_EQ(next->changed_rows, live->trainer().model().embedding_rows());

  auto restored = NewPipeline(config);
  StatusOr<store::Snapshot> latest = snapshots.LoadLatest();
  ASSERT_TRUE(latest.ok());
  ASSERT_TRUE(Snapshotter::RestoreInto(*latest, restored.get()).ok());
  ExpectSameState(*live, *restored);
  EXPECT_EQ(snapshots.List().size(), 2u);  // retention
}

TEST(SnapshotterFailures, DueWaitsForTheIntervalOnTheGivenClock) {
  ManualClock clock(1000);
  SnapshotOptions options;
  options.interval_ms = 5000;
  Snapshotter snapshots(std::make_unique<store::InMemorySnapshotStore>(), options, &clock);
  EXPECT_FALSE(snapshots.Due());
  clock.AdvanceMs(4999);
  EXPECT_FALSE(snapshots.Due());
  clock.AdvanceMs(1);
  EXPECT_TRUE(snapshots.Due());
}

}  // namespace
}  // namespace ranker::app
