#pragma once
// Population Monte Carlo ABC (SMC-ABC; Beaumont, Cornuet, Marin & Robert 2009, with the adaptive
// tolerance of Del Moral, Doucet & Jasra 2012).
//
//  1. Generation 0: simulate `initial_factor · population` draws from the prior (clipped to half the
//     budget), standardise the statistics by their scale over these draws (the prior predictive), and
//     keep the `population` nearest; ε₀ = the largest kept distance.
//  2. Generation t: ε_t = the `epsilon_quantile` quantile of generation t−1's distances. Propose θ by
//     drawing a particle of generation t−1 by weight and perturbing it with N(0, kernel_scale · Σ),
//     Σ the weighted covariance of generation t−1. A proposal outside the prior's support is
//     rejected without simulating. Accept when the simulation's distance ≤ ε_t, with weight
//     π(θ) / Σ_j w_j K(θ | θ_j). When the effective sample size falls below ess_fraction ·
//     population, resample the population to equal weights.
//  3. Stop when the budget is spent (checked per simulation: the budget is never exceeded; an
//     unfinished generation is merged with the previous one, each weighted by its share of the
//     population), when a generation's acceptance rate falls below min_acceptance_rate, or after a
//     generation at or below final_epsilon.
//
// Reproducibility: θ of prior draw i comes from Rng::stream(seed, i, 0) and simulation i from
// stream_seed(seed, i, 1) (as `sbi simulate`); proposal j draws from its own stream. Simulations of a
// batch run in parallel; batch sizes never depend on the thread count, so the result is identical
// at any thread count.
#include "sbi/abc/result.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>

namespace sbi {

struct SmcAbcOptions {
  std::size_t budget = 10000;          // simulator calls, never exceeded
  // Particles per generation; 0 = 100 up to 10^4 simulations, 300 above. (sbibm uses 1000 above 10^4;
  // on observation 1 of two_moons, sir and bernoulli_glm at 10^5, 300 gave C2ST 0.56, 0.69, 0.88 against
  // 0.75, 0.74, 0.90 with 1000: more generations beat more particles per generation. bench/abc/RESULTS.md.)
  std::size_t population = 0;
  double initial_factor = 5;           // generation 0 simulates initial_factor · population prior draws (≤ budget / 2)
  double epsilon_quantile = 0.5;       // ε_t = this quantile of the previous generation's distances
  double kernel_scale = 2.0;           // perturbation covariance = kernel_scale × weighted covariance
  double ess_fraction = 0.5;           // resample when ESS < ess_fraction · population
  double min_acceptance_rate = 0;      // stop when a generation accepts less often (0 = off)
  double final_epsilon = 0;            // stop after a generation with ε ≤ this (0 = off)
  ScaleKind scale = ScaleKind::mad;
  std::uint64_t seed = 1;
  int threads = 0;                     // simulation threads, 0 = all cores (results do not depend on it)
  FailurePolicy failure_policy = FailurePolicy::drop;  // drop (or redraw): a failed simulation is a rejection; fail: throw
  // How posterior draws come from the final weighted population (sampling only).
  ResampleOptions resample;

  std::size_t resolved_population() const;
  bool is_valid(std::string* why = nullptr) const;
  // The method's own keys (not budget, seed, threads, failure policy: those belong to the run).
  nlohmann::json to_json() const;
  // From a spec's "inference" section (method "smc"): "population", "initial_factor",
  // "epsilon_quantile", "kernel_scale", "ess_fraction", "min_acceptance_rate", "final_epsilon",
  // "scale", "resample", "bandwidth". Errors name the JSON path.
  static SmcAbcOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

struct SmcAbcCallbacks {
  const std::atomic<bool>* stop = nullptr;                              // stop after the batch in flight
  std::function<void(std::size_t used, std::size_t budget)> on_progress;  // after each batch
  std::function<void(const AbcGeneration&)> on_generation;               // after each generation
};

AbcResult smc_abc(const Simulator& simulator, const Prior& prior, const Vector& observation, const SmcAbcOptions& options,
                  const SmcAbcCallbacks& callbacks = {});

}  // namespace sbi
