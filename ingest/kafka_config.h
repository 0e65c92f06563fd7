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
// unknown key or an invalid value. With `thread_nice` > 0 (<= 19), every
// thread librdkafka starts for a client made from this configuration (its
// main and broker threads) runs at that nice value (an on_thread_start
// interceptor): the learning path's fetches and produces then yield to the
// ranking threads as the learner does.
StatusOr<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(const KafkaProperties& defaults,
                                                       const KafkaProperties& overrides,
                                                       int thread_nice = 0);

}  // namespace ranker::ingest
