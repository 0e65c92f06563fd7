// Model state as bytes: ParamChecksum, Serialize, Deserialize.
#include "base/coding.h"
#include "base/hash.h"
#include "learner/model.h"

namespace ranker::learner {
namespace {

constexpr uint32_t kMagic = 0x4d4b4e52;  // "RNKM"
// 2: the fused first expert layer is stored unit-major ([units x in]).
constexpr uint32_t kFormatVersion = 2;

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

uint64_t Model::ParamChecksum() const {
  Digest64 d;
  d.UpdateU64(steps_);
  d.UpdateU64(dropout_ordinal_);
  for (const TensorView& v : param_views_) {
    d.UpdateU64(v.size());
    d.Update(v.data(), sizeof(Real) * v.size());
  }
  optimizer_.Digest(&d);
  position_.Digest(&d);
  layout_.Digest(&d);
  table_.Digest(&d);
  return d.value();
}

std::string Model::ParamChecksumHex() const {
  char buf[17];
  return std::string(Digest64::Hex(ParamChecksum(), buf));
}

void Model::SerializeBody(std::string* out) const {
  PutFixed64(out, steps_);
  PutFixed64(out, dropout_ordinal_);
  for (const TensorView& v : param_views_) PutArray(out, v.data(), v.size());
  optimizer_.Serialize(out);
  position_.Serialize(out);
  layout_.Serialize(out);
  table_.Serialize(out);
}

void Model::Serialize(std::string* out) const {
  out->clear();
  PutFixed32(out, kMagic);
  PutFixed32(out, kFormatVersion);
  PutFixed64(out, ShapeDigest());
  SerializeBody(out);
  PutFixed64(out, DigestBytes(*out));
}

Status Model::DeserializeBody(Decoder* in) {
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&steps_));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&dropout_ordinal_));
  for (const TensorView& v : param_views_) RANKER_RETURN_IF_ERROR(in->GetInto(v.data(), v.size()));
  RANKER_RETURN_IF_ERROR(optimizer_.Deserialize(in));
  RANKER_RETURN_IF_ERROR(position_.Deserialize(in));
  RANKER_RETURN_IF_ERROR(layout_.Deserialize(in));
  RANKER_RETURN_IF_ERROR(table_.Deserialize(in));
  if (!in->done()) return Status::Corruption("model: trailing bytes");
  return Status::OK();
}

StatusOr<std::unique_ptr<Model>> Model::Deserialize(std::string_view data,
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
  if (magic != kMagic) return Status::Corruption("model: bad magic number (not a model image)");
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
  RANKER_RETURN_IF_ERROR((*m)->DeserializeBody(&in));
  return m;
}

}  // namespace ranker::learner
