#include "learner/net/mlp.h"

#include <cassert>
#include <utility>

namespace ranker::learner {

Mlp::Mlp(std::vector<int> sizes, bool relu_last)
    : sizes_(std::move(sizes)), last_(relu_last ? Activation::kRelu : Activation::kIdentity) {
  assert(sizes_.size() >= 2);
}

MlpParams Mlp::Init(Rng* rng, double last_gain) const {
  MlpParams p;
  for (int i = 0; i < num_layers(); ++i) {
    const double gain = i + 1 == num_layers() ? last_gain : 1.0;
    p.push_back(DenseParams::Init(sizes_[i], sizes_[i + 1], gain, rng));
  }
  return p;
}

MlpParams Mlp::Zeros() const {
  MlpParams p;
  for (int i = 0; i < num_layers(); ++i) p.push_back(DenseParams::Zeros(sizes_[i], sizes_[i + 1]));
  return p;
}

const Matrix& Mlp::Forward(const MlpParams& p, const ConstMatrixRef& x, MlpCache* cache) const {
  cache->layers.resize(num_layers());
  const Matrix* h = &LayerAt(0).Forward(p[0], x, &cache->layers[0]);
  for (int i = 1; i < num_layers(); ++i) h = &LayerAt(i).Forward(p[i], *h, &cache->layers[i]);
  return *h;
}

void Mlp::Backward(const MlpParams& p, MlpCache* cache, const ConstMatrixRef& dy, MlpParams* grad,
                   Matrix* dx, WeightGrad w) const {
  cache->dx.resize(num_layers());
  const int last = num_layers() - 1;
  for (int i = last; i >= 0; --i) {
    const ConstMatrixRef d = i == last ? dy : ConstMatrixRef(cache->dx[i + 1]);
    Matrix* out = i > 0 ? &cache->dx[i] : dx;
    LayerAt(i).Backward(p[i], cache->layers[i], d, &(*grad)[i], out, w);
  }
}

void AppendTensors(MlpParams* p, std::vector<TensorView>* out) {
  for (DenseParams& d : *p) d.AppendTensors(out);
}

void SetZero(MlpParams* p) {
  for (DenseParams& d : *p) d.SetZero();
}

}  // namespace ranker::learner
