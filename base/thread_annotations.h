// Clang's thread-safety attributes (-Wthread-safety), as leveldb and Abseil
// spell them, prefixed RANKER_. Under GCC and other compilers they expand to
// nothing. The analysis runs in the clang trees (build-tsan/, build-asan/ of
// scripts/sanitize.sh), where its warnings are errors.
//
// Use with ranker::Mutex (base/mutex.h): std::mutex of libstdc++ carries no
// capability attribute, so fields guarded by one cannot be checked.
#pragma once

#if defined(__clang__)
#define RANKER_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RANKER_THREAD_ANNOTATION(x)
#endif

// A type that is a lock (Mutex).
#define RANKER_CAPABILITY(name) RANKER_THREAD_ANNOTATION(capability(name))
// An RAII type that holds a lock for its lifetime (MutexLock).
#define RANKER_SCOPED_CAPABILITY RANKER_THREAD_ANNOTATION(scoped_lockable)
// A field read or written only while holding `mu`.
#define RANKER_GUARDED_BY(mu) RANKER_THREAD_ANNOTATION(guarded_by(mu))
// A pointer whose pointee is read or written only while holding `mu`.
#define RANKER_PT_GUARDED_BY(mu) RANKER_THREAD_ANNOTATION(pt_guarded_by(mu))
// Lock order: this lock is taken after / before the listed ones.
#define RANKER_ACQUIRED_AFTER(...) RANKER_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define RANKER_ACQUIRED_BEFORE(...) RANKER_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
// The caller must hold (REQUIRES) or must not hold (EXCLUDES) the locks.
#define RANKER_REQUIRES(...) RANKER_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define RANKER_EXCLUDES(...) RANKER_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// The function takes / releases the locks (or `this` for a lock type).
#define RANKER_ACQUIRE(...) RANKER_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RANKER_RELEASE(...) RANKER_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RANKER_TRY_ACQUIRE(...) RANKER_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// Tells the analysis the lock is held here (checked at run time by nothing).
#define RANKER_ASSERT_CAPABILITY(x) RANKER_THREAD_ANNOTATION(assert_capability(x))
// Opts one function out of the analysis; say why next to it.
#define RANKER_NO_THREAD_SAFETY_ANALYSIS RANKER_THREAD_ANNOTATION(no_thread_safety_analysis)
