#pragma once
// The sbibm task "bernoulli_glm" (data/sbibm/TASKS.md §8): a Bernoulli GLM neuron driven by a fixed
// white-noise stimulus I_0..I_99.
//
//   θ = (β_0, f_0..f_8) ∈ R¹⁰,  ψ = X θ,  y_t ~ Bernoulli(σ(ψ_t)), t = 0..99,
//   X[t, 0] = 1,  X[t, j+1] = I_{t−j} for t ≥ j, else 0   (j = 0..8)
//
// Data: the sufficient statistics x = Xᵀ y (total spike count, then the spike-triggered sums at lags
// 0..8), names data_1..data_10; with option "raw": true the 100 spikes themselves (sbibm's
// bernoulli_glm_raw). Prior: N(0, P⁻¹) with sbibm's block-diagonal precision P (P_11 = 0.5 for the
// offset; FᵀF for the filter, a second-difference smoothness prior). Parameters theta_1..theta_10.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <span>
#include <string>

namespace sbi::simulators {

inline constexpr std::size_t kBernoulliGlmSteps = 100;       // T
inline constexpr std::size_t kBernoulliGlmParameters = 10;   // offset + 9 filter taps

struct BernoulliGlmOptions {
  bool raw = false;  // true: data are the 100 raw spikes instead of Xᵀ y

  static BernoulliGlmOptions from_json(const nlohmann::json& options, const std::string& path = "simulator.options");
  nlohmann::json to_json() const;
};

// The fixed stimulus (sbibm's stimulus_I: numpy RandomState(42).randn(100) as float32).
std::span<const double, kBernoulliGlmSteps> bernoulli_glm_stimulus();
// The 100 × 10 design matrix X.
Matrix bernoulli_glm_design_matrix();
// x = Xᵀ y for 100 spikes y (0 or 1); `out` has 10 entries.
void bernoulli_glm_summary(std::span<const double> spikes, MutableRow out);
// sbibm's prior precision P (10 × 10) and the prior N(0, P⁻¹).
Matrix bernoulli_glm_prior_precision();
PriorPtr bernoulli_glm_prior();

Simulator make_bernoulli_glm(const BernoulliGlmOptions& options = {});

}  // namespace sbi::simulators
