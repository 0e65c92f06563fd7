#include "replication/model_topic_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "base/coding.h"
#include "service/replication_hooks.h"

namespace ranker::app {
namespace {

CommitHeader Sample() {
  CommitHeader h;
  h.version = 42;
  h.epoch = 1700000000000123;
  h.rows = 17;
  h.dense_chunks = 3;
  h.full = true;
  h.published_at_ms = 1700000000456;
  h.sent_at_ms = 1700000000789;
  h.param_checksum = "0123456789abcdef";
  h.report_json = R"({"model_version":42})";
  h.champion = "wide";
  return h;
}

TEST(ModelTopicCodec, CommitRoundTrips) {
  for (bool full : {true, false}) {
    CommitHeader h = Sample();
    h.full = full;
    StatusOr<CommitHeader> back = DecodeCommit(EncodeCommit(h));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, h);
  }
}

// A leader from before challengers wrote format 1 (no champion): still read,
// with no champion named.
TEST(ModelTopicCodec, AFormatOneCommitIsReadWithoutAChampion) {
  CommitHeader h = Sample();
  h.champion.clear();
  std::string v1 = EncodeCommit(h);
  std::string empty, one;
  PutString(&empty, "");
  PutFixed32(&one, 1);
  v1.resize(v1.size() - empty.size());  // format 1 ends with report_json
  v1.replace(4, 4, one);
  StatusOr<CommitHeader> back = DecodeCommit(v1);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, h);
  std::string v3 = EncodeCommit(Sample());
  std::string three;
  PutFixed32(&three, 3);
  v3.replace(4, 4, three);
  EXPECT_EQ(DecodeCommit(v3).status().code(), Status::Code::kCorruption);
  EXPECT_EQ(ChallengerTopic("ranker.model", "wide"), "ranker.model.wide");
}

TEST(ModelTopicCodec, DamagedCommitsAreCorruption) {
  const std::string good = EncodeCommit(Sample());
  for (size_t cut : {size_t{0}, size_t{3}, size_t{8}, good.size() - 1}) {
    EXPECT_EQ(DecodeCommit(good.substr(0, cut)).status().code(), Status::Code::kCorruption) << cut;
  }
  std::string bad_magic = good;
  bad_magic[0] ^= 1;
  EXPECT_EQ(DecodeCommit(bad_magic).status().code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeCommit(good + "x").status().code(), Status::Code::kCorruption);
}

TEST(ModelTopicCodec, RowAndDenseKeysRoundTrip) {
  for (uint64_t key : {uint64_t{0}, uint64_t{1}, uint64_t{0xdeadbeefcafef00d}, ~uint64_t{0}}) {
    const std::string k = RowKey(key);
    EXPECT_EQ(k.size(), 4u + 16u);
    EXPECT_EQ(ParseRowKey(k), key);
  }
  EXPECT_EQ(DenseKey(7), "dense/7");
  EXPECT_EQ(ParseDenseKey(DenseKey(12)), 12u);
  EXPECT_EQ(ParseRowKey("row/"), std::nullopt);
  EXPECT_EQ(ParseRowKey("row/xyz"), std::nullopt);
  EXPECT_EQ(ParseRowKey("dense/1"), std::nullopt);
  EXPECT_EQ(ParseDenseKey("dense/1a"), std::nullopt);
  EXPECT_EQ(ParseDenseKey(std::string(kCommitKey)), std::nullopt);
}

TEST(ModelTopicCodec, ChunksCoverTheStateInOrderAndRespectTheBound) {
  std::string state;
  for (int i = 0; i < 1000; ++i) state += static_cast<char>('a' + i % 26);
  for (size_t max : {size_t{1}, size_t{7}, size_t{100}, size_t{1000}, size_t{5000}}) {
    const std::vector<std::string_view> chunks = SplitChunks(state, max);
    EXPECT_EQ(chunks.size(), (state.size() + max - 1) / max) << max;
    std::string joined;
    for (std::string_view c : chunks) {
      EXPECT_LE(c.size(), max);
      EXPECT_FALSE(c.empty());
      joined += c;
    }
    EXPECT_EQ(joined, state);
  }
  const std::vector<std::string_view> empty = SplitChunks("", 10);
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_TRUE(empty[0].empty());
}

}  // namespace
}  // namespace ranker::app
