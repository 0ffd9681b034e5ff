#include "sbi/causal/paired_mmd.hpp"

#include "sbi/causal/kernel_rows.hpp"

#include <cmath>

namespace sbi::causal {

PairedMmd::PairedMmd(const std::vector<float>& gammas) : gammas_(gammas), chained_(gammas.size(), 0) {
  for (std::size_t k = 1; k < gammas_.size(); ++k)
    chained_[k] = std::abs(gammas_[k] - 10.0f * gammas_[k - 1]) <= 1e-6f * gammas_[k] && !chained_[k - 1] ? 1 : 0;
}

PairedMmd::PairedMmd(const std::vector<double>& gammas) : PairedMmd(std::vector<float>(gammas.begin(), gammas.end())) {}

// The generated-generated sum is symmetric: each row i visits j > i only, and the diagonal adds
// n·Σ_γ 1.
float PairedMmd::generated_terms(const Eigen::VectorXf& cause, const Eigen::VectorXf& generated, const Eigen::VectorXf& effect,
                                 Eigen::VectorXf* gradient) {
  const Eigen::Index n = cause.size();
  // Exactly n long, so that the reductions below are those of the original CGNN code (same bits).
  for (auto& s : scratch_)
    if (s.size() != n) s.resize(n);
  Eigen::ArrayXf& gap = scratch_[0];
  Eigen::ArrayXf& dist = scratch_[1];
  Eigen::ArrayXf& term = scratch_[2];
  Eigen::ArrayXf& total = scratch_[3];
  Eigen::ArrayXf& weighted = scratch_[4];
  Eigen::ArrayXf& upper = scratch_[5];  // gradient contributions pushed to later rows j > i
  double gen_gen = static_cast<double>(n) * static_cast<double>(gammas_.size()), gen_obs = 0;
  const detail::KernelRowPlan row{gammas_.data(), chained_.data(), static_cast<int>(gammas_.size())};
  if (gradient) {
    gradient->resize(n);
    upper.setZero();
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    const float c = cause[i], g = generated[i];
    // Cross term, all j: d = (c_i − c_j)² + (g_i − e_j)².
    detail::kernel_row(row, cause.data(), effect.data(), n, c, g, gap.data(), dist.data(), term.data(), total.data(),
                       weighted.data());
    gen_obs += total.sum();
    // ∂/∂g_i of −2 Σ_j k(G_i, O_j) = −2 Σ_j Σ_γ (−2γ)(g_i − e_j) k_γ = 4 Σ_j gap_j weighted_j.
    float slope = gradient ? 4.0f * (gap * weighted).sum() : 0.0f;
    const Eigen::Index m = n - i - 1;
    if (m > 0) {
      detail::kernel_row(row, cause.data() + i + 1, generated.data() + i + 1, m, c, g, gap.data(), dist.data(),
                         term.data(), total.data(), weighted.data());
      gen_gen += 2.0 * static_cast<double>(total.head(m).sum());
      if (gradient) {
        // Σ_jk k(G_j, G_k): pair (i, j) appears twice; ∂/∂g_i = 2 Σ_j (−2γ)(g_i − g_j) k, and the
        // opposite for g_j.
        auto push = term.head(m);  // free once kernel_row has returned
        push = gap.head(m) * weighted.head(m);
        slope -= 4.0f * push.sum();
        upper.tail(m) += 4.0f * push;
      }
    }
    if (gradient) (*gradient)[i] = slope;
  }
  if (gradient) *gradient = ((gradient->array() + upper) / static_cast<float>(n * n)).matrix();
  return static_cast<float>((gen_gen - 2.0 * gen_obs) / static_cast<double>(n * n));
}

// The same kernel rows as above with the effect in place of the generated values; symmetric, so
// each row visits j > i only.
float PairedMmd::observed_term(const Eigen::VectorXf& cause, const Eigen::VectorXf& effect) {
  const Eigen::Index n = cause.size();
  for (auto& s : scratch_)
    if (s.size() != n) s.resize(n);
  const detail::KernelRowPlan row{gammas_.data(), chained_.data(), static_cast<int>(gammas_.size())};
  double total = static_cast<double>(n) * static_cast<double>(gammas_.size());
  for (Eigen::Index i = 0; i + 1 < n; ++i) {
    const Eigen::Index m = n - i - 1;
    detail::kernel_row(row, cause.data() + i + 1, effect.data() + i + 1, m, cause[i], effect[i], scratch_[0].data(),
                       scratch_[1].data(), scratch_[2].data(), scratch_[3].data(), scratch_[4].data());
    total += 2.0 * static_cast<double>(scratch_[3].head(m).sum());
  }
  return static_cast<float>(total / static_cast<double>(n * n));
}

}  // namespace sbi::causal
