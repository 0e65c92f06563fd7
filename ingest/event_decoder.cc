#include "ingest/event_decoder.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>
#include <cassert>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

namespace ranker::ingest {
namespace {

namespace json = boost::json;
using learner::Event;
using learner::EventType;
using learner::Example;

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53
constexpr size_t kQuoteBytes = 40;                       // longest input quoted in a message

std::string_view View(json::string_view s) { return {s.data(), s.size()}; }

// At most `n` bytes of s, cut on a UTF-8 character boundary, "..." if cut.
std::string Clip(std::string_view s, size_t n = kQuoteBytes) {
  if (s.size() <= n) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

// "prefix.key", or "key" when prefix is empty; a long key is clipped.
std::string Field(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? Clip(key) : std::string(prefix) + "." + Clip(key);
}

std::string FormatDouble(double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

// A JSON value as quoted in error messages: -3, 2.5, "abc", an array.
std::string Describe(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case json::kind::int64:
      return std::to_string(v.get_int64());
    case json::kind::uint64:
      return std::to_string(v.get_uint64());
    case json::kind::double_:
      return FormatDouble(v.get_double());
    case json::kind::string:
      return "\"" + Clip(View(v.get_string())) + "\"";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "?";
}

// The value as an int64 if it is an integer (integral doubles up to 2^53 too).
std::optional<int64_t> AsInteger(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(v.get_uint64());
  }
  const double d = v.get_double();
  if (std::trunc(d) != d || std::fabs(d) > kMaxExactInteger) return std::nullopt;
  return static_cast<int64_t>(d);
}

double AsDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// Reads the fields of one event object. Each method returns false after
// recording the first rejection, which TakeError() hands out.
class EventReader {
 public:
  EventReader(const DecoderOptions& options, const json::object& obj)
      : options_(options), obj_(obj) {}

  bool Read(Event* event);
  DecodeError TakeError() { return std::move(error_); }

 private:
  bool ReadFeatures(EventType type, Example* ex);
  bool Type(EventType* out);
  bool Id(std::string_view key, bool required, EventType type, std::string* out);
  bool Position(bool required, int32_t* out);
  bool Timestamp(int64_t* out);
  bool WatchSeconds(double* out);
  bool Categorical(std::string_view name, Example* ex);
  bool Dense(Example* ex);
  bool Labels(Example* ex);

  // nullptr when the key is absent or null.
  const json::value* Find(std::string_view key) const;
  bool Fail(RejectReason reason, std::string message);
  bool Missing(std::string_view key, EventType type);
  // The checks below name the field `prefix.key` (or `key` when prefix is
  // empty), built only on failure.
  bool CheckLength(std::string_view prefix, std::string_view key, std::string_view what,
                   std::string_view s);
  bool CountFeature(std::string_view prefix, std::string_view key);
  bool Finite(std::string_view prefix, std::string_view key, const json::value& v, double* out);
  bool FeatureText(std::string_view prefix, std::string_view key, const json::value& v,
                   std::string* out);

  const DecoderOptions& options_;
  const json::object& obj_;
  size_t features_ = 0;
  DecodeError error_;
};

bool EventReader::Read(Event* event) {
  Example& ex = event->example;
  if (!Type(&event->type)) return false;
  const EventType type = event->type;
  if (type == EventType::kWatermark) {
    return (Find("ts_ms") != nullptr || Missing("ts_ms", type)) && Timestamp(&ex.ts_ms) &&
           Id("event_id", false, type, &event->event_id);
  }
  const bool has_features = type == EventType::kImpression || type == EventType::kExample;
  return Id("request_id", type != EventType::kExample, type, &ex.request_id) &&
         Id("item_id", true, type, &ex.item_id) && Id("event_id", false, type, &event->event_id) &&
         Timestamp(&ex.ts_ms) &&
         (type != EventType::kWatch || WatchSeconds(&event->watch_seconds)) &&
         (!has_features || ReadFeatures(type, &ex));
}

bool EventReader::ReadFeatures(EventType type, Example* ex) {
  std::string user_id;
  if (!Id("user_id", false, type, &user_id)) return false;
  size_t expected = 2;
  for (std::string_view name : {"user", "item", "context"}) {
    const json::value* v = Find(name);
    if (v != nullptr && v->is_object()) expected += v->get_object().size();
  }
  ex->categorical.reserve(std::min(expected, options_.max_features));
  if (!user_id.empty()) {
    if (!CountFeature("", "user_id")) return false;
    ex->categorical.push_back({"user_id", std::move(user_id)});
  }
  if (!CountFeature("", "item_id")) return false;
  ex->categorical.push_back({"item_id", ex->item_id});
  return Position(type == EventType::kImpression, &ex->position) && Categorical("user", ex) &&
         Categorical("item", ex) && Categorical("context", ex) && Dense(ex) &&
         (type != EventType::kExample || Labels(ex));
}

bool EventReader::Type(EventType* out) {
  const json::value* v = Find("type");
  if (v == nullptr) return Fail(RejectReason::kMissingField, "type: missing");
  if (!v->is_string()) {
    return Fail(RejectReason::kWrongType, "type: must be a string, got " + Describe(*v));
  }
  const std::string_view s = View(v->get_string());
  for (EventType t : {EventType::kImpression, EventType::kClick, EventType::kWatch,
                      EventType::kExample, EventType::kWatermark}) {
    if (s == learner::EventTypeName(t)) {
      *out = t;
      return true;
    }
  }
  return Fail(RejectReason::kUnknownType,
              "type: unknown event type " + Describe(*v) +
                  " (expected impression, click, watch, example or watermark)");
}

bool EventReader::Id(std::string_view key, bool required, EventType type, std::string* out) {
  const json::value* v = Find(key);
  if (v == nullptr) return required ? Missing(key, type) : true;
  if (v->is_string()) {
    out->assign(View(v->get_string()));
  } else if (v->is_int64()) {
    *out = std::to_string(v->get_int64());
  } else if (v->is_uint64()) {
    *out = std::to_string(v->get_uint64());
  } else {
    return Fail(RejectReason::kWrongType,
                std::string(key) + ": must be a string or an integer, got " + Describe(*v));
  }
  if (out->empty()) return Fail(RejectReason::kEmptyId, std::string(key) + ": must not be empty");
  return CheckLength("", key, "value", *out);
}

bool EventReader::Position(bool required, int32_t* out) {
  const json::value* v = Find("position");
  if (v == nullptr) return required ? Missing("position", EventType::kImpression) : true;
  const std::string range = "[1, " + std::to_string(options_.max_position) + "]";
  if (!v->is_number()) {
    return Fail(RejectReason::kWrongType,
                "position: must be an integer in " + range + ", got " + Describe(*v));
  }
  if (v->is_double() && !std::isfinite(v->get_double())) {
    return Fail(RejectReason::kNonFinite, "position: must be finite, got " + Describe(*v));
  }
  const std::optional<int64_t> i = AsInteger(*v);
  if (!i || *i < 1 || *i > options_.max_position) {
    return Fail(RejectReason::kBadPosition,
                "position: must be an integer in " + range + ", got " + Describe(*v));
  }
  *out = static_cast<int32_t>(*i);
  return true;
}

bool EventReader::Timestamp(int64_t* out) {
  const json::value* v = Find("ts_ms");
  if (v == nullptr) return true;
  double d;
  if (!Finite("", "ts_ms", *v, &d)) return false;
  const std::optional<int64_t> i = AsInteger(*v);
  if (!i || *i < 0) {
    return Fail(RejectReason::kBadTimestamp,
                "ts_ms: must be an integer >= 0 (ms since the epoch), got " + Describe(*v));
  }
  *out = *i;
  return true;
}

bool EventReader::WatchSeconds(double* out) {
  const json::value* v = Find("watch_seconds");
  if (v == nullptr) return Missing("watch_seconds", EventType::kWatch);
  double d;
  if (!Finite("", "watch_seconds", *v, &d)) return false;
  if (d < 0) {
    return Fail(RejectReason::kNegativeWatch, "watch_seconds: must be >= 0, got " + Describe(*v));
  }
  *out = d + 0.0;  // -0 becomes +0: one encoding per value
  return true;
}

bool EventReader::Categorical(std::string_view name, Example* ex) {
  const json::value* v = Find(name);
  if (v == nullptr) return true;
  if (!v->is_object()) {
    return Fail(RejectReason::kWrongType,
                std::string(name) + ": must be an object of string -> string, got " + Describe(*v));
  }
  for (const json::key_value_pair& kv : v->get_object()) {
    const std::string_view key = View(kv.key());
    if (kv.value().is_null()) continue;
    if (!CheckLength(name, key, "name", key)) return false;
    std::string text;
    if (!FeatureText(name, key, kv.value(), &text) || !CheckLength(name, key, "value", text) ||
        !CountFeature(name, key)) {
      return false;
    }
    if (name == "context" && key == "device") ex->device = text;
    ex->categorical.push_back({std::string(name) + "." + std::string(key), std::move(text)});
  }
  return true;
}

bool EventReader::Dense(Example* ex) {
  const json::value* v = Find("dense");
  if (v == nullptr) return true;
  if (!v->is_object()) {
    return Fail(RejectReason::kWrongType,
                "dense: must be an object of string -> number, got " + Describe(*v));
  }
  for (const json::key_value_pair& kv : v->get_object()) {
    const std::string_view key = View(kv.key());
    if (kv.value().is_null()) continue;
    double d;
    if (!CheckLength("dense", key, "name", key) || !Finite("dense", key, kv.value(), &d) ||
        !CountFeature("dense", key)) {
      return false;
    }
    ex->dense.push_back({std::string(key), d});
  }
  return true;
}

bool EventReader::Labels(Example* ex) {
  const json::value* v = Find("labels");
  if (v == nullptr) return Missing("labels", EventType::kExample);
  if (!v->is_object()) {
    return Fail(RejectReason::kWrongType,
                "labels: must be an object of task -> number, got " + Describe(*v));
  }
  const std::vector<std::string>& tasks = options_.tasks;
  ex->labels.assign(tasks.size(), learner::kNoLabel);
  bool any = false;
  for (size_t t = 0; t < tasks.size(); ++t) {
    const json::value* label = v->get_object().if_contains(tasks[t]);
    if (label == nullptr || label->is_null()) continue;
    if (!Finite("labels", tasks[t], *label, &ex->labels[t])) return false;
    any = true;
  }
  if (any) return true;
  std::string names;
  for (const std::string& t : tasks) names += (names.empty() ? "" : ", ") + t;
  return Fail(RejectReason::kNoKnownLabel,
              "labels: no label for any configured task (" + names + ")");
}

const json::value* EventReader::Find(std::string_view key) const {
  const json::value* v = obj_.if_contains(json::string_view(key.data(), key.size()));
  return v == nullptr || v->is_null() ? nullptr : v;
}

bool EventReader::Fail(RejectReason reason, std::string message) {
  error_ = {reason, std::move(message)};
  return false;
}

bool EventReader::Missing(std::string_view key, EventType type) {
  return Fail(RejectReason::kMissingField, std::string(key) + ": missing (required for " +
                                               std::string(learner::EventTypeName(type)) +
                                               " events)");
}

bool EventReader::CheckLength(std::string_view prefix, std::string_view key, std::string_view what,
                              std::string_view s) {
  if (s.size() <= options_.max_string_bytes) return true;
  return Fail(RejectReason::kStringTooLong,
              Field(prefix, key) + ": " + std::string(what) + " of " + std::to_string(s.size()) +
                  " bytes exceeds max_string_bytes " + std::to_string(options_.max_string_bytes));
}

bool EventReader::CountFeature(std::string_view prefix, std::string_view key) {
  if (++features_ <= options_.max_features) return true;
  return Fail(RejectReason::kTooManyFeatures,
              Field(prefix, key) + ": event has more than max_features " +
                  std::to_string(options_.max_features) + " features");
}

bool EventReader::Finite(std::string_view prefix, std::string_view key, const json::value& v,
                         double* out) {
  if (!v.is_number()) {
    return Fail(RejectReason::kWrongType,
                Field(prefix, key) + ": must be a number, got " + Describe(v));
  }
  *out = AsDouble(v);
  if (std::isfinite(*out)) return true;
  return Fail(RejectReason::kNonFinite,
              Field(prefix, key) + ": must be finite, got " + Describe(v));
}

bool EventReader::FeatureText(std::string_view prefix, std::string_view key, const json::value& v,
                              std::string* out) {
  if (v.is_string()) {
    out->assign(View(v.get_string()));
  } else if (v.is_int64()) {
    *out = std::to_string(v.get_int64());
  } else if (v.is_uint64()) {
    *out = std::to_string(v.get_uint64());
  } else if (v.is_bool()) {
    *out = v.get_bool() ? "true" : "false";
  } else {
    return Fail(RejectReason::kWrongType,
                Field(prefix, key) + ": must be a string (or integer/boolean), got " + Describe(v) +
                    (v.is_double() ? " (put numbers in dense{})" : ""));
  }
  return true;
}

DecodeResult DecodeValue(const DecoderOptions& options, const json::value& v) {
  if (!v.is_object()) {
    return DecodeError{RejectReason::kNotAnObject,
                       "payload: must be a JSON object, got " + Describe(v)};
  }
  EventReader reader(options, v.get_object());
  Event event;
  if (!reader.Read(&event)) return reader.TakeError();
  return event;
}

// Builds the DOM as Boost's own json::parser does, except that fractional
// numbers are re-read from their text with std::from_chars: Boost.JSON 1.81
// can be 1 ULP off, and encoded events must decode to the exact doubles.
struct ExactHandler {
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  ExactHandler(unsigned char* temp, size_t size) : st(json::storage_ptr(), temp, size) {}

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(size_t n, json::error_code&) { return st.push_object(n), true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(size_t n, json::error_code&) { return st.push_array(n), true; }
  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    return st.push_chars(s), true;
  }
  bool on_key(json::string_view s, size_t, json::error_code&) { return st.push_key(s), true; }
  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    return st.push_chars(s), true;
  }
  bool on_string(json::string_view s, size_t, json::error_code&) { return st.push_string(s), true; }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    number.clear();
    return st.push_int64(i), true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    number.clear();
    return st.push_uint64(u), true;
  }
  bool on_double(double d, json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    double exact = d;
    const char* end = number.data() + number.size();
    const auto [p, ec] = std::from_chars(number.data(), end, exact);
    // Out of range (1e999, 1e-999): keep Boost's +-inf or 0.
    st.push_double(ec == std::errc() && p == end ? exact : d);
    number.clear();
    return true;
  }
  bool on_bool(bool b, json::error_code&) { return st.push_bool(b), true; }
  bool on_null(json::error_code&) { return st.push_null(), true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  json::value_stack st;
  std::string number;  // text of the number being parsed
};

// The per-thread parser and the arena its values live in. A value returned
// by Parse() is valid until the thread's next Parse().
struct ThreadParser {
  ThreadParser() : arena(arena_buffer, sizeof(arena_buffer)), parser({}, temp, sizeof(temp)) {}
  unsigned char arena_buffer[16 * 1024];
  unsigned char temp[1024];
  json::monotonic_resource arena;
  json::basic_parser<ExactHandler> parser;
};

// The object key just before byte `at` of text (`"key": <at>`), or "".
std::string_view KeyBefore(std::string_view text, size_t at) {
  auto skip_space = [&] {
    while (at > 0 && std::string_view(" \t\r\n").find(text[at - 1]) != std::string_view::npos) --at;
  };
  skip_space();
  if (at == 0 || text[--at] != ':') return {};
  skip_space();
  if (at == 0 || text[--at] != '"' || at == 0) return {};
  const size_t open = text.rfind('"', at - 1);  // `at` is the closing quote
  if (open == std::string_view::npos) return {};
  return text.substr(open + 1, at - open - 1);
}

// Why `text` failed to parse at byte `at`; `what` names the text ("payload").
DecodeError ParseError(std::string_view text, size_t at, const json::error_code& ec,
                       std::string_view what) {
  const std::string_view rest = text.substr(std::min(at, text.size()));
  for (std::string_view literal : {"NaN", "Infinity"}) {
    if (rest.substr(0, literal.size()) != literal) continue;
    const size_t start = at > 0 && text[at - 1] == '-' ? at - 1 : at;
    const std::string_view key = KeyBefore(text, start);
    return {RejectReason::kNonFinite, (key.empty() ? std::string(what) : Clip(key)) + ": " +
                                          std::string(literal) + " is not a finite number (byte " +
                                          std::to_string(at) + ")"};
  }
  if (text.empty()) return {RejectReason::kInvalidJson, std::string(what) + ": empty"};
  return {RejectReason::kInvalidJson,
          std::string(what) + ": invalid JSON at byte " + std::to_string(at) + ": " + ec.message()};
}

// Parses `text` with the thread's parser (see ThreadParser for lifetime).
std::optional<json::value> Parse(std::string_view text, std::string_view what, DecodeError* error) {
  static thread_local ThreadParser tp;
  ExactHandler& h = tp.parser.handler();
  tp.parser.reset();
  h.st.reset();  // drops any half-built document before the arena goes
  h.number.clear();
  tp.arena.release();
  h.st.reset(json::storage_ptr(&tp.arena));
  json::error_code ec;
  const size_t at = tp.parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && at < text.size()) ec = json::error::extra_data;
  if (ec) {
    *error = ParseError(text, at, ec, what);
    return std::nullopt;
  }
  return h.st.release();
}

DecodeError Oversize(size_t bytes, size_t limit) {
  return {RejectReason::kOversize, "payload: " + std::to_string(bytes) +
                                       " bytes exceeds max_event_bytes " + std::to_string(limit)};
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

Status DecoderOptions::Validate() const {
  if (max_event_bytes == 0) return Status::InvalidArgument("decoder.max_event_bytes: must be > 0");
  if (max_features < 1) return Status::InvalidArgument("decoder.max_features: must be >= 1");
  if (max_string_bytes == 0) {
    return Status::InvalidArgument("decoder.max_string_bytes: must be > 0");
  }
  if (max_position < 1) return Status::InvalidArgument("decoder.max_position: must be >= 1");
  if (tasks.empty()) return Status::InvalidArgument("decoder.tasks: must name at least one task");
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].empty()) return Status::InvalidArgument("decoder.tasks: empty task name");
    for (size_t j = 0; j < i; ++j) {
      if (tasks[i] == tasks[j]) {
        return Status::InvalidArgument("decoder.tasks: duplicate task \"" + tasks[i] + "\"");
      }
    }
  }
  return Status::OK();
}

std::string DecodeError::ToString() const {
  return std::string(RejectReasonName(reason)) + ": " + message;
}

EventDecoder::EventDecoder(DecoderOptions options) : options_(std::move(options)) {
  assert(options_.Validate().ok());
}

DecodeResult EventDecoder::Decode(std::string_view payload) const {
  if (payload.size() > options_.max_event_bytes) {
    return Oversize(payload.size(), options_.max_event_bytes);
  }
  DecodeError error;
  std::optional<json::value> value = Parse(payload, "payload", &error);
  if (!value) return error;
  return DecodeValue(options_, *value);
}

StatusOr<std::vector<DecodeResult>> EventDecoder::DecodeBatch(std::string_view body,
                                                              bool json_array) const {
  std::vector<DecodeResult> results;
  if (!json_array) {
    while (!body.empty()) {
      const size_t nl = body.find('\n');
      std::string_view line = body.substr(0, nl);
      body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!IsBlank(line)) results.push_back(Decode(line));
    }
    return results;
  }
  DecodeError error;
  std::optional<json::value> value = Parse(body, "body", &error);
  if (!value) {
    const bool named = error.message.starts_with("body");
    return Status::InvalidArgument(named ? error.message : "body: " + error.message);
  }
  if (!value->is_array()) {
    return Status::InvalidArgument("body: must be a JSON array of events, got " + Describe(*value));
  }
  results.reserve(value->get_array().size());
  for (const json::value& element : value->get_array()) {
    const size_t bytes = json::serialize(element).size();
    if (bytes > options_.max_event_bytes) {
      results.push_back(Oversize(bytes, options_.max_event_bytes));
    } else {
      results.push_back(DecodeValue(options_, element));
    }
  }
  return results;
}

}  // namespace ranker::ingest
