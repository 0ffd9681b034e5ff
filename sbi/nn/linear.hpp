#pragma once
// A fully connected layer y = x W + b (x: batch × in, W: in × out, b: 1 × out), optionally
// spectrally normalised. The activation is applied by the caller (Mlp); it is given here only to
// choose the initialisation: He (normal, sd √(2/in)) for the ReLU family, Xavier/Glorot (uniform,
// ±√(6/(in+out))) otherwise.
#include "sbi/autodiff/ops.hpp"
#include "sbi/nn/activation.hpp"
#include "sbi/nn/parameter.hpp"
#include "sbi/nn/spectral_norm.hpp"
#include "sbi/random/rng.hpp"

#include <optional>
#include <string>

namespace sbi::nn {

template <class T>
class BasicLinear {
 public:
  BasicLinear(Eigen::Index inputs, Eigen::Index outputs, Activation followed_by, Rng& rng, const std::string& name = "linear");

  // x W + b on x's tape. With spectral normalisation, W is replaced by α W / σ(W); `training`
  // advances the power iteration.
  ad::Var<T> forward(ad::Var<T> x, bool training = true);
  // The same map with the weights as constants on x's tape: no gradients, nothing changed, so
  // several threads may evaluate one layer at once (each on its own tape).
  ad::Var<T> forward_constant(ad::Var<T> x) const;

  void enable_spectral_norm(SpectralNormOptions options, Rng& rng);
  bool spectrally_normalized() const { return spectral_norm_.has_value(); }
  BasicSpectralNorm<T>* spectral_norm() { return spectral_norm_ ? &*spectral_norm_ : nullptr; }
  const BasicSpectralNorm<T>* spectral_norm() const { return spectral_norm_ ? &*spectral_norm_ : nullptr; }

  BasicParameter<T>& weight() { return weight_; }
  BasicParameter<T>& bias() { return bias_; }
  const BasicParameter<T>& weight() const { return weight_; }
  const BasicParameter<T>& bias() const { return bias_; }
  ParameterList<T> parameters() { return {&weight_, &bias_}; }
  Eigen::Index inputs() const { return weight_.value.rows(); }
  Eigen::Index outputs() const { return weight_.value.cols(); }

 private:
  BasicParameter<T> weight_;
  BasicParameter<T> bias_;
  std::optional<BasicSpectralNorm<T>> spectral_norm_;
};

using Linear = BasicLinear<float>;

extern template class BasicLinear<float>;
extern template class BasicLinear<double>;

}  // namespace sbi::nn
