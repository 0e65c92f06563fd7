#include "api/router.h"

#include <cassert>
#include <exception>

namespace ranker::api {
namespace {

// "/a/b/" -> {"a", "b", ""}; "/" -> {""}.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

Router::Router(RouterOptions options) : options_(std::move(options)) {}

void Router::Add(Method method, std::string_view pattern, Handler handler, RouteOptions options) {
  assert(!pattern.empty() && pattern.front() == '/');
  assert(handler);
  Route route{method, std::string(pattern), {}, std::move(handler), options};
  for (std::string_view segment : SplitPath(pattern)) route.segments.emplace_back(segment);
  routes_.push_back(std::move(route));
}

bool Router::Match(const Route& route, const std::vector<std::string_view>& path,
                   std::vector<std::pair<std::string, std::string>>* params) {
  if (route.segments.size() != path.size()) return false;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& want = route.segments[i];
    if (IsParam(want)) {
      if (path[i].empty()) return false;
      if (params) params->emplace_back(want.substr(1, want.size() - 2), path[i]);
    } else if (want != path[i]) {
      return false;
    }
  }
  return true;
}

Response Router::Dispatch(Request* request, std::string_view* route_label) const {
  *route_label = kUnmatchedRoute;
  const std::vector<std::string_view> path = SplitPath(request->path);
  std::vector<const Route*> same_path;
  for (const Route& route : routes_) {
    if (!Match(route, path, nullptr)) continue;
    if (route.method != request->method) {
      same_path.push_back(&route);
      continue;
    }
    *route_label = route.pattern;
    request->path_params.clear();
    Match(route, path, &request->path_params);
    if (route.options.admin) {
      if (auto refused = CheckAdmin(*request)) return std::move(*refused);
    }
    if (route.options.requires_body && !request->content_length && !request->chunked) {
      return JsonError(411, "length_required",
                       "a request body with Content-Length (or chunked encoding) is required");
    }
    return Invoke(route, *request);
  }
  if (!same_path.empty()) return MethodNotAllowed(same_path);
  return JsonError(404, "not_found", "no route for " + request->path);
}

bool Router::Offloaded(const Request& request) const {
  const std::vector<std::string_view> path = SplitPath(request.path);
  for (const Route& route : routes_) {
    if (route.method == request.method && Match(route, path, nullptr)) return route.options.offload;
  }
  return false;
}

std::optional<Response> Router::CheckAdmin(const Request& request) const {
  if (options_.admin_token.empty()) {
    if (request.remote_is_loopback) return std::nullopt;
    return JsonError(403, "forbidden",
                     "admin endpoints answer only loopback peers when no admin token is "
                     "configured");
  }
  constexpr std::string_view kScheme = "Bearer ";
  const std::string_view auth = request.authorization;
  if (auth.size() < kScheme.size() || !EqualsIgnoreCase(auth.substr(0, kScheme.size()), kScheme)) {
    Response r =
        JsonError(401, "unauthorized", "admin endpoint: Authorization: Bearer <token> required");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ranker\"");
    return r;
  }
  if (!ConstantTimeEquals(auth.substr(kScheme.size()), options_.admin_token)) {
    return JsonError(403, "forbidden", "admin endpoint: wrong bearer token");
  }
  return std::nullopt;
}

Response Router::MethodNotAllowed(const std::vector<const Route*>& same_path) {
  std::string allow;
  for (const Route* route : same_path) {
    const std::string_view name = MethodName(route->method);
    if (allow.find(name) != std::string::npos) continue;
    if (!allow.empty()) allow += ", ";
    allow += name;
  }
  Response r = JsonError(405, "method_not_allowed", "allowed methods: " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

Response Router::Invoke(const Route& route, const Request& request) {
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    return JsonError(500, "internal", std::string("handler failed: ") + e.what());
  } catch (...) {
    return JsonError(500, "internal", "handler failed");
  }
}

bool Router::ConstantTimeEquals(std::string_view given, std::string_view expected) {
  unsigned diff = given.size() != expected.size() ? 1u : 0u;
  for (size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff |= static_cast<unsigned char>(g ^ expected[i]);
  }
  return diff == 0;
}

}  // namespace ranker::api
