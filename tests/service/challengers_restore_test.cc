// Challengers across a rollback and a restart (they are not in snapshots):
// they start over from the offsets the champion was restored to, say so in
// started_offsets, and learn each event after that once.
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
using testing::WaitFor;

class ChallengersRestoreTest : public ::testing::Test, protected testing::FakeLogServices {
 protected:
  ChallengersRestoreTest()
      : FakeLogServices(
            TestConfig({"snapshot.interval_ms=100000000", "snapshot.on_stop=false",
                        "train.batch_size=1", "challengers=omoe;model.architecture=omoe"})) {}

  // Challenger "omoe"'s latest version has trained `n` examples.
  static bool WaitChallenger(const Service& s, int64_t n) {
    return WaitFor([&] {
      auto m = s.Named("omoe");
      return m != nullptr && m->examples_trained == n && s.challengers()->lag() == 0;
    });
  }

  static int64_t StartedAt(const Service& s) {
    const boost::json::object report = boost::json::parse(s.Named("omoe")->report_json).as_object();
    const boost::json::object& started = report.at("started_offsets").as_object();
    return started.empty() ? -1 : started.begin()->value().as_int64();
  }
};

TEST_F(ChallengersRestoreTest, ARollbackStartsChallengersOverFromTheSnapshotOffsets) {
  Produce(0, 50);
  std::unique_ptr<Service> s = Start();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(WaitConsumed(*s, 50));
  ASSERT_TRUE(WaitChallenger(*s, 50));
  EXPECT_EQ(StartedAt(*s), -1);  // from the beginning
  StatusOr<store::SnapshotInfo> snapshot = s->TakeSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  Produce(50, 80);
  ASSERT_TRUE(WaitChallenger(*s, 80));
  ASSERT_TRUE(s->RestoreSnapshot(snapshot->id).ok());
  // The champion re-reads events 50..79; the challenger starts over there
  // and learns each of them once.
  ASSERT_TRUE(WaitConsumed(*s, 80));
  ASSERT_TRUE(WaitChallenger(*s, 30)) << s->Named("omoe")->examples_trained;
  EXPECT_EQ(StartedAt(*s), 50);
}

TEST_F(ChallengersRestoreTest, ARestartStartsChallengersFreshWhereTheChampionResumes) {
  Produce(0, 40);
  {
    std::unique_ptr<Service> first = Start();
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(WaitConsumed(*first, 40));
    ASSERT_TRUE(first->TakeSnapshot().ok());
  }
  Produce(40, 60);
  std::unique_ptr<Service> second = Start();
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitConsumed(*second, 60));
  ASSERT_TRUE(WaitChallenger(*second, 20));
  EXPECT_EQ(StartedAt(*second), 40);
}

}  // namespace
}  // namespace ranker::app
