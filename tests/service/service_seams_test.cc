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

using testing::BorrowedStore;
using testing::Example;
using testing::TestConfig;
using testing::WaitConsumed;

class ServiceSeamsTest : public ::testing::Test, protected testing::FakeLogServices {
 protected:
  // Snapshots only when asked, none at shutdown: stopping is then as good
  // as a crash for what was learned after the last snapshot.
  ServiceSeamsTest()
      : FakeLogServices(TestConfig({"snapshot.interval_ms=100000000", "snapshot.on_stop=false"})) {}
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

// The value of an unlabelled series in a /metrics text, or -1 when absent.
double Scraped(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

// After a rollback the counters follow the model back: scraped right after
// it, they never exceed what the served model has counted (copied deltas
// stood still at the pre-rollback totals until the model caught up).
TEST_F(ServiceSeamsTest, CountersFollowARollbackAtOnce) {
  Produce(0, 50);
  std::unique_ptr<Service> service = Start();
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(WaitConsumed(*service, 50));
  StatusOr<store::SnapshotInfo> snapshot = service->TakeSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  Produce(50, 400);
  ASSERT_TRUE(WaitConsumed(*service, 400));
  EXPECT_EQ(Scraped(service->RenderMetrics(), "ranker_events_consumed_total"), 400);
  StatusOr<RestoredSnapshot> restored = service->RestoreSnapshot(snapshot->id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  const double after = Scraped(service->RenderMetrics(), "ranker_events_consumed_total");
  ASSERT_GE(after, 50);
  EXPECT_LE(after, static_cast<double>(service->Latest()->events_consumed))
      << "the counter stood at its pre-rollback total";
  ASSERT_TRUE(WaitConsumed(*service, 400));  // the rolled-back events are learned again
  const std::string text = service->RenderMetrics();
  EXPECT_EQ(Scraped(text, "ranker_events_consumed_total"), 400);
  EXPECT_EQ(Scraped(text, "ranker_examples_trained_total"),
            static_cast<double>(service->Latest()->examples_trained));
}

}  // namespace
}  // namespace ranker::app
