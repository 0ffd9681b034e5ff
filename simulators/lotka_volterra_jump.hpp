#pragma once
// "lotka_volterra_jump": the stochastic Lotka–Volterra predator–prey model as a Markov jump process,
// simulated exactly with Gillespie's direct method (SSA), in the formulation of Papamakarios & Murray,
// "Fast ε-free inference of simulation models with Bayesian conditional density estimation"
// (NIPS 2016, appendix F) that the LFVI papers reuse.
//
// Model (X = predators, Y = prey; θ = (log c1, log c2, log c3, log c4)):
//
// | reaction            | effect   | propensity  |
// |---------------------|----------|-------------|
// | a predator is born  | X → X+1  | c1 · X · Y  |
// | a predator dies     | X → X−1  | c2 · X      |
// | a prey is born      | Y → Y+1  | c3 · Y      |
// | a prey is eaten     | Y → Y−1  | c4 · X · Y  |
//
// Populations stay non-negative integers (every propensity that would make one negative is zero).
//
// Options ("simulator.options"; every key optional, unknown keys are errors):
//
// | key                    | default    | meaning                                                        |
// |------------------------|------------|----------------------------------------------------------------|
// | "initial_state"        | [100, 50]  | [Y0, X0] = (prey, predators), non-negative integers, in the    |
// |                        |            | order of the ODE and SDE simulators' key                       |
// | "t_end"                | 30         | simulated time span [0, t_end]                                 |
// | "observation_interval" | 0.2        | the state is recorded at t_k = k·Δ, k = 0..round(t_end/Δ)      |
// |                        |            | (t_end must be a multiple of Δ): 151 times by default          |
// | "max_events"           | 10000      | a run with more than this many events in [0, t_end] fails      |
// | "summaries"            | true       | true: the 9 statistics below; false: the raw series            |
//
// Observation: X(t_k), Y(t_k) is the state after every event with time ≤ t_k (the càdlàg path). (The
// reference Python code of Papamakarios & Murray records the state after the first event *past* t_k;
// we record the exact path value instead.) If both populations die out, the state stays (0, 0) for
// the remaining times. Events are counted in [0, t_end]: with the cap 10000, a run with 10000
// events completes and the 10001st fails it. (The reference also counts the one event it draws past
// t_end, so it fails one event earlier.)
//
// Event cap: exceeding "max_events" is a failed simulation: the row function throws SimulationError
// ("... more than 10000 events before t = 30 ..."), which a Simulator reports as a failed outcome, so
// the runner's failure policy (drop / redraw / fail) applies and the failure is counted.
//
// Data, "summaries": false: 2·K values, X_t0, X_t0.2, ..., X_t30, Y_t0, ..., Y_t30 (K = 151 by
// default; the t = 0 columns are the constant initial state).
//
// Data, "summaries": true (default): the 9 statistics of Papamakarios & Murray's code, from the K
// recorded values x_k (predators) and y_k (prey):
//
// | name          | definition                                                                   |
// |---------------|------------------------------------------------------------------------------|
// | mean_X        | m_x = (1/K) Σ x_k                      (the plain mean, not its logarithm)   |
// | mean_Y        | m_y                                                                          |
// | log_var_X     | log(s²_x + 1),  s²_x = Σ (x_k − m_x)² / (K − 1)   (+1: finite for constant)  |
// | log_var_Y     | log(s²_y + 1)                                                                |
// | autocorr1_X   | Σ_{k=0}^{K−2} u_k u_{k+1} / (K − 1), u_k = (x_k − m_x) / s_x  (lag 1 = Δ)    |
// | autocorr2_X   | Σ_{k=0}^{K−3} u_k u_{k+2} / (K − 1)                                          |
// | autocorr1_Y   | the same for v_k = (y_k − m_y) / s_y, lag 1                                  |
// | autocorr2_Y   | lag 2                                                                        |
// | crosscorr_XY  | Σ_k u_k v_k / (K − 1)   (the Pearson correlation of the two series)           |
//
// A constant series (s = 0, e.g. no event ever touched it) has no standardised form; its auto- and
// cross-correlations are defined as 0, so the statistics are always finite. (The reference code
// returns NaN there.) Papamakarios & Murray further whiten each statistic by the mean and standard
// deviation of a pilot run; that is left to the inference method (it is a property of the data set,
// not of one simulation).
//
// Default prior: θ_i = log c_i ~ U(−5, 2), independently (i = 1..4). The usual true parameters are
// θ* = log(0.01, 0.5, 1, 0.01), which oscillate.
//
// Speed: rates are exponentiated once per simulation; the event loop does not allocate (the
// statistics use a per-thread scratch buffer that only grows) and draws its exponential waiting
// times by a ziggurat (sbi::ziggurat_exponential in sbi/random/ziggurat.hpp).
//
// What to expect at θ*: about 46% of paths lose a population before t = 30 (then the other one dies
// out or grows), about 0.75% exceed the default cap of 10000 events, and a run has about 5000
// events on average. Over the broad prior about 12% of runs exceed the cap (measured, 20000 runs).
#include "sbi/core/types.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/simulation/simulator.hpp"
#include "simulators/registry.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>

namespace sbi::simulators {

struct LotkaVolterraJumpOptions {
  std::int64_t initial_predators = 50;   // X0
  std::int64_t initial_prey = 100;       // Y0
  double t_end = 30.0;
  double observation_interval = 0.2;
  std::int64_t max_events = 10000;
  bool summaries = true;

  // Number of recorded times K (t_k = k·Δ, k = 0..K−1).
  std::size_t num_times() const;
  // Parses "simulator.options"; errors name `path` (e.g. "simulator.options.t_end: expected a
  // positive number, got 0"); unknown keys are errors.
  static LotkaVolterraJumpOptions from_json(const nlohmann::json& options,
                                            const std::string& path = "simulator.options");
  nlohmann::json to_json() const;
  // Empty if valid, else what is wrong (field names as in the JSON form).
  bool is_valid(std::string* why = nullptr) const;
};

// "0.2", "30", ... : a time as printed in data names (X_t0.2), at most 10 significant digits.
std::string lotka_volterra_time_label(double t);

// Names of the 9 summary statistics, in data order.
const Names& lotka_volterra_summary_names();

// The 9 statistics of the table above from two series of equal length K ≥ 3; `out` has length 9.
// Shared with "lotka_volterra_sde" (its "summaries" option).
void lotka_volterra_summary_statistics(std::span<const double> x, std::span<const double> y,
                                       std::span<double> out);

// The row function: a plain, copyable, thread-safe struct (all state is per call).
class LotkaVolterraJump {
 public:
  explicit LotkaVolterraJump(LotkaVolterraJumpOptions options = {});

  const LotkaVolterraJumpOptions& options() const { return options_; }
  std::size_t data_dim() const;
  // Simulates one data set; throws SimulationError when the event cap is exceeded.
  bool operator()(ConstRow theta, MutableRow y, Rng& rng) const;
  // The raw path recorder underneath: fills x_out, y_out (length num_times()) and returns the number
  // of events, or −1 when more than max_events occurred (the outputs are then incomplete).
  std::int64_t simulate_path(ConstRow theta, std::span<double> x_out, std::span<double> y_out, Rng& rng) const;

 private:
  LotkaVolterraJumpOptions options_;
  std::size_t num_times_ = 0;
};

SimulatorInfo lotka_volterra_jump_info(const LotkaVolterraJumpOptions& options);
Simulator make_lotka_volterra_jump(const LotkaVolterraJumpOptions& options = {});
// θ_i ~ U(−5, 2), names log_c1..log_c4.
PriorPtr lotka_volterra_jump_prior();

// The registry entry (name "lotka_volterra_jump").
BuiltinSimulator lotka_volterra_jump_entry();


}  // namespace sbi::simulators
