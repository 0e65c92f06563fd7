// LearnerLoop on its seams alone: FakeEventSource (tests/fakes) for Kafka and
// an InMemorySnapshotStore under the Snapshotter, so rebalance, restore and
// their failure paths run without a broker or a disk.
#include "service/learner_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/coding.h"
#include "service/model_publisher.h"
#include "service/pipeline.h"
#include "service/replication_hooks.h"
#include "service/snapshotter.h"
#include "store/in_memory_snapshot_store.h"
#include "tests/fakes/fake_event_source.h"

namespace ranker::app {
namespace {

using std::chrono::milliseconds;

constexpr char kTopic[] = "events";

// Polls `pred` every millisecond until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& pred, milliseconds timeout = milliseconds(20000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// A pre-joined example: trained at once, no join window.
std::string Example(int i) {
  return R"({"type":"example","request_id":"r)" + std::to_string(i) + R"(","item_id":"i)" +
         std::to_string(i % 7) + R"(","labels":{"click":)" + std::to_string(i % 2) +
         R"(,"watch":)" + std::to_string(i % 4) + "}}";
}

// An EventSource over a FakeEventSource whose Seek() first runs `before_seek`
// (returning its Status instead of seeking when that fails), as KafkaSource
// applies a seek only on its consumer thread, after whatever callback that
// thread is running.
class HookedSource final : public ingest::EventSource {
 public:
  explicit HookedSource(std::unique_ptr<fakes::FakeEventSource> inner) : inner_(std::move(inner)) {}
  std::function<Status(const ingest::OffsetMap&)> before_seek;

  Status Start(ingest::RebalanceListener* l) override { return inner_->Start(l); }
  std::vector<ingest::SourceMessage> Pop(size_t max, milliseconds timeout) override {
    return inner_->Pop(max, timeout);
  }
  Status CommitOffsets(const ingest::OffsetMap& o) override { return inner_->CommitOffsets(o); }
  void Pause(const std::vector<ingest::TopicPartition>& p) override { inner_->Pause(p); }
  void Resume(const std::vector<ingest::TopicPartition>& p) override { inner_->Resume(p); }
  Status Seek(const ingest::OffsetMap& next) override {
    if (before_seek) RANKER_RETURN_IF_ERROR(before_seek(next));
    return inner_->Seek(next);
  }
  std::vector<ingest::TopicPartition> Assignment() const override { return inner_->Assignment(); }
  ingest::SourceCounters Counters() const override { return inner_->Counters(); }
  Status Close() override { return inner_->Close(); }

 private:
  const std::unique_ptr<fakes::FakeEventSource> inner_;
};

class LearnerLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_.CreateTopic(kTopic, partitions_);
    auto store = std::make_unique<store::InMemorySnapshotStore>();
    store_ = store.get();
    SnapshotOptions so;
    so.interval_ms = 1000 * 1000;  // only on request
    so.on_stop = false;
    snapshotter_ = std::make_unique<Snapshotter>(std::move(store), so, SystemClock());
    source_ = std::make_unique<HookedSource>(log_.NewSource({kTopic}, "learners"));
  }

  void TearDown() override {
    if (loop_ != nullptr) {
      EXPECT_TRUE(source_->Close().ok());
      loop_->Stop();
    }
  }

  void StartLoop() {
    StatusOr<std::unique_ptr<LearningPipeline>> p = LearningPipeline::Create(PipelineOptions{});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    LearnerLoopDeps deps;
    deps.source = source_.get();
    deps.publisher = &publisher_;
    deps.clock = SystemClock();
    deps.snapshotter = snapshotter_.get();
    loop_ = std::make_unique<LearnerLoop>(std::move(p).value(), Options(), std::move(deps));
    loop_->Start();
    ASSERT_TRUE(source_->Start(loop_.get()).ok());
  }

  static LearnerLoopOptions Options() {
    LearnerLoopOptions o;
    o.publish_interval_ms = 1;
    return o;
  }

  void Produce(int from, int to) {
    for (int i = from; i < to; ++i) log_.Produce(kTopic, "r" + std::to_string(i), Example(i));
  }

  int64_t Consumed() const {
    const auto latest = publisher_.Latest();
    return latest != nullptr ? latest->events_consumed : -1;
  }
  bool WaitConsumed(int64_t n) {
    return WaitFor([&] { return Consumed() == n; });
  }
  // A snapshot of the learner now, written.
  uint64_t TakeSnapshot() {
    StatusOr<uint64_t> id = loop_->RequestSnapshot(milliseconds(20000));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return 0;
    EXPECT_TRUE(snapshotter_->Wait(*id, milliseconds(20000)).ok());
    return *id;
  }

  int partitions_ = 2;
  fakes::FakeLog log_;
  store::InMemorySnapshotStore* store_ = nullptr;  // owned by snapshotter_
  std::unique_ptr<Snapshotter> snapshotter_;
  std::unique_ptr<HookedSource> source_;
  ModelPublisher publisher_;
  std::unique_ptr<LearnerLoop> loop_;
};

// KafkaSource applies a seek on its consumer thread, which may be inside a
// rebalance callback at that moment; those callbacks take the learner's
// batch lock. A restore that seeks while holding that lock waits for a
// thread that waits for it: the seek times out and the restore fails.
TEST_F(LearnerLoopTest, RestoreSeeksWithoutHoldingTheLockTheRebalanceCallbacksTake) {
  Produce(0, 40);
  ASSERT_NO_FATAL_FAILURE(StartLoop());
  ASSERT_TRUE(WaitConsumed(40));
  const uint64_t id = TakeSnapshot();
  ASSERT_NE(id, 0u);
  Produce(40, 60);
  ASSERT_TRUE(WaitConsumed(60));

  std::vector<std::thread> consumer_threads;  // joined before any ASSERT below
  source_->before_seek = [&](const ingest::OffsetMap&) {
    const std::vector<ingest::TopicPartition> tps = source_->Assignment();
    std::packaged_task<void()> rebalance([&, tps] {
      loop_->OnRevoked(tps);
      (void)loop_->OnAssigned(tps);
    });
    std::future<void> done = rebalance.get_future();
    consumer_threads.emplace_back(std::move(rebalance));
    if (done.wait_for(milliseconds(3000)) != std::future_status::ready) {
      return Status::Unavailable("the consumer thread is stuck in a rebalance callback");
    }
    return Status::OK();
  };
  StatusOr<LearnerLoop::Restored> restored = loop_->RequestRestore(id, milliseconds(30000));
  for (std::thread& t : consumer_threads) t.join();
  source_->before_seek = nullptr;
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(consumer_threads.size(), 1u);
  // Rolled back to 40 events, then the 20 after the snapshot are learned again.
  EXPECT_TRUE(WaitConsumed(60)) << Consumed();
}

// A snapshot whose model does not load is refused before anything moves (it
// is read and verified first). One whose model verifies but whose pipeline
// state does not load fails after the partitions moved: they move back, and
// when that seek fails too, the learner's positions are wrong and the caller
// must hear it, not just the first error.
TEST_F(LearnerLoopTest, AFailedRestoreMovesThePartitionsBackOrSaysItCouldNot) {
  Produce(0, 30);
  ASSERT_NO_FATAL_FAILURE(StartLoop());
  ASSERT_TRUE(WaitConsumed(30));
  StatusOr<store::Snapshot> good = store_->Get(TakeSnapshot());
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  store::Snapshot bad;  // stores fine, does not restore: its state is garbage
  bad.id = 77;          // and it covers no offsets: every partition from its start
  bad.dense_state = "not a pipeline state";
  ASSERT_TRUE(store_->Put(bad).ok());
  // The good snapshot's model with a pipeline state that does not load.
  Decoder in(good->dense_state, "state");
  uint32_t magic = 0, version = 0;
  std::string model_state, pipeline_state;
  ASSERT_TRUE(in.GetFixed32(&magic).ok());
  ASSERT_TRUE(in.GetFixed32(&version).ok());
  ASSERT_TRUE(in.GetString(&model_state).ok());
  EXPECT_EQ(version, 3u);
  store::Snapshot half = *good;
  half.id = 78;
  half.dense_state.clear();
  PutFixed32(&half.dense_state, magic);
  PutFixed32(&half.dense_state, 2);  // state version 2: no models record to forge
  PutString(&half.dense_state, model_state);
  PutString(&half.dense_state, "not a pipeline state");
  ASSERT_TRUE(store_->Put(half).ok());

  // The restore's own error comes back, no partition moved, and the learner
  // goes on from where it stood: nothing is learned twice.
  int seeks = 0;
  source_->before_seek = [&](const ingest::OffsetMap&) {
    ++seeks;
    return Status::OK();
  };
  StatusOr<LearnerLoop::Restored> failed = loop_->RequestRestore(77, milliseconds(30000));
  EXPECT_EQ(failed.status().code(), Status::Code::kCorruption) << failed.status().ToString();
  EXPECT_EQ(seeks, 0);
  Produce(30, 35);
  EXPECT_TRUE(WaitConsumed(35)) << Consumed();

  // Moved, failed, moved back: the state error comes back.
  failed = loop_->RequestRestore(78, milliseconds(30000));
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.status().code(), Status::Code::kInternal) << failed.status().ToString();
  EXPECT_EQ(seeks, 2);
  Produce(35, 40);
  EXPECT_TRUE(WaitConsumed(40)) << Consumed();

  // When the seek back fails too, the partitions stay at the snapshot's
  // offsets under the unchanged model: the caller must hear that.
  seeks = 0;
  source_->before_seek = [&](const ingest::OffsetMap&) {
    return ++seeks == 2 ? Status::Unavailable("injected: the seek back") : Status::OK();
  };
  failed = loop_->RequestRestore(78, milliseconds(30000));
  EXPECT_EQ(seeks, 2);
  EXPECT_EQ(failed.status().code(), Status::Code::kInternal) << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("injected: the seek back"), std::string::npos)
      << failed.status().ToString();
}

// With snapshots, partitions that leave and come back resume where the model
// stands (the group's commits play no part): every event is learned once.
TEST_F(LearnerLoopTest, PartitionsThatComeBackResumeWhereTheModelStands) {
  Produce(0, 50);
  ASSERT_NO_FATAL_FAILURE(StartLoop());
  ASSERT_TRUE(WaitConsumed(50));
  {
    // A second member takes a partition (and reads nothing), then leaves.
    struct Idle final : ingest::RebalanceListener {
      ingest::OffsetMap OnAssigned(const std::vector<ingest::TopicPartition>&) override {
        return {};
      }
      void OnRevoked(const std::vector<ingest::TopicPartition>&) override {}
    } idle;
    std::unique_ptr<fakes::FakeEventSource> other = log_.NewSource({kTopic}, "learners");
    ASSERT_TRUE(other->Start(&idle).ok());
    EXPECT_EQ(source_->Assignment().size(), 1u);
    Produce(50, 80);
    EXPECT_TRUE(other->Close().ok());
  }
  EXPECT_EQ(source_->Assignment().size(), 2u);
  EXPECT_TRUE(WaitConsumed(80)) << Consumed();
  loop_->Stop();  // learns whatever is still readable
  EXPECT_EQ(Consumed(), 80) << "a partition was read twice";
}

// One partition: one order of events, so one result (contract §5).
class OnePartitionLearnerLoopTest : public LearnerLoopTest {
 protected:
  OnePartitionLearnerLoopTest() { partitions_ = 1; }
};

// A crash loses what the learner did after its last snapshot; a learner
// restored from that snapshot resumes from its offsets and ends where a
// learner that never crashed ends, bit for bit.
TEST_F(OnePartitionLearnerLoopTest, ALearnerResumedFromASnapshotEndsWhereOneThatNeverCrashedEnds) {
  Produce(0, 60);
  ASSERT_NO_FATAL_FAILURE(StartLoop());
  ASSERT_TRUE(WaitConsumed(60));
  const uint64_t id = TakeSnapshot();
  ASSERT_NE(id, 0u);
  Produce(60, 100);
  ASSERT_TRUE(WaitConsumed(100));
  const std::string never_crashed = publisher_.Latest()->ParamChecksum();
  // "Crash": leave the group without a word, drop the learner.
  ASSERT_TRUE(source_->Close().ok());
  loop_->Stop();
  loop_.reset();

  StatusOr<store::Snapshot> snapshot = snapshotter_->Load(id);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  StatusOr<std::unique_ptr<LearningPipeline>> p = LearningPipeline::Create(PipelineOptions{});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(Snapshotter::RestoreInto(*snapshot, p->get()).ok());
  ModelPublisher publisher;
  publisher.ContinueFrom(snapshot->model_version);
  LearnerLoopDeps deps;
  auto source = log_.NewSource({kTopic}, "learners");
  deps.source = source.get();
  deps.publisher = &publisher;
  deps.clock = SystemClock();
  deps.snapshotter = snapshotter_.get();
  LearnerLoop resumed(std::move(p).value(), Options(), std::move(deps));
  resumed.ResumeFrom(Snapshotter::ToSourceOffsets(snapshot->offsets));
  resumed.Start();
  ASSERT_TRUE(source->Start(&resumed).ok());
  const bool caught_up = WaitFor([&] { return publisher.Latest()->events_consumed == 100; });
  // The version that reflects the 100 events (Stop() then flushes the joiner
  // and the partial batch, as the never-crashed learner has not).
  const std::shared_ptr<const PublishedModel> at_100 = publisher.Latest();
  resumed.Stop();
  EXPECT_TRUE(source->Close().ok());
  ASSERT_TRUE(caught_up) << at_100->events_consumed;
  EXPECT_EQ(at_100->ParamChecksum(), never_crashed);
}

// A reader (a /v1/rank handler) that drops a replaced version last does not
// free it: the reclaimer's thread does.
TEST(ModelPublisherReclaim, AReplacedVersionIsFreedOnTheReclaimerThread) {
  Reclaimer reclaimer("test-reclaim", 0);
  ModelPublisher publisher(&reclaimer);
  StatusOr<std::unique_ptr<LearningPipeline>> p = LearningPipeline::Create(PipelineOptions{});
  ASSERT_TRUE(p.ok());
  std::shared_ptr<const PublishedModel> held = publisher.Publish(**p, {}, 1);
  publisher.Publish(**p, {}, 2);  // replaces it; the reader still holds it
  EXPECT_EQ(reclaimer.stats().freed, 0u);
  std::thread([h = std::move(held)]() mutable { h.reset(); }).join();
  ASSERT_TRUE(WaitFor([&] { return reclaimer.stats().freed == 1; }));
  EXPECT_EQ(publisher.Latest()->version, 2u);  // the latest stays
}

// serve's wall-clock feedback delay (issue 16): from consuming a click to
// the first published version that learned from it, on the learner's clock.
// The clicks are consumed at 1000 ms; they are learned only when a
// `watermark` event, consumed 250 ms later, trains the partial batch (and,
// in window mode, closes the window first), and that version is published
// at once.
// Records, at each publication, how many keys the snapshots' dirty channel
// (0) holds beyond the model topic's (1), then takes channel 1 as a
// broadcaster does.
class DirtyChannelProbe final : public PublicationListener {
 public:
  void OnPublish(LearningPipeline* pipeline, bool) override {
    learner::Model* model = pipeline->mutable_trainer()->mutable_model();
    const learner::EmbeddingTable& t = model->embeddings();
    const size_t snapshots = t.dirty_keys(0).size(),
                 topic = t.dirty_keys(kModelTopicDirtyChannel).size();
    if (snapshots > topic) max_excess = std::max(max_excess.load(), snapshots - topic);
    publications.fetch_add(1);
    model->ClearDirtyRows(kModelTopicDirtyChannel);
  }
  void OnIdle(LearningPipeline*) override {}
  void RequestFull() override {}

  std::atomic<size_t> max_excess{0};
  std::atomic<int> publications{0};
};

// Without a snapshotter nobody takes dirty channel 0: the learner must end
// its period at each publication, or it keeps a key (and a mark) for every
// row ever changed.
TEST_F(LearnerLoopTest, WithoutSnapshotsTheSnapshotsDirtyChannelStaysBounded) {
  StatusOr<std::unique_ptr<LearningPipeline>> p = LearningPipeline::Create(PipelineOptions{});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  DirtyChannelProbe probe;
  LearnerLoopDeps deps;
  deps.source = source_.get();
  deps.publisher = &publisher_;
  deps.clock = SystemClock();
  deps.broadcaster = &probe;
  loop_ = std::make_unique<LearnerLoop>(std::move(p).value(), Options(), std::move(deps));
  loop_->Start();
  ASSERT_TRUE(source_->Start(loop_.get()).ok());
  auto fresh = [&](int from, int to) {  // every event a new item row
    for (int i = from; i < to; ++i) {
      log_.Produce(kTopic, "r" + std::to_string(i),
                   R"({"type":"example","request_id":"r)" + std::to_string(i) +
                       R"(","item_id":"fresh)" + std::to_string(i) +
                       R"(","labels":{"click":1,"watch":2}})");
    }
  };
  fresh(0, 100);
  ASSERT_TRUE(WaitConsumed(100));
  const int after_first = probe.publications.load();
  fresh(100, 200);
  ASSERT_TRUE(WaitConsumed(200));
  // A version is visible before the listener hears of it: stop the loop, so
  // every publication (its last included) has reached `probe`.
  EXPECT_TRUE(source_->Close().ok());
  loop_->Stop();
  loop_.reset();
  EXPECT_GT(probe.publications.load(), after_first);
  // Channel 0 holds what changed since the last publication, as channel 1
  // does, not the first 100 rows too.
  EXPECT_EQ(probe.max_excess.load(), 0u);
}

class PublishDelayTest : public LearnerLoopTest, public ::testing::WithParamInterface<bool> {
 protected:
  PublishDelayTest() { partitions_ = 1; }
  void StartManualLoop(bool immediate) {
    PipelineOptions o;
    o.train.batch_size = 4;
    o.join.window_ms = 60000;
    if (immediate) {
      o.join.mode = learner::JoinMode::kImmediate;
      o.join.immediate_warmup_ms = 0;
      o.model.tasks[0].fake_negative_weighting = true;
    }
    StatusOr<std::unique_ptr<LearningPipeline>> p = LearningPipeline::Create(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    LearnerLoopDeps deps;
    deps.source = source_.get();
    deps.publisher = &publisher_;
    deps.clock = &clock_;
    deps.snapshotter = snapshotter_.get();
    loop_ = std::make_unique<LearnerLoop>(std::move(p).value(), Options(), std::move(deps));
    loop_->Start();
    ASSERT_TRUE(source_->Start(loop_.get()).ok());
  }
  void ProduceOne(const std::string& json) { log_.Produce(kTopic, "r1", json); }

  ManualClock clock_{1000};
};

TEST_P(PublishDelayTest, ClicksAreMeasuredFromConsumedToPublished) {
  const bool immediate = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartManualLoop(immediate));
  for (int i = 0; i < 3; ++i) {
    ProduceOne(R"({"type":"impression","request_id":"r1","item_id":"i)" + std::to_string(i) +
               R"(","position":)" + std::to_string(i + 1) + R"(,"ts_ms":1000})");
  }
  ProduceOne(R"({"type":"click","request_id":"r1","item_id":"i0","ts_ms":1500})");
  ProduceOne(R"({"type":"click","request_id":"r1","item_id":"i2","ts_ms":1600})");
  ProduceOne(R"({"type":"click","request_id":"r1","item_id":"i2","ts_ms":1700})");  // again
  ASSERT_TRUE(WaitConsumed(6));
  // Window mode has trained nothing yet; immediate mode has trained its
  // first batch of 4 (three impressions and i0's click, learned at once).
  const auto first = publisher_.Latest();
  EXPECT_EQ(first->feedback_publish_delay.count, immediate ? 1 : 0);
  EXPECT_EQ(first->feedback_publish_delay.p50_ms, 0);
  clock_.AdvanceMs(250);
  ProduceOne(R"({"type":"watermark","ts_ms":70000})");
  ASSERT_TRUE(WaitConsumed(7));
  const auto last = publisher_.Latest();
  EXPECT_EQ(last->feedback_publish_delay.count, 2);  // the repeated click is not a new one
  EXPECT_EQ(last->feedback_publish_delay.p99_ms, 250);
  EXPECT_EQ(last->feedback_publish_delay.p50_ms, immediate ? 0 : 250);
  EXPECT_NE(last->report_json.find("\"feedback_publish_delay_ms\""), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(JoinModes, PublishDelayTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "Immediate" : "Window");
                         });

}  // namespace
}  // namespace ranker::app
