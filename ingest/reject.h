// Why an event was rejected, and thread-safe counts of rejections by reason.
// The names are stable snake_case identifiers: they appear as the `reason`
// label of the rejection metric, in dead-letter message headers and in the
// `POST /v1/events` error strings, so never rename one (add new reasons at the
// end, before kCount).
#pragma once

#include <array>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ranker::ingest {

enum class RejectReason : uint8_t {
  kInvalidJson,      // not parseable JSON (syntax, invalid UTF-8, too deep, empty)
  kNotAnObject,      // valid JSON, but the event is not a JSON object
  kUnknownType,      // `type` is not impression/click/watch/example
  kMissingField,     // a required field is absent (or null)
  kWrongType,        // a field has the wrong JSON type
  kNonFinite,        // NaN, Infinity or an overflowing number (1e999)
  kBadPosition,      // position not an integer in [1, max_position]
  kNegativeWatch,    // watch_seconds < 0
  kOversize,         // payload longer than max_event_bytes
  kEmptyId,          // request_id/item_id/user_id/event_id is ""
  kNoKnownLabel,     // an example without a label for any configured task
  kTooManyFeatures,  // more than max_features categorical + dense features
  kStringTooLong,    // an id, feature name or feature value over max_string_bytes
  kBadTimestamp,     // ts_ms negative or not an integer
  kCount,            // number of reasons; not a reason
};

inline constexpr size_t kRejectReasonCount = static_cast<size_t>(RejectReason::kCount);

// "invalid_json", "not_an_object", ... REQUIRES: reason != kCount.
std::string_view RejectReasonName(RejectReason reason);

// Inverse of RejectReasonName (e.g. to read a dead-letter header back);
// nullopt for an unknown name.
std::optional<RejectReason> RejectReasonFromName(std::string_view name);

// Rejections counted by reason. Thread-safe: any thread may Add while others
// read (relaxed atomics: counts are monotonic, not synchronised with each
// other, so a ForEach taken during Adds is not one consistent instant).
class RejectCounters {
 public:
  RejectCounters() = default;
  RejectCounters(const RejectCounters&) = delete;
  RejectCounters& operator=(const RejectCounters&) = delete;

  void Add(RejectReason reason, uint64_t n = 1) {
    counts_[Index(reason)].fetch_add(n, std::memory_order_relaxed);
  }
  // Restores a count (from a snapshot).
  void Set(RejectReason reason, uint64_t n) {
    counts_[Index(reason)].store(n, std::memory_order_relaxed);
  }
  uint64_t Get(RejectReason reason) const {
    return counts_[Index(reason)].load(std::memory_order_relaxed);
  }
  // Sum over all reasons.
  uint64_t Total() const;

  // Calls fn(RejectReason, std::string_view name, uint64_t count) once per
  // reason, in enum order, zero counts included (so a metric exporter can
  // create every label up front).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < kRejectReasonCount; ++i) {
      const auto reason = static_cast<RejectReason>(i);
      fn(reason, RejectReasonName(reason), Get(reason));
    }
  }

 private:
  static size_t Index(RejectReason reason) {
    const auto i = static_cast<size_t>(reason);
    assert(i < kRejectReasonCount && "kCount is not a reason");
    return i < kRejectReasonCount ? i : kRejectReasonCount - 1;
  }
  std::array<std::atomic<uint64_t>, kRejectReasonCount> counts_{};
};

}  // namespace ranker::ingest
