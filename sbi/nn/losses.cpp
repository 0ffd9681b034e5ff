#include "sbi/nn/losses.hpp"

#include <stdexcept>
#include <string>

namespace sbi::nn {
namespace {

template <class T>
ad::Var<T> kernel_sum(ad::Var<T> a, ad::Var<T> b, std::span<const double> bandwidths) {
  const ad::Var<T> distances = ad::pairwise_sq_dist(a, b);
  ad::Var<T> total;
  for (const double h : bandwidths) {
    const ad::Var<T> k = ad::exp(ad::mul_scalar(distances, static_cast<T>(-1.0 / (2.0 * h * h))));
    total = total.valid() ? ad::add(total, k) : k;
  }
  return total;
}

}  // namespace

template <class T>
ad::Var<T> bce_with_logits(ad::Var<T> logits, ad::Var<T> targets) {
  if (logits.rows() != targets.rows() || logits.cols() != targets.cols())
    throw std::invalid_argument("bce_with_logits: logits and targets differ in shape");
  return ad::mean(ad::sub(ad::softplus(logits), ad::mul(targets, logits)));
}

template <class T>
ad::Var<T> bce_with_logits(ad::Var<T> logits, const ad::Matrix<T>& targets) {
  return bce_with_logits(logits, logits.tape().constant(targets));
}

template <class T>
ad::Var<T> mse(ad::Var<T> prediction, ad::Var<T> target) {
  return ad::mean(ad::square(ad::sub(prediction, target)));
}

template <class T>
ad::Var<T> mse(ad::Var<T> prediction, const ad::Matrix<T>& target) {
  return mse(prediction, prediction.tape().constant(target));
}

template <class T>
ad::Var<T> mmd2(ad::Var<T> x, ad::Var<T> y, std::span<const double> bandwidths, MmdEstimator estimator) {
  if (bandwidths.empty()) throw std::invalid_argument("mmd2: no bandwidths");
  for (const double h : bandwidths)
    if (!(h > 0)) throw std::invalid_argument("mmd2: bandwidths must be positive");
  if (x.cols() != y.cols()) throw std::invalid_argument("mmd2: samples differ in dimension");
  const auto n = static_cast<double>(x.rows());
  const auto m = static_cast<double>(y.rows());
  const auto h = static_cast<double>(bandwidths.size());
  const ad::Var<T> kxy = ad::mean(kernel_sum(x, y, bandwidths));
  ad::Var<T> kxx = ad::sum(kernel_sum(x, x, bandwidths));
  ad::Var<T> kyy = ad::sum(kernel_sum(y, y, bandwidths));
  if (estimator == MmdEstimator::biased) {
    kxx = ad::mul_scalar(kxx, static_cast<T>(1.0 / (n * n)));
    kyy = ad::mul_scalar(kyy, static_cast<T>(1.0 / (m * m)));
  } else {
    if (n < 2 || m < 2) throw std::invalid_argument("mmd2: the unbiased estimator needs two samples on each side");
    kxx = ad::mul_scalar(ad::add_scalar(kxx, static_cast<T>(-n * h)), static_cast<T>(1.0 / (n * (n - 1))));
    kyy = ad::mul_scalar(ad::add_scalar(kyy, static_cast<T>(-m * h)), static_cast<T>(1.0 / (m * (m - 1))));
  }
  return ad::sub(ad::add(kxx, kyy), ad::mul_scalar(kxy, T(2)));
}

#define SBI_NN_INSTANTIATE_LOSSES(T)                                                              \
  template ad::Var<T> bce_with_logits(ad::Var<T>, ad::Var<T>);                                    \
  template ad::Var<T> bce_with_logits(ad::Var<T>, const ad::Matrix<T>&);                          \
  template ad::Var<T> mse(ad::Var<T>, ad::Var<T>);                                                \
  template ad::Var<T> mse(ad::Var<T>, const ad::Matrix<T>&);                                      \
  template ad::Var<T> mmd2(ad::Var<T>, ad::Var<T>, std::span<const double>, MmdEstimator);

SBI_NN_INSTANTIATE_LOSSES(float)
SBI_NN_INSTANTIATE_LOSSES(double)

}  // namespace sbi::nn
