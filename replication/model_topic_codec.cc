#include "replication/model_topic_codec.h"

#include <charconv>
#include <cstdio>

#include "base/coding.h"

namespace ranker::app {
namespace {

constexpr uint32_t kCommitMagic = 0x4d54524b;  // "KRTM"
// 2 added CommitHeader::champion; 1 is still read (no champion).
constexpr uint32_t kCommitFormat = 2;
constexpr std::string_view kRowPrefix = "row/";
constexpr std::string_view kDensePrefix = "dense/";

template <typename Int>
std::optional<Int> ParseSuffix(std::string_view key, std::string_view prefix, int base) {
  if (!key.starts_with(prefix) || key.size() == prefix.size()) return std::nullopt;
  const std::string_view digits = key.substr(prefix.size());
  Int value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string EncodeCommit(const CommitHeader& h) {
  std::string out;
  PutFixed32(&out, kCommitMagic);
  PutFixed32(&out, kCommitFormat);
  PutFixed64(&out, h.version);
  PutFixed64(&out, h.epoch);
  PutFixed64(&out, h.rows);
  PutFixed32(&out, h.dense_chunks);
  PutFixed32(&out, h.full ? 1 : 0);
  PutFixed64(&out, static_cast<uint64_t>(h.published_at_ms));
  PutFixed64(&out, static_cast<uint64_t>(h.sent_at_ms));
  PutString(&out, h.param_checksum);
  PutString(&out, h.report_json);
  PutString(&out, h.champion);
  return out;
}

StatusOr<CommitHeader> DecodeCommit(std::string_view bytes) {
  Decoder in(bytes, "model topic commit");
  uint32_t magic = 0, format = 0, full = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&magic));
  if (magic != kCommitMagic) return Status::Corruption("model topic commit: bad magic number");
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&format));
  if (format != 1 && format != kCommitFormat) {
    return Status::Corruption("model topic commit: unsupported format " + std::to_string(format));
  }
  CommitHeader h;
  uint64_t published = 0, sent = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&h.version));
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&h.epoch));
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&h.rows));
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&h.dense_chunks));
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&full));
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&published));
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&sent));
  RANKER_RETURN_IF_ERROR(in.GetString(&h.param_checksum));
  RANKER_RETURN_IF_ERROR(in.GetString(&h.report_json));
  if (format >= 2) RANKER_RETURN_IF_ERROR(in.GetString(&h.champion));
  if (!in.done()) return Status::Corruption("model topic commit: trailing bytes");
  if (full > 1) return Status::Corruption("model topic commit: bad full flag");
  h.full = full == 1;
  h.published_at_ms = static_cast<int64_t>(published);
  h.sent_at_ms = static_cast<int64_t>(sent);
  return h;
}

std::string RowKey(uint64_t key) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "row/%016llx", static_cast<unsigned long long>(key));
  return buf;
}

std::optional<uint64_t> ParseRowKey(std::string_view message_key) {
  return ParseSuffix<uint64_t>(message_key, kRowPrefix, 16);
}

std::string DenseKey(uint32_t index) { return "dense/" + std::to_string(index); }

std::optional<uint32_t> ParseDenseKey(std::string_view message_key) {
  return ParseSuffix<uint32_t>(message_key, kDensePrefix, 10);
}

std::vector<std::string_view> SplitChunks(std::string_view state, size_t max_bytes) {
  std::vector<std::string_view> out;
  size_t at = 0;
  do {
    out.push_back(state.substr(at, max_bytes));
    at += max_bytes;
  } while (at < state.size());
  return out;
}

}  // namespace ranker::app
