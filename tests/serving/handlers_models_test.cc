// Champion and challengers over HTTP: GET /v1/models, POST /v1/rank with
// "model", and POST /v1/models/{name}/promote, on an in-process service.
#include <gtest/gtest.h>

#include <string>

#include "tests/service/service_test_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

const char kRank[] = R"({"user_id":"u1","candidates":[{"item_id":"i1"},{"item_id":"i2"}])";

std::string RankBody(const std::string& model) {
  std::string body = kRank;
  if (!model.empty()) body += R"(,"model":")" + model + "\"";
  return body + "}";
}

Config TwoChallengers() {
  return TestConfig(
      {"train.batch_size=4", "challengers=same|omoe;model.architecture=omoe;model.num_experts=2"});
}

// Waits until every model of the set has trained `n` examples.
bool WaitAllTrained(const Service& s, int64_t n) {
  return WaitFor([&] {
    for (const ModelSource::Entry& e : s.Models()) {
      if (e.model == nullptr || e.model->examples_trained < n) return false;
    }
    return true;
  });
}

TEST(ModelsHandler, ListsEveryModelWithItsMetricsChampionFlagged) {
  std::unique_ptr<Service> s = StartedService(TwoChallengers());
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->Handle(Post("/v1/events", ExampleLines(40), "application/x-ndjson")).status, 200);
  ASSERT_TRUE(WaitAllTrained(*s, 40));
  boost::json::object o = Json(s->Handle(Get("/v1/models")));
  EXPECT_EQ(o["champion"].as_string(), "main");
  const boost::json::array& models = o["models"].as_array();
  ASSERT_EQ(models.size(), 3u);
  std::map<std::string, boost::json::object> by_name;
  for (const boost::json::value& m : models) {
    by_name[std::string(m.at("name").as_string())] = m.as_object();
  }
  EXPECT_TRUE(by_name["main"]["champion"].as_bool());
  EXPECT_FALSE(by_name["omoe"]["champion"].as_bool());
  EXPECT_EQ(by_name["omoe"]["architecture"].as_string(), "omoe");
  EXPECT_EQ(by_name["omoe"]["examples_trained"].as_int64(), 40);
  EXPECT_TRUE(by_name["omoe"]["progressive"].as_object().contains("click"));
  EXPECT_TRUE(by_name["omoe"]["started_offsets"].is_object());
  // "same" has main's options and saw the same examples: the same parameters.
  EXPECT_EQ(by_name["same"]["param_checksum"], by_name["main"]["param_checksum"]);
  EXPECT_NE(by_name["omoe"]["param_checksum"], by_name["main"]["param_checksum"]);
  // /metrics: per-challenger series with a model label.
  const std::string metrics = s->Handle(Get("/metrics")).body;
  EXPECT_NE(metrics.find(R"(ranker_challenger_examples_trained{model="omoe"} 40)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(ranker_challenger_progressive_metric{metric="auc",model="same")"),
            std::string::npos);
  // The lag falls to 0 once the challenger thread counts the batch, which it
  // does just after it publishes the versions waited for above.
  EXPECT_TRUE(WaitFor([&] {
    return s->Handle(Get("/metrics")).body.find("ranker_challenger_lag_examples 0") !=
           std::string::npos;
  }));
}

TEST(ModelsHandler, RankWithAChallengerAndA404ForAnUnknownModel) {
  std::unique_ptr<Service> s = StartedService(TwoChallengers());
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->Handle(Post("/v1/events", ExampleLines(40), "application/x-ndjson")).status, 200);
  ASSERT_TRUE(WaitAllTrained(*s, 40));
  const boost::json::object main = Json(s->Handle(Post("/v1/rank", RankBody(""))));
  const boost::json::object same = Json(s->Handle(Post("/v1/rank", RankBody("same"))));
  const boost::json::object omoe = Json(s->Handle(Post("/v1/rank", RankBody("omoe"))));
  ASSERT_TRUE(main.contains("items") && omoe.contains("items"));
  EXPECT_EQ(main.at("items"), same.at("items"));  // identical parameters, identical scores
  EXPECT_NE(main.at("items"), omoe.at("items"));
  api::Response r = s->Handle(Post("/v1/rank", RankBody("nope")));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json(r)["error"].as_object()["code"].as_string(), "unknown_model");
  r = s->Handle(Post("/v1/rank", std::string(kRank) + R"(,"model":7})"));
  EXPECT_EQ(r.status, 400);
}

TEST(ModelsHandler, PromoteMakesAChallengerTheDefault) {
  std::unique_ptr<Service> s = StartedService(TwoChallengers());
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->Handle(Post("/v1/events", ExampleLines(40), "application/x-ndjson")).status, 200);
  ASSERT_TRUE(WaitAllTrained(*s, 40));
  EXPECT_EQ(s->Handle(Post("/v1/models/nope/promote", "")).status, 404);
  ASSERT_EQ(s->Handle(Post("/v1/models/omoe/promote", "")).status, 200);
  EXPECT_EQ(Json(s->Handle(Get("/v1/models")))["champion"].as_string(), "omoe");
  const boost::json::object by_default = Json(s->Handle(Post("/v1/rank", RankBody(""))));
  const boost::json::object omoe = Json(s->Handle(Post("/v1/rank", RankBody("omoe"))));
  EXPECT_EQ(by_default.at("items"), omoe.at("items"));
  ASSERT_EQ(s->Handle(Post("/v1/models/main/promote", "")).status, 200);
  EXPECT_EQ(Json(s->Handle(Get("/v1/models")))["champion"].as_string(), "main");
}

TEST(ModelsHandler, WithoutChallengersOnlyMainIsListedAndPromoteIs404) {
  std::unique_ptr<Service> s = StartedService(TestConfig());
  ASSERT_NE(s, nullptr);
  boost::json::object o = Json(s->Handle(Get("/v1/models")));
  ASSERT_EQ(o["models"].as_array().size(), 1u);
  EXPECT_EQ(s->Handle(Post("/v1/models/main/promote", "")).status, 404);
  EXPECT_EQ(s->Handle(Post("/v1/rank", RankBody("champion"))).status, 200);
}

}  // namespace
}  // namespace ranker::app
