// Service over its seams: FakeEventSource for Kafka and an in-memory store
// for RocksDB, so a restart from a snapshot runs without a broker or a disk.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "service/service.h"
#include "store/in_memory_snapshot_store.h"
#include "tests/fakes/fake_event_source.h"
#include "tests/service/service_test_util.h"

namespace ranker::app {
namespace {

using testing::TestConfig;
using testing::WaitConsumed;

// A SnapshotStore that forwards to one it borrows: the store outlives the
// services that use it, as a directory outlives a process.
class BorrowedStore final : public store::SnapshotStore {
 public:
  explicit BorrowedStore(store::SnapshotStore* inner) : inner_(inner) {}
  Status Put(const store::Snapshot& s) override { return inner_->Put(s); }
  StatusOr<store::Snapshot> Get(uint64_t id) const override { return inner_->Get(id); }
  std::vector<store::SnapshotInfo> List() const override { return inner_->List(); }
  StatusOr<std::vector<uint64_t>> Ids() const override { return inner_->Ids(); }
  Status Retain(size_t keep_newest) override { return inner_->Retain(keep_newest); }
  Status Delete(uint64_t id) override { return inner_->Delete(id); }

 private:
  store::SnapshotStore* const inner_;
};

std::string Example(int i) {
  return R"({"type":"example","request_id":"r)" + std::to_string(i) + R"(","item_id":"i)" +
         std::to_string(i % 7) + R"(","labels":{"click":)" + std::to_string(i % 2) +
         R"(,"watch":)" + std::to_string(i % 4) + "}}";
}

class ServiceSeamsTest : public ::testing::Test {
 protected:
  void SetUp() override { log_.CreateTopic(config_.service.topic, 1); }

  void Produce(int from, int to) {
    for (int i = from; i < to; ++i) {
      log_.Produce(config_.service.topic, "r" + std::to_string(i), Example(i));
    }
  }

  // A started service reading the fake topic, snapshotting into store_.
  std::unique_ptr<Service> Start() {
    ServiceSeams seams;
    seams.source = log_.NewSource({config_.service.topic}, config_.service.group_id);
    seams.snapshots = std::make_unique<BorrowedStore>(&store_);
    StatusOr<std::unique_ptr<Service>> s =
        Service::Create(config_, SystemClock(), std::move(seams));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE((*s)->Start().ok());
    return std::move(s).value();
  }

  // Snapshots only when asked, none at shutdown: stopping is then as good
  // as a crash for what was learned after the last snapshot.
  const Config config_ = TestConfig({"snapshot.interval_ms=100000000", "snapshot.on_stop=false"});
  fakes::FakeLog log_;
  store::InMemorySnapshotStore store_;
};

TEST_F(ServiceSeamsTest, ARestartResumesFromTheSnapshotAndEndsAsIfNothingHappened) {
  Produce(0, 50);
  std::string never_crashed;
  {
    std::unique_ptr<Service> first = Start();
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(WaitConsumed(*first, 50));
    StatusOr<store::SnapshotInfo> snapshot = first->TakeSnapshot();
    ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    EXPECT_EQ(first->ListSnapshots().size(), 1u);
    Produce(50, 80);
    ASSERT_TRUE(WaitConsumed(*first, 80));
    EXPECT_EQ(first->Latest()->events_consumed, 80);
    never_crashed = first->Latest()->ParamChecksum();
  }  // stopped: the 30 events after the snapshot are lost with it
  std::unique_ptr<Service> second = Start();
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitConsumed(*second, 80));
  const std::shared_ptr<const PublishedModel> latest = second->Latest();
  EXPECT_EQ(latest->events_consumed, 80) << "an event was learned twice";
  EXPECT_EQ(latest->ParamChecksum(), never_crashed);
  EXPECT_TRUE(second->has_broker());
  EXPECT_TRUE(second->snapshots_enabled());
}

}  // namespace
}  // namespace ranker::app
