// The instruction-set string snapshots record, and the restore-time check.
#include "learner/instruction_set.h"

#include <gtest/gtest.h>

namespace ranker::learner {
namespace {

bool Has(const std::string& s, std::string_view word) { return s.find(word) != s.npos; }

TEST(InstructionSet, NamesTheCompileTimeFeaturesAndEigensKernels) {
  const std::string& isa = CompiledInstructionSets();
  EXPECT_TRUE(Has(isa, "; eigen: ")) << isa;
#if defined(__AVX512F__)
  EXPECT_TRUE(Has(isa, "avx512f")) << isa;
  EXPECT_TRUE(Has(isa, "AVX512")) << isa;
#else
  EXPECT_FALSE(Has(isa, "avx512f")) << isa;
#endif
#if defined(__AVX2__)
  EXPECT_TRUE(Has(isa, "avx2")) << isa;
#else
  EXPECT_FALSE(Has(isa, "avx2")) << isa;
#endif
  EXPECT_EQ(&isa, &CompiledInstructionSets());
}

TEST(InstructionSet, MismatchWarnsOnlyOnADifferentRecordedSet) {
  EXPECT_EQ(InstructionSetMismatch(CompiledInstructionSets()), "");
  EXPECT_EQ(InstructionSetMismatch(""), "");  // written before the field existed
  const std::string warning = InstructionSetMismatch("sse4.2; eigen: SSE, SSE2");
  EXPECT_TRUE(Has(warning, "[sse4.2; eigen: SSE, SSE2]")) << warning;
  EXPECT_TRUE(Has(warning, "[" + CompiledInstructionSets() + "]")) << warning;
  EXPECT_TRUE(Has(warning, "not bit-identically")) << warning;
}

}  // namespace
}  // namespace ranker::learner
