#include "ingest/kafka_errors.h"

#include <string>

namespace ranker::ingest {
namespace {

using RdKafka::ErrorCode;
using Code = Status::Code;

Code CodeOf(ErrorCode code) {
  switch (code) {
    case RdKafka::ERR_NO_ERROR:
      return Code::kOk;
    case RdKafka::ERR__QUEUE_FULL:
      return Code::kResourceExhausted;
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_INVALID_CONFIG:
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_PARTITIONS:
    case RdKafka::ERR_INVALID_REPLICATION_FACTOR:
    case RdKafka::ERR__UNKNOWN_PROTOCOL:
      return Code::kInvalidArgument;
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_BROKER:
    case RdKafka::ERR__NOENT:
      return Code::kNotFound;
    case RdKafka::ERR__BAD_MSG:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR__BAD_COMPRESSION:
      return Code::kCorruption;
    case RdKafka::ERR__STATE:
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR__ASSIGNMENT_LOST:
    case RdKafka::ERR__NO_OFFSET:
    case RdKafka::ERR_OFFSET_OUT_OF_RANGE:
    case RdKafka::ERR_ILLEGAL_GENERATION:
    case RdKafka::ERR_UNKNOWN_MEMBER_ID:
    case RdKafka::ERR_FENCED_INSTANCE_ID:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR__SSL:
      return Code::kFailedPrecondition;
    default:
      return IsTransientKafkaError(code) ? Code::kUnavailable : Code::kIOError;
  }
}

Status Make(Code code, std::string_view message) {
  switch (code) {
    case Code::kOk:
      return Status::OK();
    case Code::kInvalidArgument:
      return Status::InvalidArgument(message);
    case Code::kNotFound:
      return Status::NotFound(message);
    case Code::kCorruption:
      return Status::Corruption(message);
    case Code::kUnavailable:
      return Status::Unavailable(message);
    case Code::kResourceExhausted:
      return Status::ResourceExhausted(message);
    case Code::kFailedPrecondition:
      return Status::FailedPrecondition(message);
    case Code::kInternal:
      return Status::Internal(message);
    case Code::kIOError:
      break;
  }
  return Status::IOError(message);
}

}  // namespace

bool IsTransientKafkaError(ErrorCode code) {
  switch (code) {
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT_QUEUE:
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR__WAIT_COORD:
    case RdKafka::ERR__IN_PROGRESS:
    case RdKafka::ERR__PREV_IN_PROGRESS:
    case RdKafka::ERR__RETRY:
    case RdKafka::ERR__PARTITION_EOF:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_BROKER_NOT_AVAILABLE:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_REPLICA_NOT_AVAILABLE:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_KAFKA_STORAGE_ERROR:
    case RdKafka::ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RdKafka::ERR_INVALID_FETCH_SESSION_EPOCH:
    case RdKafka::ERR_UNKNOWN_LEADER_EPOCH:
    case RdKafka::ERR_FENCED_LEADER_EPOCH:
    case RdKafka::ERR_OFFSET_NOT_AVAILABLE:
      return true;
    default:
      return false;
  }
}

Status KafkaStatus(ErrorCode code, std::string_view what) {
  if (code == RdKafka::ERR_NO_ERROR) return Status::OK();
  std::string message(what);
  message += ": ";
  message += RdKafka::err2str(code);
  message += " (";
  message += rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code));
  message += ")";
  return Make(CodeOf(code), message);
}

Status KafkaStatus(rd_kafka_resp_err_t code, std::string_view what) {
  return KafkaStatus(static_cast<ErrorCode>(code), what);
}

}  // namespace ranker::ingest
