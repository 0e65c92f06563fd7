// POST /v1/events without a broker: NDJSON and JSON arrays, per-index
// errors, rejected events counted by reason (and in /metrics), accepted ones
// learned by the learner thread, and the full-queue answer.
#include <gtest/gtest.h>

#include <string>

#include "tests/service/service_test_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

const char kImpression[] =
    R"({"type":"impression","request_id":"r1","item_id":"i1","position":1,"ts_ms":1000})";
const char kClick[] = R"({"type":"click","request_id":"r1","item_id":"i1","ts_ms":1500})";

TEST(EventsHandler, AcceptsNdjsonAndListsRejectsByIndex) {
  std::unique_ptr<Service> s = StartedService(TestConfig());
  ASSERT_NE(s, nullptr);
  const std::string body =
      std::string(kImpression) + "\n\n" + R"({"type":"click"})" + "\r\n" + kClick + "\nnot json\n";
  api::Response r = s->Handle(Post("/v1/events", body, "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  boost::json::object o = Json(r);
  EXPECT_EQ(o["accepted"].as_int64(), 2);
  EXPECT_EQ(o["rejected"].as_int64(), 2);
  const boost::json::array& errors = o["errors"].as_array();
  ASSERT_EQ(errors.size(), 2u);
  // The blank line takes no index.
  EXPECT_EQ(errors[0].at("index").as_int64(), 1);
  EXPECT_NE(errors[0].at("error").as_string().find("missing_field"), std::string::npos);
  EXPECT_EQ(errors[1].at("index").as_int64(), 3);
  EXPECT_NE(errors[1].at("error").as_string().find("invalid_json"), std::string::npos);
  EXPECT_EQ(s->http_rejects().Get(ingest::RejectReason::kMissingField), 1u);
  EXPECT_EQ(s->http_rejects().Get(ingest::RejectReason::kInvalidJson), 1u);

  ASSERT_TRUE(WaitConsumed(*s, 2));
  EXPECT_EQ(s->Latest()->join.impressions, 1);
  EXPECT_EQ(s->Latest()->join.joined_clicks, 1);
  // The metric families are refreshed at publication, just after the model
  // version is swapped in: poll until they show the same state.
  std::string metrics;
  EXPECT_TRUE(WaitFor([&] {
    metrics = s->Handle(Get("/metrics")).body;
    return metrics.find("ranker_events_consumed_total 2") != std::string::npos &&
           metrics.find(R"(ranker_events_rejected_total{reason="invalid_json"} 1)") !=
               std::string::npos;
  })) << metrics;
}

// A body whose every event is rejected reaches no learner and triggers no
// publication; /metrics must count it all the same.
TEST(EventsHandler, RejectsShowInMetricsAtOnceEvenWhenNothingIsLearned) {
  std::unique_ptr<Service> s = StartedService(TestConfig());
  ASSERT_NE(s, nullptr);
  api::Response r =
      s->Handle(Post("/v1/events", "not json\n{\"type\":\"click\"}\n", "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r)["rejected"].as_int64(), 2);
  const std::string metrics = s->Handle(Get("/metrics")).body;
  EXPECT_NE(metrics.find(R"(ranker_events_rejected_total{reason="invalid_json"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(ranker_events_rejected_total{reason="missing_field"} 1)"),
            std::string::npos);
}

TEST(EventsHandler, AcceptsAJsonArrayByItsFirstCharacter) {
  std::unique_ptr<Service> s = StartedService(TestConfig());
  ASSERT_NE(s, nullptr);
  const std::string body = std::string("  [") + kImpression + ", 3, " + kClick + "]";
  api::Response r = s->Handle(Post("/v1/events", body));
  ASSERT_EQ(r.status, 200) << r.body;
  boost::json::object o = Json(r);
  EXPECT_EQ(o["accepted"].as_int64(), 2);
  EXPECT_EQ(o["errors"].as_array()[0].at("index").as_int64(), 1);
  EXPECT_NE(o["errors"].as_array()[0].at("error").as_string().find("not_an_object"),
            std::string::npos);
  ASSERT_TRUE(WaitConsumed(*s, 2));

  r = s->Handle(Post("/v1/events", "[1,", "application/json"));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("body"), std::string::npos);
  r = s->Handle(Post("/v1/events", kImpression, "text/html"));
  EXPECT_EQ(r.status, 415);
}

TEST(EventsHandler, AnswersUnavailableWhenTheLearnersQueueIsFull) {
  // Not started: nothing drains the queue of 2 events.
  StatusOr<std::unique_ptr<Service>> s =
      Service::Create(TestConfig({"service.local_queue_max_events=2"}));
  ASSERT_TRUE(s.ok());
  const std::string two = std::string(kImpression) + "\n" + kClick + "\n";
  EXPECT_EQ((*s)->Handle(Post("/v1/events", two, "application/x-ndjson")).status, 200);
  api::Response r = (*s)->Handle(Post("/v1/events", kClick, "application/x-ndjson"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.Header("Retry-After"), nullptr);
}

}  // namespace
}  // namespace ranker::app
