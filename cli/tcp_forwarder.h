// A small TCP forwarder on 127.0.0.1:<port> to one target address, for
// `ranker broker --port P`: librdkafka 2.0.2's mock cluster cannot bind a
// chosen port, so clients bootstrap through this fixed port; the metadata
// they receive advertises the mock brokers' own loopback addresses, which
// they then connect to directly. Each accepted connection gets its own
// connection to the target and bytes are copied both ways until either
// side closes.
//
// Thread-safety: Create() and the destructor from one thread; the
// forwarding runs on an internal thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace ranker::app {

class TcpForwarder {
 public:
  // Listens on 127.0.0.1:listen_port (0 = any free port) and forwards to
  // target_host:target_port (an IPv4 literal). IOError naming the port when
  // it cannot be bound.
  static StatusOr<std::unique_ptr<TcpForwarder>> Create(uint16_t listen_port,
                                                        const std::string& target_host,
                                                        uint16_t target_port);
  ~TcpForwarder();  // closes every connection and joins the thread
  TcpForwarder(const TcpForwarder&) = delete;
  TcpForwarder& operator=(const TcpForwarder&) = delete;

  uint16_t port() const;

 private:
  class Impl;
  explicit TcpForwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ranker::app
