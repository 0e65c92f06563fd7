// GET /v1/snapshots, POST /v1/snapshots, POST /v1/snapshots/{id}/restore.
#include "serving/handlers_snapshots.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <optional>

#include "serving/handlers.h"

namespace ranker::app {
namespace {

// The answer for a failed snapshot operation, by cause.
api::Response SnapshotError(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound:
      return api::JsonError(404, "not_found", s.message());
    case Status::Code::kFailedPrecondition:
      return api::JsonError(409, "snapshots_off", s.message());
    case Status::Code::kCorruption:
      return api::JsonError(422, "corrupt_snapshot", s.message());
    case Status::Code::kUnavailable:
      return api::JsonError(503, "unavailable", s.message());
    default:
      return api::JsonError(500, "snapshot_failed", s.message());
  }
}

api::Response InfoResponse(const store::SnapshotInfo& info, int status) {
  return api::JsonResponse(boost::json::serialize(SnapshotInfoJson(info)), status);
}

}  // namespace

boost::json::object SnapshotInfoJson(const store::SnapshotInfo& info) {
  boost::json::object o;
  o["id"] = info.id;
  if (!info.error.empty()) {
    o["error"] = info.error;
    return o;
  }
  o["base_id"] = info.base_id;
  o["created_ms"] = info.created_ms;
  o["model_version"] = info.model_version;
  o["param_checksum"] = info.param_checksum;
  o["bytes"] = info.bytes;
  o["rows"] = info.rows;
  o["changed_rows"] = info.changed_rows;
  o["removed_rows"] = info.removed_rows;
  boost::json::object offsets;
  for (const auto& [tp, next] : info.offsets) {
    offsets[tp.first + "/" + std::to_string(tp.second)] = next;
  }
  o["offsets"] = std::move(offsets);
  return o;
}

std::string ModelBody(const PublishedModel& published, const SnapshotAdmin& snapshots) {
  const std::optional<store::SnapshotInfo> last = snapshots.LastSnapshot();
  const std::pair<uint64_t, int64_t> key =
      last ? std::pair(last->id, last->created_ms) : std::pair<uint64_t, int64_t>(0, 0);
  std::lock_guard<std::mutex> lock(published.body_mu_);
  if (published.body_cached_ && published.body_snapshot_ == key) return published.body_;
  boost::system::error_code ec;
  boost::json::value report = boost::json::parse(published.report_json, ec);
  if (ec || !report.is_object()) return published.report_json;
  boost::json::object& o = report.as_object();
  o["param_checksum"] = published.ParamChecksum();
  if (last) o["last_snapshot"] = SnapshotInfoJson(*last);
  published.body_ = boost::json::serialize(report);
  published.body_snapshot_ = key;
  published.body_cached_ = true;
  return published.body_;
}

api::Handler SnapshotsHandler(const SnapshotAdmin* snapshots) {
  return [snapshots](const api::Request&) {
    boost::json::array list;
    for (const store::SnapshotInfo& info : snapshots->ListSnapshots()) {
      list.push_back(SnapshotInfoJson(info));
    }
    boost::json::object body;
    body["enabled"] = snapshots->snapshots_enabled();
    body["snapshots"] = std::move(list);
    return api::JsonResponse(boost::json::serialize(body));
  };
}

api::Handler TakeSnapshotHandler(SnapshotAdmin* snapshots) {
  return [snapshots](const api::Request&) {
    StatusOr<store::SnapshotInfo> info = snapshots->TakeSnapshot();
    if (!info.ok()) return SnapshotError(info.status());
    return InfoResponse(*info, 201);
  };
}

api::Handler RestoreSnapshotHandler(SnapshotAdmin* snapshots) {
  return [snapshots](const api::Request& request) {
    std::string_view text;
    for (const auto& [name, value] : request.path_params) {
      if (name == "id") text = value;
    }
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id == 0) {
      return api::JsonError(
          400, "invalid_id",
          "snapshot id must be a positive integer, got '" + std::string(text) + "'");
    }
    StatusOr<RestoredSnapshot> restored = snapshots->RestoreSnapshot(id);
    if (!restored.ok()) return SnapshotError(restored.status());
    boost::json::object body;
    body["restored_snapshot"] = id;
    body["model_version"] = restored->model_version;
    body["param_checksum"] = restored->param_checksum;
    return api::JsonResponse(boost::json::serialize(body));
  };
}

}  // namespace ranker::app
