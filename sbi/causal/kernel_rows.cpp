#include "sbi/causal/kernel_rows.hpp"

#include <bit>
#include <cstdint>

namespace sbi::causal::detail {

namespace {

[[gnu::always_inline]] inline float exp_nonpositive_inline(float x) {
  constexpr float log2e = 1.44269504088896341f;
  constexpr float ln2_hi = 0.693145751953125f;   // 15 significant bits: k·ln2_hi is exact for |k| < 2^9 (here |k| ≤ 126)
  constexpr float ln2_lo = 1.428606765330187e-06f;
  constexpr float round_magic = 12582912.0f;      // 1.5·2^23: adding it rounds to an integer in the low bits
  // Clamp at −87 by comparing bit patterns: a float comparison here keeps GCC from vectorising the
  // loop (it will not if-convert it under the default -ftrapping-math). As unsigned integers,
  // negative floats order by magnitude and sit above every non-negative float and +0.
  constexpr std::uint32_t floor_bits = std::bit_cast<std::uint32_t>(-87.0f);
  const std::uint32_t x_bits = std::bit_cast<std::uint32_t>(x);
  x = std::bit_cast<float>(x_bits > floor_bits ? floor_bits : x_bits);
  const float shifted = x * log2e + round_magic;
  const float k = shifted - round_magic;
  const std::int32_t k_int = std::bit_cast<std::int32_t>(shifted) - std::bit_cast<std::int32_t>(round_magic);
  const float r = (x - k * ln2_hi) - k * ln2_lo;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float two_to_k = std::bit_cast<float>((k_int + 127) << 23);
  return p * two_to_k;
}

[[gnu::always_inline]] inline void kernel_row_body(const KernelRowPlan& plan, const float* __restrict cause,
                                                   const float* __restrict other, std::ptrdiff_t m, float c, float g,
                                                   float* __restrict gap, float* __restrict dist,
                                                   float* __restrict term, float* __restrict total,
                                                   float* __restrict weighted) {
  for (std::ptrdiff_t j = 0; j < m; ++j) {
    const float dc = cause[j] - c;
    gap[j] = g - other[j];
    dist[j] = dc * dc + gap[j] * gap[j];
  }
  for (int k = 0; k < plan.count; ++k) {
    const float gamma = plan.gammas[k];
    if (plan.chained[k]) {
      for (std::ptrdiff_t j = 0; j < m; ++j) {
        const float t2 = term[j] * term[j];
        const float t8 = (t2 * t2) * (t2 * t2);
        term[j] = t2 * t8;
      }
    } else {
      for (std::ptrdiff_t j = 0; j < m; ++j) term[j] = exp_nonpositive_inline(-gamma * dist[j]);
    }
    if (k == 0) {
      for (std::ptrdiff_t j = 0; j < m; ++j) {
        total[j] = term[j];
        weighted[j] = gamma * term[j];
      }
    } else {
      for (std::ptrdiff_t j = 0; j < m; ++j) {
        total[j] += term[j];
        weighted[j] += gamma * term[j];
      }
    }
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SBI_KERNEL_ROW_DISPATCH 1
[[gnu::target("avx2,fma")]] void kernel_row_avx2(const KernelRowPlan& plan, const float* cause, const float* other,
                                                 std::ptrdiff_t m, float c, float g, float* gap, float* dist,
                                                 float* term, float* total, float* weighted) {
  kernel_row_body(plan, cause, other, m, c, g, gap, dist, term, total, weighted);
}

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

using KernelRowFunction = void (*)(const KernelRowPlan&, const float*, const float*, std::ptrdiff_t, float, float,
                                   float*, float*, float*, float*, float*);

KernelRowFunction chosen_kernel_row() {
#ifdef SBI_KERNEL_ROW_DISPATCH
  static const KernelRowFunction chosen = cpu_has_avx2_fma() ? &kernel_row_avx2 : &kernel_row_portable;
  return chosen;
#else
  return &kernel_row_portable;
#endif
}

}  // namespace

void kernel_row_portable(const KernelRowPlan& plan, const float* cause, const float* other, std::ptrdiff_t m, float c,
                         float g, float* gap, float* dist, float* term, float* total, float* weighted) {
  kernel_row_body(plan, cause, other, m, c, g, gap, dist, term, total, weighted);
}

void kernel_row(const KernelRowPlan& plan, const float* cause, const float* other, std::ptrdiff_t m, float c, float g,
                float* gap, float* dist, float* term, float* total, float* weighted) {
  chosen_kernel_row()(plan, cause, other, m, c, g, gap, dist, term, total, weighted);
}

float exp_nonpositive(float x) { return exp_nonpositive_inline(x); }

const char* kernel_row_variant() { return chosen_kernel_row() == &kernel_row_portable ? "portable" : "avx2+fma"; }

}  // namespace sbi::causal::detail
