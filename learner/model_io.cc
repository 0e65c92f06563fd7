// Model state as bytes: ParamChecksum, Serialize, Deserialize.
#include "base/coding.h"
#include "base/hash.h"
#include "learner/model.h"

namespace ranker::learner {
namespace {

constexpr uint32_t kMagic = 0x4d4b4e52;       // "RNKM"
constexpr uint32_t kStateMagic = 0x534b4e52;  // "RNKS": the image without rows
// 2: the fused first expert layer is stored unit-major ([units x in]).
// 3: embedding rows carry their last-seen time; the table has meta state.
constexpr uint32_t kFormatVersion = 3;

uint64_t DigestBytes(std::string_view bytes) {
  Digest64 d;
  d.Update(bytes.data(), bytes.size());
  return d.value();
}

}  // namespace

// Everything that fixes the layout of the state: a file written under
// other options cannot be read back as if it matched.
uint64_t Model::ShapeDigest() const {
  Digest64 d;
  d.UpdateU64(sizeof(Real));
  d.UpdateU64(static_cast<uint64_t>(options_.architecture));
  d.UpdateU64(static_cast<uint64_t>(optimizer_options_.kind));
  d.UpdateU64(static_cast<uint64_t>(options_.categorical_slots));
  d.UpdateU64(static_cast<uint64_t>(options_.embedding_dim));
  d.UpdateU64(static_cast<uint64_t>(options_.dense_slots));
  d.UpdateU64(static_cast<uint64_t>(options_.max_position));
  d.UpdateU64(static_cast<uint64_t>(options_.max_devices));
  d.UpdateU64(param_views_.size());
  for (const TensorView& v : param_views_) d.UpdateU64(v.size());
  return d.value();
}

void Model::DigestDense(Digest64* d) const {
  d->UpdateU64(steps_);
  d->UpdateU64(dropout_ordinal_);
  for (const TensorView& v : param_views_) {
    d->UpdateU64(v.size());
    d->Update(v.data(), sizeof(Real) * v.size());
  }
  optimizer_.Digest(d);
  position_.Digest(d);
  layout_.Digest(d);
}

uint64_t Model::ParamChecksum() const {
  Digest64 d;
  DigestDense(&d);
  table_.Digest(&d);
  return d.value();
}

std::string Model::LegacyParamChecksumHex() const {
  Digest64 d;
  DigestDense(&d);
  table_.LegacyDigest(&d);
  char buf[17];
  return std::string(Digest64::Hex(d.value(), buf));
}

std::string Model::ParamChecksumHex() const {
  char buf[17];
  return std::string(Digest64::Hex(ParamChecksum(), buf));
}

void Model::SerializeBody(std::string* out, bool with_rows) const {
  PutFixed64(out, steps_);
  PutFixed64(out, dropout_ordinal_);
  for (const TensorView& v : param_views_) PutArray(out, v.data(), v.size());
  optimizer_.Serialize(out);
  position_.Serialize(out);
  layout_.Serialize(out);
  if (with_rows) {
    table_.Serialize(out);
  } else {
    table_.SerializeMeta(out);
  }
}

void Model::WriteImage(std::string* out, bool with_rows) const {
  out->clear();
  PutFixed32(out, with_rows ? kMagic : kStateMagic);
  PutFixed32(out, kFormatVersion);
  PutFixed64(out, ShapeDigest());
  SerializeBody(out, with_rows);
  PutFixed64(out, DigestBytes(*out));
}

void Model::Serialize(std::string* out) const { WriteImage(out, /*with_rows=*/true); }

void Model::SerializeState(std::string* out) const { WriteImage(out, /*with_rows=*/false); }

Status Model::DeserializeBody(Decoder* in, bool with_rows) {
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&steps_));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&dropout_ordinal_));
  for (const TensorView& v : param_views_) RANKER_RETURN_IF_ERROR(in->GetInto(v.data(), v.size()));
  RANKER_RETURN_IF_ERROR(optimizer_.Deserialize(in));
  RANKER_RETURN_IF_ERROR(position_.Deserialize(in));
  RANKER_RETURN_IF_ERROR(layout_.Deserialize(in));
  if (with_rows) {
    RANKER_RETURN_IF_ERROR(table_.Deserialize(in));
  } else {
    table_.Clear();
    RANKER_RETURN_IF_ERROR(table_.DeserializeMeta(in));
  }
  if (!in->done()) return Status::Corruption("model: trailing bytes");
  return Status::OK();
}

StatusOr<std::unique_ptr<Model>> Model::Deserialize(std::string_view data,
                                                    const ModelOptions& model,
                                                    const OptimizerOptions& optimizer) {
  return ReadImage(data, /*with_rows=*/true, model, optimizer);
}

StatusOr<std::unique_ptr<Model>> Model::Restore(
    std::string_view state, std::span<const std::pair<uint64_t, std::string>> rows,
    const ModelOptions& model, const OptimizerOptions& optimizer) {
  StatusOr<std::unique_ptr<Model>> m = RestoreState(state, model, optimizer);
  if (!m.ok()) return m.status();
  EmbeddingTable::BulkImport bulk(&(*m)->table_);
  for (const auto& [key, bytes] : rows) RANKER_RETURN_IF_ERROR(bulk.Add(key, bytes));
  RANKER_RETURN_IF_ERROR(bulk.Finish());
  return m;
}

StatusOr<std::unique_ptr<Model>> Model::RestoreState(std::string_view state,
                                                     const ModelOptions& model,
                                                     const OptimizerOptions& optimizer) {
  return ReadImage(state, /*with_rows=*/false, model, optimizer);
}

StatusOr<std::unique_ptr<Model>> Model::RestoreDelta(
    std::string_view state, const Model* base,
    std::span<const std::pair<uint64_t, std::string>> changed, std::span<const uint64_t> removed,
    const ModelOptions& model, const OptimizerOptions& optimizer) {
  StatusOr<std::unique_ptr<Model>> m = ReadImage(state, /*with_rows=*/false, model, optimizer);
  if (!m.ok()) return m.status();
  if (base != nullptr) {
    if (base->ShapeDigest() != (*m)->ShapeDigest()) {
      return Status::InvalidArgument("model: the base version has another shape");
    }
    (*m)->table_.ShareRows(base->table_);
  }
  for (const auto& [key, bytes] : changed) {
    RANKER_RETURN_IF_ERROR((*m)->table_.ImportRow(key, bytes));
  }
  for (uint64_t key : removed) (*m)->table_.DropRow(key);
  return m;
}

StatusOr<std::unique_ptr<Model>> Model::ReadImage(std::string_view data, bool with_rows,
                                                  const ModelOptions& model,
                                                  const OptimizerOptions& optimizer) {
  StatusOr<std::unique_ptr<Model>> m = Create(model, optimizer);
  if (!m.ok()) return m.status();
  if (data.size() < 24) return Status::Corruption("model: image too short");
  const std::string_view body = data.substr(0, data.size() - 8);
  Decoder trailer(data.substr(data.size() - 8), "model checksum");
  uint64_t checksum = 0;
  RANKER_RETURN_IF_ERROR(trailer.GetFixed64(&checksum));
  Decoder in(body, "model");
  uint32_t magic = 0, version = 0;
  uint64_t shape = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&magic));
  if (magic != (with_rows ? kMagic : kStateMagic)) {
    return Status::Corruption(with_rows ? "model: bad magic number (not a model image)"
                                        : "model: bad magic number (not a model state blob)");
  }
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&version));
  if (version != kFormatVersion) {
    return Status::Corruption("model: unsupported format version " + std::to_string(version));
  }
  if (checksum != DigestBytes(body)) return Status::Corruption("model: checksum mismatch");
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&shape));
  if (shape != (*m)->ShapeDigest()) {
    return Status::InvalidArgument(
        "model: image was written with a different model shape (architecture, sizes, "
        "optimizer kind or float width) than model options");
  }
  RANKER_RETURN_IF_ERROR((*m)->DeserializeBody(&in, with_rows));
  return m;
}

}  // namespace ranker::learner
