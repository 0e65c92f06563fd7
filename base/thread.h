// Scheduling of the service's own threads.
#pragma once

#include "base/status.h"

namespace ranker {

// Gives the CALLING thread (not the process) the nice value `nice`
// (0 = normal, 19 = lowest; Linux schedules threads separately). The
// service runs its learner and background writers below the HTTP handlers,
// so that on a busy machine ranking latency wins the CPU and the learner
// takes the rest. Raising nice needs no privilege; lowering it below the
// current value may be refused (EACCES), which is returned, not fatal.
// REQUIRES: 0 <= nice <= 19.
Status SetThreadNice(int nice);

// Names the calling thread (at most 15 bytes are kept), as `top -H`,
// /proc/<pid>/task/<tid>/comm and debuggers show it. Best effort.
void SetThreadName(const char* name);

// Names the calling thread and, when nice > 0, lowers it to `nice`. A
// refused nice is reported on stderr under the thread's name, not fatal:
// the thread then runs at the normal priority.
void SetUpBackgroundThread(const char* name, int nice);

}  // namespace ranker
