// The model report (GET /v1/model, replay --json) names the bound and the
// pooled input features.
#include "service/model_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "settings/config.h"

namespace ranker::app {
namespace {

std::string Names(const boost::json::value& list) {
  std::string out;
  for (const boost::json::value& f : list.as_array()) {
    out +=
        std::string(f.at("name").as_string()) + "@" + std::to_string(f.at("slot").as_int64()) + " ";
  }
  return out;
}

TEST(ModelReportJson, ListsBoundAndPooledInputs) {
  ConfigSources sources;
  sources.use_environment = false;
  sources.sets = {"train.batch_size=1", "model.dense_slots=2", "model.categorical_slots=4",
                  "model.expert_hidden=8", "model.num_experts=2"};
  StatusOr<Config> config = LoadConfig(sources);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  StatusOr<std::unique_ptr<LearningPipeline>> p = LearningPipeline::Create(config->pipeline());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ::testing::internal::CaptureStderr();
  (*p)->Ingest(R"({"type":"example","item_id":"i","user":{"age":"30","city":"x"},)"
               R"("dense":{"a":1,"b":2,"c":3},"labels":{"click":1,"watch":2}})");
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warnings.find("dense feature 'c'"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("categorical feature 'user.city'"), std::string::npos) << warnings;

  const boost::json::object report = ModelReportJson(**p, /*with_checksum=*/false);
  const boost::json::value& inputs = report.at("inputs");
  EXPECT_EQ(inputs.at("dense_slots").as_int64(), 2);
  EXPECT_EQ(inputs.at("categorical_slots").as_int64(), 4);
  EXPECT_EQ(Names(inputs.at("dense").at("bound")), "a@0 b@1 ");
  ASSERT_EQ(inputs.at("dense").at("pooled").as_array().size(), 1u);
  EXPECT_EQ(inputs.at("dense").at("pooled").at(0).at("name").as_string(), "c");
  EXPECT_EQ(Names(inputs.at("categorical").at("bound")),
            "context.device@2 item_id@1 user.age@3 user_id@0 ");
  ASSERT_EQ(inputs.at("categorical").at("pooled").as_array().size(), 1u);
  EXPECT_EQ(inputs.at("categorical").at("pooled").at(0).at("name").as_string(), "user.city");
}

}  // namespace
}  // namespace ranker::app
