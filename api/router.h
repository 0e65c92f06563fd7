// The route table of contract §3: (method, path pattern) -> Handler, with
// the HTTP-level checks every route shares, so that handlers only see
// requests they should answer:
//   - 404 for a path no route matches, 405 (with Allow) for a known path with
//     another method;
//   - admin routes: when an admin token is configured they need
//     "Authorization: Bearer <token>" (401 when missing or not Bearer, 403
//     when wrong; compared in constant time); with none configured they
//     answer loopback peers only (403 otherwise);
//   - body routes: a request with neither Content-Length nor chunked
//     Transfer-Encoding gets 411 (a body-less POST to a route that needs no
//     body, e.g. POST /v1/snapshots, is fine);
//   - a handler that throws gets a 500 instead of unwinding into the server.
// Errors use the contract shape {"error":{"code","message"}}.
//
// Thread-safety: Add() is not thread-safe and must finish before serving;
// Dispatch() is const and may run concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "base/status.h"

namespace ranker::api {

struct RouterOptions {
  // Bearer token for admin routes. Empty: none configured, and admin routes
  // answer only requests whose peer is a loopback address.
  std::string admin_token;
};

struct RouteOptions {
  bool admin = false;          // needs the admin token (or a loopback peer)
  bool requires_body = false;  // 411 without Content-Length / chunked body
  // The handler may block for long (a snapshot write or restore, a wait for
  // the learner): the server runs it on its handler pool, never on an I/O
  // thread (HttpServerOptions::inline_handlers).
  bool offload = false;
};

// The route label used in metrics for requests that matched no route.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

class Router {
 public:
  explicit Router(RouterOptions options = {});

  // Registers `handler` for `method` on `pattern`: '/'-separated segments,
  // each either literal or a parameter "{name}" matching one non-empty
  // segment ("/v1/snapshots/{id}/restore"). Routes are tried in registration
  // order. REQUIRES (asserted): pattern starts with '/'; handler is set.
  void Add(Method method, std::string_view pattern, Handler handler, RouteOptions options = {});

  // Answers `request`, filling request->path_params for the matched route.
  // *route_label receives the matched pattern (or kUnmatchedRoute); it
  // stays valid as long as the Router.
  Response Dispatch(Request* request, std::string_view* route_label) const;

  // True when the route Dispatch would run for `request` is marked
  // RouteOptions::offload (false when none matches: the answer is an error).
  bool Offloaded(const Request& request) const;

  // Compares in time that depends only on `expected.size()`.
  static bool ConstantTimeEquals(std::string_view given, std::string_view expected);

 private:
  struct Route {
    Method method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    RouteOptions options;
  };

  // True when `path` matches route's pattern; fills *params when given.
  static bool Match(const Route& route, const std::vector<std::string_view>& path,
                    std::vector<std::pair<std::string, std::string>>* params);
  // An error Response when the admin rule refuses `request`.
  std::optional<Response> CheckAdmin(const Request& request) const;
  static Response MethodNotAllowed(const std::vector<const Route*>& same_path);
  static Response Invoke(const Route& route, const Request& request);

  RouterOptions options_;
  std::vector<Route> routes_;
};

}  // namespace ranker::api
