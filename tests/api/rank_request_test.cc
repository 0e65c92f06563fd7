// POST /v1/rank body parsing/validation and answer rendering.
#include "api/rank_request.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "api/http_types.h"
#include "api/json_writer.h"

namespace ranker::api {
namespace {

namespace json = boost::json;

constexpr const char* kFull = R"({
  "request_id": "r-1", "user_id": 42,
  "user": {"country": "de", "age": "30-39"},
  "context": {"device": "mobile"},
  "dense": {"hour": 13.5},
  "candidates": [
    {"item_id": "a", "item": {"genre": "jazz"}, "dense": {"pop": 0.25, "len": 3}},
    {"item_id": 18446744073709551615},
    {"item_id": -7, "extra": "ignored"}
  ],
  "k": 2,
  "weights": {"click": 1, "watch": 0.5}
})";

// The message of a failed parse, or "" if it parsed.
std::string Error(std::string_view body, const RankRequestLimits& limits = {}) {
  StatusOr<RankRequest> r = ParseRankRequest(body, limits);
  return r.ok() ? std::string() : r.status().message();
}

Status::Code Code(std::string_view body, const RankRequestLimits& limits = {}) {
  StatusOr<RankRequest> r = ParseRankRequest(body, limits);
  return r.ok() ? Status::Code::kOk : r.status().code();
}

TEST(RankRequest, ParsesEveryField) {
  StatusOr<RankRequest> r = ParseRankRequest(kFull);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->request_id.has_value());
  EXPECT_EQ(r->request_id->text, "r-1");
  EXPECT_FALSE(r->request_id->is_integer);
  ASSERT_TRUE(r->user_id.has_value());
  EXPECT_EQ(r->user_id->text, "42");
  EXPECT_TRUE(r->user_id->is_integer);
  ASSERT_EQ(r->user.size(), 2u);
  EXPECT_EQ(r->user[0].name, "country");
  EXPECT_EQ(r->user[0].value, "de");
  EXPECT_EQ(r->user[1].name, "age");
  ASSERT_EQ(r->context.size(), 1u);
  EXPECT_EQ(r->context[0].value, "mobile");
  ASSERT_EQ(r->dense.size(), 1u);
  EXPECT_EQ(r->dense[0].value, 13.5);
  ASSERT_EQ(r->candidates.size(), 3u);
  EXPECT_EQ(r->candidates[0].item_id.text, "a");
  ASSERT_EQ(r->candidates[0].item.size(), 1u);
  EXPECT_EQ(r->candidates[0].item[0].value, "jazz");
  ASSERT_EQ(r->candidates[0].dense.size(), 2u);
  EXPECT_EQ(r->candidates[0].dense[1].name, "len");
  EXPECT_EQ(r->candidates[0].dense[1].value, 3.0);
  EXPECT_EQ(r->candidates[1].item_id.text, "18446744073709551615");
  EXPECT_EQ(r->candidates[2].item_id.text, "-7");
  EXPECT_TRUE(r->candidates[2].item_id.is_integer);
  EXPECT_EQ(r->k, 2u);
  ASSERT_EQ(r->weights.size(), 2u);
  EXPECT_EQ(r->weights[1].name, "watch");
  EXPECT_EQ(r->weights[1].value, 0.5);
}

TEST(RankRequest, MinimalBody) {
  StatusOr<RankRequest> r = ParseRankRequest(R"({"candidates":[]})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->request_id.has_value());
  EXPECT_FALSE(r->user_id.has_value());
  EXPECT_FALSE(r->k.has_value());
  EXPECT_TRUE(r->candidates.empty());
}

TEST(RankRequest, ErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* message;
  };
  const Case cases[] = {
      {R"({})", "candidates: missing"},
      {R"({"candidates":{}})", "candidates: must be an array"},
      {R"({"candidates":[{"item_id":"a"},{"item_id":"b"},{"item_id":"c"},{}]})",
       "candidates[3].item_id: missing"},
      {R"({"candidates":[7]})", "candidates[0]: must be an object"},
      {R"({"candidates":[{"item_id":1.5}]})",
       "candidates[0].item_id: must be a string or an integer"},
      {R"({"candidates":[{"item_id":""}]})", "candidates[0].item_id: must not be empty"},
      {R"({"candidates":[{"item_id":"a","item":{"g":3}}]})",
       "candidates[0].item.g: must be a string"},
      {R"({"candidates":[{"item_id":"a","dense":{"x":"1"}}]})",
       "candidates[0].dense.x: must be a number"},
      {R"({"candidates":[{"item_id":"a","dense":[]}]})", "candidates[0].dense: must be an object"},
      {R"({"candidates":[],"user_id":true})", "user_id: must be a string or an integer"},
      {R"({"candidates":[],"user":"x"})", "user: must be an object"},
      {R"({"candidates":[],"context":{"device":null}})", "context.device: must be a string"},
      {R"({"candidates":[],"k":0})", "k: must be >= 1"},
      {R"({"candidates":[],"k":-3})", "k: must be >= 1"},
      {R"({"candidates":[],"k":2.5})", "k: must be an integer"},
      {R"({"candidates":[],"weights":{"click":"1"}})", "weights.click: must be a number"},
      {R"({"candidates":[],"request_id":{}})", "request_id: must be a string or an integer"},
      {R"([1,2])", "body: must be a JSON object"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Error(c.body), c.message) << c.body;
    EXPECT_EQ(Code(c.body), Status::Code::kInvalidArgument) << c.body;
  }
}

TEST(RankRequest, RejectsNonFiniteNumbers) {
  // JSON has no NaN/Infinity literals; overflowing numbers parse to inf.
  EXPECT_EQ(Error(R"({"candidates":[],"dense":{"x":1e999}})"), "dense.x: must be a finite number");
  EXPECT_EQ(Error(R"({"candidates":[{"item_id":"a","dense":{"y":-1e400}}]})"),
            "candidates[0].dense.y: must be a finite number");
  EXPECT_EQ(Error(R"({"candidates":[],"weights":{"w":1e309}})"),
            "weights.w: must be a finite number");
  EXPECT_NE(Error(R"({"candidates":[],"dense":{"x":NaN}})"), "");
  EXPECT_NE(Error(R"({"candidates":[],"dense":{"x":Infinity}})"), "");
}

TEST(RankRequest, InvalidJsonNamesTheBodyAndOffset) {
  const std::string msg = Error(R"({"candidates": [}")");
  EXPECT_EQ(msg.rfind("body: invalid JSON at byte 16", 0), 0u) << msg;
  EXPECT_EQ(Error("").rfind("body: invalid JSON", 0), 0u);
  EXPECT_EQ(Error(R"({"candidates":[]} trailing)").rfind("body: invalid JSON", 0), 0u);
}

TEST(RankRequest, LimitsAreEnforcedAndNamed) {
  RankRequestLimits limits;
  limits.max_candidates = 3;
  limits.max_map_entries = 2;
  limits.max_string_bytes = 8;
  ASSERT_TRUE(limits.Validate().ok());
  const std::string four =
      R"({"candidates":[{"item_id":1},{"item_id":2},{"item_id":3},{"item_id":4}]})";
  EXPECT_EQ(Error(four, limits), "candidates: 4 exceeds max_candidates (3)");
  EXPECT_EQ(Code(four, limits), Status::Code::kResourceExhausted);
  EXPECT_EQ(ErrorFromStatus(ParseRankRequest(four, limits).status()).status, 413);
  EXPECT_TRUE(
      ParseRankRequest(R"({"candidates":[{"item_id":1},{"item_id":2},{"item_id":3}]})", limits)
          .ok());
  EXPECT_EQ(Error(R"({"candidates":[],"user":{"a":"1","b":"2","c":"3"}})", limits),
            "user: more than max_map_entries (2) entries");
  EXPECT_EQ(Error(R"({"candidates":[{"item_id":"123456789"}]})", limits),
            "candidates[0].item_id: longer than max_string_bytes (8)");
  EXPECT_EQ(Error(R"({"candidates":[],"context":{"device":"123456789"}})", limits),
            "context.device: longer than max_string_bytes (8)");
  EXPECT_EQ(Code(R"({"candidates":[],"context":{"device":"123456789"}})", limits),
            Status::Code::kResourceExhausted);
  limits.max_candidates = 0;
  EXPECT_FALSE(limits.Validate().ok());
}

TEST(RankRequest, DefaultCandidateLimitIs1000) {
  std::string body = R"({"candidates":[)";
  for (int i = 0; i < 1001; ++i)
    body += (i ? ",{\"item_id\":" : "{\"item_id\":") + std::to_string(i) + "}";
  body += "]}";
  EXPECT_EQ(Error(body), "candidates: 1001 exceeds max_candidates (1000)");
}

ScoredItem Item(std::string id, double score) {
  return ScoredItem{JsonId{std::move(id), false}, score, {}};
}

TEST(RankResponse, SelectTopKSortsStablyAndTruncates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<ScoredItem> items = {Item("a", 0.1), Item("b", nan), Item("c", 0.9), Item("d", 0.1),
                                   Item("e", 0.5)};
  std::vector<ScoredItem> all = items;
  SelectTopK(&all, std::nullopt);
  std::string order;
  for (const auto& it : all) order += it.item_id.text;
  EXPECT_EQ(order,
            "cead"
            "b");
  SelectTopK(&items, 2);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].item_id.text, "c");
  EXPECT_EQ(items[1].item_id.text, "e");
  std::vector<ScoredItem> few = {Item("x", 1)};
  SelectTopK(&few, 10);
  EXPECT_EQ(few.size(), 1u);
}

TEST(RankResponse, RendersContractShape) {
  std::vector<ScoredItem> items = {
      ScoredItem{JsonId{"a", false}, 0.5, {{"p_click", 0.25}, {"watch_seconds", 3}}},
      ScoredItem{JsonId{"18446744073709551615", true},
                 0.125,
                 {{"p_click", std::numeric_limits<double>::infinity()}}},
  };
  const std::string body = RenderRankResponse(JsonId{"7", true}, 12, items);
  const json::value v = json::parse(body);
  EXPECT_EQ(v.at("request_id").as_int64(), 7);
  EXPECT_EQ(v.at("model_version").as_int64(), 12);
  const json::array& arr = v.at("items").as_array();
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[0].at("item_id").as_string(), "a");
  EXPECT_EQ(arr[0].at("position").as_int64(), 1);
  EXPECT_EQ(arr[0].at("score").as_double(), 0.5);
  EXPECT_EQ(arr[0].at("p_click").as_double(), 0.25);
  EXPECT_EQ(arr[0].at("watch_seconds").to_number<double>(), 3.0);
  EXPECT_EQ(arr[1].at("item_id").as_uint64(), 18446744073709551615ull);
  EXPECT_EQ(arr[1].at("position").as_int64(), 2);
  EXPECT_TRUE(arr[1].at("p_click").is_null());
}

TEST(JsonWriter, NumbersAreShortestRoundTrip) {
  for (double d : {0.1, 1.0 / 3.0, 1e-7, -2.5e300, 5e-324, 123456789.0, -0.0}) {
    std::string text;
    AppendJsonNumber(&text, d);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), d) << text;
    EXPECT_EQ(text.find_first_of("E"), std::string::npos) << text;
  }
  std::string text;
  AppendJsonNumber(&text, 0.5);
  EXPECT_EQ(text, "0.5");
}

TEST(JsonWriter, DocumentsParseAndStringsEscape) {
  JsonWriter w;
  w.BeginArray();
  for (double d : {0.1, 1.0 / 3.0, 1e-7, -2.5e300, 0.0}) w.Number(d);
  w.Number(std::nan(""));
  w.String(std::string("q\"\\\n\x01\xc3\xa9", 7));
  w.Int(-5);
  w.Bool(true);
  w.Null();
  w.BeginObject();
  w.EndObject();
  w.EndArray();
  const std::string text = w.str();
  EXPECT_NE(text.find("0.1,"), std::string::npos) << text;  // not 1E-1
  const json::array arr = json::parse(text).as_array();
  ASSERT_EQ(arr.size(), 11u);
  EXPECT_DOUBLE_EQ(arr[1].as_double(), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(arr[3].as_double(), -2.5e300);
  EXPECT_TRUE(arr[5].is_null());
  EXPECT_EQ(arr[6].as_string(), std::string("q\"\\\n\x01\xc3\xa9", 7));
  EXPECT_EQ(arr[7].as_int64(), -5);
  EXPECT_TRUE(arr[10].as_object().empty());
}

// The plain-ASCII fast path writes what Boost.JSON writes, for every byte.
TEST(JsonWriter, StringsAreWhatBoostJsonWritesForEveryByte) {
  for (int b = 0; b < 256; ++b) {
    const std::string value = std::string("id-") + static_cast<char>(b) + "-7";
    std::string out;
    AppendJsonString(&out, value);
    EXPECT_EQ(out, json::serialize(json::string_view(value.data(), value.size()))) << b;
  }
  std::string empty;
  AppendJsonString(&empty, "");
  EXPECT_EQ(empty, "\"\"");
}

}  // namespace
}  // namespace ranker::api
