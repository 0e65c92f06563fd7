#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/random.h"
#include "ingest/event_decoder.h"
#include "ingest/reject.h"

namespace ranker::ingest {
namespace {

using learner::CategoricalFeature;
using learner::Event;
using learner::EventType;
using ::testing::HasSubstr;

constexpr char kImpression[] =
    R"({"type":"impression","request_id":"r-17","item_id":"v-9","user_id":"u-3",)"
    R"("position":2,"ts_ms":1700000000123,"event_id":"e-1",)"
    R"("user":{"country":"de","age_bucket":"25-34"},"item":{"category":"music"},)"
    R"("context":{"device":"mobile","hour":"21"},"dense":{"item_age_h":3.5,"ctr_7d":0.042},)"
    R"("truth":{"relevance":0.7,"nested":{"a":[1,2,{"b":null}]}}})";

std::vector<std::pair<std::string, std::string>> Categorical(const Event& e) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const CategoricalFeature& f : e.example.categorical) out.emplace_back(f.field, f.value);
  return out;
}

Event DecodeOk(std::string_view payload, const EventDecoder& decoder = EventDecoder({})) {
  DecodeResult r = decoder.Decode(payload);
  EXPECT_TRUE(r.ok()) << payload << " -> " << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? std::move(r).event() : Event{};
}

TEST(EventDecoder, DecodesFullImpression) {
  const Event e = DecodeOk(kImpression);
  EXPECT_EQ(e.type, EventType::kImpression);
  EXPECT_EQ(e.event_id, "e-1");
  EXPECT_EQ(e.example.request_id, "r-17");
  EXPECT_EQ(e.example.item_id, "v-9");
  EXPECT_EQ(e.example.position, 2);
  EXPECT_EQ(e.example.ts_ms, 1700000000123);
  EXPECT_EQ(e.example.device, "mobile");
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(Categorical(e), ::testing::ElementsAre(
                                  P{"user_id", "u-3"}, P{"item_id", "v-9"}, P{"user.country", "de"},
                                  P{"user.age_bucket", "25-34"}, P{"item.category", "music"},
                                  P{"context.device", "mobile"}, P{"context.hour", "21"}));
  ASSERT_EQ(e.example.dense.size(), 2u);
  EXPECT_EQ(e.example.dense[0].name, "item_age_h");
  EXPECT_EQ(e.example.dense[0].value, 3.5);
  EXPECT_EQ(e.example.dense[1].name, "ctr_7d");
  EXPECT_EQ(e.example.dense[1].value, 0.042);
  EXPECT_TRUE(e.example.labels.empty());
}

TEST(EventDecoder, MinimalImpressionHasDefaults) {
  const Event e = DecodeOk(R"({"type":"impression","request_id":"r","item_id":"i","position":1})");
  EXPECT_EQ(e.example.ts_ms, -1);
  EXPECT_EQ(e.example.device, "");
  EXPECT_EQ(e.event_id, "");
  ASSERT_EQ(e.example.categorical.size(), 1u);
  EXPECT_EQ(e.example.categorical[0].field, "item_id");
}

TEST(EventDecoder, DecodesClickAndIgnoresFieldsItDoesNotTake) {
  const Event e =
      DecodeOk(R"({"type":"click","request_id":"r1","item_id":"i1","ts_ms":5,"position":"junk",)"
               R"("user":{"x":[1]}})");
  EXPECT_EQ(e.type, EventType::kClick);
  EXPECT_EQ(e.example.request_id, "r1");
  EXPECT_EQ(e.example.item_id, "i1");
  EXPECT_EQ(e.example.ts_ms, 5);
  EXPECT_EQ(e.example.position, 0);
  EXPECT_TRUE(e.example.categorical.empty());
}

TEST(EventDecoder, DecodesWatermarkWithOnlyItsTime) {
  const Event e = DecodeOk(R"({"type":"watermark","ts_ms":1700000000500,"item_id":"ignored"})");
  EXPECT_EQ(e.type, EventType::kWatermark);
  EXPECT_EQ(e.example.ts_ms, 1700000000500);
  EXPECT_TRUE(e.example.item_id.empty());
  EXPECT_TRUE(e.example.request_id.empty());
}

TEST(EventDecoder, DecodesWatch) {
  const Event e =
      DecodeOk(R"({"type":"watch","request_id":"r1","item_id":"i1","watch_seconds":12.25})");
  EXPECT_EQ(e.type, EventType::kWatch);
  EXPECT_EQ(e.watch_seconds, 12.25);
  EXPECT_EQ(DecodeOk(R"({"type":"watch","request_id":"r","item_id":"i","watch_seconds":0})")
                .watch_seconds,
            0.0);
  const Event neg_zero =
      DecodeOk(R"({"type":"watch","request_id":"r","item_id":"i","watch_seconds":-0.0})");
  EXPECT_FALSE(std::signbit(neg_zero.watch_seconds));
}

TEST(EventDecoder, DecodesExampleLabelsByTaskName) {
  const Event e = DecodeOk(
      R"({"type":"example","item_id":"i1","labels":{"watch":30,"purchase":"n/a","click":1}})");
  EXPECT_EQ(e.type, EventType::kExample);
  EXPECT_EQ(e.example.request_id, "");
  EXPECT_EQ(e.example.position, 0);
  ASSERT_EQ(e.example.labels.size(), 2u);
  EXPECT_EQ(e.example.labels[0], 1.0);   // click
  EXPECT_EQ(e.example.labels[1], 30.0);  // watch
}

TEST(EventDecoder, ExampleWithOneLabelLeavesTheOtherMissing) {
  const Event e = DecodeOk(
      R"({"type":"example","request_id":"r","item_id":"i","position":4,"labels":{"click":0}})");
  ASSERT_EQ(e.example.labels.size(), 2u);
  EXPECT_EQ(e.example.labels[0], 0.0);
  EXPECT_FALSE(learner::HasLabel(e.example.labels[1]));
  EXPECT_EQ(e.example.position, 4);
}

TEST(EventDecoder, ConfiguredTasksDecideLabelIndices) {
  DecoderOptions options;
  options.tasks = {"like", "click"};
  const EventDecoder decoder(options);
  const Event e =
      DecodeOk(R"({"type":"example","item_id":"i","labels":{"click":1,"like":0}})", decoder);
  ASSERT_EQ(e.example.labels.size(), 2u);
  EXPECT_EQ(e.example.labels[0], 0.0);
  EXPECT_EQ(e.example.labels[1], 1.0);
  const DecodeResult r = decoder.Decode(R"({"type":"example","item_id":"i","labels":{"watch":3}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, RejectReason::kNoKnownLabel);
}

TEST(EventDecoder, NumericIdsBecomeDecimalText) {
  const Event e =
      DecodeOk(R"({"type":"impression","request_id":12345678901234,"item_id":18446744073709551615,)"
               R"("user_id":-7,"event_id":0,"position":1})");
  EXPECT_EQ(e.example.request_id, "12345678901234");
  EXPECT_EQ(e.example.item_id, "18446744073709551615");
  EXPECT_EQ(e.event_id, "0");
  EXPECT_EQ(e.example.categorical[0].value, "-7");
}

TEST(EventDecoder, FeatureValuesMayBeIntegersOrBooleansAndNullIsMissing) {
  const Event e =
      DecodeOk(R"({"type":"impression","request_id":"r","item_id":"i","position":1,)"
               R"("user":{"age":31,"premium":true,"gone":null},"context":{"device":null},)"
               R"("dense":{"a":2,"b":null},"ts_ms":null})");
  using P = std::pair<std::string, std::string>;
  EXPECT_THAT(Categorical(e), ::testing::ElementsAre(P{"item_id", "i"}, P{"user.age", "31"},
                                                     P{"user.premium", "true"}));
  EXPECT_EQ(e.example.device, "");
  ASSERT_EQ(e.example.dense.size(), 1u);
  EXPECT_EQ(e.example.dense[0].value, 2.0);
  EXPECT_EQ(e.example.ts_ms, -1);
}

TEST(EventDecoder, IntegralFractionsAreIntegers) {
  const Event e = DecodeOk(
      R"({"type":"impression","request_id":"r","item_id":"i","position":3.0,"ts_ms":1.7e12})");
  EXPECT_EQ(e.example.position, 3);
  EXPECT_EQ(e.example.ts_ms, 1700000000000);
}

TEST(EventDecoder, FractionsAreReadExactly) {
  // Values the compiler parses; Boost.JSON 1.81 alone misreads some by 1 ULP.
  const Event e =
      DecodeOk(R"({"type":"impression","request_id":"r","item_id":"i","position":1,"dense":{)"
               R"("a":0.20879445045162326,"b":2.2250738585072014e-308,"c":5e-324,)"
               R"("d":1.7976931348623157e308,"e":0.1,"f":-7.3e-5,"g":12345678901234567890123}})");
  const std::vector<double> want = {0.20879445045162326,
                                    2.2250738585072014e-308,
                                    5e-324,
                                    1.7976931348623157e308,
                                    0.1,
                                    -7.3e-5,
                                    12345678901234567890123.0};
  ASSERT_EQ(e.example.dense.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(e.example.dense[i].value, want[i]) << e.example.dense[i].name;
  }
}

TEST(EventDecoder, RepeatedKeyKeepsLastValue) {
  const Event e = DecodeOk(
      R"({"type":"impression","request_id":"r","item_id":"a","item_id":"b","position":1})");
  EXPECT_EQ(e.example.item_id, "b");
}

TEST(EventDecoder, AcceptsValidUtf8AndEscapes) {
  const Event e = DecodeOk(
      "{\"type\":\"click\",\"request_id\":\"r\\u00e9\\n\",\"item_id\":"
      "\"\xe6\x97\xa5\xf0\x9f\x8e\xb5\"}");
  EXPECT_EQ(e.example.request_id, "r\xc3\xa9\n");
  EXPECT_EQ(e.example.item_id, "\xe6\x97\xa5\xf0\x9f\x8e\xb5");
}

// One realistic bad input per case; `field` must appear in the message.
struct BadCase {
  std::string payload;
  RejectReason reason;
  std::string field;
};

std::vector<BadCase> BadCases() {
  const std::string imp = R"({"type":"impression","request_id":"r","item_id":"i",)";
  const std::string ex = R"({"type":"example","item_id":"i",)";
  std::string many_dense = imp + R"("position":1,"dense":{)";
  for (int i = 0; i < 300; ++i) many_dense += (i ? ",\"d" : "\"d") + std::to_string(i) + "\":1";
  many_dense += "}}";
  const std::string long_id(2000, 'x');
  return {
      {R"({"type":"click","request_id":"r1",)", RejectReason::kInvalidJson, "payload"},
      {"not json at all", RejectReason::kInvalidJson, "payload"},
      {"", RejectReason::kInvalidJson, "payload"},
      {"   \n", RejectReason::kInvalidJson, "payload"},
      {R"({"type":"click","request_id":"r","item_id":"i"} trailing)", RejectReason::kInvalidJson,
       "payload"},
      {"{\"type\":\"click\",\"request_id\":\"r\",\"item_id\":\"\xff\xfe\"}",
       RejectReason::kInvalidJson, "payload"},
      {"{\"type\":\"click\",\"request_id\":\"r\",\"item_id\":\"\xc0\xaf\"}",  // overlong '/'
       RejectReason::kInvalidJson, "payload"},
      {R"([{"type":"click","request_id":"r","item_id":"i"}])", RejectReason::kNotAnObject,
       "payload"},
      {R"("click")", RejectReason::kNotAnObject, "payload"},
      {R"({"type":"purchase","request_id":"r","item_id":"i"})", RejectReason::kUnknownType, "type"},
      {R"({"type":"Click","request_id":"r","item_id":"i"})", RejectReason::kUnknownType, "type"},
      {R"({"request_id":"r","item_id":"i"})", RejectReason::kMissingField, "type"},
      {R"({"type":"click","request_id":"r"})", RejectReason::kMissingField, "item_id"},
      {R"({"type":"click","item_id":"i"})", RejectReason::kMissingField, "request_id"},
      {R"({"type":"watch","request_id":"r","item_id":"i"})", RejectReason::kMissingField,
       "watch_seconds"},
      {imp + R"("ts_ms":1})", RejectReason::kMissingField, "position"},
      {R"({"type":"watermark"})", RejectReason::kMissingField, "ts_ms"},
      {R"({"type":"watermark","ts_ms":null})", RejectReason::kMissingField, "ts_ms"},
      {R"({"type":"watermark","ts_ms":-3})", RejectReason::kBadTimestamp, "ts_ms"},
      {R"({"type":"watermark","ts_ms":"soon"})", RejectReason::kWrongType, "ts_ms"},
      {imp + R"("position":null})", RejectReason::kMissingField, "position"},
      {ex + R"("position":1})", RejectReason::kMissingField, "labels"},
      {R"({"type":5,"request_id":"r","item_id":"i"})", RejectReason::kWrongType, "type"},
      {imp + R"("position":"3"})", RejectReason::kWrongType, "position"},
      {R"({"type":"click","request_id":"r","item_id":1.5})", RejectReason::kWrongType, "item_id"},
      {R"({"type":"click","request_id":["r"],"item_id":"i"})", RejectReason::kWrongType,
       "request_id"},
      {imp + R"("position":1,"user":["de"]})", RejectReason::kWrongType, "user"},
      {imp + R"("position":1,"user":{"age":31.5}})", RejectReason::kWrongType, "user.age"},
      {imp + R"("position":1,"context":{"device":{"os":"ios"}}})", RejectReason::kWrongType,
       "context.device"},
      {imp + R"("position":1,"dense":{"ctr":"0.1"}})", RejectReason::kWrongType, "dense.ctr"},
      {imp + R"("position":1,"dense":[1,2]})", RejectReason::kWrongType, "dense"},
      {ex + R"("labels":{"click":"yes"}})", RejectReason::kWrongType, "labels.click"},
      {ex + R"("labels":{"click":true}})", RejectReason::kWrongType, "labels.click"},
      {ex + R"("labels":[1,0]})", RejectReason::kWrongType, "labels"},
      {R"({"type":"click","request_id":"r","item_id":"i","ts_ms":"2024-01-01"})",
       RejectReason::kWrongType, "ts_ms"},
      {R"({"type":"watch","request_id":"r","item_id":"i","watch_seconds":"5"})",
       RejectReason::kWrongType, "watch_seconds"},
      {imp + R"("position":1,"dense":{"ctr":1e999}})", RejectReason::kNonFinite, "dense.ctr"},
      {R"({"type":"watch","request_id":"r","item_id":"i","watch_seconds":NaN})",
       RejectReason::kNonFinite, "watch_seconds"},
      {R"({"type":"watch","request_id":"r","item_id":"i","watch_seconds": Infinity})",
       RejectReason::kNonFinite, "watch_seconds"},
      {ex + R"("labels":{"click":-Infinity}})", RejectReason::kNonFinite, "click"},
      {ex + R"("labels":{"watch":-1e999}})", RejectReason::kNonFinite, "labels.watch"},
      {imp + R"("position":1e999})", RejectReason::kNonFinite, "position"},
      {R"({"type":"click","request_id":"r","item_id":"i","ts_ms":1e400})", RejectReason::kNonFinite,
       "ts_ms"},
      {imp + R"("position":0})", RejectReason::kBadPosition, "position"},
      {imp + R"("position":-3})", RejectReason::kBadPosition, "position"},
      {imp + R"("position":2.5})", RejectReason::kBadPosition, "position"},
      {imp + R"("position":10001})", RejectReason::kBadPosition, "position"},
      {imp + R"("position":4294967297})", RejectReason::kBadPosition, "position"},
      {imp + R"("position":1e20})", RejectReason::kBadPosition, "position"},
      {imp + R"("position":99999999999999999999999})", RejectReason::kBadPosition, "position"},
      {imp + R"("position":18446744073709551615})", RejectReason::kBadPosition, "position"},
      {ex + R"("position":-1,"labels":{"click":1}})", RejectReason::kBadPosition, "position"},
      {R"({"type":"watch","request_id":"r","item_id":"i","watch_seconds":-1.5})",
       RejectReason::kNegativeWatch, "watch_seconds"},
      {R"({"type":"click","request_id":"","item_id":"i"})", RejectReason::kEmptyId, "request_id"},
      {R"({"type":"click","request_id":"r","item_id":""})", RejectReason::kEmptyId, "item_id"},
      {imp + R"("position":1,"user_id":""})", RejectReason::kEmptyId, "user_id"},
      {R"({"type":"click","request_id":"r","item_id":"i","event_id":""})", RejectReason::kEmptyId,
       "event_id"},
      {ex + R"("labels":{"purchase":1}})", RejectReason::kNoKnownLabel, "labels"},
      {ex + R"("labels":{}})", RejectReason::kNoKnownLabel, "labels"},
      {ex + R"("labels":{"click":null}})", RejectReason::kNoKnownLabel, "labels"},
      {many_dense, RejectReason::kTooManyFeatures, "dense.d255"},
      {R"({"type":"click","request_id":"r","item_id":")" + long_id + "\"}",
       RejectReason::kStringTooLong, "item_id"},
      {imp + R"("position":1,"user":{")" + long_id + R"(":"x"}})", RejectReason::kStringTooLong,
       "user.xxxx"},
      {imp + R"("position":1,"item":{"title":")" + long_id + "\"}}", RejectReason::kStringTooLong,
       "item.title"},
      {imp + R"("position":1,"dense":{")" + long_id + R"(":1}})", RejectReason::kStringTooLong,
       "dense.xxx"},
      {R"({"type":"click","request_id":"r","item_id":"i","ts_ms":-5})", RejectReason::kBadTimestamp,
       "ts_ms"},
      {R"({"type":"click","request_id":"r","item_id":"i","ts_ms":1.5})",
       RejectReason::kBadTimestamp, "ts_ms"},
      {R"({"type":"click","request_id":"r","item_id":"i","ts_ms":9223372036854775808})",
       RejectReason::kBadTimestamp, "ts_ms"},
  };
}

TEST(EventDecoder, RejectsBadInputsWithNamedReasonAndField) {
  const EventDecoder decoder({});
  for (const BadCase& c : BadCases()) {
    const DecodeResult r = decoder.Decode(c.payload);
    ASSERT_FALSE(r.ok()) << c.payload.substr(0, 200);
    EXPECT_EQ(RejectReasonName(r.error().reason), RejectReasonName(c.reason))
        << c.payload.substr(0, 200) << " -> " << r.error().message;
    EXPECT_THAT(r.error().message, HasSubstr(c.field)) << c.payload.substr(0, 200);
    EXPECT_LT(r.error().message.size(), 300u) << "messages quote, they do not copy";
  }
}

TEST(EventDecoder, EveryRejectReasonIsCovered) {
  std::set<RejectReason> covered;
  for (const BadCase& c : BadCases()) covered.insert(c.reason);
  covered.insert(RejectReason::kOversize);  // OversizeIsRejectedBeforeParsing
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    EXPECT_TRUE(covered.count(static_cast<RejectReason>(i)))
        << RejectReasonName(static_cast<RejectReason>(i));
  }
}

TEST(EventDecoder, MessagesAreSpecific) {
  const EventDecoder decoder({});
  const DecodeResult r =
      decoder.Decode(R"({"type":"impression","request_id":"r","item_id":"i","position":-3})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "position: must be an integer in [1, 10000], got -3");
  EXPECT_EQ(r.error().ToString(),
            "bad_position: position: must be an integer in [1, 10000], got -3");
}

TEST(EventDecoder, OversizeIsRejectedBeforeParsing) {
  DecoderOptions options;
  options.max_event_bytes = 100;
  const EventDecoder decoder(options);
  // Not even JSON: the size check comes first.
  const DecodeResult r = decoder.Decode(std::string(101, '{'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, RejectReason::kOversize);
  EXPECT_THAT(r.error().message, HasSubstr("max_event_bytes"));
  std::string ok = R"({"type":"click","request_id":"r","item_id":"i"})";
  ok.resize(100, ' ');
  EXPECT_TRUE(decoder.Decode(ok).ok());
}

TEST(EventDecoder, FeatureLimitCountsIdsToo) {
  DecoderOptions options;
  options.max_features = 3;
  const EventDecoder decoder(options);
  const std::string base =
      R"({"type":"impression","request_id":"r","item_id":"i","user_id":"u","position":1,)";
  EXPECT_TRUE(decoder.Decode(base + R"("dense":{"a":1}})").ok());
  const DecodeResult r = decoder.Decode(base + R"("user":{"c":"x"},"dense":{"a":1}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, RejectReason::kTooManyFeatures);
  EXPECT_THAT(r.error().message, HasSubstr("dense.a"));
}

TEST(EventDecoder, EveryTruncationIsRejectedAsInvalidJson) {
  const EventDecoder decoder({});
  const std::string full = kImpression;
  ASSERT_TRUE(decoder.Decode(full).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    const DecodeResult r = decoder.Decode(std::string_view(full).substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().reason, RejectReason::kInvalidJson) << n << ": " << r.error().message;
  }
}

TEST(EventDecoder, RandomByteCorruptionNeverCrashes) {
  const EventDecoder decoder({});
  Rng rng(7);
  const std::string full = kImpression;
  size_t rejected = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s = full;
    const int edits = 1 + static_cast<int>(rng.Below(4));
    for (int k = 0; k < edits; ++k) s[rng.Below(s.size())] = static_cast<char>(rng.Below(256));
    const DecodeResult r = decoder.Decode(s);
    if (!r.ok()) {
      ++rejected;
      EXPECT_FALSE(r.error().message.empty());
      EXPECT_LT(static_cast<size_t>(r.error().reason), kRejectReasonCount);
    }
  }
  EXPECT_GT(rejected, 1000u);  // most corruptions break the JSON
}

TEST(EventDecoder, DeepNestingIsRejectedNotOverflowed) {
  const EventDecoder decoder({});
  const std::string deep = R"({"type":"click","request_id":"r","item_id":"i","x":)" +
                           std::string(50000, '[') + std::string(50000, ']') + "}";
  DecoderOptions big;
  big.max_event_bytes = 1 << 20;
  const DecodeResult r = EventDecoder(big).Decode(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, RejectReason::kInvalidJson);
  // Modest nesting in an ignored field is fine.
  EXPECT_TRUE(decoder
                  .Decode(R"({"type":"click","request_id":"r","item_id":"i","x":)" +
                          std::string(10, '[') + std::string(10, ']') + "}")
                  .ok());
}

TEST(EventDecoder, LoneSurrogateEscapeNeverYieldsInvalidUtf8) {
  const EventDecoder decoder({});
  const DecodeResult r =
      decoder.Decode(R"({"type":"click","request_id":"r","item_id":"a\ud800b"})");
  if (r.ok()) {
    // If accepted, the text must still be valid UTF-8 (no raw surrogate).
    EXPECT_EQ(r.event().example.item_id.find("\xed\xa0\x80"), std::string::npos);
  } else {
    EXPECT_EQ(r.error().reason, RejectReason::kInvalidJson);
  }
}

TEST(EventDecoder, BatchNdjsonIndexesNonBlankLines) {
  const EventDecoder decoder({});
  const std::string body =
      "{\"type\":\"click\",\"request_id\":\"r\",\"item_id\":\"a\"}\r\n"
      "\n   \n"
      "{\"type\":\"click\",\"request_id\":\"r\"}\n"
      "not json\n"
      "{\"type\":\"watch\",\"request_id\":\"r\",\"item_id\":\"b\",\"watch_seconds\":3}";
  const StatusOr<std::vector<DecodeResult>> r = decoder.DecodeBatch(body, false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);
  EXPECT_TRUE((*r)[0].ok());
  EXPECT_EQ((*r)[0].event().example.item_id, "a");
  ASSERT_FALSE((*r)[1].ok());
  EXPECT_EQ((*r)[1].error().reason, RejectReason::kMissingField);
  ASSERT_FALSE((*r)[2].ok());
  EXPECT_EQ((*r)[2].error().reason, RejectReason::kInvalidJson);
  ASSERT_TRUE((*r)[3].ok());
  EXPECT_EQ((*r)[3].event().watch_seconds, 3.0);
  EXPECT_TRUE(decoder.DecodeBatch("", false)->empty());
}

TEST(EventDecoder, BatchJsonArray) {
  DecoderOptions options;
  options.max_event_bytes = 60;
  const EventDecoder decoder(options);
  const std::string body =
      R"([{"type":"click","request_id":"r","item_id":"a"}, 7, {"type":"nope"},)"
      R"( {"type":"click","request_id":"r","item_id":"a","padding":"0123456789012345"}])";
  const StatusOr<std::vector<DecodeResult>> r = decoder.DecodeBatch(body, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_TRUE((*r)[0].ok());
  EXPECT_EQ((*r)[1].error().reason, RejectReason::kNotAnObject);
  EXPECT_EQ((*r)[2].error().reason, RejectReason::kUnknownType);
  EXPECT_EQ((*r)[3].error().reason, RejectReason::kOversize);
  EXPECT_TRUE(decoder.DecodeBatch("[]", true)->empty());
}

TEST(EventDecoder, BatchJsonArrayBodyErrorsNameTheBody) {
  const EventDecoder decoder({});
  for (std::string_view body : {R"({"type":"click"})", "[1,", "", R"([{"watch_seconds":NaN}])"}) {
    const auto r = decoder.DecodeBatch(body, true);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("body")) << body;
  }
}

TEST(EventDecoder, ConcurrentDecodesAgree) {
  const EventDecoder decoder({});
  const std::vector<std::string> payloads = {
      kImpression, R"({"type":"click","request_id":"r","item_id":"i"})", "bad",
      R"({"type":"example","item_id":"i","labels":{"watch":2.5}})"};
  std::vector<std::vector<std::string>> seen(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const DecodeResult r = decoder.Decode(payloads[(i + t) % payloads.size()]);
        seen[t].push_back(r.ok() ? r.event().example.item_id : r.error().ToString());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 500; ++i) {
      const DecodeResult r = decoder.Decode(payloads[(i + t) % payloads.size()]);
      ASSERT_EQ(seen[t][i], r.ok() ? r.event().example.item_id : r.error().ToString());
    }
  }
}

TEST(DecoderOptions, ValidateNamesTheField) {
  EXPECT_TRUE(DecoderOptions().Validate().ok());
  DecoderOptions o;
  o.max_event_bytes = 0;
  EXPECT_THAT(o.Validate().message(), HasSubstr("max_event_bytes"));
  o = {};
  o.tasks = {"click", "click"};
  EXPECT_THAT(o.Validate().message(), HasSubstr("tasks"));
  o = {};
  o.tasks.clear();
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.max_position = 0;
  EXPECT_THAT(o.Validate().message(), HasSubstr("max_position"));
}

TEST(RejectReason, NamesAreStableAndInvertible) {
  EXPECT_EQ(RejectReasonName(RejectReason::kInvalidJson), "invalid_json");
  EXPECT_EQ(RejectReasonName(RejectReason::kBadPosition), "bad_position");
  EXPECT_EQ(RejectReasonName(RejectReason::kNoKnownLabel), "no_known_label");
  std::set<std::string_view> names;
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    const auto reason = static_cast<RejectReason>(i);
    const std::string_view name = RejectReasonName(reason);
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos);
    EXPECT_EQ(RejectReasonFromName(name), reason);
  }
  EXPECT_EQ(RejectReasonFromName("nope"), std::nullopt);
}

TEST(RejectCounters, CountsByReasonAcrossThreads) {
  RejectCounters counters;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) counters.Add(RejectReason::kWrongType);
      counters.Add(RejectReason::kOversize, 5);
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(counters.Get(RejectReason::kWrongType), 4000u);
  EXPECT_EQ(counters.Get(RejectReason::kOversize), 20u);
  EXPECT_EQ(counters.Get(RejectReason::kInvalidJson), 0u);
  EXPECT_EQ(counters.Total(), 4020u);
  size_t visited = 0;
  uint64_t sum = 0;
  counters.ForEach([&](RejectReason reason, std::string_view name, uint64_t n) {
    EXPECT_EQ(name, RejectReasonName(reason));
    ++visited;
    sum += n;
  });
  EXPECT_EQ(visited, kRejectReasonCount);
  EXPECT_EQ(sum, 4020u);
}

}  // namespace
}  // namespace ranker::ingest
