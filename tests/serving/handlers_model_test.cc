// GET /v1/model on the published version (expiry counts included), the
// probes, the snapshot routes without a snapshot dir and their admin rule,
// and the final publication of Stop().
#include <gtest/gtest.h>

#include <string>

#include "tests/service/service_test_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

TEST(ModelHandler, ServesThePublishedVersion) {
  std::unique_ptr<Service> s = StartedService(TestConfig({"train.batch_size=4"}));
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->Handle(Post("/v1/events", ExampleLines(40), "application/x-ndjson")).status, 200);
  ASSERT_TRUE(WaitConsumed(*s, 40));
  const std::shared_ptr<const PublishedModel> latest = s->Latest();
  api::Response r = s->Handle(Get("/v1/model"));
  ASSERT_EQ(r.status, 200);
  boost::json::object o = Json(r);
  // The body may come from a later version than `latest`, never an earlier one.
  EXPECT_GE(o["model_version"].as_int64(), static_cast<int64_t>(latest->version));
  EXPECT_EQ(o["events_consumed"].as_int64(), 40);
  EXPECT_EQ(o["examples_trained"].as_int64(), 40);
  EXPECT_EQ(o["param_checksum"].as_string(), latest->model->ParamChecksumHex());
  EXPECT_TRUE(o["offsets"].is_object());
  EXPECT_GT(o["published_at_ms"].as_int64(), 0);
  EXPECT_TRUE(o["progressive"].as_object().contains("click"));
}

// Expiry on an endless stream of fresh values: rows are removed, counted in
// /v1/model and /metrics.
TEST(ModelHandler, ReportsRowsEvictedByExpiry) {
  std::unique_ptr<Service> s =
      StartedService(TestConfig({"train.batch_size=1", "model.embedding_ttl_ms=100"}));
  ASSERT_NE(s, nullptr);
  std::string body;
  for (int i = 0; i < 200; ++i) {  // a new item every 10 ms of event time
    body += R"({"type":"example","item_id":"fresh)" + std::to_string(i) + R"(","ts_ms":)" +
            std::to_string(1000 + 10 * i) + R"(,"labels":{"click":1}})" + "\n";
  }
  ASSERT_EQ(s->Handle(Post("/v1/events", body, "application/x-ndjson")).status, 200);
  ASSERT_TRUE(WaitConsumed(*s, 200));
  boost::json::object o = Json(s->Handle(Get("/v1/model")));
  const boost::json::object& e = o["embedding"].as_object();
  EXPECT_GT(e.at("evicted_rows").to_number<uint64_t>(), 150u) << boost::json::serialize(e);
  EXPECT_LT(o["embedding_rows"].to_number<uint64_t>(), 50u);
  EXPECT_TRUE(WaitFor([&] {
    return s->Handle(Get("/metrics")).body.find("ranker_embedding_evicted_rows_total 0") ==
           std::string::npos;
  }));
}

// ple: gate health per task in /v1/model and /metrics; a collapse threshold
// of 1 flags every gate (no gate is exactly uniform), so the gauge reads 1.
TEST(ModelHandler, ReportsGateHealthOfPle) {
  std::unique_ptr<Service> s = StartedService(TestConfig(
      {"train.batch_size=4", "model.architecture=ple", "train.gate_collapse_entropy=1"}));
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->Handle(Post("/v1/events", ExampleLines(40), "application/x-ndjson")).status, 200);
  ASSERT_TRUE(WaitConsumed(*s, 40));
  boost::json::object o = Json(s->Handle(Get("/v1/model")));
  EXPECT_EQ(o["architecture"].as_string(), "ple");
  ASSERT_TRUE(o["gate_health"].as_object().contains("click")) << boost::json::serialize(o);
  const boost::json::object& h = o["gate_health"].at("click").as_object();
  const double entropy = h.at("entropy").as_double();
  EXPECT_GT(entropy, 0.5);  // 40 examples: still near uniform
  EXPECT_LE(entropy, 1.0);
  EXPECT_TRUE(h.at("collapsed").as_bool());
  EXPECT_EQ(h.at("utilisation").as_array().size(), 6u);  // 2 own + 4 shared experts
  EXPECT_EQ(o["gates"].at("click").as_array().size(), 6u);
  EXPECT_TRUE(WaitFor([&] {
    return s->Handle(Get("/metrics")).body.find(R"(ranker_gate_collapsed{task="click"} 1)") !=
           std::string::npos;
  }));
}

TEST(ModelHandler, StopPublishesAFinalVersionWithTheJoinerFlushed) {
  std::unique_ptr<Service> s = StartedService(TestConfig({"train.batch_size=1"}));
  ASSERT_NE(s, nullptr);
  const std::string impression =
      R"({"type":"impression","request_id":"r","item_id":"i","position":2,"ts_ms":5})";
  ASSERT_EQ(s->Handle(Post("/v1/events", impression, "application/x-ndjson")).status, 200);
  ASSERT_TRUE(WaitConsumed(*s, 1));
  EXPECT_EQ(s->Latest()->examples_trained, 0);  // pending in its join window
  const uint64_t before = s->Latest()->version;
  s->Stop();
  EXPECT_GT(s->Latest()->version, before);
  EXPECT_EQ(s->Latest()->examples_trained, 1);
  // After Stop nothing more is taken.
  EXPECT_EQ(s->Handle(Post("/v1/events", impression, "application/x-ndjson")).status, 503);
}

TEST(ServiceRoutes, ProbesAndSnapshotRoutesWithoutASnapshotDir) {
  std::unique_ptr<Service> s = StartedService(TestConfig({"http.admin_token=secret"}));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->Handle(Get("/healthz")).status, 200);
  EXPECT_EQ(s->Handle(Get("/readyz")).status, 200);
  EXPECT_EQ(s->Handle(Get("/v1/snapshots")).status, 200);
  EXPECT_EQ(s->Handle(Post("/v1/snapshots", "")).status, 401);  // admin: token required
  api::Request admin = Post("/v1/snapshots/3/restore", "");
  admin.authorization = "Bearer secret";
  api::Response r = s->Handle(admin);
  EXPECT_EQ(r.status, 409);  // snapshots are off: says how to turn them on
  EXPECT_NE(r.body.find("snapshot.dir"), std::string::npos) << r.body;
  EXPECT_EQ(s->Handle(Get("/")).status, 200);
  EXPECT_EQ(s->Handle(Get("/no/such/path")).status, 404);
}

}  // namespace
}  // namespace ranker::app
