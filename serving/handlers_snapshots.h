// Internal to serving/: JSON of snapshots for the snapshot routes and /v1/model.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "serving/published_model.h"
#include "serving/snapshot_admin.h"

namespace ranker::app {

// {"id","base_id","created_ms","model_version","param_checksum","bytes",
//  "rows","changed_rows","removed_rows","offsets":{"topic/partition":next}}
// plus "error" for a record that does not decode.
boost::json::object SnapshotInfoJson(const store::SnapshotInfo& info);

// The GET /v1/model body of `published`: its report plus "param_checksum"
// (computed here, on the HTTP thread, once per version) and "last_snapshot"
// (the newest written or restored snapshot; null when none or snapshots are
// off: a snapshot finishes after the version it belongs to was published).
std::string ModelBody(const PublishedModel& published, const SnapshotAdmin& snapshots);

}  // namespace ranker::app
