// Builds librdkafka configurations from the source's/producer's defaults
// plus the verbatim `kafka.*` pass-through map, turning every rejected key
// or value into a Status that names it.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

#include "base/status.h"

namespace ranker::ingest {

using KafkaProperties = std::map<std::string, std::string>;

// Applies `defaults`, then `overrides` (the user's `kafka.*` settings, which
// therefore win). InvalidArgument "kafka.<key>: <librdkafka's reason>" for an
// unknown key or an invalid value.
StatusOr<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(const KafkaProperties& defaults,
                                                       const KafkaProperties& overrides);

}  // namespace ranker::ingest
