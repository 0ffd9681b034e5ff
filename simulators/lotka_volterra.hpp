#pragma once
// Lotka–Volterra predator–prey ODE with log-normal observation noise: the sbibm task
// "lotka_volterra" (data/sbibm/TASKS.md §6).
//
//   dX/dt = αX − βXY,   dY/dt = −γY + δXY,   (X, Y)(0) = (30, 1)
//
// solved by adaptive Dormand–Prince 5(4) (rtol = atol = 1e-8, like sbibm's Tsit5) over [0, t_end = 20]
// and read at t = 0, 2.1, …, 18.9 by dense output. Each value v becomes clip(v, 1e-10, 1e4)·exp(0.1 ε),
// ε ~ N(0, 1). Data: (X(t_0..t_9), Y(t_0..t_9)), names data_1..data_20. Parameters (alpha, beta,
// gamma, delta) with sbibm's log-normal prior.
//
// A θ whose solve needs more than max_steps step attempts (accepted or rejected, counted as
// DifferentialEquations.jl counts `maxiters`; 10^5 as in sbibm) over [0, t_end] is a failed simulation
// (SimulationError naming θ), never a hang: at most ~5 ms. The solve always runs to t_end = 20, not
// just to the last observation time 18.9, so that the step cap means what it means in sbibm (this
// costs ~5 % of the run time).
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sbi::simulators {

struct LotkaVolterraOptions {
  std::array<double, 2> initial_state{30.0, 1.0};  // (prey, predator) at t = 0
  std::vector<double> observation_times{0.0, 2.1, 4.2, 6.3, 8.4, 10.5, 12.6, 14.7, 16.8, 18.9};
  double t_end = 20.0;
  double rtol = 1e-8;
  double atol = 1e-8;
  std::int64_t max_steps = 100000;  // step attempts over [0, t_end]
  bool noise = true;       // false: the clipped ODE values themselves
  double noise_sd = 0.1;   // sd of the log-normal noise

  // Keys as the member names; errors are InputError naming `path` (e.g.
  // "simulator.options.max_steps: expected an integer ≥ 1, got 0"); unknown keys are rejected.
  static LotkaVolterraOptions from_json(const nlohmann::json& options, const std::string& path = "simulator.options");
  nlohmann::json to_json() const;
  // Empty if valid, else what is wrong ("t_end: ...").
  bool is_valid(std::string* why = nullptr) const;
};

Simulator make_lotka_volterra(const LotkaVolterraOptions& options = {});
// sbibm's prior: alpha, gamma ~ LogNormal(−0.125, 0.5); beta, delta ~ LogNormal(−3, 0.5).
PriorPtr lotka_volterra_prior();

// The noise-free observation for θ = (alpha, beta, gamma, delta): unclipped ODE values at the
// observation times, in data order (prey first). Throws SimulationError naming θ on solver failure.
// `steps` (if given) receives the number of step attempts.
void lotka_volterra_solution(const LotkaVolterraOptions& options, ConstRow theta, MutableRow out,
                             std::int64_t* steps = nullptr);

}  // namespace sbi::simulators
