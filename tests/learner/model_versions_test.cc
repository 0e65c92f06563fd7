// Published model versions share the embedding rows with the trainer's
// model: a version stays unchanged under later training, the incremental
// param_checksum does not depend on copies or restores in between, and it
// changes with any one bit of any row.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "base/random.h"
#include "learner/embedding_table.h"
#include "learner/model.h"
#include "learner/row_trie.h"
#include "learner/scorer.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MustCreate;
using testing::SmallModel;
using testing::Str;

// Fresh users and items keep arriving (new rows), a few recur (changed
// rows); with a TTL, old ones expire.
std::vector<Example> Stream(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<Example> out;
  for (size_t i = 0; i < n; ++i) {
    Example e;
    const uint64_t user = rng.Bernoulli(0.5) ? rng.Below(30) : 100 + i;
    const uint64_t item = rng.Bernoulli(0.5) ? rng.Below(20) : 100000 + i;
    e.item_id = Str("i", item);
    e.ts_ms = static_cast<int64_t>(i) * 10;
    e.categorical = {{"user_id", Str("u", user)}, {"item_id", e.item_id}};
    e.dense = {{"price", static_cast<double>(item % 50)}};
    const bool click = rng.Bernoulli(item < 5 ? 0.7 : 0.1);
    e.labels = {click ? 1.0 : 0.0, click ? 5.0 : 0.0};
    out.push_back(std::move(e));
  }
  return out;
}

ModelOptions Expiring() {
  ModelOptions o = SmallModel();
  o.embedding_ttl_ms = 3000;
  return o;
}

std::unique_ptr<Model> Restored(const Model& m) {
  std::string state;
  m.SerializeState(&state);
  std::vector<std::pair<uint64_t, std::string>> rows;
  m.embeddings().ForEachKey([&](uint64_t key) {
    std::string bytes;
    m.embeddings().ExportRow(key, &bytes);
    rows.emplace_back(key, std::move(bytes));
  });
  StatusOr<std::unique_ptr<Model>> r = Model::Restore(state, rows, m.options(), {});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

std::vector<double> Scores(const Model& m, const std::vector<Example>& candidates) {
  ScoreRequest request;
  request.shared = {{"user_id", "u1"}};
  ScoreResult result;
  Scorer(m).Score(request, candidates, &result);
  return result.predictions;
}

TEST(ModelVersions, AHeldVersionScoresIdenticallyAfterManyUpdates) {
  const std::vector<Example> ex = Stream(3000, 1);
  std::unique_ptr<Model> m = MustCreate(Expiring(), {});
  for (size_t i = 0; i < 1000; ++i) m->TrainStep(std::span(ex).subspan(i, 1));
  const std::unique_ptr<const Model> v = m->Clone();
  const std::vector<Example> candidates(ex.begin(), ex.begin() + 200);
  const std::vector<double> before = Scores(*v, candidates);
  const uint64_t checksum = v->ParamChecksum();
  const size_t rows = v->embedding_rows();
  std::vector<std::unique_ptr<Model>> later;
  for (size_t i = 1000; i < 3000; ++i) {
    m->TrainStep(std::span(ex).subspan(i, 1));
    if (i % 100 == 0) later.push_back(m->Clone());  // more versions come and go
    if (later.size() > 3) later.erase(later.begin());
  }
  ASSERT_GT(m->embeddings().evicted_rows(), 0u);
  EXPECT_NE(m->ParamChecksum(), checksum);
  EXPECT_EQ(Scores(*v, candidates), before);
  EXPECT_EQ(v->ParamChecksum(), checksum);
  EXPECT_EQ(v->embedding_rows(), rows);
}

// The same stream with versions taken, checksums asked and a restore in the
// middle ends with the same state and checksum as a plain run.
TEST(ModelVersions, ChecksumIsTheSameWithAndWithoutCopiesAndRestores) {
  const std::vector<Example> ex = Stream(2000, 2);
  std::unique_ptr<Model> plain = MustCreate(Expiring(), {});
  std::unique_ptr<Model> busy = MustCreate(Expiring(), {});
  std::vector<std::unique_ptr<Model>> versions;
  for (size_t i = 0; i < ex.size(); i += 2) {
    plain->TrainStep(std::span(ex).subspan(i, 2));
    busy->TrainStep(std::span(ex).subspan(i, 2));
    if (i % 50 == 0) versions.push_back(busy->Clone());
    if (i % 170 == 0) busy->ParamChecksum();
    if (i == 1000) busy = Restored(*busy);
  }
  EXPECT_EQ(busy->ParamChecksum(), plain->ParamChecksum());
  EXPECT_EQ(busy->embeddings().SortedKeys(), plain->embeddings().SortedKeys());
  EXPECT_EQ(versions.back()->Clone()->ParamChecksum(), versions.back()->ParamChecksum());
  EXPECT_EQ(Restored(*plain)->ParamChecksum(), plain->ParamChecksum());
}

// The incremental row sum equals the sum recomputed from every row.
TEST(ModelVersions, IncrementalDigestEqualsAFullRecomputation) {
  const std::vector<Example> ex = Stream(1500, 3);
  std::unique_ptr<Model> m = MustCreate(Expiring(), {});
  for (size_t i = 0; i < ex.size(); i += 3) {
    m->TrainStep(std::span(ex).subspan(i, 3));
    if (i % 300 == 0) m->Clone();
  }
  const EmbeddingTable& t = m->embeddings();
  std::string image;
  t.Serialize(&image);
  EmbeddingTable fresh(t.dim(), t.state_width(), 0, 0, 0.1, t.policy());
  Decoder in(image, "table");
  ASSERT_TRUE(fresh.Deserialize(&in).ok());
  Digest64 a, b;
  t.Digest(&a);
  fresh.Digest(&b);
  EXPECT_EQ(a.value(), b.value());
  uint64_t sum = 0;
  for (uint64_t key : t.SortedKeys()) sum += t.RowHash(key);
  Digest64 c;
  c.UpdateU64(t.size());
  c.UpdateU64(sum);
  std::string meta;
  t.SerializeMeta(&meta);
  c.Update(meta.data(), meta.size());
  EXPECT_EQ(a.value(), c.value());
}

void FlipBit(Real* v, int bit) {
  uint64_t bits = 0;
  std::memcpy(&bits, v, sizeof(Real));
  bits ^= uint64_t{1} << bit;
  std::memcpy(v, &bits, sizeof(Real));
}

uint64_t DigestOf(const EmbeddingTable& t) {
  Digest64 d;
  t.Digest(&d);
  return d.value();
}

TEST(ModelVersions, ChecksumChangesWithAnyOneBitOfAnyRow) {
  EmbeddingTable t(4, 4, 0.1f, 1, 0.1);
  for (uint64_t k = 1; k <= 500; ++k) t.Mutable(k, static_cast<int64_t>(k));
  const uint64_t base = DigestOf(t);
  for (uint64_t key : {uint64_t{1}, uint64_t{250}, uint64_t{500}}) {
    for (int column : {0, 3, 4, 7}) {  // weights, then optimizer state
      FlipBit(&t.Mutable(key)[column], 0);
      EXPECT_NE(DigestOf(t), base) << key << " column " << column;
      FlipBit(&t.Mutable(key)[column], 0);
      EXPECT_EQ(DigestOf(t), base);
    }
    std::string bytes;
    ASSERT_TRUE(t.ExportRow(key, &bytes));
    const std::string original = bytes;
    bytes[bytes.size() - 8] ^= 1;  // the last-seen time's lowest bit
    ASSERT_TRUE(t.ImportRow(key, bytes).ok());
    EXPECT_NE(DigestOf(t), base);
    ASSERT_TRUE(t.ImportRow(key, original).ok());
    EXPECT_EQ(DigestOf(t), base);
  }
}

// A follower applies each broadcast (the rows dirty on the model topic's
// channel, the removed ones, the state blob) onto its previous version:
// equal to the leader at every version, rows added, changed and expired;
// a version it served before stays unchanged.
TEST(ModelVersions, AFollowerAppliesDeltasAndStaysEqualToTheLeader) {
  const std::vector<Example> ex = Stream(3000, 5);
  std::unique_ptr<Model> leader = MustCreate(Expiring(), {});
  std::shared_ptr<const Model> follower;
  std::shared_ptr<const Model> held;
  uint64_t held_checksum = 0;
  const std::vector<Example> candidates(ex.begin(), ex.begin() + 30);
  std::vector<double> held_scores;
  size_t removed_total = 0;
  int path_checks = 0;
  for (size_t i = 0; i < ex.size(); i += 3) {
    leader->TrainStep(std::span(ex).subspan(i, 3));
    if (i % 60 != 0) continue;
    std::vector<uint64_t> keys, removed;
    leader->mutable_embeddings()->TakeDirty(1, &keys, &removed);
    removed_total += removed.size();
    std::vector<std::pair<uint64_t, std::string>> changed;
    for (uint64_t key : keys) {
      std::string bytes;
      ASSERT_TRUE(leader->embeddings().ExportRow(key, &bytes));
      changed.emplace_back(key, std::move(bytes));
    }
    std::string state;
    leader->SerializeState(&state);
    const size_t nodes_before = RowTrie::LiveNodes();
    StatusOr<std::unique_ptr<Model>> next =
        Model::RestoreDelta(state, follower.get(), changed, removed, leader->options(), {});
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (follower != nullptr) {
      // The next version takes the rows over from the one served: it copies
      // the paths of the rows it changes, never the table.
      const RowTrie::Stats s = (*next)->embeddings().TrieStats();
      // A deep copy would add every node of the table; a delta touches most
      // of a table this small, so the check waits until it holds 150 nodes.
      const auto grew = static_cast<int64_t>(RowTrie::LiveNodes() - nodes_before);
      if (s.leaves + s.inner_nodes >= 150) {
        EXPECT_LT(grew, static_cast<int64_t>(s.leaves + s.inner_nodes)) << "at example " << i;
        ++path_checks;
      }
    }
    follower = std::move(next).value();
    ASSERT_EQ(follower->ParamChecksum(), leader->ParamChecksum()) << "at example " << i;
    ASSERT_EQ(follower->embedding_rows(), leader->embedding_rows());
    if (i % 600 == 0) {
      ASSERT_EQ(follower->embeddings().SortedKeys(), leader->embeddings().SortedKeys());
    }
    if (i == 600) {
      held = follower;
      held_checksum = held->ParamChecksum();
      held_scores = Scores(*held, candidates);
    }
  }
  EXPECT_GT(removed_total, 0u);
  EXPECT_GT(path_checks, 20);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->ParamChecksum(), held_checksum);
  EXPECT_EQ(Scores(*held, candidates), held_scores);
}

// The trainer trains and publishes copies while scorers score the latest
// copy twice and compare: a version never changes under them. Run under
// ThreadSanitizer in the sanitizer tree.
TEST(ModelVersionsConcurrent, ScoringAndLearningRunTogether) {
  const std::vector<Example> ex = Stream(1500, 4);
  std::unique_ptr<Model> m = MustCreate(Expiring(), {});
  std::atomic<std::shared_ptr<const Model>> published{std::shared_ptr<const Model>(m->Clone())};
  const std::vector<Example> candidates(ex.begin(), ex.begin() + 50);
  std::atomic<bool> done{false};
  std::atomic<int> changed{0}, scored{0};
  auto scorer = [&] {
    while (!done.load(std::memory_order_acquire)) {
      const std::shared_ptr<const Model> v = published.load();
      if (Scores(*v, candidates) != Scores(*v, candidates)) ++changed;
      ++scored;
    }
  };
  std::thread s1(scorer), s2(scorer);
  for (size_t i = 0; i < ex.size(); ++i) {
    m->TrainStep(std::span(ex).subspan(i, 1));
    if (i % 10 == 0) published.store(std::shared_ptr<const Model>(m->Clone()));
  }
  while (scored.load() < 4) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  s1.join();
  s2.join();
  EXPECT_EQ(changed.load(), 0);
  std::unique_ptr<Model> alone = MustCreate(Expiring(), {});
  for (size_t i = 0; i < ex.size(); ++i) alone->TrainStep(std::span(ex).subspan(i, 1));
  EXPECT_EQ(alone->ParamChecksum(), m->ParamChecksum());
}

}  // namespace
}  // namespace ranker::learner
