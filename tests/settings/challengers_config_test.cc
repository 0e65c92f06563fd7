// `challengers:` in the configuration: the YAML list, the --set text form,
// overrides applied on top of the champion's options, and errors that name
// the challenger's key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "settings/config.h"

namespace ranker::app {
namespace {

// Loads `yaml` (written to a temp file of the running test's own: ctest runs
// this file's tests in parallel) with `sets` on top.
StatusOr<Config> LoadYaml(const std::string& yaml, std::vector<std::string> sets = {}) {
  const std::string path = ::testing::TempDir() + "/challengers_test." +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "." +
                           std::to_string(getpid()) + ".yaml";
  std::ofstream(path) << yaml;
  return LoadConfig({path, std::move(sets), /*use_environment=*/false});
}

TEST(ChallengersConfig, YamlOverridesApplyOnTopOfTheChampion) {
  StatusOr<Config> c = LoadYaml(R"(
optimizer: {learning_rate: 0.02}
model: {num_experts: 6}
challengers:
  - name: omoe4
    model: {architecture: omoe, experts: 4, learning_rate: 0.1}
  - name: ple
    model: {architecture: ple, ple_levels: 1, expert_hidden: [32, 16]}
    train: {batch_size: 64}
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->challengers.size(), 2u);
  const PipelineOptions& omoe = c->challengers[0].pipeline;
  EXPECT_EQ(c->challengers[0].name, "omoe4");
  EXPECT_EQ(omoe.model.architecture, learner::Architecture::kOmoe);
  EXPECT_EQ(omoe.model.num_experts, 4);
  EXPECT_DOUBLE_EQ(omoe.optimizer.learning_rate, 0.1);
  const PipelineOptions& ple = c->challengers[1].pipeline;
  EXPECT_EQ(ple.model.architecture, learner::Architecture::kPle);
  EXPECT_EQ(ple.model.ple_levels, 1);
  EXPECT_EQ(ple.model.expert_hidden, (std::vector<int>{32, 16}));
  EXPECT_EQ(ple.train.batch_size, 64);
  // What it does not override is the champion's.
  EXPECT_EQ(ple.model.num_experts, 6);
  EXPECT_DOUBLE_EQ(ple.optimizer.learning_rate, 0.02);
  // The champion is untouched.
  EXPECT_EQ(c->model.architecture, learner::Architecture::kMmoe);
  EXPECT_DOUBLE_EQ(c->optimizer.learning_rate, 0.02);
}

TEST(ChallengersConfig, SetTextFormRoundTrips) {
  StatusOr<Config> c = LoadConfig(
      {"", {"challengers=a;model.architecture=omoe|b;optimizer.learning_rate=0.3"}, false});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->challengers.size(), 2u);
  EXPECT_EQ(c->challengers[1].name, "b");
  EXPECT_DOUBLE_EQ(c->challengers[1].pipeline.optimizer.learning_rate, 0.3);
  StatusOr<std::string> text = GetConfigValue(*c, "challengers");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "a;model.architecture=omoe|b;optimizer.learning_rate=0.3");
}

// Each bad challenger stops startup with an error naming its key.
TEST(ChallengersConfig, BadOverridesNameTheChallengersKey) {
  struct Case {
    std::string yaml;
    std::string names;
  };
  const Case cases[] = {
      {"challengers:\n  - {name: a, model: {}}\n  - {name: b, model: {experts: 0}}\n",
       "challengers[1].model.num_experts"},
      {"challengers:\n  - {name: a, model: {experts: many}}\n", "challengers[0].model.num_experts"},
      {"challengers:\n  - {name: a, model: {architecture: transformer}}\n",
       "challengers[0].model.architecture"},
      {"challengers:\n  - {name: a, model: {no_such_key: 1}}\n",
       "challengers[0].model.no_such_key"},
      {"challengers:\n  - {name: a, model: {join.window_ms: 5}}\n",
       "challengers[0].join.window_ms"},
      {"challengers:\n  - {name: a, model: {learning_rate: -1}}\n",
       "challengers[0].optimizer.learning_rate"},
      {"challengers:\n  - {name: a}\n  - {name: a}\n", "challengers[1].name: duplicate"},
      {"challengers:\n  - {name: champion}\n", "challengers[0].name"},
      {"challengers:\n  - {name: main}\n", "challengers[0].name"},
      {"challengers:\n  - {model: {experts: 2}}\n", "challengers[0]: each challenger needs a name"},
      {"challengers:\n  - {name: a, tasks: [{name: click, kind: binary}]}\n",
       "challengers[0].tasks"},
      {"challengers:\n  - {name: a, colour: blue}\n", "unknown field 'colour'"},
  };
  for (const Case& c : cases) {
    StatusOr<Config> config = LoadYaml(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(config.status().message().find(c.names), std::string::npos)
        << c.yaml << " -> " << config.status().message();
  }
}

TEST(ChallengersConfig, AListwiseChallengerNeedsTheSharedJoinerToGroupRequests) {
  const std::string yaml = R"(
challengers:
  - name: lw
    tasks:
      - {name: click, kind: binary, loss: listwise}
      - {name: watch, kind: regression}
)";
  StatusOr<Config> c = LoadYaml(yaml);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("challengers[0].join.group_requests"), std::string::npos)
      << c.status().message();
  c = LoadYaml(yaml, {"join.group_requests=true"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->challengers[0].pipeline.model.tasks[0].loss, learner::ListLoss::kListwise);
  EXPECT_EQ(c->model.tasks[0].loss, learner::ListLoss::kPointwise);
}

}  // namespace
}  // namespace ranker::app
