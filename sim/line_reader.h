// Line-by-line reading of plain or gzip-compressed text files (zlib reads
// both transparently), plus the small field parsers the real-data
// converters share. Not thread-safe; one reader per file.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ranker::sim {

class LineReader {
 public:
  // IOError naming `path` if it cannot be opened.
  static StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Reads the next line without its "\n" (and "\r"). False at the end of
  // the file or on an error; then status() tells which.
  bool Next(std::string* line);
  const Status& status() const { return status_; }
  const std::string& path() const { return path_; }

 private:
  LineReader(void* file, std::string path) : file_(file), path_(std::move(path)) {}
  void* file_;  // gzFile, kept opaque so zlib stays out of this header
  std::string path_;
  Status status_;
};

// Splits `line` at every `sep`; fields keep surrounding spaces.
std::vector<std::string_view> SplitFields(std::string_view line, char sep);
// `s` without leading and trailing spaces.
std::string_view TrimSpaces(std::string_view s);
// Whole-string numeric parses (after trimming spaces); false if malformed or
// not finite.
bool ParseDouble(std::string_view s, double* out);
bool ParseInt(std::string_view s, int64_t* out);

}  // namespace ranker::sim
