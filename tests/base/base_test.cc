#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "base/coding.h"
#include "base/hash.h"
#include "base/random.h"
#include "base/status.h"

namespace ranker {
namespace {

TEST(Status, NamesCodeAndMessage) {
  Status s = Status::InvalidArgument("position must be >= 1");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "InvalidArgument: position must be >= 1");
  EXPECT_TRUE(Status::OK().ok());
}

TEST(StatusOr, HoldsValueOrError) {
  StatusOr<int> v = 7;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  StatusOr<int> e = Status::NotFound("x");
  EXPECT_EQ(e.status().code(), Status::Code::kNotFound);
}

TEST(Hash, FeatureKeySeparatesFieldsAndValues) {
  EXPECT_NE(FeatureKey("user.country", "de"), FeatureKey("item.country", "de"));
  EXPECT_NE(FeatureKey("a", "bc"), FeatureKey("ab", "c"));
  EXPECT_EQ(FeatureKey("item_id", "42"), FeatureKey("item_id", "42"));
  std::set<uint64_t> keys;
  for (int i = 0; i < 100000; ++i) keys.insert(FeatureKey("item_id", std::to_string(i)));
  EXPECT_EQ(keys.size(), 100000u);
}

TEST(Rng, DeterministicAndRoughlyNormal) {
  Rng a(5), b(5), c(6);
  EXPECT_EQ(a.NextU64(), b.NextU64());
  EXPECT_NE(Rng(5).NextU64(), c.NextU64());
  Rng r(1);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double x = r.Normal();
    sum += x;
    sq += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
}

TEST(Coding, RoundTripAndTruncation) {
  std::string buf;
  PutFixed64(&buf, 0x0102030405060708ULL);
  PutDouble(&buf, -2.5);
  PutString(&buf, "hello");
  std::vector<float> xs = {1, 2, 3};
  PutArray(&buf, xs.data(), xs.size());
  Decoder d(buf, "test");
  uint64_t u;
  double x;
  std::string s;
  std::vector<float> ys;
  ASSERT_TRUE(d.GetFixed64(&u).ok());
  ASSERT_TRUE(d.GetDouble(&x).ok());
  ASSERT_TRUE(d.GetString(&s).ok());
  ASSERT_TRUE(d.GetArray(&ys).ok());
  EXPECT_EQ(u, 0x0102030405060708ULL);
  EXPECT_EQ(x, -2.5);
  EXPECT_EQ(s, "hello");
  EXPECT_EQ(ys, xs);
  EXPECT_TRUE(d.done());
  for (size_t cut = 0; cut < buf.size(); ++cut) {
    Decoder t(std::string_view(buf).substr(0, cut), "test");
    Status st = t.GetFixed64(&u);
    if (st.ok()) st = t.GetDouble(&x);
    if (st.ok()) st = t.GetString(&s);
    if (st.ok()) st = t.GetArray(&ys);
    EXPECT_EQ(st.code(), Status::Code::kCorruption) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace ranker

#include <thread>

#include "base/bounded_queue.h"

namespace ranker {
namespace {

TEST(BoundedQueue, DeliversEverythingInOrderUnderBackpressure) {
  BoundedQueue<int> q(4);
  std::thread producer([&] {
    for (int i = 0; i < 10000; ++i) ASSERT_TRUE(q.Push(i));
    q.Close();
  });
  int expected = 0;
  while (std::optional<int> v = q.Pop()) {
    EXPECT_EQ(*v, expected++);
    EXPECT_LE(q.size(), 4u);
  }
  producer.join();
  EXPECT_EQ(expected, 10000);
  EXPECT_FALSE(q.Push(1));
}

}  // namespace
}  // namespace ranker

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/thread.h"

namespace ranker {
namespace {

int ThreadNice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

TEST(SetThreadNice, ChangesTheCallingThreadOnly) {
  const int before = ThreadNice();
  int inside = -100;
  std::thread t([&] {
    ASSERT_TRUE(SetThreadNice(13).ok());
    inside = ThreadNice();
  });
  t.join();
  EXPECT_EQ(inside, 13);
  EXPECT_EQ(ThreadNice(), before);  // the test's own thread is untouched
}

TEST(SetThreadNice, RefusesValuesOutsideTheRange) {
  EXPECT_EQ(SetThreadNice(-1).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(SetThreadNice(20).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace ranker
