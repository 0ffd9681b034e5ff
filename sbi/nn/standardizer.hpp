#pragma once
// Input standardisation z = (x - mean) / sd, fitted on training data and stored with the model, so
// that a saved network is applied to raw inputs by whoever loads it.
#include "sbi/autodiff/ops.hpp"

namespace sbi::nn {

template <class T>
struct BasicStandardizer {
  ad::Matrix<T> mean;  // 1 × d; empty = identity
  ad::Matrix<T> sd;    // 1 × d, every entry > 0

  bool empty() const { return mean.size() == 0; }

  // Column means and standard deviations of `data` (rows = samples); columns whose sd is below
  // `min_sd` (constant features) use sd = 1 so that they are centred, not blown up.
  static BasicStandardizer fit(const ad::Matrix<T>& data, T min_sd = T(1e-8));

  // On the tape, so that gradients with respect to raw inputs are available (gradient penalties).
  ad::Var<T> apply(ad::Var<T> x) const;
  ad::Matrix<T> apply(const ad::Matrix<T>& x) const;
};

using Standardizer = BasicStandardizer<float>;

extern template struct BasicStandardizer<float>;
extern template struct BasicStandardizer<double>;

}  // namespace sbi::nn
