#pragma once
// The Gaussian sbibm tasks (data/sbibm/TASKS.md §3–5), with closed-form posteriors:
//
// | task                    | prior                      | simulator                                        |
// |-------------------------|----------------------------|--------------------------------------------------|
// | gaussian_linear         | θ ~ N(0, 0.1·I_d)          | y ~ N(θ, 0.1·I_d)                                |
// | gaussian_linear_uniform | θ_i ~ U(−1, 1)             | y ~ N(θ, 0.1·I_d)                                |
// | gaussian_mixture        | θ_i ~ U(−10, 10), d = 2    | y ~ N(θ, I) or N(θ, 0.01·I), ½ each, drawn per   |
// |                         |                            | simulation (sbibm ≥ 1.1.0, not per batch)        |
//
// d = 10 by default ("dim" option). Parameters theta_1..theta_d, data data_1..data_d.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace sbi::simulators {

struct GaussianLinearOptions {
  int dim = 10;

  // {"dim": integer ≥ 1}; errors name `path`; unknown keys are rejected.
  static GaussianLinearOptions from_json(const nlohmann::json& options, const std::string& path = "simulator.options");
  nlohmann::json to_json() const;
};

// The noise covariance (0.1 I) and the prior covariance (0.1 I) of gaussian_linear.
inline constexpr double kGaussianLinearVariance = 0.1;

Simulator make_gaussian_linear(const GaussianLinearOptions& options = {});
PriorPtr gaussian_linear_prior(const GaussianLinearOptions& options = {});

Simulator make_gaussian_linear_uniform(const GaussianLinearOptions& options = {});
PriorPtr gaussian_linear_uniform_prior(const GaussianLinearOptions& options = {});

// Component standard deviations of gaussian_mixture (each chosen with probability ½).
inline constexpr double kGaussianMixtureWideSd = 1.0;
inline constexpr double kGaussianMixtureNarrowSd = 0.1;

Simulator make_gaussian_mixture();
PriorPtr gaussian_mixture_prior();

}  // namespace sbi::simulators
