// The experts' factored first layer (ExpertStack with a FactoredInput:
// shared slots multiplied once per distinct row) against the plain one,
// which layers_gradient_test checks against central differences.
#include <gtest/gtest.h>

#include <algorithm>

#include "learner/net/expert_stack.h"
#include "tests/learner_f64/grad_check.h"

namespace ranker::learner {
namespace {

constexpr int kWidth = 3;            // slot width
constexpr int kIn = 3 * kWidth + 2;  // slots 0, 1 (shared), 2 (not), 2 dense
constexpr int kBatch = 12;

// x with slots 0 and 1 built from few distinct rows (example 5 pools two
// rows in slot 0, example 7 has none in slot 1) and the rest random.
struct Batch {
  Matrix x = Matrix::Zero(kBatch, kIn);
  FactoredInput f;
};

Batch MakeBatch(Rng* rng) {
  Batch b;
  b.x = testing::RandomMatrix(kBatch, kIn, rng);
  for (int s = 0; s < 2; ++s) {
    SharedSlot& slot = b.f.slots.emplace_back();
    slot.column = s * kWidth;
    slot.rows = testing::RandomMatrix(3, kWidth, rng);
    b.x.middleCols(slot.column, kWidth).setZero();
    for (int e = 0; e < kBatch; ++e) {
      if (s == 1 && e == 7) continue;
      slot.uses.emplace_back(e, (e + s) % 3);
      if (s == 0 && e == 5) slot.uses.emplace_back(e, 2);
    }
    for (const auto& [e, r] : slot.uses)
      b.x.row(e).segment(slot.column, kWidth) += slot.rows.row(r);
  }
  b.f.rest = {{2 * kWidth, kIn}};
  return b;
}

class FactoredExperts : public ::testing::Test {
 protected:
  FactoredExperts() : rng_(5), batch_(MakeBatch(&rng_)) {
    params_ = stack_.Init(&rng_);
    for (int e = 0; e < stack_.num_experts(); ++e) {
      d_out_.push_back(testing::RandomMatrix(kBatch, stack_.out(), &rng_));
    }
  }
  // Forward and Backward through the plain and the factored first layer,
  // checking that their outputs agree.
  struct Runs {
    ExpertCache plain, factored;
    ExpertParams g_plain, g_factored;
    Matrix dx_plain, dx_factored;
  };
  Runs RunPlainAndFactored() {
    Runs r;
    stack_.Forward(params_, batch_.x, &r.plain);
    stack_.Forward(params_, batch_.x, &r.factored, &batch_.f);
    for (int e = 0; e < stack_.num_experts(); ++e) {
      EXPECT_TRUE(stack_.Output(r.plain, e).isApprox(stack_.Output(r.factored, e), 1e-12));
    }
    r.g_plain = stack_.Zeros();
    r.g_factored = stack_.Zeros();
    stack_.Backward(params_, &r.plain, d_out_, &r.g_plain, &r.dx_plain);
    stack_.Backward(params_, &r.factored, d_out_, &r.g_factored, &r.dx_factored);
    return r;
  }

  ExpertStack stack_{kIn, 2, {5, 4}};
  Rng rng_;
  Batch batch_;
  ExpertParams params_;
  std::vector<Matrix> d_out_;
};

TEST_F(FactoredExperts, ForwardAndBackwardEqualThePlainLayer) {
  Runs r = RunPlainAndFactored();
  const ExpertCache& factored = r.factored;
  ExpertParams &g_plain = r.g_plain, &g_factored = r.g_factored;
  const Matrix &dx_plain = r.dx_plain, &dx_factored = r.dx_factored;
  std::vector<TensorView> a, b;
  g_plain.AppendTensors(&a);
  g_factored.AppendTensors(&b);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t k = 0; k < a[i].size(); ++k) EXPECT_NEAR(a[i][k], b[i][k], 1e-12) << i << "," << k;
  }
  // Unshared columns as before; shared ones 0, their gradient per row.
  EXPECT_TRUE(dx_factored.rightCols(kIn - 2 * kWidth)
                  .isApprox(dx_plain.rightCols(kIn - 2 * kWidth), 1e-12));
  EXPECT_TRUE(dx_factored.leftCols(2 * kWidth).isZero());
  ASSERT_EQ(factored.d_rows.size(), 2u);
  for (int s = 0; s < 2; ++s) {
    const SharedSlot& slot = batch_.f.slots[s];
    Matrix expected = Matrix::Zero(3, kWidth);
    for (const auto& [e, r] : slot.uses) {
      expected.row(r) += dx_plain.row(e).segment(slot.column, kWidth);
    }
    EXPECT_TRUE(factored.d_rows[s].isApprox(expected, 1e-12)) << s;
  }
}

// dx's columns from FactoredInput::input_grad_columns on are left 0, the
// others are the plain layer's; a slot's uses may come in any order.
TEST_F(FactoredExperts, InputGradColumnsAndUnorderedUses) {
  batch_.f.input_grad_columns = 2 * kWidth + 2;  // the unshared slot's first 2 columns
  std::reverse(batch_.f.slots[0].uses.begin(), batch_.f.slots[0].uses.end());
  Runs r = RunPlainAndFactored();
  ExpertParams &g_plain = r.g_plain, &g_factored = r.g_factored;
  const Matrix &dx_plain = r.dx_plain, &dx_factored = r.dx_factored;
  EXPECT_TRUE(g_factored.first.w.isApprox(g_plain.first.w, 1e-12));
  EXPECT_TRUE(g_factored.first.b.isApprox(g_plain.first.b, 1e-12));
  EXPECT_TRUE(
      dx_factored.middleCols(2 * kWidth, 2).isApprox(dx_plain.middleCols(2 * kWidth, 2), 1e-12));
  EXPECT_TRUE(dx_factored.rightCols(kIn - 2 * kWidth - 2).isZero());
}

TEST_F(FactoredExperts, RowGradientsMatchCentralDifferences) {
  ExpertCache cache;
  const auto loss = [&] {
    stack_.Forward(params_, batch_.x, &cache, &batch_.f);
    double l = 0;
    for (int e = 0; e < stack_.num_experts(); ++e) {
      l += (stack_.Output(cache, e).array() * d_out_[e].array()).sum();
    }
    return l;
  };
  loss();
  ExpertParams grad = stack_.Zeros();
  Matrix dx;
  stack_.Backward(params_, &cache, d_out_, &grad, &dx);
  const std::vector<Matrix> d_rows = cache.d_rows;
  for (int s = 0; s < 2; ++s) {
    Matrix& rows = batch_.f.slots[s].rows;
    EXPECT_EQ(testing::CheckGradient(
                  "rows", View(rows),
                  ConstTensorView(d_rows[s].data(), static_cast<size_t>(d_rows[s].size())), loss),
              static_cast<int>(rows.size()));
  }
  std::vector<TensorView> p, g;
  params_.AppendTensors(&p);
  grad.AppendTensors(&g);
  EXPECT_GT(testing::CheckGradient("first.w", p[0], g[0], loss), 0);
}

}  // namespace
}  // namespace ranker::learner
