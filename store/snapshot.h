// A snapshot: everything needed to resume learning and serving exactly where
// it stopped, the Kafka offsets it covers included (contract §4: restore the
// newest valid snapshot, resume from its offsets; no event lost or learned twice).
//
// The store treats the model as opaque bytes plus one structure it understands:
// embedding rows. A table of millions of rows is NOT rewritten each time: a
// Put carries only the rows changed (or removed) since its base snapshot, and
// the store resolves the full row set on Get. See SnapshotStore.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace ranker {
class Decoder;
}

namespace ranker::store {

// (topic, partition) -> the next offset NOT yet reflected in the snapshot.
using OffsetMap = std::map<std::pair<std::string, int32_t>, int64_t>;

// One embedding row: its 64-bit feature key and its serialised bytes
// (parameters + optimizer state, laid out by the learner; opaque here).
using Row = std::pair<uint64_t, std::string>;

struct Snapshot {
  // Monotonic: a Put's id must exceed every id ever Put to the same store,
  // deleted ones included (ids are never reused).
  uint64_t id = 0;
  // 0: `changed_rows` IS the full row set and `removed_rows` must be empty.
  // Otherwise the id of a stored snapshot this one is a delta against:
  // rows(id) = rows(base_id) + changed_rows - removed_rows. Usually the
  // previous snapshot, but any stored one works (e.g. after a restore).
  uint64_t base_id = 0;
  int64_t created_ms = 0;
  uint64_t model_version = 0;
  // The learner's digest of every parameter (hex), carried for display/checks.
  std::string param_checksum;
  // The instruction sets the writer's learner was compiled for
  // (learner::CompiledInstructionSets()): bit-identical continuation holds on
  // the same ones only. Empty in snapshots written before the field existed.
  std::string isa;
  OffsetMap offsets;
  // Model dense params + optimizer + normaliser + metrics + joiner: opaque.
  std::string dense_state;
  // Rows inserted or updated since base_id (all rows when base_id == 0).
  // Keys unique. Get() returns every live row here, sorted by key.
  std::vector<Row> changed_rows;
  // Keys deleted since base_id; disjoint from changed_rows. Keys absent from
  // the base are ignored. Always empty in a snapshot returned by Get().
  std::vector<uint64_t> removed_rows;
};

// What List() tells about one stored snapshot without loading it.
struct SnapshotInfo {
  uint64_t id = 0;
  uint64_t base_id = 0;
  int64_t created_ms = 0;
  uint64_t model_version = 0;
  std::string param_checksum;
  std::string isa;  // as in Snapshot
  OffsetMap offsets;
  // Payload bytes this snapshot's Put wrote: dense_state + 8 + row size per
  // changed row + 8 per removed key (what PayloadBytes() computes).
  uint64_t bytes = 0;
  uint64_t rows = 0;          // live rows as of this snapshot
  uint64_t changed_rows = 0;  // rows in its Put's delta
  uint64_t removed_rows = 0;  // keys its Put removed (as declared)
  // Empty when the record reads cleanly; otherwise why it cannot be trusted
  // (the other fields, id excepted, are then zero).
  std::string error;
};

// The payload size of a Put, as reported in SnapshotInfo::bytes.
uint64_t PayloadBytes(const Snapshot& s);

// The SnapshotInfo of a Put: everything but `rows` (live rows after the Put,
// which only the store knows) and `error`.
SnapshotInfo InfoOf(const Snapshot& s);

// `s` as a full snapshot without rows: its header and dense state, base_id 0,
// no changed or removed rows (what a SnapshotSink's Begin() receives).
Snapshot HeadOf(const Snapshot& s);

// Checks the structural REQUIREs of a Put (unique keys, changed/removed
// disjoint, removed empty when base_id == 0, id > 0, base_id < id).
// InvalidArgument naming the field otherwise.
Status ValidateForPut(const Snapshot& s);

// A self-contained, versioned, checksummed encoding of one snapshot with its
// FULL row set (a Get() result): magic "RKSN", format version, the fields,
// then a Digest64 of all preceding bytes. Writes format 2 (with `isa`);
// reads 1 and 2. For exports and the in-memory store.
// REQUIRES: s.base_id == 0 and s.removed_rows empty.
std::string EncodeSnapshot(const Snapshot& s);
// Writes format `version` (1: without isa, or 2); for tests of old exports.
std::string EncodeSnapshotVersion(const Snapshot& s, uint32_t version);
// Corruption naming `what` on a bad magic, unknown version, truncation,
// trailing bytes or checksum mismatch.
StatusOr<Snapshot> DecodeSnapshot(std::string_view in, std::string_view what);

// The offsets' encoding, shared by the store's record formats.
void PutOffsetMap(std::string* dst, const OffsetMap& offsets);
Status GetOffsetMap(Decoder* in, OffsetMap* offsets);

}  // namespace ranker::store
