// GET /v1/model's body: the published report plus param_checksum and the
// last snapshot, built once per version and last snapshot (not per request).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>

#include "learner/model.h"
#include "serving/handlers_snapshots.h"
#include "serving/published_model.h"
#include "serving/snapshot_admin.h"

namespace ranker::app {
namespace {

class FakeSnapshots final : public SnapshotAdmin {
 public:
  bool snapshots_enabled() const override { return true; }
  std::vector<store::SnapshotInfo> ListSnapshots() const override { return {}; }
  std::optional<store::SnapshotInfo> LastSnapshot() const override { return last; }
  StatusOr<store::SnapshotInfo> TakeSnapshot() override { return Status::Unavailable("fake"); }
  StatusOr<RestoredSnapshot> RestoreSnapshot(uint64_t) override {
    return Status::Unavailable("fake");
  }
  std::optional<store::SnapshotInfo> last;
};

TEST(ModelBody, IsBuiltOncePerLastSnapshotAndFollowsItsChanges) {
  PublishedModel p;
  StatusOr<std::unique_ptr<learner::Model>> model =
      learner::Model::Create(learner::ModelOptions{}, learner::OptimizerOptions{});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  p.model = std::move(model).value();
  p.report_json = R"({"model_version":3,"last_snapshot":null})";
  FakeSnapshots snapshots;

  const std::string first = ModelBody(p, snapshots);
  boost::json::object o = boost::json::parse(first).as_object();
  EXPECT_EQ(o["model_version"].as_int64(), 3);
  EXPECT_EQ(o["param_checksum"].as_string(), p.model->ParamChecksumHex());
  EXPECT_TRUE(o["last_snapshot"].is_null());
  EXPECT_EQ(ModelBody(p, snapshots), first);

  store::SnapshotInfo info;
  info.id = 7;
  info.created_ms = 1234;
  snapshots.last = info;
  o = boost::json::parse(ModelBody(p, snapshots)).as_object();
  ASSERT_TRUE(o["last_snapshot"].is_object());
  EXPECT_EQ(o["last_snapshot"].as_object()["id"].to_number<uint64_t>(), 7u);

  info.id = 8;  // a newer snapshot: the cached body is stale
  snapshots.last = info;
  o = boost::json::parse(ModelBody(p, snapshots)).as_object();
  ASSERT_TRUE(o["last_snapshot"].is_object());
  EXPECT_EQ(o["last_snapshot"].as_object()["id"].to_number<uint64_t>(), 8u);
}

}  // namespace
}  // namespace ranker::app
