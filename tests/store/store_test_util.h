// Helpers shared by the store tests: deterministic rows, a reference model of
// row sets, and temporary directories.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/random.h"
#include "store/snapshot.h"

namespace ranker::store::testing {

// Row bytes that depend on (key, generation) only: 24 pseudo-random bytes.
inline std::string RowBytes(uint64_t key, uint64_t generation) {
  Rng rng(key * 1000003u + generation);
  std::string bytes(24, '\0');
  for (char& c : bytes) c = static_cast<char>(rng.NextU64());
  return bytes;
}

using RowMap = std::map<uint64_t, std::string>;

inline std::vector<Row> ToRows(const RowMap& m) { return {m.begin(), m.end()}; }

// A snapshot with everything but rows filled from `id`.
inline Snapshot Header(uint64_t id, uint64_t base_id) {
  Snapshot s;
  s.id = id;
  s.base_id = base_id;
  s.created_ms = 1700000000000 + static_cast<int64_t>(id) * 1000;
  s.model_version = id * 10;
  s.param_checksum = "checksum-" + std::to_string(id);
  s.isa = "isa-" + std::to_string(id % 3);
  s.offsets[{"events", 0}] = static_cast<int64_t>(id) * 100;
  s.offsets[{"events", 1}] = static_cast<int64_t>(id) * 100 + 7;
  s.dense_state = "dense-" + std::to_string(id) + std::string(50, static_cast<char>(id));
  return s;
}

// A fresh directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = std::filesystem::path(::testing::TempDir()) / ("ranker_store_" + name);
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace ranker::store::testing
