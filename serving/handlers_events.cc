// POST /v1/events: NDJSON or a JSON array of contract-§1 events. Each event
// is decoded with the learner's decoder; accepted ones go to the topic (with
// a broker) or the learner's queue, rejected ones are counted (and
// dead-lettered when configured) and listed by index.
#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/json_writer.h"
#include "serving/handlers.h"

namespace ranker::app {
namespace {

struct Rejected {
  size_t index;
  std::string error;
};

// Media type without parameters, lower-cased.
std::string MediaType(std::string_view content_type) {
  std::string out(content_type.substr(0, content_type.find(';')));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsNdjsonType(const std::string& t) {
  return t == "application/x-ndjson" || t == "application/ndjson" || t == "application/jsonl" ||
         t == "application/x-jsonlines" || t == "text/plain";
}

// The body's events as separate JSON texts. NDJSON: one per non-blank line;
// JSON array: one per element (re-serialised).
StatusOr<std::vector<std::string>> SplitBody(std::string_view body, bool array) {
  std::vector<std::string> out;
  if (!array) {
    size_t start = 0;
    while (start <= body.size()) {
      size_t end = body.find('\n', start);
      if (end == std::string_view::npos) end = body.size();
      std::string_view line = body.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") != std::string_view::npos) out.emplace_back(line);
      start = end + 1;
    }
    return out;
  }
  boost::json::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec);
  if (ec) return Status::InvalidArgument("body: invalid JSON: " + ec.message());
  if (!doc.is_array()) return Status::InvalidArgument("body: expected a JSON array of events");
  for (const boost::json::value& v : doc.get_array()) out.push_back(boost::json::serialize(v));
  return out;
}

std::string Render(size_t accepted, const std::vector<Rejected>& rejected) {
  api::JsonWriter w;
  w.BeginObject();
  w.Key("accepted");
  w.Uint(accepted);
  w.Key("rejected");
  w.Uint(rejected.size());
  w.Key("errors");
  w.BeginArray();
  for (const Rejected& r : rejected) {
    w.BeginObject();
    w.Key("index");
    w.Uint(r.index);
    w.Key("error");
    w.String(r.error);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::move(w).Take();
}

api::Response Overloaded(const Status& s) {
  api::Response r = api::JsonError(503, "unavailable", s.message());
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

api::Response HandleEvents(EventSink* sink, const api::Request& request) {
  if (sink == nullptr) {
    return api::JsonError(409, "conflict",
                          "service.role is follower: this replica serves the leader's model "
                          "and takes no events; send them to the leader");
  }
  const std::string type = MediaType(request.content_type);
  if (!type.empty() && type != "application/json" && !IsNdjsonType(type)) {
    return api::JsonError(415, "unsupported_media_type",
                          "Content-Type: expected application/json or application/x-ndjson");
  }
  const size_t first = request.body.find_first_not_of(" \t\r\n");
  const bool array =
      !IsNdjsonType(type) && first != std::string::npos && request.body[first] == '[';
  StatusOr<std::vector<std::string>> payloads = SplitBody(request.body, array);
  if (!payloads.ok()) return api::ErrorFromStatus(payloads.status());
  std::vector<AcceptedEvent> accepted;
  std::vector<Rejected> rejected;
  for (size_t i = 0; i < payloads->size(); ++i) {
    std::string& payload = (*payloads)[i];
    ingest::DecodeResult r = sink->Decode(payload);
    if (!r.ok()) {
      sink->RecordRejected("", payload, r.error());
      rejected.push_back({i, r.error().ToString()});
      continue;
    }
    std::string key = r.event().example.request_id;
    accepted.push_back({std::move(key), std::move(payload), std::move(r)});
  }
  const size_t n = accepted.size();
  if (n > 0) {
    Status s = sink->Submit(&accepted);
    if (!s.ok()) return Overloaded(s);
  }
  return api::JsonResponse(Render(n, rejected));
}

}  // namespace

api::Handler EventsHandler(EventSink* sink) {
  return [sink](const api::Request& request) { return HandleEvents(sink, request); };
}

}  // namespace ranker::app
