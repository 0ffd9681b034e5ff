#include "sbi/nn/linear.hpp"

#include <cmath>
#include <stdexcept>
#include <utility>

namespace sbi::nn {

template <class T>
BasicLinear<T>::BasicLinear(Eigen::Index inputs, Eigen::Index outputs, Activation followed_by, Rng& rng,
                            const std::string& name) {
  if (inputs <= 0 || outputs <= 0) throw std::invalid_argument("BasicLinear: sizes must be positive");
  weight_.name = name + ".weight";
  bias_.name = name + ".bias";
  weight_.value.resize(inputs, outputs);
  if (is_relu_family(followed_by)) {
    const double sd = std::sqrt(2.0 / static_cast<double>(inputs));
    for (Eigen::Index k = 0; k < weight_.value.size(); ++k) weight_.value.data()[k] = static_cast<T>(sd * rng.normal());
  } else {
    const double limit = std::sqrt(6.0 / static_cast<double>(inputs + outputs));
    for (Eigen::Index k = 0; k < weight_.value.size(); ++k)
      weight_.value.data()[k] = static_cast<T>(rng.uniform(-limit, limit));
  }
  bias_.value.setZero(1, outputs);
  weight_.zero_grad();
  bias_.zero_grad();
}

template <class T>
void BasicLinear<T>::enable_spectral_norm(SpectralNormOptions options, Rng& rng) {
  spectral_norm_.emplace(inputs(), outputs(), rng, options);
  // Start from a converged estimate so that the first training steps see the right scale.
  spectral_norm_->power_iterate(weight_.value, 20);
}

template <class T>
ad::Var<T> BasicLinear<T>::forward(ad::Var<T> x, bool training) {
  auto& tape = x.tape();
  ad::Var<T> w = weight_.on(tape);
  if (spectral_norm_) w = spectral_norm_->normalize(w, training);
  return ad::affine(x, w, bias_.on(tape));
}

template <class T>
ad::Var<T> BasicLinear<T>::forward_constant(ad::Var<T> x) const {
  auto& tape = x.tape();
  ad::Var<T> w = tape.constant(weight_.value);
  if (spectral_norm_) w = std::as_const(*spectral_norm_).normalize(w);
  return ad::affine(x, w, tape.constant(bias_.value));
}

template class BasicLinear<float>;
template class BasicLinear<double>;

}  // namespace sbi::nn
