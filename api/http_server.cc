// The only translation unit that includes Beast/Asio: they take most of a
// minute to compile here, so the listener (ServerCore) and the connection
// state machine (Session) share this file rather than a private header.
#include "api/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cassert>
#include <chrono>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/thread.h"

namespace ranker::api {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Millis = std::chrono::milliseconds;

constexpr size_t kReadChunk = 4096;
// Lingering close after an error answer: how much unread input to discard
// (so the peer sees the answer, not a reset) and for how long at most.
constexpr size_t kMaxDrainBytes = 256 << 10;
constexpr int64_t kMaxDrainMs = 1000;

bool IsLoopback(const tcp::socket& socket) {
  beast::error_code ec;
  const net::ip::address addr = socket.remote_endpoint(ec).address();
  if (ec) return false;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6()).is_loopback();
  }
  return addr.is_loopback();
}

class Session;

// Shared state of the listener and its connections.
class ServerCore {
 public:
  ServerCore(HttpServerOptions options, const Router* router, Metrics* metrics)
      : options_(std::move(options)),
        router_(router),
        metrics_(metrics),
        ioc_(options_.threads),
        work_(ioc_.get_executor()),
        acceptor_(net::make_strand(ioc_)),
        backoff_(ioc_),
        handler_pool_(static_cast<size_t>(std::max(1, options_.handler_threads))) {}

  Status Start();
  void Stop();
  uint16_t port() const { return port_; }

  const HttpServerOptions& options() const { return options_; }
  const Router& router() const { return *router_; }
  Metrics& metrics() { return *metrics_; }
  bool stopping() const { return stopping_.load(); }

  void Register(Session* session, std::weak_ptr<Session> weak);
  void Unregister(Session* session);
  void ReleaseSlot();  // a connection within max_connections closed
  bool TryStartRequest();
  void FinishRequest();
  net::thread_pool& handler_pool() { return handler_pool_; }

 private:
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  Status Listen();

  const HttpServerOptions options_;
  const Router* const router_;
  Metrics* const metrics_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  uint16_t port_ = 0;

  Mutex mu_;
  CondVar drained_;  // sessions_ became empty
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_ RANKER_GUARDED_BY(mu_);
  std::atomic<size_t> open_connections_{0};  // sessions within max_connections
  std::atomic<size_t> inflight_{0};

  // Declared after the state above: destroying the io_context destroys
  // pending sessions, which unregister themselves.
  net::io_context ioc_;
  // Keeps the I/O threads running while a request is in the handler pool
  // and no socket operation is pending.
  net::executor_work_guard<net::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  net::steady_timer backoff_;  // after accept errors such as EMFILE
  std::vector<std::thread> threads_;
  // Runs the handlers, off the I/O threads. Declared last: its queued tasks
  // hold sessions, which must go before the io_context.
  net::thread_pool handler_pool_;
};

// One connection: reads a request, answers it, repeats while keep-alive.
// Every member function runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerCore* server, bool reject)
      : server_(server),
        reject_(reject),
        holds_slot_(!reject),
        loopback_(IsLoopback(socket)),
        stream_(std::move(socket)) {}
  ~Session() {
    if (holds_slot_) server_->ReleaseSlot();
    server_->Unregister(this);
  }

  void Run() {
    server_->Register(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Begin(); });
  }

  // Server stopping: an idle connection closes now, a busy one after its answer.
  void OnStop() {
    beast::error_code ignored;
    if (waiting_idle_) stream_.socket().close(ignored);
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  void Begin() {
    if (!reject_) return WaitForRequest();
    server_->metrics().ConnectionRejected();
    ReplyAndDrain(JsonError(503, "overloaded", "too many connections"));
  }

  // Waits for the first byte of the next request, under the idle deadline.
  void WaitForRequest() {
    if (server_->stopping()) return Close();
    if (buffer_.size() > 0) return ReadHeader();  // a pipelined request
    const auto& o = server_->options();
    stream_.expires_after(Millis(first_ ? o.read_timeout_ms : o.idle_timeout_ms));
    waiting_idle_ = true;
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->waiting_idle_ = false;
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    const auto& o = server_->options();
    if (!first_) stream_.expires_after(Millis(o.read_timeout_ms));
    first_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    parser_->body_limit(o.max_body_bytes);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      return net::async_write(stream_, net::buffer(kContinue),
                              [self = shared_from_this()](beast::error_code ec2, size_t) {
                                if (ec2) return self->Close();
                                self->ReadBody();
                              });
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Handle();
                     });
  }

  void OnReadError(beast::error_code ec) {
    Metrics& m = server_->metrics();
    if (ec == http::error::body_limit) {
      m.RequestError("body_limit");
      return ReplyAndDrain(JsonError(413, "payload_too_large",
                                     "body exceeds http.max_body_bytes (" +
                                         std::to_string(server_->options().max_body_bytes) + ")"));
    }
    if (ec == http::error::header_limit) {
      m.RequestError("header_limit");
      return ReplyAndDrain(JsonError(431, "header_fields_too_large",
                                     "headers exceed http.max_header_bytes (" +
                                         std::to_string(server_->options().max_header_bytes) +
                                         ")"));
    }
    if (ec == beast::error::timeout) {
      m.RequestError("timeout");
      return Close();
    }
    // The peer went away (possibly mid-request): nobody to answer.
    const bool parse_error =
        &ec.category() == &http::make_error_code(http::error::bad_target).category();
    if (!parse_error || ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return Close();
    }
    m.RequestError("bad_request");
    ReplyAndDrain(JsonError(400, "bad_request", "malformed HTTP request: " + ec.message()));
  }

  Request ToRequest() {
    auto& msg = parser_->get();
    Request req;
    req.method = ParseMethod(msg.method_string());
    req.SetTarget(std::string(msg.target()));
    req.content_type = std::string(msg[http::field::content_type]);
    req.authorization = std::string(msg[http::field::authorization]);
    if (auto len = parser_->content_length()) req.content_length = *len;
    req.chunked = parser_->chunked();
    req.body = std::move(msg.body());
    req.remote_is_loopback = loopback_;
    return req;
  }

  // Runs the handler here, on the strand (inline_handlers), or queues it on
  // the handler pool, from where the answer comes back to the strand.
  void Handle() {
    const bool keep_alive = parser_->keep_alive();
    if (!server_->TryStartRequest()) {
      server_->metrics().RequestShed();
      const int status = server_->options().overload_status;
      return Reply(JsonError(status, "overloaded", "too many requests in flight"), keep_alive);
    }
    Request request = ToRequest();
    if (server_->options().inline_handlers && !server_->router().Offloaded(request)) {
      Response response = Dispatch(&request);
      return Reply(std::move(response), keep_alive);
    }
    net::post(server_->handler_pool(),
              [self = shared_from_this(), request = std::move(request), keep_alive]() mutable {
                // The pool's threads are Asio's: named on their first task.
                thread_local const bool named = (SetThreadName("ranker-handler"), true);
                (void)named;
                Response response = self->Dispatch(&request);
                net::post(self->stream_.get_executor(),
                          [self, response = std::move(response), keep_alive]() mutable {
                            self->Reply(std::move(response), keep_alive);
                          });
              });
  }

  // Runs on the handler pool (touching no connection state) or inline.
  Response Dispatch(Request* request) {
    std::string_view route;
    const auto start = std::chrono::steady_clock::now();
    Response response = server_->router().Dispatch(request, &route);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    server_->metrics().ObserveRequest(route, MethodName(request->method), response.status,
                                      took.count());
    server_->FinishRequest();
    return response;
  }

  void PrepareResponse(Response r, bool keep_alive) {
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::server, "ranker");
    response_.set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) response_.insert(name, value);
    if ((r.status == 503 || r.status == 429) && r.Header("Retry-After") == nullptr) {
      response_.set(http::field::retry_after,
                    std::to_string(server_->options().retry_after_seconds));
    }
    response_.body() = std::move(r.body);
    response_.keep_alive(keep_alive);
    response_.prepare_payload();
  }

  // Writes `r`; afterwards reads the next request when `keep_alive` (and
  // the server is not stopping).
  void Reply(Response r, bool keep_alive) {
    keep_alive = keep_alive && !server_->stopping();
    PrepareResponse(std::move(r), keep_alive);
    stream_.expires_after(Millis(server_->options().write_timeout_ms));
    http::async_write(stream_, response_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) return self->Close();
                        self->WaitForRequest();
                      });
  }

  // Writes `r` with Connection: close, then discards what the peer still
  // sends (bounded) so that it reads the answer instead of a reset.
  void ReplyAndDrain(Response r) {
    PrepareResponse(std::move(r), false);
    stream_.expires_after(Millis(server_->options().write_timeout_ms));
    http::async_write(
        stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Close();
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          self->stream_.expires_after(
              Millis(std::min(kMaxDrainMs, self->server_->options().read_timeout_ms)));
          self->Drain(0);
        });
  }

  void Drain(size_t drained) {
    if (drained > kMaxDrainBytes) return Close();
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this(), drained](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->Drain(drained + n);
                            });
  }

  void Close() {
    if (holds_slot_) {  // before the peer can see the close
      holds_slot_ = false;
      server_->ReleaseSlot();
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  ServerCore* const server_;
  const bool reject_;    // over max_connections: answer 503 and close
  bool holds_slot_;      // counted in open_connections_ until closed
  const bool loopback_;  // the peer is a loopback address
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;  // alive while being written
  bool first_ = true;                           // no request read yet on this connection
  bool waiting_idle_ = false;                   // between requests: Stop() may close us
};

Status ServerCore::Listen() {
  beast::error_code ec;
  const net::ip::address addr = net::ip::make_address(options_.address, ec);
  if (ec)
    return Status::InvalidArgument("http.address: '" + options_.address + "' " + ec.message());
  const tcp::endpoint endpoint(addr, options_.port);
  const std::string where = options_.address + ":" + std::to_string(options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("http listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint(ec).port();
  return Status::OK();
}

Status ServerCore::Start() {
  assert(!started_);
  RANKER_RETURN_IF_ERROR(options_.Validate());
  RANKER_RETURN_IF_ERROR(Listen());
  started_ = true;
  net::dispatch(acceptor_.get_executor(), [this] { Accept(); });
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] {
      SetThreadName("ranker-http");
      while (true) {
        try {
          ioc_.run();
          return;
        } catch (...) {  // a stray exception must not kill the server
        }
      }
    });
  }
  return Status::OK();
}

void ServerCore::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
    OnAccept(ec, std::move(s));
  });
}

void ServerCore::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping_ || !acceptor_.is_open()) return;
  if (ec) {  // e.g. out of file descriptors: back off instead of spinning
    backoff_.expires_after(Millis(50));
    backoff_.async_wait(
        net::bind_executor(acceptor_.get_executor(), [this](beast::error_code) { Accept(); }));
    return;
  }
  const bool reject = open_connections_.load() >= options_.max_connections;
  if (!reject) {
    open_connections_.fetch_add(1);
    metrics_->ConnectionOpened();
  }
  std::make_shared<Session>(std::move(socket), this, reject)->Run();
  Accept();
}

void ServerCore::Register(Session* session, std::weak_ptr<Session> weak) {
  MutexLock lock(&mu_);
  sessions_.emplace(session, std::move(weak));
}

void ServerCore::ReleaseSlot() {
  open_connections_.fetch_sub(1);
  metrics_->ConnectionClosed();
}

void ServerCore::Unregister(Session* session) {
  MutexLock lock(&mu_);
  sessions_.erase(session);
  if (sessions_.empty()) drained_.SignalAll();
}

bool ServerCore::TryStartRequest() {
  if (inflight_.fetch_add(1) >= options_.max_inflight_requests) {
    inflight_.fetch_sub(1);
    return false;
  }
  metrics_->RequestStarted();
  return true;
}

void ServerCore::FinishRequest() {
  inflight_.fetch_sub(1);
  metrics_->RequestFinished();
}

void ServerCore::Stop() {
  if (!started_ || stopping_.exchange(true)) return;
  net::dispatch(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    backoff_.cancel();
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    MutexLock lock(&mu_);
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) net::post(s->executor(), [s] { s->OnStop(); });
  live.clear();
  {
    const auto deadline = std::chrono::steady_clock::now() + Millis(options_.drain_timeout_ms);
    MutexLock lock(&mu_);
    while (!sessions_.empty() && drained_.WaitUntil(&mu_, deadline)) {
    }
  }
  handler_pool_.join();  // handlers still running after the drain timeout finish
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace

class HttpServer::Impl : public ServerCore {
 public:
  using ServerCore::ServerCore;
};

HttpServer::HttpServer(HttpServerOptions options, const Router* router, Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() { return impl_->Start(); }

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace ranker::api
