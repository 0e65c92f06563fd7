// A raw-socket HTTP/1.1 client for the server tests: it sends exactly the
// bytes a test gives it (half requests, pipelined requests, oversized
// headers) and parses answers with Content-Length bodies. Every wait is
// bounded by poll() deadlines, so a misbehaving server fails a test instead
// of hanging it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ranker::api::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

inline std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string GetRequest(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra_headers) +
         "\r\n";
}

inline std::string PostRequest(std::string_view path, std::string_view body,
                               std::string_view extra_headers = "") {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra_headers) +
         "\r\n" + std::string(body);
}

class TestClient {
 public:
  explicit TestClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Close();
  }
  ~TestClient() { Close(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0; }

  bool Send(std::string_view data) {
    while (!data.empty() && fd_ >= 0) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return data.empty();
  }

  // One answer (interim 100 answers included), or nullopt on close/timeout.
  std::optional<HttpReply> Read(int timeout_ms = 2000) {
    const auto deadline = Now() + std::chrono::milliseconds(timeout_ms);
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (Fill(deadline) <= 0) return std::nullopt;
    }
    HttpReply reply = ParseHead(buf_.substr(0, end));
    buf_.erase(0, end + 4);
    const std::string len = reply.Header("content-length");
    const size_t n = len.empty() ? 0 : std::stoul(len);
    while (buf_.size() < n) {
      if (Fill(deadline) <= 0) return std::nullopt;
    }
    reply.body = buf_.substr(0, n);
    buf_.erase(0, n);
    return reply;
  }

  // Sends `request` and reads its answer.
  std::optional<HttpReply> RoundTrip(std::string_view request, int timeout_ms = 2000) {
    if (!Send(request)) return std::nullopt;
    return Read(timeout_ms);
  }

  // True when the peer closes (EOF or reset) within timeout_ms; discards data.
  bool WaitClosed(int timeout_ms) {
    const auto deadline = Now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      const int r = Fill(deadline);
      if (r == 0) return true;
      if (r < 0) return r == kReset;
      buf_.clear();
    }
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  static constexpr int kTimeout = -1;
  static constexpr int kReset = -2;
  static std::chrono::steady_clock::time_point Now() { return std::chrono::steady_clock::now(); }

  // Reads more into buf_: >0 bytes read, 0 EOF, kTimeout, kReset.
  int Fill(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0) return kReset;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Now());
    if (left.count() <= 0) return kTimeout;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return kTimeout;
    char tmp[8192];
    const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n < 0) return kReset;
    buf_.append(tmp, static_cast<size_t>(n));
    return static_cast<int>(n);
  }

  static HttpReply ParseHead(const std::string& head) {
    HttpReply reply;
    size_t pos = head.find("\r\n");
    const std::string status_line = head.substr(0, pos);
    reply.status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
    while (pos != std::string::npos && pos + 2 < head.size()) {
      const size_t next = head.find("\r\n", pos + 2);
      const std::string line = head.substr(pos + 2, next - pos - 2);
      const size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      reply.headers[Lower(line.substr(0, colon))] = value;
      pos = next;
    }
    return reply;
  }

  int fd_ = -1;
  std::string buf_;
};

}  // namespace ranker::api::testing
