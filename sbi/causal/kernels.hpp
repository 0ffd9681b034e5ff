#pragma once
// Kernel tools for the classical causal-direction baselines: the median-heuristic bandwidth, the
// HSIC dependence statistic, kernel ridge regression with leave-one-out choice of the ridge, and
// isotonic regression.
#include "sbi/core/types.hpp"

#include <vector>

namespace sbi::causal {

// Median of the pairwise distances |v_i - v_j| (i < j) that are non-zero; 1 when all are zero.
// Non-zero: heavily discretised variables (Tübingen has several) would otherwise get a zero
// bandwidth.
double median_distance(const Vector& v);

// Biased HSIC statistic tr(K H L H) / n² (Gretton et al. 2005) with Gaussian kernels
// k(a, b) = exp(-(a-b)² / (2 h²)) on each variable, h from median_distance. ≥ 0; near 0 for
// independent samples, about n⁻¹ E[...] under independence.
double hsic(const Vector& a, const Vector& b);

struct KernelRidgeFit {
  Vector fitted;             // in-sample predictions
  Vector residuals;          // target - fitted
  double loo_mse = 0;        // leave-one-out mean squared error at the chosen ridge
  double ridge = 0;          // chosen λ
  double bandwidth = 0;      // Gaussian kernel bandwidth on the input (median heuristic)
};

// Kernel ridge regression of target on input (1-D) with a Gaussian kernel, bandwidth from the median
// heuristic, and the ridge λ chosen from {1e-4, 1e-3, 1e-2, 1e-1, 1} by the closed-form leave-one-out
// error (one eigendecomposition of K serves all λ). Cost O(n³): callers subsample.
KernelRidgeFit kernel_ridge_loo(const Vector& input, const Vector& target);

// Least-squares monotone (non-decreasing if `increasing`, else non-increasing) fit of target on
// input by the pool-adjacent-violators algorithm; ties in input share one fitted value. Returns the
// fitted values in the original order.
Vector isotonic_fit(const Vector& input, const Vector& target, bool increasing = true);

}  // namespace sbi::causal
