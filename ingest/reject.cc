#include "ingest/reject.h"

#include <cassert>

namespace ranker::ingest {
namespace {

// Indexed by RejectReason; the order must match the enum.
constexpr std::array<std::string_view, kRejectReasonCount> kNames = {
    "invalid_json",   "not_an_object",     "unknown_type",    "missing_field", "wrong_type",
    "non_finite",     "bad_position",      "negative_watch",  "oversize",      "empty_id",
    "no_known_label", "too_many_features", "string_too_long", "bad_timestamp",
};

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  const auto i = static_cast<size_t>(reason);
  assert(i < kRejectReasonCount);
  return i < kRejectReasonCount ? kNames[i] : std::string_view("unknown");
}

std::optional<RejectReason> RejectReasonFromName(std::string_view name) {
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    if (kNames[i] == name) return static_cast<RejectReason>(i);
  }
  return std::nullopt;
}

uint64_t RejectCounters::Total() const {
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
  return total;
}

}  // namespace ranker::ingest
