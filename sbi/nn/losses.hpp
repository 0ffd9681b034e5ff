#pragma once
// Losses, written with the differentiable operations, so that they have first and second
// derivatives and work with float or double.
#include "sbi/autodiff/ops.hpp"

#include <span>
#include <vector>

namespace sbi::nn {

// Mean binary cross-entropy between logits z and targets y ∈ [0, 1] (same shape):
// mean(softplus(z) - y z) = mean(-y log σ(z) - (1-y) log(1-σ(z))). Exact and finite for |z| ≫ 1:
// softplus never exponentiates a positive number.
template <class T>
ad::Var<T> bce_with_logits(ad::Var<T> logits, ad::Var<T> targets);
template <class T>
ad::Var<T> bce_with_logits(ad::Var<T> logits, const ad::Matrix<T>& targets);

// mean((prediction - target)²) over all entries.
template <class T>
ad::Var<T> mse(ad::Var<T> prediction, ad::Var<T> target);
template <class T>
ad::Var<T> mse(ad::Var<T> prediction, const ad::Matrix<T>& target);

enum class MmdEstimator {
  biased,    // V-statistic: means over all pairs, including i = j; ≥ 0
  unbiased,  // U-statistic: within-sample means exclude i = j; can be < 0
};

// Squared maximum mean discrepancy between samples x (n×d) and y (m×d) with the kernel
// k(a, b) = Σ_h exp(-|a-b|² / (2 h²)) summed over the bandwidths h.
//   biased:   mean(Kxx) + mean(Kyy) - 2 mean(Kxy)
//   unbiased: (ΣKxx - n·H)/(n(n-1)) + (ΣKyy - m·H)/(m(m-1)) - 2 mean(Kxy)   (H = number of bandwidths;
//             k(a, a) = H exactly, so removing the diagonal is subtracting a constant)
template <class T>
ad::Var<T> mmd2(ad::Var<T> x, ad::Var<T> y, std::span<const double> bandwidths,
                MmdEstimator estimator = MmdEstimator::biased);

}  // namespace sbi::nn
