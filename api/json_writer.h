// A small streaming JSON writer for response bodies. It exists because
// Boost.JSON's serializer prints doubles as "5E-1" and non-finite values as
// the invalid tokens Infinity/NaN; here numbers use the shortest round-trip
// form ("0.5", "1e-07") and non-finite numbers become null, so every body
// is valid JSON.
//
// Usage:
//   JsonWriter w;
//   w.BeginObject();
//   w.Key("items"); w.BeginArray(); w.Number(0.5); w.EndArray();
//   w.EndObject();
//   std::string body = std::move(w).Take();
//
// Commas are placed automatically. REQUIRES (asserted): calls are well nested,
// and inside an object each value is preceded by Key(). Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ranker::api {

class JsonWriter {
 public:
  JsonWriter() = default;

  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);

  void String(std::string_view value);
  void Number(double value);  // null when not finite
  void Int(int64_t value);
  void Uint(uint64_t value);
  void Bool(bool value);
  void Null();
  // Inserts `json` verbatim as one value. REQUIRES: `json` is valid JSON.
  void Raw(std::string_view json);

  // The text so far. REQUIRES for a complete document: nesting closed.
  const std::string& str() const { return out_; }
  std::string Take() && { return std::move(out_); }

 private:
  void BeforeValue();

  std::string out_;
  // One entry per open container: true once it holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

// Appends `value` as a quoted, escaped JSON string: Boost.JSON's serializer
// (the one string escaper of the project; bytes >= 0x80 are copied as they are).
void AppendJsonString(std::string* out, std::string_view value);
// Appends the shortest text that reads back as `value`; "null" if not finite.
void AppendJsonNumber(std::string* out, double value);

}  // namespace ranker::api
