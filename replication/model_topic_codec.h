// The messages of the model topic (leader -> followers; replication/model_broadcaster.h,
// replication/model_follower.h). One broadcast of model version v, in this order on
// one partition:
//   key "row/<16 hex digits>"  value: EmbeddingTable::ExportRow bytes, or
//                              EMPTY = the row was removed (a tombstone)
//   key "dense/<i>"            value: chunk i of Model::SerializeState()
//   key "commit"               value: EncodeCommit(CommitHeader)
// Each message has the header kEpochHeader = the broadcast's epoch.
// The champion's model ("main") goes to model_topic.name, each challenger's
// to ChallengerTopic(model_topic.name, its name)
// (service/replication_hooks.h), with the same layout; the
// main topic's commits name the leader's champion.
// Every key names the latest value of one thing, so a log-compacted topic
// converges to the latest full state (rows, dense chunks, last commit).
// A full checkpoint (CommitHeader::full) carries every row of the model: a
// follower drops the rows it holds that were not in it.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ranker::app {

// Largest dense chunk: well below Kafka's default message.max.bytes (1 MB).
inline constexpr size_t kDenseChunkBytes = 256 * 1024;

inline constexpr std::string_view kCommitKey = "commit";
// Kafka header on every message of a broadcast: its epoch, in decimal.
inline constexpr std::string_view kEpochHeader = "epoch";

// What a commit message says about the broadcast it closes.
struct CommitHeader {
  uint64_t version = 0;         // the leader's model_version
  uint64_t epoch = 0;           // grows with each full checkpoint of a leader run
  uint64_t rows = 0;            // row messages of this broadcast (tombstones included)
  uint32_t dense_chunks = 0;    // "dense/0" .. "dense/<n-1>"
  bool full = false;            // a checkpoint: every row was sent
  int64_t published_at_ms = 0;  // the leader's wall clock at publication
  int64_t sent_at_ms = 0;       // the leader's wall clock when the commit was sent
  std::string param_checksum;   // hex, of the leader's model at `version`
  std::string report_json;      // the leader's GET /v1/model body of `version`
  // The champion topic only: the model serving by default on the leader
  // ("main" or a challenger's name), so followers switch on a promote.
  // Empty on a challenger's topic and in format 1 (before challengers).
  std::string champion;

  bool operator==(const CommitHeader&) const = default;
};

std::string EncodeCommit(const CommitHeader& header);
// Corruption naming what is wrong (bad magic, unknown format, truncation).
StatusOr<CommitHeader> DecodeCommit(std::string_view bytes);

std::string RowKey(uint64_t key);
// The embedding key of a "row/<hex>" message key; nullopt if it is not one.
std::optional<uint64_t> ParseRowKey(std::string_view message_key);

std::string DenseKey(uint32_t index);
// The chunk index of a "dense/<i>" message key; nullopt if it is not one.
std::optional<uint32_t> ParseDenseKey(std::string_view message_key);

// `state` cut into consecutive pieces of at most `max_bytes` (at least one
// piece, empty for an empty state). Views into `state`.
std::vector<std::string_view> SplitChunks(std::string_view state,
                                          size_t max_bytes = kDenseChunkBytes);

}  // namespace ranker::app
