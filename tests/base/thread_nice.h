// The nice value of a thread of this process, by name: the tests of the
// threads that run below the HTTP handlers (learner, consumer) read it.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ranker::testing {

// The nice value of this process's thread named `name` (from
// /proc/self/task/<tid>/stat, field 19), or -100 if there is none.
inline int NiceOfThread(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the parenthesised comm: state is field 3, nice field 19.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19; ++i) rest >> field;
    return std::stoi(field);
  }
  return -100;
}

}  // namespace ranker::testing
