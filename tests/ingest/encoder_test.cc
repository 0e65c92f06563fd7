#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "base/random.h"
#include "ingest/event_decoder.h"
#include "ingest/event_encoder.h"

namespace ranker::ingest {
namespace {

using learner::Event;
using learner::EventType;
using learner::Example;

// Bit-identical, except that -0 equals 0: the encoder writes -0 as 0 on
// purpose (NegativeZeroIsAFixedPoint), so a decoded "-1e-676" (-0) comes back 0.
bool SameDouble(double a, double b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0 || (a == 0 && b == 0) ||
         (std::isnan(a) && std::isnan(b));
}

// Field-by-field equality with a readable first difference.
::testing::AssertionResult SameEvent(const Event& a, const Event& b) {
  const Example& x = a.example;
  const Example& y = b.example;
  auto fail = [](std::string_view what) { return ::testing::AssertionFailure() << what; };
  if (a.type != b.type) return fail("type");
  if (a.event_id != b.event_id) return fail("event_id");
  if (!SameDouble(a.watch_seconds, b.watch_seconds)) return fail("watch_seconds");
  if (x.request_id != y.request_id || x.item_id != y.item_id) return fail("ids");
  if (x.position != y.position || x.ts_ms != y.ts_ms || x.device != y.device) {
    return fail("position/ts_ms/device");
  }
  if (x.categorical.size() != y.categorical.size()) return fail("categorical size");
  for (size_t i = 0; i < x.categorical.size(); ++i) {
    if (x.categorical[i].field != y.categorical[i].field ||
        x.categorical[i].value != y.categorical[i].value) {
      return fail("categorical " + x.categorical[i].field + " vs " + y.categorical[i].field);
    }
  }
  if (x.dense.size() != y.dense.size()) return fail("dense size");
  for (size_t i = 0; i < x.dense.size(); ++i) {
    if (x.dense[i].name != y.dense[i].name || !SameDouble(x.dense[i].value, y.dense[i].value)) {
      return fail("dense " + x.dense[i].name);
    }
  }
  if (x.labels.size() != y.labels.size()) return fail("labels size");
  for (size_t i = 0; i < x.labels.size(); ++i) {
    if (!SameDouble(x.labels[i], y.labels[i])) return fail("label " + std::to_string(i));
  }
  return ::testing::AssertionSuccess();
}

Event Decode(const std::string& json, const EventDecoder& decoder = EventDecoder({})) {
  DecodeResult r = decoder.Decode(json);
  EXPECT_TRUE(r.ok()) << json << " -> " << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? std::move(r).event() : Event{};
}

Event SampleImpression() {
  Event e;
  e.type = EventType::kImpression;
  e.event_id = "e1";
  Example& x = e.example;
  x.request_id = "r1";
  x.item_id = "i1";
  x.position = 3;
  x.ts_ms = 1700000000000;
  x.device = "tv";
  x.categorical = {
      {"user_id", "u1"}, {"item_id", "i1"}, {"user.country", "de"}, {"context.device", "tv"}};
  x.dense = {{"age", 0.5}};
  return e;
}

TEST(EventEncoder, WritesContractJson) {
  EXPECT_EQ(EncodeEvent(SampleImpression()),
            R"({"type":"impression","event_id":"e1","request_id":"r1","item_id":"i1",)"
            R"("user_id":"u1","position":3,"ts_ms":1700000000000,"user":{"country":"de"},)"
            R"("context":{"device":"tv"},"dense":{"age":0.5}})");
}

TEST(EventEncoder, ClickAndWatchCarryOnlyTheirFields) {
  Event e = SampleImpression();
  e.type = EventType::kClick;
  EXPECT_EQ(EncodeEvent(e), R"({"type":"click","event_id":"e1","request_id":"r1","item_id":"i1",)"
                            R"("ts_ms":1700000000000})");
  e.type = EventType::kWatch;
  e.event_id.clear();
  e.example.ts_ms = -1;
  e.watch_seconds = 12.5;
  EXPECT_EQ(EncodeEvent(e),
            R"({"type":"watch","request_id":"r1","item_id":"i1","watch_seconds":12.5})");
}

TEST(EventEncoder, WatermarkCarriesOnlyItsTime) {
  Event e = SampleImpression();
  e.type = EventType::kWatermark;
  e.event_id.clear();
  const std::string json = EncodeEvent(e);
  EXPECT_EQ(json, R"({"type":"watermark","ts_ms":1700000000000})");
  const DecodeResult back = EventDecoder({}).Decode(json);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.event().type, EventType::kWatermark);
  EXPECT_EQ(back.event().example.ts_ms, 1700000000000);
}

TEST(EventEncoder, ExampleWritesKnownLabelsByTaskName) {
  Event e;
  e.type = EventType::kExample;
  e.example.item_id = "i";
  e.example.categorical = {{"item_id", "i"}};
  e.example.labels = {learner::kNoLabel, 42.0};
  EXPECT_EQ(EventEncoder({"like", "dwell"}).Encode(e),
            R"({"type":"example","item_id":"i","labels":{"dwell":42}})");
}

TEST(EventEncoder, EscapesStrings) {
  std::string out;
  AppendJsonString("a\"b\\c\n\x01\xc3\xa9", &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
}

TEST(EventEncoder, ExtraMemberIsEmbeddedAndIgnoredByTheDecoder) {
  const Event e = SampleImpression();
  const std::string json = EncodeEvent(e, "truth", R"({"relevance":0.25,"p":[1,2]})");
  EXPECT_NE(json.find(R"("truth":{"relevance":0.25,"p":[1,2]}})"), std::string::npos) << json;
  EXPECT_TRUE(SameEvent(Decode(json), e));
}

TEST(EventEncoder, DeviceWithoutCategoricalGoesToContext) {
  Event e = SampleImpression();
  e.example.categorical.pop_back();  // drop context.device, keep device = "tv"
  const Event back = Decode(EncodeEvent(e));
  EXPECT_EQ(back.example.device, "tv");
  EXPECT_EQ(back.example.categorical.back().field, "context.device");
}

TEST(EventEncoder, EncodeToAppends) {
  const EventEncoder encoder;
  std::string out = "x";
  encoder.EncodeTo(SampleImpression(), &out);
  EXPECT_EQ(out, "x" + encoder.Encode(SampleImpression()));
}

// A random valid event in the decoder's canonical categorical order.
Event RandomEvent(Rng& rng) {
  static const char* kAlphabet[] = {
      "a",  "Z",  "0",    " ",        "\"",           "\\",
      "\n", "\t", "\x7f", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x8e\xb5",
      "/"};
  auto text = [&](size_t min_len) {
    std::string s;
    const size_t n = min_len + rng.Below(6);
    for (size_t i = 0; i < n; ++i) s += kAlphabet[rng.Below(std::size(kAlphabet))];
    return s;
  };
  auto number = [&] {
    switch (rng.Below(4)) {
      case 0:
        return static_cast<double>(rng.Below(1000));
      case 1:
        return rng.Normal() * std::pow(10.0, static_cast<double>(rng.Below(600)) - 300);
      case 2:
        return rng.Uniform();
      default:
        return -rng.Uniform() * 1e6;
    }
  };
  Event e;
  e.type = static_cast<EventType>(rng.Below(4));
  Example& x = e.example;
  if (rng.Bernoulli(0.5)) e.event_id = text(1);
  if (e.type != EventType::kExample || rng.Bernoulli(0.5)) x.request_id = text(1);
  x.item_id = text(1);
  if (rng.Bernoulli(0.7)) x.ts_ms = static_cast<int64_t>(rng.Below(uint64_t{1} << 50));
  if (e.type == EventType::kWatch) e.watch_seconds = rng.Uniform() * 600;
  const bool features = e.type == EventType::kImpression || e.type == EventType::kExample;
  if (!features) return e;
  if (e.type == EventType::kImpression || rng.Bernoulli(0.5)) {
    x.position = 1 + static_cast<int32_t>(rng.Below(50));
  }
  if (rng.Bernoulli(0.8)) x.categorical.push_back({"user_id", text(1)});
  x.categorical.push_back({"item_id", x.item_id});
  for (const char* ns : {"user", "item", "context"}) {
    for (size_t i = 0, n = rng.Below(4); i < n; ++i) {
      // Distinct keys: a repeated key would keep only its last value.
      x.categorical.push_back({std::string(ns) + "." + std::to_string(i) + text(0), text(0)});
    }
  }
  if (rng.Bernoulli(0.5)) {
    x.categorical.push_back({"context.device", text(1)});
    x.device = x.categorical.back().value;
  }
  for (size_t i = 0, n = rng.Below(5); i < n; ++i) {
    x.dense.push_back({"d" + std::to_string(i) + text(0), number()});
  }
  if (e.type == EventType::kExample) {
    x.labels = {learner::kNoLabel, learner::kNoLabel};
    x.labels[rng.Below(2)] = number();
    if (rng.Bernoulli(0.5)) x.labels[rng.Below(2)] = number();
  }
  return e;
}

TEST(EventEncoder, RandomEventsRoundTripExactly) {
  Rng rng(2024);
  const EventDecoder decoder({});
  for (int i = 0; i < 3000; ++i) {
    const Event e = RandomEvent(rng);
    const std::string json = EncodeEvent(e);
    const DecodeResult r = decoder.Decode(json);
    ASSERT_TRUE(r.ok()) << json << " -> " << r.error().ToString();
    ASSERT_TRUE(SameEvent(r.event(), e)) << json;
    ASSERT_EQ(EncodeEvent(r.event()), json);
  }
}

TEST(EventEncoder, DecodedCorruptionsReEncodeStably) {
  // Whatever the decoder accepts from a damaged event, the encoder writes
  // back to JSON that decodes to the same event.
  Rng rng(99);
  const EventDecoder decoder({});
  size_t accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string json = EncodeEvent(RandomEvent(rng));
    json[rng.Below(json.size())] = "0123456789{}[]\",:.-e \\"[rng.Below(22)];
    const DecodeResult r = decoder.Decode(json);
    if (!r.ok()) continue;
    ++accepted;
    const DecodeResult again = decoder.Decode(EncodeEvent(r.event()));
    ASSERT_TRUE(again.ok()) << json;
    ASSERT_TRUE(SameEvent(again.event(), r.event())) << json;
  }
  EXPECT_GT(accepted, 100u);
}

}  // namespace
}  // namespace ranker::ingest

namespace ranker::ingest {
namespace {

// Found by fuzz/fuzz_event_decoder.cc: a dense value that underflows to -0
// must encode to text that decodes and re-encodes to the same bytes.
TEST(EventEncoder, NegativeZeroIsAFixedPoint) {
  const EventDecoder decoder{DecoderOptions{}};
  DecodeResult r = decoder.Decode(
      R"({"type":"impression","request_id":"r","item_id":"i","position":1,"dense":{"x":-5E-7251}})");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const std::string once = EncodeEvent(r.event());
  EXPECT_NE(once.find(R"("x":0)"), std::string::npos) << once;
  DecodeResult again = decoder.Decode(once);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(EncodeEvent(again.event()), once);
}

}  // namespace
}  // namespace ranker::ingest
