#pragma once
// The inner loop of CGNN's fused MMD²: for one generated point (c, g) and a block of m points
// (cause_j, other_j), the distances and the multi-bandwidth Gaussian kernel sums
//   gap_j = g − other_j,   dist_j = (cause_j − c)² + gap_j²,
//   total_j = Σ_γ exp(−γ dist_j),   weighted_j = Σ_γ γ exp(−γ dist_j).
// Written as plain loops (not Eigen expressions) so that an AVX2+FMA copy can be compiled beside
// the portable one and chosen at run time: Eigen chooses its packet width from compile-time
// macros, so without -march=native the exponentials would run on SSE2 code several times slower
// (bench/causal/RESULTS.md, "Speed of the CGNN kernel"). The AVX2 copy lets the compiler fuse
// multiply-adds, so its numbers differ from the portable copy's in the last bits (CGNN results then
// depend on the CPU as they do on -march=native, never on the thread count); compiling it with
// -ffp-contract=off made them identical but cost 26 % per pair (Tübingen pair 1, one thread:
// 15.0 s against 11.9 s, 2026-11-27).
#include <cstddef>

namespace sbi::causal::detail {

struct KernelRowPlan {
  const float* gammas;
  const char* chained;  // 1: exp(−γ_k d) = exp(−γ_{k−1} d)^10 (γ_k = 10 γ_{k−1}), four multiplications
  int count;
};

void kernel_row(const KernelRowPlan& plan, const float* cause, const float* other, std::ptrdiff_t m, float c, float g,
                float* gap, float* dist, float* term, float* total, float* weighted);

// The same computed by the portable copy whatever the CPU (for tests of the dispatched one).
void kernel_row_portable(const KernelRowPlan& plan, const float* cause, const float* other, std::ptrdiff_t m, float c,
                         float g, float* gap, float* dist, float* term, float* total, float* weighted);

// exp(x) for x ≤ 0 in float, as plain arithmetic the compiler can vectorise: x = k ln2 + r with
// |r| ≤ ln2/2, e^r by its Taylor polynomial to r⁶ (truncation error < 1.2e-7 relative, about the
// float rounding), 2^k assembled in the exponent bits. Inputs below −87 give e^−87 ≈ 1.6e-38.
float exp_nonpositive(float x);

// Which copy kernel_row runs: "avx2+fma" or "portable".
const char* kernel_row_variant();

}  // namespace sbi::causal::detail
