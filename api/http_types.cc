#include "api/http_types.h"

#include <array>
#include <cassert>

#include "api/json_writer.h"

namespace ranker::api {
namespace {

constexpr std::array<std::pair<Method, std::string_view>, 7> kMethodNames = {{
    {Method::kGet, "GET"},
    {Method::kHead, "HEAD"},
    {Method::kPost, "POST"},
    {Method::kPut, "PUT"},
    {Method::kDelete, "DELETE"},
    {Method::kPatch, "PATCH"},
    {Method::kOptions, "OPTIONS"},
}};

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ToLowerAscii(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Percent-decodes a query component; nullopt on a malformed escape.
std::optional<std::string> DecodeComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] != '%') {
      out.push_back(s[i]);
    } else {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

}  // namespace

std::string_view MethodName(Method method) {
  for (const auto& [m, name] : kMethodNames) {
    if (m == method) return name;
  }
  return "OTHER";
}

Method ParseMethod(std::string_view token) {
  for (const auto& [m, name] : kMethodNames) {
    if (name == token) return m;
  }
  return Method::kOther;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) return false;
  }
  return true;
}

const std::string* Request::PathParam(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) return &value;
  }
  return nullptr;
}

void Request::SetTarget(std::string target_in) {
  target = std::move(target_in);
  const size_t q = target.find('?');
  path = target.substr(0, q);
  query = q == std::string::npos ? std::string() : target.substr(q + 1);
}

const std::string* Response::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

Response JsonError(int status, std::string_view code, std::string_view message) {
  JsonWriter w;
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.Key("code");
  w.String(code);
  w.Key("message");
  w.String(message);
  w.EndObject();
  w.EndObject();
  return JsonResponse(std::move(w).Take(), status);
}

Response JsonResponse(std::string body, int status) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response ErrorFromStatus(const Status& status) {
  assert(!status.ok());
  switch (status.code()) {
    case Status::Code::kInvalidArgument:
      return JsonError(400, "invalid_argument", status.message());
    case Status::Code::kNotFound:
      return JsonError(404, "not_found", status.message());
    case Status::Code::kResourceExhausted:
      return JsonError(413, "limit_exceeded", status.message());
    case Status::Code::kFailedPrecondition:
      return JsonError(409, "failed_precondition", status.message());
    case Status::Code::kUnavailable:
      return JsonError(503, "unavailable", status.message());
    default:
      return JsonError(500, "internal", status.message());
  }
}

std::optional<Response> RequireJsonContentType(const Request& request) {
  std::string_view media = request.content_type;
  media = TrimSpaces(media.substr(0, media.find(';')));
  if (EqualsIgnoreCase(media, "application/json")) return std::nullopt;
  const std::string got = request.content_type.empty() ? "none" : request.content_type;
  return JsonError(415, "unsupported_media_type",
                   "Content-Type must be application/json (got " + got + ")");
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    std::optional<std::string> name = DecodeComponent(pair.substr(0, eq));
    if (!name || *name != key) continue;
    if (eq == std::string_view::npos) return std::string();
    return DecodeComponent(pair.substr(eq + 1));
  }
  return std::nullopt;
}

}  // namespace ranker::api
