// Plain HTTP request/response values, independent of Beast, so that every
// handler is a pure function Request -> Response that tests call without a
// socket. The server (http_server.h) converts to and from the wire; the router
// (router.h) picks the handler.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace ranker::api {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

// "GET", "POST", ... ("OTHER" for kOther).
std::string_view MethodName(Method method);
// Case-sensitive, as HTTP method tokens are; unknown tokens give kOther.
Method ParseMethod(std::string_view token);

struct Request {
  Method method = Method::kGet;
  std::string target;  // as received: "/v1/snapshots?limit=3"
  std::string path;    // target up to '?', not percent-decoded
  std::string query;   // after '?', raw; "" if none
  // The headers handlers and the router need; "" when absent.
  std::string content_type;
  std::string authorization;
  // Set when a Content-Length header was sent.
  std::optional<uint64_t> content_length;
  // Set when the body came with Transfer-Encoding: chunked (the server has
  // already decoded it into `body`).
  bool chunked = false;
  std::string body;
  // The peer's address is a loopback address (127/8, ::1, ::ffff:127/104).
  bool remote_is_loopback = false;
  // Path parameters filled in by the router: {"id", "42"} for the pattern
  // "/v1/snapshots/{id}/restore".
  std::vector<std::pair<std::string, std::string>> path_params;

  // The path parameter `name`, or nullptr.
  const std::string* PathParam(std::string_view name) const;
  // Splits `target` into path and query.
  void SetTarget(std::string target_in);
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further headers (Allow, Retry-After, WWW-Authenticate, Cache-Control...).
  // Content-Type, Content-Length and Connection are the server's.
  std::vector<std::pair<std::string, std::string>> headers;

  // The value of the extra header `name` (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
};

// A request handler. Must not throw (the router turns a stray exception into
// a 500, but handlers should return error Responses instead). Handlers are
// called concurrently from the server's threads: they must be thread-safe.
using Handler = std::function<Response(const Request&)>;

// The contract's error shape: {"error":{"code":"...","message":"..."}}.
Response JsonError(int status, std::string_view code, std::string_view message);
// A 200 (or `status`) JSON response with `body` as given (already JSON).
Response JsonResponse(std::string body, int status = 200);

// Maps a Status to an error response: InvalidArgument 400 "invalid_argument",
// NotFound 404 "not_found", ResourceExhausted 413 "limit_exceeded",
// FailedPrecondition 409 "failed_precondition", Unavailable 503
// "unavailable", anything else 500 "internal". REQUIRES: !status.ok().
Response ErrorFromStatus(const Status& status);

// Returns a 415 response unless the request's Content-Type is
// application/json (case-insensitive; parameters such as "; charset=utf-8"
// are accepted).
std::optional<Response> RequireJsonContentType(const Request& request);

// The percent-decoded value of `key` in an x-www-form-urlencoded query
// string ('+' is a space), or nullopt when absent or malformed.
std::optional<std::string> QueryParam(std::string_view query, std::string_view key);

// ASCII case-insensitive equality, for header names and media types.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace ranker::api
