#include "sim/line_reader.h"

#include <zlib.h>

#include <charconv>
#include <cmath>

namespace ranker::sim {

StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return Status::IOError("cannot open " + path);
  gzbuffer(f, 1 << 17);
  return std::unique_ptr<LineReader>(new LineReader(f, path));
}

LineReader::~LineReader() { gzclose(static_cast<gzFile>(file_)); }

bool LineReader::Next(std::string* line) {
  line->clear();
  char buf[8192];
  gzFile f = static_cast<gzFile>(file_);
  while (gzgets(f, buf, sizeof(buf)) != nullptr) {
    line->append(buf);
    if (!line->empty() && line->back() == '\n') break;
  }
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  if (err != Z_OK && err != Z_BUF_ERROR) {
    status_ = Status::IOError(path_ + ": " + msg);
    return false;
  }
  if (line->empty()) return false;
  while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) line->pop_back();
  return true;
}

std::vector<std::string_view> SplitFields(std::string_view line, char sep) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == sep) {
      fields.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return fields;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool ParseDouble(std::string_view s, double* out) {
  s = TrimSpaces(s);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty() && std::isfinite(*out);
}

bool ParseInt(std::string_view s, int64_t* out) {
  s = TrimSpaces(s);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

}  // namespace ranker::sim
