#pragma once
// Convergence diagnostics of MCMC chains: rank-normalised split-R̂ and bulk and tail effective
// sample sizes, as defined by Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), "Rank-
// normalization, folding, and localization: an improved R̂ for assessing convergence of MCMC",
// Bayesian Analysis 16(2).
//
//   // draws: one matrix per parameter, or per-chain draws of one parameter as rows of a matrix
//   sbi::Matrix chains_by_draws = ...;                    // M chains × N draws of one parameter
//   double rhat = sbi::split_rhat(chains_by_draws);       // max(bulk, tail) R̂; < 1.01 is the usual bar
//   double ess = sbi::bulk_ess(chains_by_draws);
//
// Definitions (paper §3–4, with its notation):
//   * split: each chain's first and second half become two chains (the middle draw of an odd-
//     length chain is dropped);
//   * rank normalisation: z = Φ⁻¹((r − 3/8) / (S + 1/4)), r the rank among all S draws (ties get
//     their average rank);
//   * R̂ = √(var⁺ / W), W the mean within-chain variance, var⁺ = (n−1)/n·W + B/n, B/n the variance
//     of the chain means; bulk R̂ on the rank-normalised split chains, tail R̂ on the rank-
//     normalised split chains of |θ − median θ| (folding); split_rhat returns the larger;
//   * ESS = S / τ̂, τ̂ = −1 + 2 Σ_{k=0}^{K} P̂_k with P̂_k = ρ̂_{2k} + ρ̂_{2k+1}, ρ̂_t = 1 − (W −
//     mean_m acov_{t,m}) / var⁺ the multi-chain autocorrelation (ρ̂_0 = 1), summed while P̂_k > 0
//     and made monotone (Geyer's initial monotone sequence), plus ρ̂ of the first even lag after
//     the sequence when positive; τ̂ ≥ 1/log10(S) caps ESS at S·log10 S;
//   * bulk ESS on the rank-normalised split chains; tail ESS the smaller ESS of the indicators
//     I(θ ≤ q_0.05) and I(θ ≤ q_0.95).
// The details the paper leaves open follow Stan and ArviZ, and the results agree with ArviZ 0.20 to
// rounding (tests/sbi/mcmc/test_diagnostics.cpp): acov_{t,m} is the chain's biased (÷N)
// autocovariance, W = mean_m acov_{0,m}·N/(N−1), and the fold is around the median of the split
// chains. One chain is split into two, so R̂ is defined for it (ArviZ returns NaN there).
// Constant draws give NaN (R̂ and ESS are undefined), as do fewer than 4 draws per chain or a
// non-finite draw. Autocovariances are computed by FFT, so long chains cost O(N log N).
#include "sbi/core/types.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace sbi {

// Each function takes the draws of one scalar quantity as an M × N matrix: row m = chain m.
double split_rhat(const Matrix& chains_by_draws);       // max(bulk R̂, tail R̂)
double split_rhat_bulk(const Matrix& chains_by_draws);
double split_rhat_tail(const Matrix& chains_by_draws);
double bulk_ess(const Matrix& chains_by_draws);
double tail_ess(const Matrix& chains_by_draws);
// ESS of the draws as they are (split, not rank-normalised): the basic estimator the two above
// apply to transformed draws.
double split_ess(const Matrix& chains_by_draws);
// The classic (not rank-normalised) split-R̂ of the draws as they are.
double split_rhat_basic(const Matrix& chains_by_draws);

// Per-parameter diagnostics of a set of chains, as stored with MCMC samples.
struct McmcDiagnostics {
  Names parameter_names;
  Vector rhat;        // max(bulk, tail) rank-normalised split-R̂
  Vector ess_bulk;
  Vector ess_tail;
  Eigen::Index chains = 0;
  Eigen::Index draws_per_chain = 0;

  // The largest R̂ and the smallest bulk ESS over the parameters (NaN if any is NaN).
  double max_rhat() const;
  double min_ess_bulk() const;
  // Every R̂ below `threshold` (1.01 as recommended by the paper) and finite.
  bool converged(double threshold = 1.01) const;
  // One line: "R-hat max 1.004 (theta_3), bulk ESS min 1830 (theta_1), tail ESS min 1700 (theta_1), 20 chains x
  // 500 draws" (the chains and draws only with with_chain_shape).
  std::string brief_report(bool with_chain_shape = true) const;
  // One line per parameter.
  std::string full_report() const;
  nlohmann::json to_json() const;
  static McmcDiagnostics from_json(const nlohmann::json& j, const std::string& path = "diagnostics");
};

// Diagnostics of draws stored chain-major: rows [m·N, (m+1)·N) of `draws` are chain m's N draws.
McmcDiagnostics compute_mcmc_diagnostics(const RowMatrix& draws, Eigen::Index chains, const Names& parameter_names = {});

}  // namespace sbi
