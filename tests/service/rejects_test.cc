// Bad input never reaches the model: every reject reason of contract §1,
// interleaved with a clean stream, is counted under its own name, and the
// model ends bit-identical to a run that never saw the bad events.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "service/pipeline.h"
#include "settings/config.h"
#include "sim/event_json.h"
#include "sim/simulator.h"

namespace ranker::app {
namespace {

struct BadEvent {
  std::string payload;
  std::string reason;
};

std::vector<BadEvent> OneOfEachReason() {
  const std::string imp = R"({"type":"impression","request_id":"r","item_id":"i",)";
  return {
      {"{not json", "invalid_json"},
      {"", "invalid_json"},
      {"\xff\xfe{}", "invalid_json"},
      {"[1,2,3]", "not_an_object"},
      {R"({"type":"purchase","request_id":"r","item_id":"i"})", "unknown_type"},
      {R"({"type":"impression","request_id":"r","position":1})", "missing_field"},
      {imp + R"("position":"top"})", "wrong_type"},
      {imp + R"("position":1,"dense":{"x":1e999}})", "non_finite"},
      {imp + R"("position":-3})", "bad_position"},
      {imp + R"("position":0})", "bad_position"},
      {R"({"type":"watch","request_id":"r","item_id":"i","watch_seconds":-1})", "negative_watch"},
      {imp + R"("position":1,"user":{"x":")" + std::string(70000, 'a') + "\"}}", "oversize"},
      {R"({"type":"click","request_id":"","item_id":"i"})", "empty_id"},
      {R"({"type":"example","item_id":"i","labels":{"unknown_task":1}})", "no_known_label"},
      {imp + R"("position":1,"ts_ms":-5})", "bad_timestamp"},
      {imp + R"("position":1,"user":{"x":")" + std::string(2000, 'a') + "\"}}", "string_too_long"},
  };
}

std::string TooManyFeatures() {
  std::string p = R"({"type":"impression","request_id":"r","item_id":"i","position":1,"dense":{)";
  for (int i = 0; i < 300; ++i)
    p += (i ? "," : "") + std::string("\"f") + std::to_string(i) + "\":1";
  return p + "}}";
}

TEST(Rejects, EveryReasonIsCountedAndNoneReachesTheModel) {
  StatusOr<Config> config = LoadConfig({"", {"train.batch_size=8"}, false});
  ASSERT_TRUE(config.ok());
  auto clean = std::move(LearningPipeline::Create(config->pipeline())).value();
  auto dirty = std::move(LearningPipeline::Create(config->pipeline())).value();
  std::vector<BadEvent> bad = OneOfEachReason();
  bad.push_back({TooManyFeatures(), "too_many_features"});

  sim::SimOptions o;
  o.users = 50;
  o.items = 40;
  o.creators = 10;
  o.candidates = 20;
  ASSERT_TRUE(o.Validate().ok()) << o.Validate().ToString();
  sim::Simulator simulator(o);
  std::vector<sim::SimEvent> events;
  size_t next_bad = 0;
  int64_t good = 0;
  while (good < 3000) {
    events.clear();
    simulator.NextRequest(&events);
    for (const sim::SimEvent& e : events) {
      const std::string payload = sim::EncodeEventJson(e);
      clean->Ingest(payload);
      dirty->Ingest(payload);
      ++good;
      if (good % 100 == 0 && next_bad < bad.size()) dirty->Ingest(bad[next_bad++].payload);
    }
  }
  ASSERT_EQ(next_bad, bad.size()) << "stream too short to interleave every bad event";
  clean->Finish();
  dirty->Finish();

  std::map<std::string, uint64_t> want;
  for (const BadEvent& b : bad) ++want[b.reason];
  std::map<std::string, uint64_t> got;
  dirty->rejects().ForEach([&](ingest::RejectReason, std::string_view name, uint64_t n) {
    if (n) got[std::string(name)] = n;
  });
  EXPECT_EQ(got, want);
  EXPECT_EQ(clean->rejects().Total(), 0u);
  EXPECT_EQ(dirty->events_consumed(), clean->events_consumed() + static_cast<int64_t>(bad.size()));
  EXPECT_GT(clean->trainer().stats().examples_trained, 1000);
  EXPECT_EQ(dirty->trainer().stats().examples_trained, clean->trainer().stats().examples_trained);
  EXPECT_EQ(dirty->trainer().model().ParamChecksumHex(),
            clean->trainer().model().ParamChecksumHex());
}

}  // namespace
}  // namespace ranker::app
