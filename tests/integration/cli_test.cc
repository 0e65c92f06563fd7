// The real binaries end to end: `ranker broker` as a subprocess, events
// produced by an external client (kcat), `ranker serve` learning them and
// answering over HTTP, and both stopping cleanly on SIGTERM.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/api/test_client.h"
#include "tests/integration/subprocess.h"

namespace ranker {
namespace {

using std::chrono::milliseconds;
using testing::Subprocess;

constexpr char kKcat[] = "/usr/bin/kcat";
constexpr int kEvents = 300;

// `kEvents` pre-joined examples as kcat -K: input ("key:value" lines).
std::string WriteKeyedExamples() {
  const std::string path = ::testing::TempDir() + "/ranker_cli_examples.txt";
  std::ofstream out(path, std::ios::trunc);
  for (int i = 0; i < kEvents; ++i) {
    out << "k" << i << ":"
        << R"({"type":"example","request_id":"k)" << i << R"(","item_id":"i)" << i % 13
        << R"(","labels":{"click":)" << i % 2 << "}}\n";
  }
  return path;
}

// GET /v1/model's body, or "" if the server did not answer.
std::string Model(uint16_t port) {
  api::testing::TestClient client(port);
  std::optional<api::testing::HttpReply> reply =
      client.RoundTrip(api::testing::GetRequest("/v1/model"), 2000);
  return reply && reply->status == 200 ? reply->body : "";
}

int64_t ExamplesTrained(const std::string& body) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("examples_trained")) return -1;
  return v.at("examples_trained").to_number<int64_t>();
}

TEST(Cli, BrokerKcatAndServeEndToEnd) {
  struct stat st;
  if (stat(kKcat, &st) != 0) GTEST_SKIP() << "kcat not installed";
  Subprocess broker({RANKER_BIN, "broker", "--partitions", "3"});
  ASSERT_TRUE(broker.started());
  std::optional<std::string> address = broker.ReadLine(milliseconds(10000));
  ASSERT_TRUE(address.has_value());
  ASSERT_NE(address->find("127.0.0.1:"), std::string::npos) << *address;

  Subprocess kcat({kKcat, "-P", "-b", *address, "-t", "ranker.events", "-K:"},
                  WriteKeyedExamples());
  ASSERT_EQ(kcat.Wait(milliseconds(30000)), 0);

  Subprocess serve({RANKER_BIN, "serve", "--brokers", *address, "--http", "127.0.0.1:0", "--set",
                    "train.batch_size=1", "--set", "kafka.session.timeout.ms=6000", "--set",
                    "kafka.fetch.wait.max.ms=10", "--set", "ingest.log_kafka_errors=false"});
  std::optional<std::string> listening = serve.ReadLine(milliseconds(10000));
  ASSERT_TRUE(listening.has_value());
  const size_t colon = listening->rfind(':');
  ASSERT_NE(colon, std::string::npos) << *listening;
  const uint16_t port = static_cast<uint16_t>(std::stoi(listening->substr(colon + 1)));

  const auto deadline = std::chrono::steady_clock::now() + milliseconds(30000);
  int64_t trained = -1;
  while (trained < kEvents && std::chrono::steady_clock::now() < deadline) {
    trained = ExamplesTrained(Model(port));
    if (trained < kEvents) usleep(20000);  // polling interval, bounded by the deadline
  }
  EXPECT_EQ(trained, kEvents);
  EXPECT_EQ(serve.Stop(SIGTERM, milliseconds(20000)), 0);
  EXPECT_EQ(broker.Stop(SIGTERM, milliseconds(10000)), 0);
}

TEST(Cli, BrokerWithAFixedPortForwardsToTheMock) {
  struct stat st;
  if (stat(kKcat, &st) != 0) GTEST_SKIP() << "kcat not installed";
  // The forwarder binds the port it is given; with 0 the kernel picks one
  // and the broker prints it.
  Subprocess broker({RANKER_BIN, "broker", "--port", "0", "--topic", "t1", "--partitions", "2"});
  std::optional<std::string> address = broker.ReadLine(milliseconds(10000));
  ASSERT_TRUE(address.has_value());
  ASSERT_EQ(address->rfind("127.0.0.1:", 0), 0u) << *address;
  EXPECT_GT(std::atoi(address->c_str() + 10), 0) << *address;
  // kcat lists the metadata through the forwarder: the topic with 2 partitions.
  Subprocess list({kKcat, "-L", "-b", *address, "-t", "t1", "-m", "5"});
  std::string all;
  while (std::optional<std::string> line = list.ReadLine(milliseconds(10000))) all += *line + "\n";
  EXPECT_EQ(list.Wait(milliseconds(10000)), 0);
  EXPECT_NE(all.find("topic \"t1\" with 2 partitions"), std::string::npos) << all;
  EXPECT_EQ(broker.Stop(SIGINT, milliseconds(10000)), 0);
}

}  // namespace
}  // namespace ranker
