#include "learner/example_codec.h"

#include <cassert>
#include <cmath>
#include <cstdint>

namespace ranker::learner {
namespace {

// Reads an element count, rejecting counts the remaining bytes cannot hold
// (each element takes at least `min_bytes`), so corrupt input cannot make us
// allocate wildly.
Status GetCount(Decoder* d, size_t min_bytes, uint64_t* n) {
  RANKER_RETURN_IF_ERROR(d->GetFixed64(n));
  if (*n > d->remaining() / min_bytes) return Status::Corruption("example: bad count");
  return Status::OK();
}

}  // namespace

void EncodeExample(const Example& e, std::string* dst) {
  PutString(dst, e.request_id);
  PutString(dst, e.item_id);
  PutFixed32(dst, static_cast<uint32_t>(e.position));
  PutString(dst, e.device);
  PutFixed64(dst, static_cast<uint64_t>(e.ts_ms));
  PutFixed64(dst, e.categorical.size());
  for (const CategoricalFeature& f : e.categorical) {
    PutString(dst, f.field);
    PutString(dst, f.value);
  }
  PutFixed64(dst, e.dense.size());
  for (const DenseFeature& f : e.dense) {
    PutString(dst, f.name);
    PutDouble(dst, f.value);
  }
  PutArray(dst, e.labels.data(), e.labels.size());
  PutArray(dst, e.loss_weights.data(), e.loss_weights.size());
  PutFixed64(dst, e.group);
  PutArray(dst, e.feedback_ts_ms.data(), e.feedback_ts_ms.size());
  PutFixed32(dst, static_cast<uint32_t>(e.evaluation));
  PutFixed64(dst, e.eval_id);
}

Status DecodeExample(Decoder* d, Example* e, int format) {
  assert(format >= 1 && format <= kExampleFormat);
  uint32_t position = 0;
  uint64_t ts = 0, n = 0;
  RANKER_RETURN_IF_ERROR(d->GetString(&e->request_id));
  RANKER_RETURN_IF_ERROR(d->GetString(&e->item_id));
  RANKER_RETURN_IF_ERROR(d->GetFixed32(&position));
  RANKER_RETURN_IF_ERROR(d->GetString(&e->device));
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&ts));
  e->position = static_cast<int32_t>(position);
  e->ts_ms = static_cast<int64_t>(ts);
  RANKER_RETURN_IF_ERROR(GetCount(d, 8, &n));
  e->categorical.resize(n);
  for (CategoricalFeature& f : e->categorical) {
    RANKER_RETURN_IF_ERROR(d->GetString(&f.field));
    RANKER_RETURN_IF_ERROR(d->GetString(&f.value));
  }
  RANKER_RETURN_IF_ERROR(GetCount(d, 12, &n));
  e->dense.resize(n);
  for (DenseFeature& f : e->dense) {
    RANKER_RETURN_IF_ERROR(d->GetString(&f.name));
    RANKER_RETURN_IF_ERROR(d->GetDouble(&f.value));
  }
  e->labels.reserve(1);  // GetArray memcpy()s into data(): never null
  RANKER_RETURN_IF_ERROR(d->GetArray(&e->labels));
  e->loss_weights.clear();
  e->group = 0;
  e->feedback_ts_ms.clear();
  e->evaluation = Evaluation::kAtStep;
  e->eval_id = 0;
  if (format < 2) return Status::OK();
  e->loss_weights.reserve(1);
  RANKER_RETURN_IF_ERROR(d->GetArray(&e->loss_weights));
  if (!e->loss_weights.empty() && e->loss_weights.size() != e->labels.size()) {
    return Status::Corruption("example: loss_weights do not match labels");
  }
  for (double w : e->loss_weights) {
    if (!(w >= 0 && std::isfinite(w))) return Status::Corruption("example: bad loss weight");
  }
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&e->group));
  e->feedback_ts_ms.reserve(1);
  RANKER_RETURN_IF_ERROR(d->GetArray(&e->feedback_ts_ms));
  uint32_t evaluation = 0;
  RANKER_RETURN_IF_ERROR(d->GetFixed32(&evaluation));
  if (evaluation > static_cast<uint32_t>(Evaluation::kFinalLabelsOnly)) {
    return Status::Corruption("example: bad evaluation");
  }
  e->evaluation = static_cast<Evaluation>(evaluation);
  return d->GetFixed64(&e->eval_id);
}

}  // namespace ranker::learner
