// Where POST /v1/events sends what it accepts, with the decoder that decides
// what is accepted and the record of what is not. Implementation:
// app::Service (the events topic with a broker, else the learner's queue);
// tests use a recording fake.
//
// Thread-safety: every method from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "ingest/event_decoder.h"

namespace ranker::app {

// One event of a POST /v1/events body that decoded cleanly.
struct AcceptedEvent {
  std::string key;      // request_id ("" if none): the Kafka message key
  std::string payload;  // the event's JSON text
  ingest::DecodeResult decoded;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Decodes one event as the learner would.
  virtual ingest::DecodeResult Decode(std::string_view payload) const = 0;
  // Takes the events, in order. ResourceExhausted / Unavailable when the
  // learner's queue is full / closed; Unavailable naming how many were
  // taken when the sink failed part-way.
  virtual Status Submit(std::vector<AcceptedEvent>* events) = 0;
  // Counts an event that did not decode (and copies it to the dead-letter
  // topic when one is configured).
  virtual void RecordRejected(std::string_view key, std::string_view payload,
                              const ingest::DecodeError& error) = 0;
};

}  // namespace ranker::app
