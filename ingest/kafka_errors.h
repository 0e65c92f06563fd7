// The one place where librdkafka error codes become Status (STYLE.md: convert
// each backend's error type in one place). Everything in ingest/kafka_* that
// sees an RdKafka::ErrorCode or rd_kafka_resp_err_t goes through here.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <string_view>

#include "base/status.h"

namespace ranker::ingest {

// OK for ERR_NO_ERROR; otherwise a Status whose code says how to react
// (Unavailable: transient, retry may succeed; InvalidArgument: bad config or
// request; FailedPrecondition: wrong state, e.g. not in the group; ...) and
// whose message is "<what>: <librdkafka text> (<error name>)".
Status KafkaStatus(RdKafka::ErrorCode code, std::string_view what);
Status KafkaStatus(rd_kafka_resp_err_t code, std::string_view what);

// True for errors librdkafka recovers from by itself (broker down, leader
// moves, coordinator changes, timeouts): count and log them, never stop.
bool IsTransientKafkaError(RdKafka::ErrorCode code);

}  // namespace ranker::ingest
