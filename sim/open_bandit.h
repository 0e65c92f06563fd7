// Converter of the Open Bandit Dataset (ZOZOTOWN, small sample, uniform-random
// logging policy) into contract-§1 `example` events: one per row (one item at
// one of 3 positions), merged across campaigns in timestamp order. The data
// stays where it is: paths are parameters.
//
// Each event: request_id "<campaign>-<row index>" (with
// ObdOptions::group_displays, "<campaign>-<timestamp>": the rows one display
// logged, which share their timestamp, become one request), item_id
// "<campaign>-<item_id>" (campaigns have distinct item sets), position
// 1..3, ts_ms from the timestamp, user{} user_feature_0..3, item{}
// item_feature_1..3 from item_context.csv, dense{} item_feature_0 and
// "affinity" (the row's user-item_affinity_<item_id>), context{} device
// "web" (OBD has no device: one constant device, so the position tower
// learns one curve per position) and labels {"click": 0/1}.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "learner/event.h"

namespace ranker::sim {

struct ObdCampaign {
  std::string name;               // "men", "women": prefix of ids
  std::string csv_path;           // <name>.csv
  std::string item_context_path;  // item_context.csv of the same folder
};

// The random-policy campaigns men and women under `obd_dir` (the folder with
// random/), e.g. ../shared/data/open_bandit_dataset.
std::vector<ObdCampaign> ObdRandomCampaigns(const std::string& obd_dir);

// Parses "2019-11-24 00:03:13.442536+00:00" (fraction and offset optional)
// to milliseconds since the Unix epoch; false if malformed.
bool ParseObdTimestamp(std::string_view s, int64_t* ts_ms);

struct ObdStats {
  int64_t rows = 0;
  int64_t clicks = 0;
  int64_t requests = 0;  // distinct request ids
};

// Task names of example.labels: {"click"}.
std::span<const std::string> ObdLabelNames();

struct ObdOptions {
  // One request per display: the rows sharing a campaign and a timestamp
  // (the positions of one display; a listwise loss needs them as one list).
  // Off: one request per row.
  bool group_displays = false;
};

// Reads every campaign and returns its events, ordered by ts_ms (ties: the
// campaign order, then the row order). IOError if a file cannot be read;
// Corruption naming the file and line on a malformed row or an unknown item.
StatusOr<std::vector<learner::Event>> ReadOpenBandit(std::span<const ObdCampaign> campaigns,
                                                     const ObdOptions& options = {});

// ReadOpenBandit, then one NDJSON line per event on `out`. `requests` counts
// the distinct request ids (displays when grouped).
StatusOr<ObdStats> ConvertOpenBandit(std::span<const ObdCampaign> campaigns, std::ostream& out,
                                     const ObdOptions& options = {});

}  // namespace ranker::sim
