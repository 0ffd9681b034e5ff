#pragma once
// The SIR epidemic model with binomial observations: the sbibm task "sir" (data/sbibm/TASKS.md §7).
//
//   dS/dt = −β S I / N,   dI/dt = β S I / N − γ I,   dR/dt = γ I,   (S, I, R)(0) = (N − 1, 1, 0)
//
// with N = 10^6, solved by adaptive Dormand–Prince 5(4) (rtol = atol = 1e-8) over [0, t_end = 160] days
// and read at t = 0, 17, …, 153 by dense output. Data: y_j ~ Binomial(1000, clip(I(t_j)/N, 0, 1)),
// names data_1..data_10. Parameters (beta, gamma) with sbibm's log-normal prior. A solve that needs
// more than max_steps step attempts (10^5, as sbibm's solver) is a failed simulation (SimulationError
// naming θ). Binomial draws use std::binomial_distribution fed by the simulation's sbi::Rng stream:
// reproducible for a given standard library, not across standard libraries.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sbi::simulators {

struct SirOptions {
  double population = 1e6;      // N
  double initial_infected = 1;  // I(0); S(0) = N − I(0), R(0) = 0
  std::vector<double> observation_times{0, 17, 34, 51, 68, 85, 102, 119, 136, 153};
  double t_end = 160.0;
  std::int64_t sample_size = 1000;  // binomial trials per observation
  double rtol = 1e-8;
  double atol = 1e-8;
  std::int64_t max_steps = 100000;  // step attempts over [0, t_end]
  bool noise = true;  // false: the expected counts sample_size · clip(I/N, 0, 1)

  // Keys as the member names; errors are InputError naming `path`; unknown keys are rejected.
  static SirOptions from_json(const nlohmann::json& options, const std::string& path = "simulator.options");
  nlohmann::json to_json() const;
  bool is_valid(std::string* why = nullptr) const;
};

Simulator make_sir(const SirOptions& options = {});
// sbibm's prior: beta ~ LogNormal(log 0.4, 0.5), gamma ~ LogNormal(log 0.125, 0.2).
PriorPtr sir_prior();

// The infected count I(t_j) at the observation times for θ = (beta, gamma), unclipped. Throws
// SimulationError naming θ on solver failure. `steps` (if given) receives the number of step attempts.
void sir_infected(const SirOptions& options, ConstRow theta, MutableRow out, std::int64_t* steps = nullptr);

}  // namespace sbi::simulators
