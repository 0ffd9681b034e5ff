#pragma once
// Mixture density network (Bishop 1994): q̃(z | h) = Σ_k π_k(h) N(z; μ_k(h), Σ_k(h)) with full
// covariances, all from one MLP of h. Each component is parameterised by the upper-triangular
// Cholesky factor U_k of its precision, Σ_k⁻¹ = U_kᵀ U_k, with a positive diagonal exp(·):
//   log N(z; μ, Σ) = −(d/2) log 2π + Σ_i log U_ii − ½ ‖U (z − μ)‖²,
// no matrix inverse or determinant anywhere. Sampling: z = μ + U⁻¹ ε (back substitution).
//
// The network's outputs, column blocks: K logits | K·d means (column k·d + i) | K·d log U_ii |
// K·d(d−1)/2 entries U_ij, i < j (column k·P + p, pairs in row order). The triangular product is
// written as products with fixed 0/1 matrices (one GEMM each), so the tape holds a few nodes
// whatever d and K are.
#include "sbi/flows/density.hpp"

namespace sbi::flows {

class MixtureDensity final : public ConditionalDensity {
 public:
  MixtureDensity(const DensityEstimatorOptions& options, Eigen::Index data_dim, Eigen::Index context_dim, std::uint64_t seed);

 protected:
  Var family_log_prob(const Binder& bind, Var z, Var h) const override;
  Mat family_sample(const Binder& bind, Var h, Rng& rng) const override;
  void family_parameters(nn::ParameterList<float>& list) override;

 private:
  Eigen::Index components_ = 0, pairs_ = 0;
  FeedForward network_;
  Mat replicate_;       // d × K·d: z ↦ z repeated per component
  Mat pick_upper_;      // K·d × K·P: (z − μ)_{k, j} for each pair (i, j) of component k
  Mat sum_pairs_;       // K·P × K·d: Σ over pairs with the same row i
  Mat sum_components_;  // K·d × K: Σ over the d entries of each component
};

}  // namespace sbi::flows
