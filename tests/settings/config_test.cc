#include "settings/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ranker::app {
namespace {

TEST(Config, DefaultsAreTheStandardModelAndValid) {
  StatusOr<Config> c = LoadConfig({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->model.input_width(), 136);
  EXPECT_EQ(c->model.num_experts, 8);
  ASSERT_EQ(c->model.tasks.size(), 2u);
  EXPECT_EQ(c->model.tasks[0].name, "click");
  EXPECT_EQ(c->ingest.tasks, (std::vector<std::string>{"click", "watch"}));
}

TEST(Config, PrecedenceIsYamlThenEnvThenSet) {
  ConfigSources s;
  s.file = std::string(RANKER_SOURCE_DIR) + "/config/bench.yaml";
  ::setenv("RANKER_TRAIN_BATCH_SIZE", "7", 1);
  ::setenv("RANKER_OPTIMIZER_LEARNING_RATE", "0.2", 1);
  s.sets = {"optimizer.learning_rate=0.3", "model.architecture=omoe"};
  StatusOr<Config> c = LoadConfig(s);
  ::unsetenv("RANKER_TRAIN_BATCH_SIZE");
  ::unsetenv("RANKER_OPTIMIZER_LEARNING_RATE");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->train.batch_size, 7);
  EXPECT_DOUBLE_EQ(c->optimizer.learning_rate, 0.3);
  EXPECT_EQ(c->model.architecture, learner::Architecture::kOmoe);
}

TEST(Config, YamlTasksListAndKafkaPassThrough) {
  Config c;
  Status s = ApplyYaml(&c, R"(
tasks:
  - {name: income, kind: binary, weight: 2}
  - {name: spend, kind: regression, transform: none, loss_weight: 0.5}
kafka:
  security.protocol: SASL_SSL
  sasl.mechanism: PLAIN
model:
  expert_hidden: [32, 16]
)",
                       "test.yaml");
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(c.model.tasks.size(), 2u);
  EXPECT_EQ(c.model.tasks[0].name, "income");
  EXPECT_DOUBLE_EQ(c.model.tasks[0].score_weight, 2);
  EXPECT_EQ(c.model.tasks[1].kind, learner::TaskKind::kRegression);
  EXPECT_EQ(c.model.tasks[1].transform, learner::LabelTransform::kNone);
  EXPECT_DOUBLE_EQ(c.model.tasks[1].loss_weight, 0.5);
  EXPECT_EQ(c.kafka.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c.model.expert_hidden, (std::vector<int>{32, 16}));
}

TEST(Config, PleAndListwiseKeys) {
  Config c;
  Status s = ApplyYaml(&c, R"(
tasks:
  - {name: click, kind: binary, loss: listwise}
  - {name: watch, kind: regression}
model:
  architecture: ple
  ple_levels: 1
  shared_experts: 3
  task_experts: 2
train:
  gate_collapse_entropy: 0.25
)",
                       "test.yaml");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.model.architecture, learner::Architecture::kPle);
  EXPECT_EQ(c.model.ple_levels, 1);
  EXPECT_EQ(c.model.shared_experts, 3);
  EXPECT_EQ(c.model.task_experts, 2);
  EXPECT_DOUBLE_EQ(c.train.gate_collapse_entropy, 0.25);
  EXPECT_EQ(c.model.tasks[0].loss, learner::ListLoss::kListwise);
  EXPECT_EQ(c.model.tasks[1].loss, learner::ListLoss::kPointwise);
  s = SetConfigValue(&c, "tasks", "click:binary:1:1:log1p:pairwise");
  EXPECT_NE(s.message().find("listwise"), std::string::npos) << s.ToString();
  StatusOr<Config> bad = LoadConfig(
      {"", {"tasks=watch:regression:1:1:log1p:listwise", "model.position_tower=false"}, false});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tasks.watch.loss"), std::string::npos);
}

TEST(Config, ErrorsNameTheKey) {
  Config c;
  Status s = SetConfigValue(&c, "model.no_such_key", "1");
  EXPECT_NE(s.message().find("model.no_such_key"), std::string::npos) << s.ToString();
  s = SetConfigValue(&c, "train.batch_size", "many");
  EXPECT_NE(s.message().find("train.batch_size"), std::string::npos) << s.ToString();
  s = SetConfigValue(&c, "model.architecture", "transformer");
  EXPECT_NE(s.message().find("mmoe"), std::string::npos) << s.ToString();
  s = ApplyYaml(&c, "model:\n  embedding_dim: [1\n", "bad.yaml");
  EXPECT_NE(s.message().find("bad.yaml"), std::string::npos) << s.ToString();
  StatusOr<Config> invalid = LoadConfig({"", {"train.batch_size=0"}, false});
  EXPECT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find("batch_size"), std::string::npos);
}

// Every error of a file at once, each with its line, the path once per line.
TEST(Config, ReportsEveryErrorOnceWithItsLine) {
  const std::string path = ::testing::TempDir() + "/two_errors.yaml";
  {
    std::ofstream out(path);
    out << "model:\n  architecture: transformer\n  num_experts: -3\ntrain:\n  batch_size: many\n";
  }
  StatusOr<Config> c = LoadConfig({path, {}, false});
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  EXPECT_NE(m.find(path + ":2: model.architecture: "), std::string::npos) << m;
  EXPECT_NE(m.find(path + ":5: "), std::string::npos) << m;
  EXPECT_NE(m.find("train.batch_size"), std::string::npos) << m;
  EXPECT_NE(m.find(path + ":3: model.num_experts must be >= 1"), std::string::npos) << m;
  EXPECT_EQ(m.find(path + ":1: "), std::string::npos) << m;  // not the parent key's line
  size_t paths = 0;
  for (size_t at = m.find(path); at != std::string::npos; at = m.find(path, at + 1)) ++paths;
  EXPECT_EQ(paths, 3u) << m;
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 2) << m;  // one line per error
}

// Errors found by different modules' Validate() are all reported, each at
// its own line (a config that stopped at the first made users fix and rerun).
TEST(Config, ValidationErrorsOfSeveralModulesAllReported) {
  const std::string path = ::testing::TempDir() + "/module_errors.yaml";
  {
    std::ofstream out(path);
    out << "service:\n  publish_interval_ms: 0\ntrain:\n  batch_size: 0\n";
  }
  StatusOr<Config> c = LoadConfig({path, {}, false});
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  EXPECT_NE(m.find(path + ":2: service.publish_interval_ms"), std::string::npos) << m;
  EXPECT_NE(m.find(path + ":4: train.batch_size"), std::string::npos) << m;
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 1) << m;
  Config direct;
  direct.service.publish_interval_ms = 0;
  direct.train.batch_size = 0;
  EXPECT_EQ(direct.Errors().size(), 2u);
}

TEST(Config, JoinModeTaskWindowsAndIdleFlush) {
  Config c;
  Status s = ApplyYaml(&c, R"(
join:
  mode: immediate
  idle_flush_ms: 2000
tasks:
  - {name: click, kind: binary, window_ms: 5000}
  - {name: watch, kind: regression}
)",
                       "join.yaml");
  ASSERT_TRUE(s.ok()) << s.ToString();
  DeriveOptions(&c);
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_EQ(c.join.mode, learner::JoinMode::kImmediate);
  EXPECT_EQ(c.join.idle_flush_ms, 2000);
  EXPECT_EQ(c.join.task_window_ms, (std::map<std::string, int64_t>{{"click", 5000}}));
  EXPECT_EQ(c.join.WindowOf("watch"), c.join.window_ms);
  EXPECT_TRUE(c.model.tasks[0].fake_negative_weighting);
  EXPECT_FALSE(c.model.tasks[1].fake_negative_weighting);
  EXPECT_EQ(*GetConfigValue(c, "join.task_window_ms"), "click:5000");
  StatusOr<Config> window = LoadConfig({"", {"join.mode=window"}, false});
  ASSERT_TRUE(window.ok());
  EXPECT_FALSE(window->model.tasks[0].fake_negative_weighting);
  EXPECT_EQ(window->model.tasks[0].delayed_feedback, learner::DelayedFeedback::kNone);
  EXPECT_EQ(c.join.immediate_warmup_ms, 120000);
  // join.correction picks the method; fnw stays the default.
  EXPECT_EQ(c.join.correction, learner::DelayedFeedback::kFakeNegativeWeighting);
  EXPECT_EQ(c.model.tasks[0].delayed_feedback, learner::DelayedFeedback::kFakeNegativeWeighting);
  for (const auto& [name, method] : std::vector<std::pair<std::string, learner::DelayedFeedback>>{
           {"pu", learner::DelayedFeedback::kPositiveUnlabeled},
           {"defer", learner::DelayedFeedback::kDefer}}) {
    StatusOr<Config> m =
        LoadConfig({"", {"join.mode=immediate", "join.correction=" + name}, false});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->join.correction, method);
    EXPECT_EQ(m->model.tasks[0].delayed_feedback, method);
    EXPECT_EQ(learner::CorrectionOf(m->model.tasks[0]), method);
    EXPECT_FALSE(m->model.tasks[0].fake_negative_weighting);
    EXPECT_EQ(m->model.tasks[1].delayed_feedback, learner::DelayedFeedback::kNone);
    EXPECT_EQ(*GetConfigValue(*m, "join.correction"), name);
  }
}

TEST(Config, BadJoinConfigurationsFailNamingTheKey) {
  auto error = [](std::vector<std::string> sets) {
    StatusOr<Config> c = LoadConfig({"", std::move(sets), false});
    return c.ok() ? std::string() : c.status().ToString();
  };
  EXPECT_NE(error({"join.mode=soon"}).find("join.mode"), std::string::npos);
  EXPECT_NE(error({"join.mode=immediate", "join.correction=later"}).find("join.correction"),
            std::string::npos);
  EXPECT_NE(error({"join.immediate_warmup_ms=-1"}).find("join.immediate_warmup_ms"),
            std::string::npos);
  EXPECT_NE(error({"join.mode=immediate", "join.click_task=watch", "join.watch_task=click"})
                .find("join.mode"),
            std::string::npos);
  EXPECT_NE(error({"join.mode=immediate", "join.group_requests=true"}).find("join.mode"),
            std::string::npos);
  EXPECT_NE(error({"join.task_window_ms=clicks:10"}).find("tasks[clicks].window_ms"),
            std::string::npos);
  EXPECT_NE(error({"join.task_window_ms=click:-1"}).find("join.task_window_ms"), std::string::npos);
  EXPECT_NE(error({"join.idle_flush_ms=-1"}).find("join.idle_flush_ms"), std::string::npos);
  // A listwise task needs whole requests: immediate mode is refused, and the
  // window mode groups requests by itself.
  const std::string listwise = "tasks=click:binary:1:1:log1p:listwise,watch:regression:1:1:log1p";
  EXPECT_NE(error({"join.mode=immediate", listwise}).find("join.mode"), std::string::npos);
  StatusOr<Config> grouped = LoadConfig({"", {listwise}, false});
  ASSERT_TRUE(grouped.ok()) << grouped.status().ToString();
  EXPECT_TRUE(grouped->join.group_requests);
}

TEST(Config, EveryListedKeyRoundTripsItsDefault) {
  Config c;
  for (const ConfigKeyInfo& k : ListConfigKeys()) {
    Status s = SetConfigValue(&c, k.key, k.default_value);
    EXPECT_TRUE(s.ok()) << k.key << ": " << s.ToString();
    EXPECT_EQ(*GetConfigValue(c, k.key), k.default_value) << k.key;
  }
}

}  // namespace
}  // namespace ranker::app
