// Converter of UCI Census-Income (KDD) (the MMoE paper's income + marital
// status task pair) into contract-§1 `example` events, one per row, in file
// order (one online pass). The data stays where it is: the path is a
// parameter (e.g. ../shared/data/census_income_kdd/census-income.test.gz).
//
// Each event: request_id "census-<row>" (0-based), item_id "census" (a
// constant: rows are people, not items), user{} = the categorical columns
// by name (values trimmed; "?" kept as its own value), dense{} = age,
// wage_per_hour, capital_gains, capital_losses, stock_dividends, num_emp,
// weeks_worked, labels {"income": 1 if "50000+", "marital": 1 if "Never
// married"}. Never features: the label columns income_50k and marital_stat,
// and instance_weight.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "learner/event.h"

namespace ranker::sim {

struct CensusStats {
  int64_t rows = 0;
  int64_t income_positive = 0;
  int64_t marital_positive = 0;
};

// Task names of example.labels, in order: {"income", "marital"}.
std::span<const std::string> CensusLabelNames();

// One data line (", "-separated, 42 columns, trailing '.') as an event;
// Corruption naming the row and column if malformed.
StatusOr<learner::Event> CensusRowToEvent(std::string_view line, int64_t row);

// Converts the file at `path` (gzip or plain) to NDJSON on `out`. IOError
// if it cannot be read or written; Corruption on the first bad row.
StatusOr<CensusStats> ConvertCensus(const std::string& path, std::ostream& out);

}  // namespace ranker::sim
