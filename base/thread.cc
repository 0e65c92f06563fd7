#include "base/thread.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace ranker {

Status SetThreadNice(int nice) {
  if (nice < 0 || nice > 19) {
    return Status::InvalidArgument("thread nice must be in [0, 19], got " + std::to_string(nice));
  }
#ifdef __linux__
  // setpriority(PRIO_PROCESS, tid) sets one thread's nice on Linux (POSIX
  // would make it per process; Linux threads are scheduled entities).
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) != 0) {
    return Status::Unavailable(std::string("setpriority: ") + std::strerror(errno));
  }
  return Status::OK();
#else
  return Status::Unavailable("per-thread nice is only supported on Linux");
#endif
}

void SetThreadName(const char* name) {
#ifdef __linux__
  char buf[16];
  std::strncpy(buf, name, sizeof(buf) - 1);
  buf[sizeof(buf) - 1] = '\0';
  ::pthread_setname_np(::pthread_self(), buf);
#else
  (void)name;
#endif
}

void SetUpBackgroundThread(const char* name, int nice) {
  SetThreadName(name);
  if (nice <= 0) return;
  const Status s = SetThreadNice(nice);
  if (!s.ok()) std::fprintf(stderr, "ranker: %s thread priority: %s\n", name, s.ToString().c_str());
}

}  // namespace ranker
