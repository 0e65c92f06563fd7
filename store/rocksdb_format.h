// The on-disk layout of RocksDbSnapshotStore: key encodings, the manifest
// record and the row-version record. Pure functions, no RocksDB types, so the
// layout is testable (and corruptible by tests) on its own. Internal to store/.
//
// Keys (one column family; big-endian numbers so bytewise order = numeric):
//   "F"                      layout magic + version, written when the DB is created
//   "N"                      fixed64: the highest snapshot id ever Put (ids never reused)
//   "M" id:BE64              manifest of snapshot id (EncodeManifest)
//   "D" id:BE64              dense_state of snapshot id, raw bytes
//   "R" key:BE64 ~ver:BE64   one version of embedding row `key`, written by
//                            snapshot `ver` (EncodeRowValue: live or removed)
//   "W" id:BE64 chunk:BE32   the row keys snapshot id wrote (live and removal
//                            versions), fixed64 each, up to kWrittenChunkKeys
//                            a chunk: garbage collection reads these instead of
//                            every row version
//   "G"                      fixed64: the first snapshot id with "W" records
//                            (stores written before them have none)
// Rows sort by key, then NEWEST version first, so "the newest version of k
// visible to snapshot N" is one Seek.
//
// Visibility: snapshot N sees the versions written by the snapshots of its
// lineage: N itself, then its base's lineage, back to the last full snapshot
// (base_id == 0). A lineage is a short list of id intervals: a delta on the
// newest id ever stored extends the last interval; a delta on an older base
// (after a restore) or a full snapshot starts a new one. rows(N) = for each
// key, its newest version whose writer is in lineage(N), unless that version
// is a removal. Garbage collection (on Delete/Retain) drops every version
// that is no remaining snapshot's visible one; Get results never change.
// It looks only at the keys that ids of two sets wrote (rocksdb_rows.cc
// GarbageCandidates): those no remaining lineage holds, and those a
// remaining lineage holds above the part it shares with a dropped one;
// any other version's visibility is unchanged by the drop.
//
// Checksums: each live row version carries RowHash(key, bytes). The manifest
// holds the row count and rows_digest = sum (mod 2^64) of RowHash over the
// snapshot's full row set, updated incrementally at Put; the size and Digest64
// of the dense blob; and, last, a Digest64 of all its own preceding bytes. So
// the manifest digest transitively covers the whole snapshot: any flipped,
// truncated, missing or stale row, dense byte or manifest field is detected.
// RocksDB's block checksums are on as well.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/snapshot.h"

namespace ranker::store::format {

inline constexpr std::string_view kLayoutKey = "F";
inline constexpr std::string_view kMaxIdKey = "N";
inline constexpr char kManifestPrefix = 'M';
inline constexpr char kDensePrefix = 'D';
inline constexpr char kRowPrefix = 'R';
// A row key's bytes that name the row, without its version: kRowPrefix and
// the 8-byte key (RowKey); the store's Bloom filter is on them.
inline constexpr size_t kRowKeyPrefix = 9;
// Whether `key` is in the rows' key range (well formed or not).
inline bool IsRowKey(std::string_view key) { return !key.empty() && key[0] == kRowPrefix; }
inline constexpr char kWrittenPrefix = 'W';
inline constexpr std::string_view kWrittenSinceKey = "G";
inline constexpr size_t kWrittenChunkKeys = 65536;
// The value under kLayoutKey.
std::string LayoutValue();

std::string ManifestKey(uint64_t id);
std::string DenseKey(uint64_t id);
std::string RowKey(uint64_t row_key, uint64_t version);
std::string WrittenKey(uint64_t id, uint32_t chunk);
bool ParseWrittenKey(std::string_view key, uint64_t* id);
// Parses a key of the given kind; false if it is not one.
bool ParseManifestKey(std::string_view key, uint64_t* id);
bool ParseRowKey(std::string_view key, uint64_t* row_key, uint64_t* version);

struct Manifest;

// The snapshot ids whose row versions a snapshot sees: sorted, disjoint,
// inclusive [first, last] intervals.
class Lineage {
 public:
  Lineage() = default;
  // The lineage of a full snapshot.
  static Lineage Single(uint64_t id) { return Lineage({{id, id}}); }
  // The lineage of snapshot `id` whose base has this lineage. `linear`: no id
  // between the base and `id` was ever stored, so the intervals may merge.
  Lineage Extend(uint64_t id, bool linear) const;
  bool Contains(uint64_t version) const;
  uint64_t newest() const { return intervals_.empty() ? 0 : intervals_.back().second; }
  const std::vector<std::pair<uint64_t, uint64_t>>& intervals() const { return intervals_; }
  bool empty() const { return intervals_.empty(); }
  uint64_t oldest() const { return intervals_.empty() ? 0 : intervals_.front().first; }

  // Set algebra over the ids (the result need not end at a snapshot's id).
  static Lineage Union(const Lineage& a, const Lineage& b);
  static Lineage Intersect(const Lineage& a, const Lineage& b);
  Lineage Minus(const Lineage& other) const;
  Lineage Above(uint64_t id) const;  // the ids > id

 private:
  explicit Lineage(std::vector<std::pair<uint64_t, uint64_t>> intervals)
      : intervals_(std::move(intervals)) {}
  friend StatusOr<Manifest> DecodeManifest(std::string_view in, uint64_t id);
  std::vector<std::pair<uint64_t, uint64_t>> intervals_;
};

struct Manifest {
  SnapshotInfo info;  // info.error unused
  Lineage lineage;
  uint64_t dense_size = 0;
  uint64_t dense_digest = 0;
  uint64_t rows_digest = 0;  // sum of RowHash over info.rows live rows
};

// Writes the current manifest format (2: with info.isa).
std::string EncodeManifest(const Manifest& m);
// Writes format `version` (1 or 2); for tests of reading old stores.
std::string EncodeManifestVersion(const Manifest& m, uint32_t version);
// Reads formats 1 (isa empty) and 2. Corruption naming snapshot `id` on a
// bad magic/version, checksum mismatch,
// truncation, or an id field that disagrees with the key.
StatusOr<Manifest> DecodeManifest(std::string_view in, uint64_t id);

uint64_t RowHash(uint64_t row_key, std::string_view bytes);
uint64_t BlobDigest(std::string_view bytes);

// One stored row version. A removal carries no bytes and hash 0.
struct RowValue {
  bool live = false;
  uint64_t hash = 0;       // RowHash(key, bytes) as written
  std::string_view bytes;  // points into the decoded input
};
std::string EncodeRowValue(bool live, uint64_t hash, std::string_view bytes);
// Corruption if malformed. Does not verify the hash (see VerifyRow).
Status DecodeRowValue(std::string_view in, RowValue* out);

}  // namespace ranker::store::format
