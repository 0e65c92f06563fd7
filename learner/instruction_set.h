// The instruction sets the learner's arithmetic was compiled for. Determinism
// (contract §5: same config + same ordered events -> bit-identical
// parameters) holds on one instruction set only: Eigen picks its kernels at
// compile time, and e.g. its AVX-512 path computes 1/sqrt with rsqrt14 plus a
// Newton step, which rounds differently from the SSE/AVX paths. Snapshots
// record this string, and a restore on a binary whose string differs warns.
#pragma once

#include <string>
#include <string_view>

namespace ranker::learner {

// A stable, human-readable description: the compile-time x86 feature macros
// that matter for float arithmetic (avx512f, avx2, fma, sse4.2, or "generic"
// on other CPUs), then Eigen's SimdInstructionSetsInUse(), e.g.
// "avx512f avx2 fma sse4.2; eigen: AVX512, FMA, AVX2, AVX, SSE, SSE2, ...".
// The same for every call in one binary.
const std::string& CompiledInstructionSets();

// Empty when a snapshot written by a binary compiled for `recorded` restores
// bit-identically here (the strings match, or `recorded` is empty: snapshots
// from before the field existed are given the benefit of the doubt);
// otherwise a one-line warning naming both.
std::string InstructionSetMismatch(std::string_view recorded);

}  // namespace ranker::learner
