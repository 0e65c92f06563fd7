// POST /v1/rank on a service fed in process: ranking by what was learned,
// the per-task fields and the score formula of contract §2, k, weights,
// request ids, and the error answers.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/service/service_test_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

// `n` pre-joined examples: item "good" is always clicked and watched 30 s,
// item "bad" never.
std::string Examples(int n) {
  std::string body;
  for (int i = 0; i < n; ++i) {
    const bool good = i % 2 == 0;
    body += std::string(R"({"type":"example","user_id":"u)") + std::to_string(i % 7) +
            R"(","item_id":")" + (good ? "good" : "bad") + R"(","labels":{"click":)" +
            (good ? "1" : "0") + R"(,"watch":)" + (good ? "30" : "0") + "}}\n";
  }
  return body;
}

class RankHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = StartedService(TestConfig({"train.batch_size=1"}));
    ASSERT_NE(service_, nullptr);
    api::Response r = service_->Handle(Post("/v1/events", Examples(400), "application/x-ndjson"));
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(WaitConsumed(*service_, 400));
  }

  api::Response Rank(const std::string& body) { return service_->Handle(Post("/v1/rank", body)); }

  std::unique_ptr<Service> service_;
};

TEST_F(RankHandlerTest, RanksWhatWasLearnedBestFirstWithPerTaskFields) {
  api::Response r = Rank(R"({"user_id":"u1","context":{"device":"mobile"},"request_id":"abc",)"
                         R"("candidates":[{"item_id":"bad"},{"item_id":"good"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  boost::json::object o = Json(r);
  EXPECT_EQ(o["request_id"].as_string(), "abc");
  EXPECT_GE(o["model_version"].as_int64(), 2);  // version 1 is the untrained model
  const boost::json::array& items = o["items"].as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("item_id").as_string(), "good");
  EXPECT_EQ(items[0].at("position").as_int64(), 1);
  EXPECT_EQ(items[1].at("position").as_int64(), 2);
  for (const boost::json::value& v : items) {
    const boost::json::object& item = v.as_object();
    const double p = item.at("p_click").to_number<double>();
    const double watch = item.at("watch_seconds").to_number<double>();
    EXPECT_EQ(p, item.at("click").to_number<double>());
    EXPECT_EQ(watch, item.at("watch").to_number<double>());
    // Contract §2 with the default weights 1: p_click * (1 + watch_seconds).
    EXPECT_NEAR(item.at("score").to_number<double>(), p * (1 + watch), 1e-9 * (1 + p * watch));
  }
  EXPECT_GT(items[0].at("p_click").to_number<double>(), 0.8);
  EXPECT_LT(items[1].at("p_click").to_number<double>(), 0.2);
  EXPECT_GT(items[0].at("watch_seconds").to_number<double>(), 5.0);
}

// http.score_threads: the same request answered with its candidate blocks
// spread over pool helpers is the same body, bit for bit (300 candidates:
// 3 blocks).
TEST_F(RankHandlerTest, APoolOfScoreThreadsAnswersTheSameBody) {
  std::string body = R"({"user_id":"u1","request_id":"same","candidates":[)";
  for (int i = 0; i < 300; ++i) {
    body += std::string(i ? "," : "") + R"({"item_id":")" + (i % 3 ? "good" : "bad") +
            std::to_string(i % 5 ? 0 : i) + R"("})";
  }
  body += "]}";
  WorkerPool pool(2, "test-score");
  const auto new_id = [] { return std::string("unused"); };
  const api::Handler alone = RankHandler(service_.get(), api::RankRequestLimits{}, new_id);
  const api::Handler shared = RankHandler(service_.get(), api::RankRequestLimits{}, new_id, &pool);
  api::Response a, b;
  for (int attempt = 0; attempt < 5; ++attempt) {  // the same model version both times
    a = alone(Post("/v1/rank", body));
    b = shared(Post("/v1/rank", body));
    if (Json(a)["model_version"] == Json(b)["model_version"]) break;
  }
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(Json(a)["items"].as_array().size(), 300u);
  EXPECT_EQ(a.body, b.body);
}

TEST_F(RankHandlerTest, KeepsAtMostKAndEchoesIntegerIds) {
  api::Response r = Rank(
      R"({"request_id":42,"k":1,"candidates":[{"item_id":"bad"},{"item_id":"good"},{"item_id":7}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("request_id":42)"), std::string::npos) << r.body;
  boost::json::object o = Json(r);
  ASSERT_EQ(o["items"].as_array().size(), 1u);
  EXPECT_EQ(o["items"].as_array()[0].at("item_id").as_string(), "good");
}

TEST_F(RankHandlerTest, GeneratesDistinctRequestIds) {
  const std::string body = R"({"candidates":[{"item_id":"good"}]})";
  boost::json::object a = Json(Rank(body)), b = Json(Rank(body));
  ASSERT_TRUE(a["request_id"].is_string());
  EXPECT_FALSE(a["request_id"].as_string().empty());
  EXPECT_NE(a["request_id"].as_string(), b["request_id"].as_string());
}

TEST_F(RankHandlerTest, WeightsOverrideTheConfiguredExponents) {
  api::Response r = Rank(R"({"weights":{"watch":0,"click":2},"candidates":[{"item_id":"good"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  boost::json::object answer = Json(r);
  const boost::json::object& item = answer["items"].as_array()[0].as_object();
  const double p = item.at("p_click").to_number<double>();
  EXPECT_NEAR(item.at("score").to_number<double>(), p * p, 1e-12);

  r = Rank(R"({"weights":{"nope":1},"candidates":[{"item_id":"good"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("weights.nope"), std::string::npos) << r.body;
}

TEST_F(RankHandlerTest, RefusesBadRequestsNamingTheField) {
  api::Response r = Rank(R"({"candidates":[{"item":{}}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("candidates[0].item_id"), std::string::npos) << r.body;
  r = service_->Handle(Post("/v1/rank", R"({"candidates":[]})", "text/html"));
  EXPECT_EQ(r.status, 415);
  api::Request get = Get("/v1/rank");
  EXPECT_EQ(service_->Handle(get).status, 405);
}

TEST(RankHandlerNoModel, AnswersUnavailableBeforeTheFirstVersion) {
  StatusOr<std::unique_ptr<Service>> s = Service::Create(TestConfig());
  ASSERT_TRUE(s.ok());
  api::Response r = (*s)->Handle(Post("/v1/rank", R"({"candidates":[{"item_id":"a"}]})"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ((*s)->Handle(Get("/readyz")).status, 503);
  ASSERT_TRUE((*s)->Start().ok());
  EXPECT_EQ((*s)->Handle(Get("/readyz")).status, 200);
}

}  // namespace
}  // namespace ranker::app
