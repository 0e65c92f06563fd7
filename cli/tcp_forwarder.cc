#include "cli/tcp_forwarder.h"

#include <array>
#include <boost/asio.hpp>
#include <thread>

namespace ranker::app {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// One client connection and its twin to the target; copies both ways.
class Pipe : public std::enable_shared_from_this<Pipe> {
 public:
  Pipe(tcp::socket client, asio::io_context& io) : client_(std::move(client)), target_(io) {}

  void Start(const tcp::endpoint& target) {
    auto self = shared_from_this();
    target_.async_connect(target, [self](boost::system::error_code ec) {
      if (ec) return self->Close();
      self->Copy(self->client_, self->target_, self->up_);
      self->Copy(self->target_, self->client_, self->down_);
    });
  }

 private:
  using Buffer = std::array<char, 64 * 1024>;

  void Copy(tcp::socket& from, tcp::socket& to, Buffer& buf) {
    auto self = shared_from_this();
    from.async_read_some(
        asio::buffer(buf), [self, &from, &to, &buf](boost::system::error_code ec, size_t n) {
          if (ec) return self->Close();
          asio::async_write(to, asio::buffer(buf.data(), n),
                            [self, &from, &to, &buf](boost::system::error_code wec, size_t) {
                              if (wec) return self->Close();
                              self->Copy(from, to, buf);
                            });
        });
  }

  void Close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    target_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket target_;
  Buffer up_{};
  Buffer down_{};
};

}  // namespace

class TcpForwarder::Impl {
 public:
  Impl(const tcp::endpoint& target) : acceptor_(io_), target_(target) {}

  Status Listen(uint16_t port) {
    boost::system::error_code ec;
    const tcp::endpoint at(asio::ip::address_v4::loopback(), port);
    acceptor_.open(at.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(at, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::IOError("127.0.0.1:" + std::to_string(port) + ": " + ec.message());
    Accept();
    thread_ = std::thread([this] { io_.run(); });
    return Status::OK();
  }

  ~Impl() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket client) {
      if (ec) return;  // the acceptor was closed
      std::make_shared<Pipe>(std::move(client), io_)->Start(target_);
      Accept();
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  const tcp::endpoint target_;
  std::thread thread_;
};

StatusOr<std::unique_ptr<TcpForwarder>> TcpForwarder::Create(uint16_t listen_port,
                                                             const std::string& target_host,
                                                             uint16_t target_port) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(target_host, ec);
  if (ec) return Status::InvalidArgument("target address '" + target_host + "': " + ec.message());
  auto impl = std::make_unique<Impl>(tcp::endpoint(address, target_port));
  RANKER_RETURN_IF_ERROR(impl->Listen(listen_port));
  return std::unique_ptr<TcpForwarder>(new TcpForwarder(std::move(impl)));
}

TcpForwarder::TcpForwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TcpForwarder::~TcpForwarder() = default;
uint16_t TcpForwarder::port() const { return impl_->port(); }

}  // namespace ranker::app
