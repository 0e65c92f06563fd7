// Challengers across a rollback and a restart: snapshots hold every model,
// so each challenger resumes where the snapshot left it and ends with the
// param_checksum of a run that never stopped (exactly-once for every
// model); a challenger new in the config starts fresh at the snapshot's
// offsets, one the config dropped is ignored; the snapshot's champion
// serves after a restart.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/coding.h"
#include "service/service.h"
#include "store/in_memory_snapshot_store.h"
#include "tests/fakes/fake_event_source.h"
#include "tests/service/service_test_util.h"

namespace ranker::app {
namespace {

using testing::TestConfig;
using testing::WaitConsumed;
using testing::WaitFor;

std::vector<std::string> Sets(const std::string& challengers) {
  return {"snapshot.interval_ms=100000000", "snapshot.on_stop=false", "train.batch_size=1",
          "challengers=" + challengers};
}

constexpr const char* kTwo = "omoe;model.architecture=omoe|slow;optimizer.learning_rate=0.01";

class Services : public testing::FakeLogServices {
 public:
  explicit Services(Config config) : FakeLogServices(std::move(config)) {}
  using FakeLogServices::config_;
  using FakeLogServices::Produce;
  using FakeLogServices::Start;
  using FakeLogServices::store_;
};

// Challenger `name`'s latest version has trained `n` examples, nothing is
// left to train, and it was published after version `after`.
bool WaitChallenger(const Service& s, const std::string& name, int64_t n, uint64_t after = 0) {
  return WaitFor([&] {
    auto m = s.Named(name);
    return m != nullptr && m->examples_trained == n && m->version > after &&
           s.challengers()->lag() == 0;
  });
}

std::string Checksum(const Service& s, const std::string& name) {
  const ChallengerSet* set = s.challengers();
  const int i = set->Find(name);
  std::string out;
  if (i >= 0) set->Read(i, [&](const learner::Trainer& t) { out = t.model().ParamChecksumHex(); });
  return out;
}

int64_t StartedAt(const Service& s, const std::string& name) {
  const boost::json::object report = boost::json::parse(s.Named(name)->report_json).as_object();
  const boost::json::object& started = report.at("started_offsets").as_object();
  return started.empty() ? -1 : started.begin()->value().as_int64();
}

// The checksums of every model after events 0..n-1 in one uninterrupted run.
struct Reference {
  std::string main, omoe, slow;
};
Reference Uninterrupted(int n) {
  Services run(TestConfig(Sets(kTwo)));
  run.Produce(0, n);
  std::unique_ptr<Service> s = run.Start();
  Reference r;
  if (s == nullptr) return r;
  EXPECT_TRUE(WaitConsumed(*s, n));
  EXPECT_TRUE(WaitChallenger(*s, "omoe", n));
  EXPECT_TRUE(WaitChallenger(*s, "slow", n));
  r.main = s->Latest()->ParamChecksum();
  r.omoe = Checksum(*s, "omoe");
  r.slow = Checksum(*s, "slow");
  return r;
}

TEST(ChallengersRestoreTest, ARollbackMidStreamEndsEveryChallengerAsARunThatNeverStopped) {
  const Reference want = Uninterrupted(80);
  ASSERT_FALSE(want.omoe.empty());
  ASSERT_NE(want.omoe, want.slow);
  Services run(TestConfig(Sets(kTwo)));
  run.Produce(0, 50);
  std::unique_ptr<Service> s = run.Start();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(WaitConsumed(*s, 50));
  StatusOr<store::SnapshotInfo> snapshot = s->TakeSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  run.Produce(50, 80);
  ASSERT_TRUE(WaitConsumed(*s, 80));
  ASSERT_TRUE(WaitChallenger(*s, "omoe", 80));
  StatusOr<RestoredSnapshot> restored = s->RestoreSnapshot(snapshot->id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  // Every model re-learns events 50..79 once, from the snapshot's state.
  ASSERT_TRUE(WaitChallenger(*s, "omoe", 80, restored->model_version))
      << s->Named("omoe")->examples_trained;
  ASSERT_TRUE(WaitChallenger(*s, "slow", 80, restored->model_version));
  ASSERT_TRUE(WaitConsumed(*s, 80));
  EXPECT_EQ(s->Latest()->ParamChecksum(), want.main);
  EXPECT_EQ(Checksum(*s, "omoe"), want.omoe);
  EXPECT_EQ(Checksum(*s, "slow"), want.slow);
  EXPECT_EQ(StartedAt(*s, "omoe"), -1);  // it is as old as the champion
}

TEST(ChallengersRestoreTest, ARestartMidStreamEndsEveryChallengerAsARunThatNeverStopped) {
  const Reference want = Uninterrupted(90);
  Services run(TestConfig(Sets(kTwo)));
  run.Produce(0, 40);
  {
    std::unique_ptr<Service> first = run.Start();
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(WaitConsumed(*first, 40));
    run.Produce(40, 70);  // the snapshot lands somewhere in these
    ASSERT_TRUE(first->TakeSnapshot().ok());
    ASSERT_TRUE(WaitConsumed(*first, 70));
  }  // no snapshot on stop: the second re-reads from the snapshot's offsets
  run.Produce(70, 90);
  std::unique_ptr<Service> second = run.Start();
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitConsumed(*second, 90));
  ASSERT_TRUE(WaitChallenger(*second, "omoe", 90));
  ASSERT_TRUE(WaitChallenger(*second, "slow", 90));
  EXPECT_EQ(second->Latest()->ParamChecksum(), want.main);
  EXPECT_EQ(Checksum(*second, "omoe"), want.omoe);
  EXPECT_EQ(Checksum(*second, "slow"), want.slow);
  EXPECT_EQ(StartedAt(*second, "slow"), -1);
}

TEST(ChallengersRestoreTest, ANewChallengerStartsFreshAndADroppedOneIsIgnored) {
  Services run(TestConfig(Sets(kTwo)));
  run.Produce(0, 40);
  {
    std::unique_ptr<Service> first = run.Start();
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(WaitConsumed(*first, 40));
    ASSERT_TRUE(WaitChallenger(*first, "omoe", 40));
    ASSERT_TRUE(first->TakeSnapshot().ok());
  }
  run.Produce(40, 60);
  // "slow" dropped, "fresh" added: omoe resumes, fresh starts at offset 40.
  std::unique_ptr<Service> second =
      run.Start(TestConfig(Sets("omoe;model.architecture=omoe|fresh;model.architecture=omoe")));
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitConsumed(*second, 60));
  ASSERT_TRUE(WaitChallenger(*second, "omoe", 60));
  ASSERT_TRUE(WaitChallenger(*second, "fresh", 20));
  EXPECT_EQ(StartedAt(*second, "omoe"), -1);
  EXPECT_EQ(StartedAt(*second, "fresh"), 40);
  EXPECT_EQ(second->Named("slow"), nullptr);
  // Its next snapshot holds both, and retention leaves nothing of "slow"
  // once no snapshot holds it.
  StatusOr<store::SnapshotInfo> next = second->TakeSnapshot();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  StatusOr<store::SnapshotStore*> fresh = run.store_.ModelStore("fresh");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE((*fresh)->Get(next->id).ok());
}

// A snapshot of the format before (state version 2: no models record)
// restores the champion; every challenger starts fresh at its offsets.
TEST(ChallengersRestoreTest, APreviousFormatSnapshotRestoresTheChampionAndChallengersStartFresh) {
  Services run(TestConfig(Sets(kTwo)));
  run.Produce(0, 40);
  uint64_t id = 0;
  {
    std::unique_ptr<Service> first = run.Start();
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(WaitConsumed(*first, 40));
    StatusOr<store::SnapshotInfo> taken = first->TakeSnapshot();
    ASSERT_TRUE(taken.ok());
    id = taken->id;
  }
  StatusOr<store::Snapshot> current = run.store_.Get(id);
  ASSERT_TRUE(current.ok());
  store::Snapshot v2 = *current;
  {
    Decoder in(current->dense_state, "state");
    uint32_t magic = 0, version = 0;
    std::string model_state, pipeline_state;
    ASSERT_TRUE(in.GetFixed32(&magic).ok());
    ASSERT_TRUE(in.GetFixed32(&version).ok());
    ASSERT_EQ(version, 3u);
    ASSERT_TRUE(in.GetString(&model_state).ok());
    ASSERT_TRUE(in.GetString(&pipeline_state).ok());
    v2.dense_state.clear();
    PutFixed32(&v2.dense_state, magic);
    PutFixed32(&v2.dense_state, 2);
    PutString(&v2.dense_state, model_state);
    PutString(&v2.dense_state, pipeline_state);
  }
  v2.id = id + 1;
  ASSERT_TRUE(run.store_.Put(v2).ok());
  run.Produce(40, 60);
  std::unique_ptr<Service> second = run.Start();
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitConsumed(*second, 60));
  ASSERT_TRUE(WaitChallenger(*second, "omoe", 20));
  ASSERT_TRUE(WaitChallenger(*second, "slow", 20));
  EXPECT_EQ(StartedAt(*second, "omoe"), 40);
}

// Model stores that refuse the next `refuse` Puts.
class RefusingModels final : public store::SnapshotStore {
 public:
  explicit RefusingModels(store::SnapshotStore* inner) : inner_(inner) {}
  Status Put(const store::Snapshot& s) override { return inner_->Put(s); }
  StatusOr<store::Snapshot> Get(uint64_t id) const override { return inner_->Get(id); }
  std::vector<store::SnapshotInfo> List() const override { return inner_->List(); }
  StatusOr<std::vector<uint64_t>> Ids() const override { return inner_->Ids(); }
  Status Retain(size_t keep) override { return inner_->Retain(keep); }
  Status Delete(uint64_t id) override { return inner_->Delete(id); }
  std::vector<std::string> ModelStoreNames() const override { return inner_->ModelStoreNames(); }
  StatusOr<store::SnapshotStore*> ModelStore(std::string_view name) override {
    if (refuse.load() > 0) {
      refuse.fetch_sub(1);
      return Status::IOError("injected: model store down");
    }
    return inner_->ModelStore(name);
  }
  std::atomic<int> refuse{0};

 private:
  store::SnapshotStore* const inner_;
};

// A challenger that cannot be written fails the whole snapshot (the
// champion's record is not written, so no snapshot without it exists), and
// the next one carries every row of every model.
TEST(ChallengersRestoreTest, AFailedChallengerWriteFailsTheSnapshotAndTheNextIsWhole) {
  const Config config = TestConfig(Sets(kTwo));
  fakes::FakeLog log;
  log.CreateTopic(config.service.topic, 1);
  for (int i = 0; i < 30; ++i) {
    log.Produce(config.service.topic, "r" + std::to_string(i), testing::Example(i));
  }
  store::InMemorySnapshotStore inner;
  auto refusing = std::make_unique<RefusingModels>(&inner);
  RefusingModels* models = refusing.get();
  ServiceSeams seams;
  seams.source = log.NewSource({config.service.topic}, config.service.group_id);
  seams.snapshots = std::move(refusing);
  StatusOr<std::unique_ptr<Service>> s = Service::Create(config, SystemClock(), std::move(seams));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE((*s)->Start().ok());
  ASSERT_TRUE(WaitConsumed(**s, 30));
  ASSERT_TRUE((*s)->TakeSnapshot().ok());  // full for everyone
  models->refuse = 1;
  log.Produce(config.service.topic, "r30", testing::Example(30));
  ASSERT_TRUE(WaitConsumed(**s, 31));
  StatusOr<store::SnapshotInfo> failed = (*s)->TakeSnapshot();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("injected"), std::string::npos)
      << failed.status().ToString();
  EXPECT_EQ(inner.Ids()->size(), 1u);  // no champion record for the failed one
  StatusOr<store::SnapshotInfo> next = (*s)->TakeSnapshot();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->base_id, 0u);
  for (const char* name : {"omoe", "slow"}) {
    StatusOr<store::SnapshotStore*> one = inner.ModelStore(name);
    ASSERT_TRUE(one.ok());
    const std::vector<store::SnapshotInfo> list = (*one)->List();
    ASSERT_FALSE(list.empty());
    EXPECT_EQ(list.front().id, next->id);
    EXPECT_EQ(list.front().base_id, 0u) << name;
  }
}

TEST(ChallengersRestoreTest, ThePromotedChampionStandsAfterARestart) {
  Services run(TestConfig(Sets(kTwo)));
  run.Produce(0, 20);
  {
    std::unique_ptr<Service> first = run.Start();
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(WaitConsumed(*first, 20));
    ASSERT_TRUE(first->Promote("omoe").ok());
    ASSERT_TRUE(first->TakeSnapshot().ok());
  }
  run.Produce(20, 25);
  std::unique_ptr<Service> second = run.Start();
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitChallenger(*second, "omoe", 25));
  EXPECT_EQ(second->Named("champion"), second->Named("omoe"));
  for (const ModelSource::Entry& e : second->Models()) EXPECT_EQ(e.champion, e.name == "omoe");
  second.reset();
  // A config without it: main serves.
  run.Produce(25, 30);
  std::unique_ptr<Service> third = run.Start(TestConfig(Sets("slow;optimizer.learning_rate=0.01")));
  ASSERT_NE(third, nullptr);
  ASSERT_TRUE(WaitConsumed(*third, 30));
  EXPECT_EQ(third->Named("champion"), third->Latest());
}

}  // namespace
}  // namespace ranker::app
