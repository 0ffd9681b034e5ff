#include "sbi/nn/spectral_norm.hpp"

#include <stdexcept>
#include <utility>

namespace sbi::nn {

bool SpectralNormOptions::is_valid(std::string* why) const {
  auto fail = [&](const char* message) {
    if (why) *why = message;
    return false;
  };
  if (!(bound > 0)) return fail("spectral norm bound must be positive");
  if (power_iterations < 0) return fail("power_iterations must be >= 0");
  if (!(epsilon > 0)) return fail("epsilon must be positive");
  return true;
}

template <class T>
BasicSpectralNorm<T>::BasicSpectralNorm(Eigen::Index rows, Eigen::Index cols, Rng& rng, SpectralNormOptions options)
    : options_(options), u_(rows, 1), v_(cols, 1) {
  std::string why;
  if (!options_.is_valid(&why)) throw std::invalid_argument("SpectralNormOptions: " + why);
  for (Eigen::Index k = 0; k < rows; ++k) u_(k, 0) = static_cast<T>(rng.normal());
  for (Eigen::Index k = 0; k < cols; ++k) v_(k, 0) = static_cast<T>(rng.normal());
  u_ /= std::max(u_.norm(), T(options_.epsilon));
  v_ /= std::max(v_.norm(), T(options_.epsilon));
}

template <class T>
void BasicSpectralNorm<T>::power_iterate(const ad::Matrix<T>& weight, int iterations) {
  const T eps = static_cast<T>(options_.epsilon);
  for (int k = 0; k < iterations; ++k) {
    v_.noalias() = weight.transpose() * u_;
    v_ /= std::max(v_.norm(), eps);
    u_.noalias() = weight * v_;
    u_ /= std::max(u_.norm(), eps);
  }
}

template <class T>
T BasicSpectralNorm<T>::sigma(const ad::Matrix<T>& weight) const {
  return (u_.transpose() * weight * v_)(0, 0);
}

template <class T>
ad::Var<T> BasicSpectralNorm<T>::normalize(ad::Var<T> weight, bool update) {
  if (weight.rows() != u_.rows() || weight.cols() != v_.rows())
    throw std::invalid_argument("BasicSpectralNorm::normalize: weight shape differs from the one it was built for");
  if (update) power_iterate(weight.value(), options_.power_iterations);
  return std::as_const(*this).normalize(weight);
}

template <class T>
ad::Var<T> BasicSpectralNorm<T>::normalize(ad::Var<T> weight) const {
  if (weight.rows() != u_.rows() || weight.cols() != v_.rows())
    throw std::invalid_argument("BasicSpectralNorm::normalize: weight shape differs from the one it was built for");
  auto& tape = weight.tape();
  // σ = uᵀ W v with u, v constants: Σ u ⊙ (W v).
  const ad::Var<T> sigma_var = ad::sum(ad::mul(tape.constant(u_), ad::matmul(weight, tape.constant(v_))));
  const ad::Var<T> scaled = ad::div(weight, ad::broadcast(sigma_var, weight.rows(), weight.cols()));
  return options_.bound == 1.0 ? scaled : ad::mul_scalar(scaled, static_cast<T>(options_.bound));
}

template <class T>
void BasicSpectralNorm<T>::set_vectors(ad::Matrix<T> u, ad::Matrix<T> v) {
  if (u.rows() != u_.rows() || u.cols() != 1 || v.rows() != v_.rows() || v.cols() != 1)
    throw std::invalid_argument("BasicSpectralNorm::set_vectors: wrong shapes");
  u_ = std::move(u);
  v_ = std::move(v);
}

template class BasicSpectralNorm<float>;
template class BasicSpectralNorm<double>;

}  // namespace sbi::nn
