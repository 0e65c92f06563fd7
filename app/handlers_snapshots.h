// Internal to app/: JSON of snapshots for the snapshot routes and /v1/model.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "app/snapshotter.h"

namespace ranker::app {

class Service;

// {"id","base_id","created_ms","model_version","param_checksum","bytes",
//  "rows","changed_rows","removed_rows","offsets":{"topic/partition":next}}
// plus "error" for a record that does not decode.
boost::json::object SnapshotInfoJson(const store::SnapshotInfo& info);

// The published report with "last_snapshot" set to the newest written
// snapshot (null when none or snapshots are off): snapshots finish after
// the version they belong to was published.
std::string WithLastSnapshot(std::string_view report_json, const Service& service);

}  // namespace ranker::app
