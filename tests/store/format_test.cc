// The store's record formats: round trips, and hand-damaged inputs that must
// fail cleanly (every truncation, every single-bit flip).
#include <gtest/gtest.h>

#include <algorithm>

#include "store/rocksdb_format.h"
#include "store/snapshot.h"
#include "tests/store/store_test_util.h"

namespace ranker::store {
namespace {

using testing::Header;
using testing::RowBytes;

Snapshot Sample() {
  Snapshot s = Header(9, 0);
  s.changed_rows = {{1, RowBytes(1, 0)}, {77, ""}, {~0ull, RowBytes(3, 1)}};
  return s;
}

TEST(SnapshotCodec, RoundTrips) {
  const Snapshot s = Sample();
  StatusOr<Snapshot> back = DecodeSnapshot(EncodeSnapshot(s), "x");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, s.id);
  EXPECT_EQ(back->created_ms, s.created_ms);
  EXPECT_EQ(back->model_version, s.model_version);
  EXPECT_EQ(back->param_checksum, s.param_checksum);
  EXPECT_EQ(back->isa, s.isa);
  EXPECT_EQ(back->offsets, s.offsets);
  EXPECT_EQ(back->dense_state, s.dense_state);
  EXPECT_EQ(back->changed_rows, s.changed_rows);
}

// Exports written before the isa field (format 1) still decode, isa empty.
TEST(SnapshotCodec, ReadsFormatOneWithoutIsa) {
  const Snapshot s = Sample();
  ASSERT_FALSE(s.isa.empty());
  StatusOr<Snapshot> back = DecodeSnapshot(EncodeSnapshotVersion(s, 1), "x");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->isa, "");
  EXPECT_EQ(back->param_checksum, s.param_checksum);
  EXPECT_EQ(back->offsets, s.offsets);
  EXPECT_EQ(back->changed_rows, s.changed_rows);
}

TEST(SnapshotCodec, EveryTruncationAndBitFlipIsCorruption) {
  const std::string good = EncodeSnapshot(Sample());
  for (size_t n = 0; n < good.size(); ++n) {
    StatusOr<Snapshot> s = DecodeSnapshot(std::string_view(good).substr(0, n), "snap");
    ASSERT_EQ(s.status().code(), Status::Code::kCorruption) << "prefix " << n;
  }
  for (size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::string bad = good;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    StatusOr<Snapshot> s = DecodeSnapshot(bad, "snap");
    ASSERT_EQ(s.status().code(), Status::Code::kCorruption) << "bit " << bit;
    ASSERT_NE(s.status().message().find("snap"), std::string::npos);
  }
  EXPECT_FALSE(DecodeSnapshot(good + "x", "snap").ok());
}

TEST(SnapshotCodec, PayloadBytesAndPutValidation) {
  Snapshot s = Header(2, 1);
  s.changed_rows = {{1, "abc"}, {2, ""}};
  s.removed_rows = {3};
  EXPECT_EQ(PayloadBytes(s), s.dense_state.size() + (8 + 3) + 8 + 8);
  EXPECT_TRUE(ValidateForPut(s).ok());
  s.removed_rows = {2};
  Status st = ValidateForPut(s);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("removed_rows"), std::string::npos);
}

format::Manifest SampleManifest() {
  format::Manifest m;
  m.info.id = 12;
  m.info.base_id = 10;
  m.info.created_ms = 123;
  m.info.model_version = 4;
  m.info.param_checksum = "00ff";
  m.info.isa = "avx2 fma sse4.2; eigen: AVX2";
  m.info.offsets[{"t", 3}] = 99;
  m.info.bytes = 1000;
  m.info.rows = 7;
  m.info.changed_rows = 2;
  m.info.removed_rows = 1;
  m.lineage = format::Lineage::Single(3).Extend(10, true).Extend(12, false);
  m.dense_size = 5;
  m.dense_digest = 0xabc;
  m.rows_digest = 0xdef;
  return m;
}

TEST(ManifestCodec, RoundTripsAndRejectsDamage) {
  const std::string good = format::EncodeManifest(SampleManifest());
  StatusOr<format::Manifest> m = format::DecodeManifest(good, 12);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->info.offsets, SampleManifest().info.offsets);
  EXPECT_EQ(m->info.isa, SampleManifest().info.isa);
  EXPECT_EQ(m->info.rows, 7u);
  EXPECT_EQ(m->rows_digest, 0xdefu);
  EXPECT_EQ(m->lineage.intervals(), SampleManifest().lineage.intervals());
  // Filed under another id: the record does not belong there.
  EXPECT_EQ(format::DecodeManifest(good, 13).status().code(), Status::Code::kCorruption);
  for (size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::string bad = good;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    StatusOr<format::Manifest> d = format::DecodeManifest(bad, 12);
    ASSERT_EQ(d.status().code(), Status::Code::kCorruption) << "bit " << bit;
    ASSERT_NE(d.status().message().find("snapshot 12"), std::string::npos);
  }
  for (size_t n = 0; n < good.size(); ++n) {
    ASSERT_FALSE(format::DecodeManifest(good.substr(0, n), 12).ok()) << "prefix " << n;
  }
}

// Stores written before the isa field (manifest format 1) still open and
// restore: their manifests decode with isa empty.
TEST(ManifestCodec, ReadsFormatOneWithoutIsa) {
  const std::string old = format::EncodeManifestVersion(SampleManifest(), 1);
  EXPECT_NE(old, format::EncodeManifest(SampleManifest()));
  StatusOr<format::Manifest> m = format::DecodeManifest(old, 12);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->info.isa, "");
  EXPECT_EQ(m->info.param_checksum, "00ff");
  EXPECT_EQ(m->info.offsets, SampleManifest().info.offsets);
  EXPECT_EQ(m->rows_digest, 0xdefu);
}

TEST(Lineage, ContainsExactlyItsIntervals) {
  const format::Lineage l = format::Lineage::Single(3).Extend(5, true).Extend(9, false);
  // {3..5} U {9}
  std::vector<uint64_t> in;
  for (uint64_t v = 0; v <= 12; ++v) {
    if (l.Contains(v)) in.push_back(v);
  }
  EXPECT_EQ(in, std::vector<uint64_t>({3, 4, 5, 9}));
  EXPECT_EQ(l.newest(), 9u);
}

TEST(RowKeys, SortByKeyThenNewestVersionFirst) {
  std::vector<std::string> keys = {format::RowKey(2, 1), format::RowKey(1, 1), format::RowKey(1, 7),
                                   format::RowKey(256, 3)};
  std::sort(keys.begin(), keys.end());
  std::vector<std::pair<uint64_t, uint64_t>> parsed;
  for (const std::string& k : keys) {
    uint64_t key = 0, version = 0;
    ASSERT_TRUE(format::ParseRowKey(k, &key, &version));
    parsed.emplace_back(key, version);
  }
  EXPECT_EQ(parsed, (std::vector<std::pair<uint64_t, uint64_t>>{{1, 7}, {1, 1}, {2, 1}, {256, 3}}));
  uint64_t id = 0;
  EXPECT_TRUE(format::ParseManifestKey(format::ManifestKey(300), &id));
  EXPECT_EQ(id, 300u);
  EXPECT_FALSE(format::ParseManifestKey(format::DenseKey(300), &id));
}

TEST(RowValues, RoundTripAndRejectMalformed) {
  format::RowValue v;
  // v.bytes points into the decoded input: keep it alive (ASan found the
  // temporary this test once decoded from).
  const std::string encoded = format::EncodeRowValue(true, 42, "abc");
  ASSERT_TRUE(format::DecodeRowValue(encoded, &v).ok());
  EXPECT_TRUE(v.live);
  EXPECT_EQ(v.hash, 42u);
  EXPECT_EQ(v.bytes, "abc");
  ASSERT_TRUE(format::DecodeRowValue(format::EncodeRowValue(false, 0, {}), &v).ok());
  EXPECT_FALSE(v.live);
  EXPECT_FALSE(format::DecodeRowValue("", &v).ok());
  EXPECT_FALSE(format::DecodeRowValue("L1234", &v).ok());
  EXPECT_FALSE(format::DecodeRowValue("Q12345678", &v).ok());
}

}  // namespace
}  // namespace ranker::store
