#pragma once
// "lotka_volterra_sde": the Lotka–Volterra predator–prey model with additive Gaussian noise, in the
// stochastic-differential form shown in the LFVI talk this project follows:
//
//   dX = (β1 X − β2 X Y) dt + ε1,      dY = (−β1 Y + β3 X Y) dt + ε2,      ε ~ N(0, 10)
//
// X = prey, Y = predators (note: the reverse of "lotka_volterra_jump", which follows Papamakarios &
// Murray). With "parameters": 4 the predator death rate is a separate β4: dY = (−β4 Y + β3 X Y) dt + ε2.
//
// How the noise is read (our choice): ε is a diffusion term, ε_i = σ dW_i with independent Wiener
// processes W_i and σ = √10 by default (option "noise_sd"), so "N(0, 10)" is the variance of the
// noise accumulated per unit time. Scheme: Euler–Maruyama with step h,
//
//   X_{n+1} = X_n + h (β1 X_n − β2 X_n Y_n) + σ √h Z1,   Y_{n+1} = Y_n + h (−β1 Y_n + β3 X_n Y_n) + σ √h Z2,
//
// Z ~ N(0, 1) independent (drawn by sbi::ziggurat_normal in sbi/random/ziggurat.hpp). So one step from a fixed state has mean
// x + h f(x) and variance σ² h per coordinate, and the model does not depend on h (h only sets the
// discretisation error: weak order 1, strong order 1/2; with σ = 0 it is Euler's method, global
// error O(h)). Alternative, "noise_scaling": "per_observation": noise_sd is the
// standard deviation of the noise accumulated over one observation interval Δ (ε ~ N(0, noise_sd²)
// per observation step), i.e. σ = noise_sd / √Δ in the diffusion above.
//
// Boundary (additive noise can push a population below 0): "boundary": "clamp" (default) sets a
// negative value to 0 after each step (0 is then not absorbing: noise can revive it, as in the SDE
// without a boundary); "reflect" replaces it by its absolute value; "none" lets it go negative.
//
// Options ("simulator.options"; every key optional, unknown keys are errors):
//
// | key                    | default     | meaning                                                       |
// |------------------------|-------------|---------------------------------------------------------------|
// | "parameters"           | 3           | 3: θ = (beta1, beta2, beta3); 4: θ = (beta1, ..., beta4)       |
// | "initial_state"        | [100, 50]   | [X0, Y0] (prey, predators), non-negative numbers              |
// | "t_end"                | 30          | simulated time span [0, t_end]                                |
// | "observation_interval" | 0.2         | X, Y are recorded at t_k = k·Δ, k = 1..round(t_end/Δ)         |
// |                        |             | (t_end must be a multiple of Δ; t = 0 is not recorded: it is  |
// |                        |             | the fixed initial state): 150 times by default                |
// | "dt"                   | 0.01        | Euler–Maruyama step; reduced to h = Δ / ceil(Δ / dt) so that  |
// |                        |             | a whole number of steps fills each observation interval       |
// | "noise_sd"             | √10         | σ ≥ 0 (0 = the deterministic ODE by Euler's method)           |
// | "noise_scaling"        | "diffusion" | "diffusion" or "per_observation" (see above)                  |
// | "boundary"             | "clamp"     | "clamp", "reflect" or "none"                                  |
// | "max_population"       | 1e6         | |X| or |Y| above this (or non-finite) is a failed simulation  |
// | "summaries"            | false       | false: the raw series; true: the 9 statistics of              |
// |                        |             | "lotka_volterra_jump" (see lotka_volterra_jump.hpp)           |
//
// Data, "summaries": false: X_t0.2, X_t0.4, ..., X_t30, Y_t0.2, ..., Y_t30 (2·150 values by default).
// Data, "summaries": true: mean_X, mean_Y, log_var_X, log_var_Y, autocorr1_X, autocorr2_X,
// autocorr1_Y, autocorr2_Y, crosscorr_XY, computed from the same 150 + 150 values.
//
// Default prior: independent uniforms on the rates, beta1 ~ U(0.1, 1), beta2 ~ U(0.002, 0.02),
// beta3 ~ U(0.002, 0.02) (and beta4 ~ U(0.1, 1)); at every corner of this box the default settings
// gave bounded paths (populations below 4000) in our checks. Suggested true parameters: β* = (0.5, 0.01, 0.01) (and β4* = 0.5):
// equilibrium (β1/β3, β1/β2) = (50, 50), so the default start (100, 50) oscillates with a period of
// about 2π/β1 ≈ 12.6 (without noise the prey cycle between about 20 and 100; the noise makes the
// amplitude wander: the spec's observation reaches about 150 prey at t ≈ 26.6).
//
// Failure: the row function throws SimulationError if the state leaves [−max_population,
// max_population] or is not finite; a Simulator reports that as a failed outcome.
#include "sbi/core/types.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/simulation/simulator.hpp"
#include "simulators/registry.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace sbi::simulators {

struct LotkaVolterraSdeOptions {
  enum class NoiseScaling { diffusion, per_observation };
  enum class Boundary { clamp, reflect, none };

  int parameters = 3;
  double initial_prey = 100.0;      // X0
  double initial_predators = 50.0;  // Y0
  double t_end = 30.0;
  double observation_interval = 0.2;
  double dt = 0.01;
  double noise_sd = 3.1622776601683795;  // √10
  NoiseScaling noise_scaling = NoiseScaling::diffusion;
  Boundary boundary = Boundary::clamp;
  double max_population = 1e6;
  bool summaries = false;

  // Number of recorded times K (t_k = k·Δ, k = 1..K).
  std::size_t num_times() const;
  // Euler–Maruyama steps per observation interval, ceil(Δ / dt), and the step actually used, Δ / that.
  std::size_t steps_per_interval() const;
  double step() const;
  // σ of the diffusion form (noise_sd, or noise_sd / √Δ with per_observation scaling).
  double diffusion_sd() const;

  // Parses "simulator.options"; errors name `path` ("simulator.options.dt: expected a positive
  // number, got 0"); unknown keys are errors.
  static LotkaVolterraSdeOptions from_json(const nlohmann::json& options,
                                           const std::string& path = "simulator.options");
  nlohmann::json to_json() const;
  // Empty if valid, else what is wrong (field names as in the JSON form).
  bool is_valid(std::string* why = nullptr) const;
};

// The row function: a plain, copyable, thread-safe struct (all state is per call).
class LotkaVolterraSde {
 public:
  explicit LotkaVolterraSde(LotkaVolterraSdeOptions options = {});

  const LotkaVolterraSdeOptions& options() const { return options_; }
  std::size_t data_dim() const;
  // Simulates one data set; throws SimulationError when the path leaves the allowed range.
  bool operator()(ConstRow theta, MutableRow y, Rng& rng) const;
  // The path recorder underneath: fills x_out, y_out (length num_times()); false when the path left
  // [−max_population, max_population] or became non-finite (the outputs are then incomplete).
  bool simulate_path(ConstRow theta, std::span<double> x_out, std::span<double> y_out, Rng& rng) const;

 private:
  LotkaVolterraSdeOptions options_;
  std::size_t num_times_ = 0;
  std::size_t steps_ = 0;
  double h_ = 0.0;
  double noise_per_step_ = 0.0;  // σ √h
};

SimulatorInfo lotka_volterra_sde_info(const LotkaVolterraSdeOptions& options);
Simulator make_lotka_volterra_sde(const LotkaVolterraSdeOptions& options = {});
// The default prior above (3 or 4 coordinates, names beta1..).
PriorPtr lotka_volterra_sde_prior(int parameters = 3);

// The registry entry (name "lotka_volterra_sde").
BuiltinSimulator lotka_volterra_sde_entry();


}  // namespace sbi::simulators
