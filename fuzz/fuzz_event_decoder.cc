// libFuzzer target for the event decoder (not part of the CMake build).
//
// Properties checked on every input:
//  - Decode and DecodeBatch (NDJSON and JSON-array modes) return, never crash
//    (run under ASan + UBSan), and every rejection has a message.
//  - What Decode accepts, EncodeEvent writes back to JSON that decodes to an
//    event encoding to the very same bytes (encode/decode is a fixed point).
//
// Build and run (from /work/main; clang 14 + libFuzzer are installed):
//   clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I. \
//     fuzz/fuzz_event_decoder.cc ingest/event_decoder.cc ingest/event_encoder.cc \
//     ingest/reject.cc base/status.cc -lboost_json -o /tmp/fuzz_event_decoder
//   mkdir -p /tmp/fuzz_corpus && /tmp/fuzz_event_decoder -max_len=4096 \
//     -max_total_time=600 /tmp/fuzz_corpus
// Seed the corpus with a few lines of `ranker simulate --events 100` output.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingest/event_decoder.h"
#include "ingest/event_encoder.h"

namespace {

using ranker::ingest::DecodeResult;
using ranker::ingest::DecoderOptions;
using ranker::ingest::EventDecoder;

[[noreturn]] void Violation(const char* what, std::string_view detail) {
  std::fprintf(stderr, "property violated: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void CheckRejection(const DecodeResult& r) {
  if (!r.ok() && r.error().message.empty()) Violation("empty message", r.error().ToString());
}

// Re-encoding can grow a payload slightly ("1E0" -> "1", but "1e22" ->
// "1e+22"), so the second decode has room to spare.
const EventDecoder& Roomy() {
  static const EventDecoder decoder([] {
    DecoderOptions options;
    options.max_event_bytes = 1 << 20;
    return options;
  }());
  return decoder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const EventDecoder decoder(DecoderOptions{});
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const DecodeResult r = decoder.Decode(input);
  CheckRejection(r);
  if (r.ok()) {
    const std::string once = ranker::ingest::EncodeEvent(r.event());
    const DecodeResult again = Roomy().Decode(once);
    if (!again.ok()) Violation("re-encoded event rejected", again.error().ToString());
    const std::string twice = ranker::ingest::EncodeEvent(again.event());
    if (twice != once) Violation("encode/decode not a fixed point", once + " vs " + twice);
  }

  for (bool json_array : {false, true}) {
    const auto batch = decoder.DecodeBatch(input, json_array);
    if (!batch.ok()) {
      if (batch.status().message().empty()) Violation("empty body message", "");
      continue;
    }
    for (const DecodeResult& item : *batch) CheckRejection(item);
  }
  return 0;
}
