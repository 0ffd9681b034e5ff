#pragma once
// Spectral normalisation (Miyato et al., ICLR 2018): a weight W is replaced by α·W/σ(W), with σ(W)
// its largest singular value estimated by power iteration. The vectors u, v persist between calls,
// so one iteration per training step suffices once they have converged. σ is computed on the tape
// as uᵀWv with u, v held constant, so gradients flow through σ as in PyTorch.
//
// With bound α the layer's Lipschitz constant (spectral norm) is α instead of 1: the step-size and
// smoothness bounds of the stability module are stated in terms of α.
#include "sbi/autodiff/ops.hpp"
#include "sbi/random/rng.hpp"

#include <string>

namespace sbi::nn {

struct SpectralNormOptions {
  double bound = 1.0;          // α: the target spectral norm
  int power_iterations = 1;    // per training forward pass
  double epsilon = 1e-12;      // guards the normalisation of u and v
  bool is_valid(std::string* why = nullptr) const;
};

template <class T>
class BasicSpectralNorm {
 public:
  // For a weight of shape rows × cols (inputs × outputs). u, v start random from `rng`.
  BasicSpectralNorm(Eigen::Index rows, Eigen::Index cols, Rng& rng, SpectralNormOptions options = {});

  // Run the power iterations on `weight` (updating u, v) when `update` is set; then return
  // α·W/σ on the tape of `weight`.
  ad::Var<T> normalize(ad::Var<T> weight, bool update);
  // α·W/σ with the current u, v, changing nothing (evaluation from several threads).
  ad::Var<T> normalize(ad::Var<T> weight) const;
  // Power iterations on a plain matrix (no tape).
  void power_iterate(const ad::Matrix<T>& weight, int iterations);
  // uᵀWv for the current u, v: the σ estimate.
  T sigma(const ad::Matrix<T>& weight) const;

  const ad::Matrix<T>& u() const { return u_; }
  const ad::Matrix<T>& v() const { return v_; }
  // Restoring a saved model: set the persisted vectors.
  void set_vectors(ad::Matrix<T> u, ad::Matrix<T> v);
  const SpectralNormOptions& options() const { return options_; }

 private:
  SpectralNormOptions options_;
  ad::Matrix<T> u_;  // rows × 1, left singular vector estimate
  ad::Matrix<T> v_;  // cols × 1, right singular vector estimate
};

extern template class BasicSpectralNorm<float>;
extern template class BasicSpectralNorm<double>;

}  // namespace sbi::nn
