// The HTTP/1.1 server of contract §3, on Boost.Beast. It turns bytes into
// api::Request values, asks the Router for a Response and writes it back;
// all HTTP policy that does not depend on a route lives here:
//
//   - keep-alive, one request at a time per connection (pipelined requests
//     wait in the read buffer), one strand per connection;
//   - a deadline on every read: read_timeout_ms from a connection's first
//     byte (or from accept) to the end of the request body, idle_timeout_ms
//     between keep-alive requests, write_timeout_ms per response. A timed-out
//     connection is closed without an answer;
//   - limits: headers over max_header_bytes -> 431, a body over
//     max_body_bytes -> 413 (checked against Content-Length before the body
//     is read, and against the decoded size for chunked bodies), malformed
//     HTTP -> 400; each of these closes the connection after the answer;
//   - bodies: Content-Length or Transfer-Encoding: chunked (decoded here).
//     A request with neither has an empty body; routes that need a body
//     answer it 411 (see RouteOptions::requires_body). "Expect:
//     100-continue" is honoured;
//   - handlers run on the I/O thread that read the request
//     (inline_handlers): a request is read, handled and answered without a
//     hop to another thread and back, each of which waits for a CPU on a
//     loaded machine (BENCHMARKS.md "Session 11"). While one runs, the other
//     I/O threads serve the other connections. Routes marked
//     RouteOptions::offload (those that may block for seconds: snapshot
//     writes and restores) run on a pool of handler_threads, so that they
//     never hold an I/O thread; with inline_handlers = false every handler
//     runs there. Inline, at most `threads` requests run at once and the
//     next ones wait, unread, in their sockets;
//   - overload: connections beyond max_connections are accepted, answered
//     503 (Retry-After) and closed; requests beyond max_inflight_requests
//     (queued for or running in a handler) are answered overload_status
//     (503 or 429, Retry-After) without running a handler;
//   - Stop() is graceful: it closes the listener, closes idle keep-alive
//     connections, lets requests being read or handled finish (answered with
//     Connection: close) and waits up to drain_timeout_ms for them; a
//     handler still running after that is waited for (it cannot be
//     interrupted). Signal handling is the app's.
//
// Thread-safety: Start(), Stop() and port() may be called from any thread
// (not concurrently with each other for the same server).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/metrics.h"
#include "api/router.h"
#include "base/status.h"

namespace ranker::api {

struct HttpServerOptions {
  std::string address = "127.0.0.1";   // IPv4 or IPv6 literal to listen on
  uint16_t port = 8080;                // 0: an ephemeral port, see port()
  int threads = 2;                     // I/O threads (parsing, inline handlers, writing)
  int handler_threads = 2;             // threads running offloaded handlers
  bool inline_handlers = true;         // false: every handler on the handler pool
  size_t max_body_bytes = 1 << 20;     // 413 beyond
  size_t max_header_bytes = 16 << 10;  // 431 beyond (request line + fields)
  int64_t read_timeout_ms = 10000;     // whole request, from its first byte
  int64_t idle_timeout_ms = 60000;     // keep-alive wait for the next request
  int64_t write_timeout_ms = 10000;    // one response
  size_t max_connections = 1024;       // open connections; beyond: 503 + close
  size_t max_inflight_requests = 256;  // queued or running handlers; beyond: shed
  int overload_status = 503;           // 503 or 429, for shed requests
  int retry_after_seconds = 1;         // Retry-After on 503/429 answers
  int64_t drain_timeout_ms = 5000;     // Stop() waits this long for requests

  Status Validate() const;
};

class HttpServer {
 public:
  // `router` and `metrics` are borrowed and must outlive the server.
  HttpServer(HttpServerOptions options, const Router* router, Metrics* metrics);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Validates the options, binds, listens and starts the threads. Errors:
  // InvalidArgument (options, address), IOError (bind/listen, with errno
  // text). REQUIRES: called at most once.
  Status Start();

  // The bound port (the ephemeral one when options.port == 0).
  // REQUIRES: Start() returned OK.
  uint16_t port() const;

  // Graceful shutdown (see above); returns when the threads are joined.
  // Idempotent; a no-op when Start() was not called or failed.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ranker::api
