// Challengers train on the champion's examples on their own thread: the
// champion is unchanged by them, a challenger with the champion's options
// ends bit-identical to it, and runs are deterministic.
#include "service/challengers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "settings/config.h"
#include "sim/event_json.h"
#include "sim/simulator.h"

namespace ranker::app {
namespace {

std::vector<std::string> Events(int64_t n) {
  sim::SimOptions o;
  o.seed = 5;
  o.users = 100;
  o.items = 60;
  o.creators = 10;
  o.candidates = 20;
  sim::Simulator simulator(o);
  std::vector<std::string> out;
  std::vector<sim::SimEvent> batch;
  while (static_cast<int64_t>(out.size()) < n) {
    batch.clear();
    simulator.NextRequest(&batch);
    for (const sim::SimEvent& e : batch) out.push_back(sim::EncodeEventJson(e));
  }
  return out;
}

Config Load(std::vector<std::string> sets) {
  sets.push_back("train.batch_size=32");
  sets.push_back("model.expert_hidden=32,16");
  StatusOr<Config> c = LoadConfig({"", sets, false});
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : Config{};
}

struct Outcome {
  std::string champion;
  std::vector<std::string> challengers;  // param_checksum per challenger
  std::vector<int64_t> trained;
  uint64_t lag = 0;
};

// Replays `events` like `ranker replay`; `queue_batches` small to exercise
// backpressure.
Outcome Replay(const Config& config, const std::vector<std::string>& events, bool threaded = true) {
  auto pipeline = LearningPipeline::Create(config.pipeline());
  EXPECT_TRUE(pipeline.ok());
  ChallengerSetOptions options;
  options.queue_batches = 2;
  options.batch_examples = 7;
  auto set = ChallengerSet::Create(config.challengers, options);
  EXPECT_TRUE(set.ok());
  (*pipeline)->set_tap(set->get());
  if (threaded) (*set)->Start();
  for (const std::string& e : events) (*pipeline)->Ingest(e);
  (*pipeline)->Finish();
  (*set)->Sync();
  Outcome run;
  run.champion = (*pipeline)->trainer().model().ParamChecksumHex();
  for (size_t i = 0; i < (*set)->size(); ++i) {
    (*set)->Read(i, [&](const learner::Trainer& t) {
      run.challengers.push_back(t.model().ParamChecksumHex());
      run.trained.push_back(t.stats().examples_trained);
    });
  }
  run.lag = (*set)->lag();
  EXPECT_EQ((*set)->offered(), (*set)->trained());
  return run;
}

const char kThree[] =
    "challengers=same|omoe;model.architecture=omoe;model.num_experts=3|"
    "fast;optimizer.learning_rate=0.2;train.batch_size=17";

TEST(Challengers, TheChampionIsUnchangedByChallengers) {
  const std::vector<std::string> events = Events(8000);
  const Outcome alone = Replay(Load({}), events);
  const Outcome with = Replay(Load({kThree}), events);
  EXPECT_EQ(with.champion, alone.champion);
  ASSERT_EQ(with.challengers.size(), 3u);
}

TEST(Challengers, SeeTheChampionsExamplesInOrder) {
  const std::vector<std::string> events = Events(8000);
  const Outcome with = Replay(Load({kThree}), events);
  // "same" has the champion's options: it must end bit-identical.
  EXPECT_EQ(with.challengers[0], with.champion);
  EXPECT_NE(with.challengers[1], with.champion);
  EXPECT_NE(with.challengers[2], with.champion);
  // Every challenger trained every example (other batch sizes, same count).
  EXPECT_GT(with.trained[0], 1000);
  EXPECT_EQ(with.trained[1], with.trained[0]);
  EXPECT_EQ(with.trained[2], with.trained[0]);
  EXPECT_EQ(with.lag, 0u);
}

TEST(Challengers, AreDeterministicAcrossRunsAndThreading) {
  const std::vector<std::string> events = Events(6000);
  const Outcome a = Replay(Load({kThree}), events);
  const Outcome b = Replay(Load({kThree}), events);
  const Outcome inline_run = Replay(Load({kThree}), events, /*threaded=*/false);
  EXPECT_EQ(a.challengers, b.challengers);
  EXPECT_EQ(a.challengers, inline_run.challengers);
}

// A challenger alone equals a replay that has its options as the champion's.
TEST(Challengers, EqualAChampionReplayWithTheirOptions) {
  const std::vector<std::string> events = Events(6000);
  const Outcome with = Replay(Load({kThree}), events);
  const Outcome omoe_alone =
      Replay(Load({"model.architecture=omoe", "model.num_experts=3"}), events);
  EXPECT_EQ(with.challengers[1], omoe_alone.champion);
}

}  // namespace
}  // namespace ranker::app
