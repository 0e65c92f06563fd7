// The rules of KafkaSource's bounded queue, without librdkafka.
#include "ingest/kafka_fetch_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace ranker::ingest {
namespace {

using std::chrono::milliseconds;

const TopicPartition kP0{"t", 0};
const TopicPartition kP1{"t", 1};

SourceMessage Msg(const TopicPartition& tp, int64_t offset, size_t payload_bytes = 10) {
  SourceMessage m;
  m.topic = tp.topic;
  m.partition = tp.partition;
  m.offset = offset;
  m.key = "k";
  m.payload.assign(payload_bytes, 'x');
  return m;
}

TEST(FetchQueue, PausesAtTheBoundAndResumesBelowTheLowWatermark) {
  FetchQueue q(/*max_messages=*/4, /*max_bytes=*/1 << 20, /*resume_fraction=*/0.5);
  q.Assign(kP0, -1);
  q.Assign(kP1, -1);
  std::vector<TopicPartition> pause, resume;
  for (int64_t o = 0; o < 3; ++o) q.Push(Msg(kP0, o));
  q.TakeFetchChanges(&pause, &resume);
  EXPECT_TRUE(pause.empty());
  q.Push(Msg(kP1, 0));  // 4 queued: full
  q.TakeFetchChanges(&pause, &resume);
  EXPECT_EQ(pause, (std::vector<TopicPartition>{kP0, kP1}));
  EXPECT_TRUE(resume.empty());
  pause.clear();
  EXPECT_EQ(q.Pop(1, milliseconds(0)).size(), 1u);  // 3 left > 2
  q.TakeFetchChanges(&pause, &resume);
  EXPECT_TRUE(resume.empty());
  EXPECT_EQ(q.Pop(1, milliseconds(0)).size(), 1u);  // 2 left: resume
  q.TakeFetchChanges(&pause, &resume);
  EXPECT_TRUE(pause.empty());
  EXPECT_EQ(resume, (std::vector<TopicPartition>{kP0, kP1}));
  SourceCounters c;
  q.FillCounters(&c);
  EXPECT_EQ(c.pauses, 1u);
  EXPECT_EQ(c.resumes, 1u);
  EXPECT_EQ(c.queued_messages, 2u);
}

TEST(FetchQueue, ByteBoundAccountingReturnsToZero) {
  FetchQueue q(1000, /*max_bytes=*/100, 0.5);
  q.Assign(kP0, -1);
  for (int64_t o = 0; o < 5; ++o) q.Push(Msg(kP0, o, 29));  // 30 bytes each
  SourceCounters c;
  q.FillCounters(&c);
  EXPECT_EQ(c.queued_bytes, 150u);
  EXPECT_EQ(c.pauses, 1u);
  auto got = q.Pop(100, milliseconds(0));
  ASSERT_EQ(got.size(), 5u);
  q.FillCounters(&c);
  EXPECT_EQ(c.queued_bytes, 0u);
  EXPECT_EQ(c.queued_messages, 0u);
  EXPECT_EQ(c.resumes, 1u);
  EXPECT_EQ(c.consumed_bytes, 150u);
}

TEST(FetchQueue, DropsRefetchedOffsetsAndForeignPartitions) {
  FetchQueue q(100, 1 << 20, 0.5);
  q.Assign(kP0, /*start_offset=*/5);
  q.Push(Msg(kP0, 4));  // below the owner's start
  q.Push(Msg(kP0, 5));
  q.Push(Msg(kP0, 6));
  q.Push(Msg(kP0, 6));  // re-fetched after a resume
  q.Push(Msg(kP1, 0));  // not assigned
  auto got = q.Pop(10, milliseconds(0));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].offset, 5);
  EXPECT_EQ(got[1].offset, 6);
  SourceCounters c;
  q.FillCounters(&c);
  EXPECT_EQ(c.duplicates_dropped, 2u);
  EXPECT_EQ(c.partitions.at(kP0).next_offset, 7);
}

TEST(FetchQueue, OwnerPauseHoldsMessagesBackAndPurgeKeepsAssignment) {
  FetchQueue q(100, 1 << 20, 0.5);
  q.Assign(kP0, -1);
  q.Assign(kP1, -1);
  q.Push(Msg(kP0, 0));
  q.Push(Msg(kP1, 0));
  q.SetOwnerPaused({kP0}, true);
  auto got = q.Pop(10, milliseconds(0));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].tp(), kP1);
  EXPECT_TRUE(q.Pop(10, milliseconds(1)).empty());
  q.SetOwnerPaused({kP0}, false);
  EXPECT_EQ(q.Pop(10, milliseconds(0)).size(), 1u);

  q.Push(Msg(kP0, 1));
  q.Purge({kP0});
  EXPECT_TRUE(q.Pop(10, milliseconds(0)).empty());
  EXPECT_TRUE(q.CheckAssigned({kP0, kP1}).ok());
  q.Unassign({kP0});
  Status s = q.CheckAssigned({kP1, kP0});
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("t[0]"), std::string::npos);
  q.Close();
  EXPECT_FALSE(q.CheckAssigned({kP1}).ok());
  EXPECT_TRUE(q.Pop(10, milliseconds(1000)).empty());  // returns at once when closed
}

}  // namespace
}  // namespace ranker::ingest

namespace ranker::ingest {
namespace {

// Retention deleted offsets below the consumer's position: the client
// resets and the next message lies beyond the one expected. The gap is
// counted as lost, from a known start and after messages alike; an unknown
// start counts nothing.
TEST(FetchQueue, CountsTheOffsetGapAfterAResetAsLost) {
  FetchQueue q(100, 1 << 20, 0.5);
  q.Assign(kP0, 10);  // the owner's start offset
  q.Assign(kP1, -1);  // unknown: the committed offset, say
  q.Push(Msg(kP0, 25));
  q.Push(Msg(kP0, 26));
  q.Push(Msg(kP0, 40));
  q.Push(Msg(kP1, 7));
  q.Push(Msg(kP1, 8));
  SourceCounters c;
  q.FillCounters(&c);
  EXPECT_EQ(c.offsets_lost, 15u + 13u);
  EXPECT_EQ(q.Pop(10, milliseconds(0)).size(), 5u);
  q.Push(Msg(kP1, 8));  // a re-fetched duplicate is not a gap
  q.FillCounters(&c);
  EXPECT_EQ(c.offsets_lost, 28u);
  EXPECT_EQ(c.duplicates_dropped, 1u);
}

}  // namespace
}  // namespace ranker::ingest
