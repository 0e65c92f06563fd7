#include "learner/instruction_set.h"

#include <Eigen/Core>

namespace ranker::learner {
namespace {

std::string Describe() {
  std::string isa;
  auto add = [&isa](const char* name) {
    if (!isa.empty()) isa += ' ';
    isa += name;
  };
#if defined(__AVX512F__)
  add("avx512f");
#endif
#if defined(__AVX2__)
  add("avx2");
#endif
#if defined(__FMA__)
  add("fma");
#endif
#if defined(__SSE4_2__)
  add("sse4.2");
#endif
#if defined(__ARM_NEON)
  add("neon");
#endif
  if (isa.empty()) isa = "generic";
  return isa + "; eigen: " + Eigen::SimdInstructionSetsInUse();
}

}  // namespace

const std::string& CompiledInstructionSets() {
  static const std::string* const isa = new std::string(Describe());
  return *isa;
}

std::string InstructionSetMismatch(std::string_view recorded) {
  if (recorded.empty() || recorded == CompiledInstructionSets()) return "";
  return "snapshot written by a build for [" + std::string(recorded) + "], restored on [" +
         CompiledInstructionSets() +
         "]: learning continues, but not bit-identically to a run on the writer's instruction set";
}

}  // namespace ranker::learner
