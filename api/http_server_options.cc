#include <string>

#include "api/http_server.h"

namespace ranker::api {

Status HttpServerOptions::Validate() const {
  auto positive = [](int64_t v, const char* field) {
    return v > 0 ? Status::OK() : Status::InvalidArgument(std::string(field) + ": must be > 0");
  };
  if (address.empty()) return Status::InvalidArgument("http.address: must not be empty");
  RANKER_RETURN_IF_ERROR(positive(threads, "http.threads"));
  RANKER_RETURN_IF_ERROR(positive(handler_threads, "http.handler_threads"));
  RANKER_RETURN_IF_ERROR(positive(static_cast<int64_t>(max_body_bytes), "http.max_body_bytes"));
  if (max_header_bytes < 1024) {
    return Status::InvalidArgument("http.max_header_bytes: must be >= 1024");
  }
  RANKER_RETURN_IF_ERROR(positive(read_timeout_ms, "http.read_timeout_ms"));
  RANKER_RETURN_IF_ERROR(positive(idle_timeout_ms, "http.idle_timeout_ms"));
  RANKER_RETURN_IF_ERROR(positive(write_timeout_ms, "http.write_timeout_ms"));
  RANKER_RETURN_IF_ERROR(positive(static_cast<int64_t>(max_connections), "http.max_connections"));
  RANKER_RETURN_IF_ERROR(
      positive(static_cast<int64_t>(max_inflight_requests), "http.max_inflight_requests"));
  if (overload_status != 503 && overload_status != 429) {
    return Status::InvalidArgument("http.overload_status: must be 503 or 429");
  }
  if (retry_after_seconds < 0)
    return Status::InvalidArgument("http.retry_after_seconds: must be >= 0");
  if (drain_timeout_ms < 0) return Status::InvalidArgument("http.drain_timeout_ms: must be >= 0");
  return Status::OK();
}

}  // namespace ranker::api
