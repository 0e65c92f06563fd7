#include "api/rank_request.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cassert>
#include <cmath>
#include <limits>
#include <memory>

#include "api/json_writer.h"

namespace ranker::api {
namespace json = boost::json;
namespace {

// A field's path, formatted only when an error names it (building the
// names of the thousands of fields of a valid request would cost more than
// checking them): prefix[index].key.key, e.g. "candidates[3].item.category".
// Views borrow from the caller and the parsed document.
struct Path {
  Path(std::string_view prefix, int64_t index = -1) : prefix(prefix), index(index) {}

  // REQUIRES: fewer than 2 keys so far.
  Path Child(std::string_view key) const {
    assert(depth < 2);
    Path p = *this;
    p.keys[p.depth++] = key;
    return p;
  }
  std::string str() const {
    std::string out(prefix);
    if (index >= 0) out.append("[").append(std::to_string(index)).append("]");
    for (int i = 0; i < depth; ++i) out.append(".").append(keys[i]);
    return out;
  }

  std::string_view prefix;
  int64_t index;  // < 0: no [index]
  std::string_view keys[2];
  int depth = 0;  // keys in use
};

Status Invalid(const Path& field, std::string_view what) {
  std::string msg = field.str();
  msg.append(": ").append(what);
  return Status::InvalidArgument(msg);
}

// Walks one request body; each method validates one field kind.
class Parser {
 public:
  explicit Parser(const RankRequestLimits& limits) : limits_(limits) {}

  Status Id(const json::value& v, const Path& field, JsonId* out) const {
    if (v.is_int64()) {
      *out = {std::to_string(v.get_int64()), true};
    } else if (v.is_uint64()) {
      *out = {std::to_string(v.get_uint64()), true};
    } else if (v.is_string()) {
      RANKER_RETURN_IF_ERROR(Text(v.get_string(), field));
      if (v.get_string().empty()) return Invalid(field, "must not be empty");
      *out = {std::string(v.get_string()), false};
    } else {
      return Invalid(field, "must be a string or an integer");
    }
    return Status::OK();
  }

  Status Text(std::string_view s, const Path& field) const {
    if (s.size() <= limits_.max_string_bytes) return Status::OK();
    return Status::ResourceExhausted(field.str() + ": longer than max_string_bytes (" +
                                     std::to_string(limits_.max_string_bytes) + ")");
  }

  Status Number(const json::value& v, const Path& field, double* out) const {
    if (!v.is_number()) return Invalid(field, "must be a number");
    *out = v.to_number<double>();
    if (!std::isfinite(*out)) return Invalid(field, "must be a finite number");
    return Status::OK();
  }

  // Checks that `v` is an object within the entry limit.
  Status Map(const json::value& v, const Path& field) const {
    if (!v.is_object()) return Invalid(field, "must be an object");
    if (v.get_object().size() <= limits_.max_map_entries) return Status::OK();
    return Status::ResourceExhausted(field.str() + ": more than max_map_entries (" +
                                     std::to_string(limits_.max_map_entries) + ") entries");
  }

  Status Strings(const json::value& v, const Path& field, std::vector<StringFeature>* out) const {
    RANKER_RETURN_IF_ERROR(Map(v, field));
    out->reserve(v.get_object().size());
    for (const auto& [key, value] : v.get_object()) {
      const Path name = field.Child(key);
      RANKER_RETURN_IF_ERROR(Text(key, name));
      if (!value.is_string()) return Invalid(name, "must be a string");
      RANKER_RETURN_IF_ERROR(Text(value.get_string(), name));
      out->push_back({std::string(key), std::string(value.get_string())});
    }
    return Status::OK();
  }

  Status Numbers(const json::value& v, const Path& field, std::vector<NumberFeature>* out) const {
    RANKER_RETURN_IF_ERROR(Map(v, field));
    out->reserve(v.get_object().size());
    for (const auto& [key, value] : v.get_object()) {
      const Path name = field.Child(key);
      RANKER_RETURN_IF_ERROR(Text(key, name));
      NumberFeature f{std::string(key), 0};
      RANKER_RETURN_IF_ERROR(Number(value, name, &f.value));
      out->push_back(std::move(f));
    }
    return Status::OK();
  }

  Status Candidate(const json::value& v, const Path& field, RankCandidate* out) const {
    if (!v.is_object()) return Invalid(field, "must be an object");
    const json::object& obj = v.get_object();
    const json::value* id = obj.if_contains("item_id");
    if (id == nullptr) return Invalid(field.Child("item_id"), "missing");
    RANKER_RETURN_IF_ERROR(Id(*id, field.Child("item_id"), &out->item_id));
    if (const json::value* item = obj.if_contains("item")) {
      RANKER_RETURN_IF_ERROR(Strings(*item, field.Child("item"), &out->item));
    }
    if (const json::value* dense = obj.if_contains("dense")) {
      RANKER_RETURN_IF_ERROR(Numbers(*dense, field.Child("dense"), &out->dense));
    }
    return Status::OK();
  }

  Status Candidates(const json::value* v, RankRequest* out) const {
    if (v == nullptr) return Invalid({"candidates"}, "missing");
    if (!v->is_array()) return Invalid({"candidates"}, "must be an array");
    const json::array& arr = v->get_array();
    if (arr.size() > limits_.max_candidates) {
      return Status::ResourceExhausted("candidates: " + std::to_string(arr.size()) +
                                       " exceeds max_candidates (" +
                                       std::to_string(limits_.max_candidates) + ")");
    }
    out->candidates.resize(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
      const Path field{"candidates", static_cast<int64_t>(i)};
      RANKER_RETURN_IF_ERROR(Candidate(arr[i], field, &out->candidates[i]));
    }
    return Status::OK();
  }

  Status K(const json::value& v, RankRequest* out) const {
    int64_t k = 0;
    if (v.is_int64()) {
      k = v.get_int64();
    } else if (v.is_uint64()) {
      k = std::numeric_limits<int64_t>::max();
    } else {
      return Invalid({"k"}, "must be an integer");
    }
    if (k < 1) return Invalid({"k"}, "must be >= 1");
    out->k = static_cast<size_t>(k);
    return Status::OK();
  }

  Status Optionals(const json::object& obj, RankRequest* out) const {
    if (const json::value* v = obj.if_contains("request_id")) {
      RANKER_RETURN_IF_ERROR(Id(*v, {"request_id"}, &out->request_id.emplace()));
    }
    if (const json::value* v = obj.if_contains("user_id")) {
      RANKER_RETURN_IF_ERROR(Id(*v, {"user_id"}, &out->user_id.emplace()));
    }
    if (const json::value* v = obj.if_contains("user")) {
      RANKER_RETURN_IF_ERROR(Strings(*v, {"user"}, &out->user));
    }
    if (const json::value* v = obj.if_contains("context")) {
      RANKER_RETURN_IF_ERROR(Strings(*v, {"context"}, &out->context));
    }
    if (const json::value* v = obj.if_contains("dense")) {
      RANKER_RETURN_IF_ERROR(Numbers(*v, {"dense"}, &out->dense));
    }
    if (const json::value* v = obj.if_contains("weights")) {
      RANKER_RETURN_IF_ERROR(Numbers(*v, {"weights"}, &out->weights));
    }
    if (const json::value* v = obj.if_contains("k")) RANKER_RETURN_IF_ERROR(K(*v, out));
    if (const json::value* v = obj.if_contains("model")) {
      if (!v->is_string()) return Invalid({"model"}, "must be a string (a model's name)");
      if (v->get_string().size() > limits_.max_string_bytes) {
        return Invalid({"model"},
                       "longer than " + std::to_string(limits_.max_string_bytes) + " bytes");
      }
      out->model = std::string(v->get_string());
    }
    return Status::OK();
  }

 private:
  const RankRequestLimits& limits_;
};

// Parses `body` into a document whose memory comes from `arena` (one
// allocation pattern for the whole DOM, released at once).
StatusOr<json::value> ParseJson(std::string_view body, json::monotonic_resource* arena) {
  json::parser parser;
  parser.reset(json::storage_ptr(arena));
  json::error_code ec;
  const size_t consumed = parser.write(body.data(), body.size(), ec);
  if (ec) {
    return Status::InvalidArgument("body: invalid JSON at byte " + std::to_string(consumed) + ": " +
                                   ec.message());
  }
  return parser.release();
}

// Sort key: NaN ranks below every number.
double SortKey(double score) {
  return std::isnan(score) ? -std::numeric_limits<double>::infinity() : score;
}

void WriteId(JsonWriter* w, const JsonId& id) {
  if (id.is_integer) {
    w->Raw(id.text);
  } else {
    w->String(id.text);
  }
}

}  // namespace

Status RankRequestLimits::Validate() const {
  if (max_candidates == 0) return Status::InvalidArgument("max_candidates: must be >= 1");
  if (max_map_entries == 0) return Status::InvalidArgument("max_map_entries: must be >= 1");
  if (max_string_bytes == 0) return Status::InvalidArgument("max_string_bytes: must be >= 1");
  return Status::OK();
}

StatusOr<RankRequest> ParseRankRequest(std::string_view body, const RankRequestLimits& limits) {
  // The DOM of a 500-candidate request takes ~0.5 MB: from a buffer the
  // thread keeps, not from fresh (mmap'd, page-faulted) heap blocks per
  // request; a larger document continues on the heap.
  constexpr size_t kArenaBytes = 1 << 20;
  thread_local const std::unique_ptr<unsigned char[]> buffer(new unsigned char[kArenaBytes]);
  json::monotonic_resource arena(buffer.get(), kArenaBytes);  // outlives `doc`
  StatusOr<json::value> doc = ParseJson(body, &arena);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return Status::InvalidArgument("body: must be a JSON object");
  const json::object& obj = doc->get_object();
  const Parser parser(limits);
  RankRequest out;
  RANKER_RETURN_IF_ERROR(parser.Candidates(obj.if_contains("candidates"), &out));
  RANKER_RETURN_IF_ERROR(parser.Optionals(obj, &out));
  return out;
}

void SelectTopK(std::vector<ScoredItem>* items, std::optional<size_t> k) {
  std::stable_sort(items->begin(), items->end(), [](const ScoredItem& a, const ScoredItem& b) {
    return SortKey(a.score) > SortKey(b.score);
  });
  if (k && *k < items->size()) items->resize(*k);
}

std::string RenderRankResponse(const JsonId& request_id, uint64_t model_version,
                               const std::vector<ScoredItem>& items) {
  JsonWriter w;
  w.BeginObject();
  w.Key("request_id");
  WriteId(&w, request_id);
  w.Key("model_version");
  w.Uint(model_version);
  w.Key("items");
  w.BeginArray();
  for (size_t i = 0; i < items.size(); ++i) {
    w.BeginObject();
    w.Key("item_id");
    WriteId(&w, items[i].item_id);
    w.Key("position");
    w.Uint(i + 1);
    w.Key("score");
    w.Number(items[i].score);
    for (const NumberFeature& f : items[i].fields) {
      w.Key(f.name);
      w.Number(f.value);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::move(w).Take();
}

}  // namespace ranker::api
