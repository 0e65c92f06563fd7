// The handlers on fakes of the interfaces serving declares (ModelSource,
// EventSink, SnapshotAdmin): no Service, no learner thread.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ingest/event_decoder.h"
#include "serving/handlers.h"

namespace ranker::app {
namespace {

class NoModel final : public ModelSource {
 public:
  std::shared_ptr<const PublishedModel> Latest() const override { return nullptr; }
};

// Decodes as the learner would and records what it is given.
class RecordingSink final : public EventSink {
 public:
  ingest::DecodeResult Decode(std::string_view payload) const override {
    return decoder_.Decode(payload);
  }
  Status Submit(std::vector<AcceptedEvent>* events) override {
    if (!submit_status.ok()) return submit_status;
    for (AcceptedEvent& e : *events) submitted.push_back(std::move(e.key));
    return Status::OK();
  }
  void RecordRejected(std::string_view, std::string_view payload,
                      const ingest::DecodeError&) override {
    rejected.emplace_back(payload);
  }

  Status submit_status;
  std::vector<std::string> submitted;  // keys
  std::vector<std::string> rejected;   // payloads

 private:
  const ingest::EventDecoder decoder_{ingest::DecoderOptions{}};
};

class FakeSnapshots final : public SnapshotAdmin {
 public:
  bool snapshots_enabled() const override { return true; }
  std::vector<store::SnapshotInfo> ListSnapshots() const override { return {info}; }
  std::optional<store::SnapshotInfo> LastSnapshot() const override { return info; }
  StatusOr<store::SnapshotInfo> TakeSnapshot() override { return info; }
  StatusOr<RestoredSnapshot> RestoreSnapshot(uint64_t id) override {
    restored_ids.push_back(id);
    if (id != info.id) return Status::NotFound("no snapshot " + std::to_string(id));
    return RestoredSnapshot{9, "abcd"};
  }

  const store::SnapshotInfo info = [] {
    store::SnapshotInfo i;
    i.id = 3;
    i.model_version = 7;
    return i;
  }();
  std::vector<uint64_t> restored_ids;
};

api::Request Post(const std::string& path, std::string body) {
  api::Request r;
  r.method = api::Method::kPost;
  r.SetTarget(path);
  r.content_type = "application/json";
  r.content_length = body.size();
  r.body = std::move(body);
  r.remote_is_loopback = true;
  return r;
}

boost::json::value Json(const api::Response& r) { return boost::json::parse(r.body); }

TEST(HandlersOnFakes, EventsGoToTheSinkAndRejectsAreRecordedByIndex) {
  RecordingSink sink;
  const api::Handler events = EventsHandler(&sink);
  const api::Response r = events(
      Post("/v1/events", R"([{"type":"click","request_id":"q1","item_id":"a"},{"type":"click"}])"));
  ASSERT_EQ(r.status, 200) << r.body;
  const boost::json::value body = Json(r);
  EXPECT_EQ(body.at("accepted").as_int64(), 1);
  EXPECT_EQ(body.at("rejected").as_int64(), 1);
  EXPECT_EQ(body.at("errors").at(0).at("index").as_int64(), 1);
  EXPECT_EQ(sink.submitted, std::vector<std::string>{"q1"});
  EXPECT_EQ(sink.rejected.size(), 1u);

  sink.submit_status = Status::ResourceExhausted("queue full");
  EXPECT_EQ(
      events(Post("/v1/events", R"({"type":"click","request_id":"q2","item_id":"a"})")).status,
      503);
}

TEST(HandlersOnFakes, AReplicaWithoutAnEventSinkRefusesEvents) {
  const api::Response r = EventsHandler(nullptr)(Post("/v1/events", "[]"));
  EXPECT_EQ(r.status, 409) << r.body;
}

TEST(HandlersOnFakes, SnapshotRoutesAnswerFromTheAdmin) {
  FakeSnapshots snapshots;
  const api::Response listed = SnapshotsHandler(&snapshots)(api::Request{});
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(Json(listed).at("snapshots").at(0).at("model_version").as_int64(), 7);
  EXPECT_EQ(TakeSnapshotHandler(&snapshots)(Post("/v1/snapshots", "")).status, 201);

  api::Request restore = Post("/v1/snapshots/3/restore", "");
  restore.path_params = {{"id", "3"}};
  const api::Response ok = RestoreSnapshotHandler(&snapshots)(restore);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Json(ok).at("model_version").as_int64(), 9);
  restore.path_params = {{"id", "4"}};
  EXPECT_EQ(RestoreSnapshotHandler(&snapshots)(restore).status, 404);
  restore.path_params = {{"id", "x"}};
  EXPECT_EQ(RestoreSnapshotHandler(&snapshots)(restore).status, 400);
  EXPECT_EQ(snapshots.restored_ids, (std::vector<uint64_t>{3, 4}));
}

TEST(HandlersOnFakes, NoPublishedModelIsUnavailable) {
  NoModel models;
  FakeSnapshots snapshots;
  EXPECT_EQ(ModelHandler(&models, &snapshots)(api::Request{}).status, 503);
  api::Request rank = Post("/v1/rank", R"({"candidates":[{"item_id":"a"}]})");
  EXPECT_EQ(
      RankHandler(&models, api::RankRequestLimits{}, [] { return std::string("id"); })(rank).status,
      503);
}

}  // namespace
}  // namespace ranker::app
