// Internal to settings/: parsing of config values and the key table entry type.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "settings/config.h"

namespace ranker::app::internal {

struct KeyEntry {
  std::string key;
  std::string help;
  std::function<Status(Config*, std::string_view)> set;
  std::function<std::string(const Config&)> get;
};

// `challengers` (settings/config_challengers.cc).
KeyEntry ChallengersKey();

// The table, built once.
const std::vector<KeyEntry>& KeyTable();

// Text -> value parsers; each error names `key`.
Status ParseBool(std::string_view key, std::string_view text, bool* out);
Status ParseInt64(std::string_view key, std::string_view text, int64_t* out);
Status ParseDouble(std::string_view key, std::string_view text, double* out);
Status ParseIntList(std::string_view key, std::string_view text, std::vector<int>* out);
// "click:binary:1:1,watch:regression:1:1:log1p"
// (name:kind[:score_weight[:loss_weight[:transform[:loss]]]], loss
// pointwise|listwise).
Status ParseTasks(std::string_view key, std::string_view text, std::vector<learner::TaskSpec>* out);
std::string FormatTasks(const std::vector<learner::TaskSpec>& tasks);
// "click:5000,watch:60000" <-> task -> window_ms (each >= 0).
Status ParseTaskWindows(std::string_view key, std::string_view text,
                        std::map<std::string, int64_t>* out);
std::string FormatTaskWindows(const std::map<std::string, int64_t>& windows);

}  // namespace ranker::app::internal
