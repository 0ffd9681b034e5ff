#pragma once
// Markov chain Monte Carlo on any unnormalised log-density (sbi/mcmc/target.hpp), many chains at
// once with every target call batched over chains.
//
//   sbi::McmcTarget target = sbi::make_mcmc_target(2, [](const sbi::RowMatrix& x, Eigen::Ref<sbi::Vector> lp) {
//     lp = -0.5 * x.rowwise().squaredNorm();               // standard normal, up to a constant
//   });
//   sbi::McmcInitialDistribution start{.sample = [](sbi::Rng& rng, sbi::MutableRow x) {
//     for (auto& v : x) v = 3 * rng.normal(); }};
//   sbi::McmcOptions options;                                // documented defaults below
//   options.init = sbi::McmcOptions::Init::prior;            // plain draws (SIR needs start.log_density)
//   sbi::McmcResult result = sbi::run_mcmc(target, start, 10000, /*seed=*/1, options);
//   std::cout << result.brief_report() << "\n";              // R-hat, ESS, evaluations, time
//
// For a posterior over a prior's support use sbi::UnconstrainedPosterior (sbi/mcmc/unconstrained.hpp).
//
// ## What a run does
//
//  1. Start: every chain starts from a draw of the initial distribution ("init": "prior"; for
//     UnconstrainedPosterior that is the prior), or by sampling-importance-resampling ("sir"):
//     `init_candidates` draws x_i are weighted by w_i = exp(target(x_i) − initial.log_density(x_i))
//     and the chains take distinct candidates drawn without replacement with probabilities ∝ w_i
//     (the Gumbel-top-k trick), so that they start spread over the regions the candidates found
//     rather than piled on the few heaviest ones (with replacement, 20 chains on slcp regularly
//     left one of its four modes without a chain: bench/mcmc/RESULTS.md).
//  2. Warm-up: `warmup` iterations per chain, discarded. Each chain adapts its own settings from its
//     own draws: the slice widths (expansions and contractions balanced, Tibbits et al. 2014), its
//     covariance estimate in three doubling windows (the slice directions or the HMC metric), the
//     HMC step size (dual averaging towards `hmc_target_acceptance`, Hoffman & Gelman 2014).
//  3. Mode jumps (`jumps_per_iteration` > 0 and warmup ≥ 40): halfway through warm-up a mixture of
//     Gaussians is fitted, one component per chain (that chain's mean and covariance over the
//     second quarter of warm-up, covariance × jump_scale²), weighted by one step of population
//     Monte Carlo (16 draws per component, weight ∝ their mean target/mixture ratio, 10 % of the
//     mass kept spread equally). From then on every iteration ends with `jumps_per_iteration`
//     independence Metropolis–Hastings steps proposing from this fixed mixture (a fractional part
//     is one more step with that probability). They let chains move between separated modes,
//     which no local move does (mixture independence proposals as in Giordani & Kohn 2010). The
//     mixture is fixed once built, so each chain stays a Markov chain with the target as its
//     stationary distribution, and the chains stay independent of each other.
//  4. Sampling: ceil(n / chains) draws per chain, one kept every `thin` iterations. Sample r of the
//     result is draw r / chains of chain r % chains (the last draws of some chains are left out
//     when chains does not divide n). Diagnostics (R̂, bulk and tail ESS) use all kept draws.
//
// An iteration is `slice_updates_per_iteration` one-dimensional slice updates (a sweep over all
// `dim` directions by default) or one HMC trajectory, then the jumps.
//
// ## Samplers
//
//  * slice: slice sampling with stepping out and shrinkage (Neal 2003) along `slice_directions`:
//    coordinate axes, the eigenvectors of the chain's covariance estimate (factor slice sampling,
//    Tibbits et al. 2014), or random directions whitened by that estimate. Needs the log-density
//    only. Both ends of an interval step out in the same target call.
//  * hmc: Hamiltonian Monte Carlo with a dense metric (the chain's covariance estimate), step size by
//    dual averaging in warm-up, trajectory length `hmc_integration_time` (in units of the posterior's
//    scale) jittered uniformly by ±50 % per iteration. Needs the gradient.
//
// ## Defaults
//
// Chosen on bench/mcmc (an NLE-like posterior on sbibm's slcp: four separated modes, a network of a
// MAF's size evaluated on every batch; RESULTS.md there): 20 chains, 200 warm-up iterations, factor
// slice sweeps and 5 jumps per iteration give 10,000 samples with R̂ < 1.01 on the five slcp
// observations from about 41 target rows per sample. Without jumps the same chains stay in the modes
// they start in (R̂ 1.7 there); with more chains warm-up costs more and R̂ of 500-draw chains is
// harder to bring below 1.01; with fewer, a mode can go unvisited.
//
// ## Reproducibility and batching
//
// Chain c draws only from Rng::stream(seed, c, ·); SIR candidate i and the draws weighting mixture
// component k from their own streams. Chains are split into `chain_blocks` groups of consecutive
// chains, the groups run in parallel (sbi::parallel_for), and each group calls the target once per step with
// the points all its chains ask for (chains advance independently: a chain that finishes a slice
// early starts its next update at once; independence proposals and the two ends of a stepping-out
// interval come in one request). A chain's moves depend on its own stream, the target's values and
// the mixture (built between phases from all chains in a fixed order) only, so the result is
// bit-identical for any thread count, and for any blocking when the target's row r depends on
// row r alone.
#include "sbi/core/types.hpp"
#include "sbi/mcmc/diagnostics.hpp"
#include "sbi/mcmc/target.hpp"

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace sbi {

struct McmcOptions {
  enum class Sampler { slice, hmc };
  enum class Init { prior, sir };     // prior: draws of the initial distribution
  enum class SliceDirections { coordinate, factor, random };

  Sampler sampler = Sampler::slice;
  std::size_t chains = 10;              // independent chains (the samples come from these)
  // Chains that explore during the first half of warm-up, to find the modes and fit the jump
  // mixture (one component each); only the first `chains` of them go on. A value below `chains`
  // means `chains`; without jumps only `chains` chains run.
  std::size_t exploration_chains = 40;
  std::size_t warmup = 200;             // iterations per chain before the kept ones (adaptation)
  std::size_t thin = 1;                 // keep one iteration in `thin`
  Init init = Init::sir;
  std::size_t init_candidates = 10000;  // SIR: candidates drawn and weighted (at least the chains started)

  SliceDirections slice_directions = SliceDirections::factor;
  int slice_max_steps_out = 20;         // stepping-out limit m per slice (Neal 2003)
  std::size_t slice_updates_per_iteration = 0;  // one-dimensional updates per iteration; 0 = dim (a sweep)

  double hmc_target_acceptance = 0.8;   // dual averaging target (Hoffman & Gelman 2014)
  double hmc_integration_time = 1.5;    // trajectory length in units of the adapted scale
  int hmc_max_steps = 256;              // leapfrog steps per trajectory at most

  double jumps_per_iteration = 5;       // independence proposals per iteration after half the warm-up; 0 = none
  double jump_scale = 1.0;              // the mixture's covariances are jump_scale² × the chains'

  // Groups of chains: the chains of a group share every target call, the groups run in parallel
  // (so 2 keeps two cores busy). Results do not depend on it for targets whose row r depends on
  // row r alone; they never depend on `threads`.
  std::size_t chain_blocks = 2;
  int threads = 0;                      // 0 = all cores; results do not depend on it

  // Not options but hooks, never saved. `stop`, set from outside (Ctrl-C), makes run_mcmc throw
  // sbi::Interrupted at the chains' next step: chains stopped early give no samples worth keeping.
  // `on_progress(done, total)` is called on the calling thread, at most about ten times a second
  // and once at the end of each phase, with chain iterations done and due (all chains, warm-up
  // included).
  const std::atomic<bool>* stop = nullptr;
  std::function<void(std::size_t done, std::size_t total)> on_progress{};

  std::size_t resolved_exploration_chains() const;
  // Chains per group when `running` chains run: ceil(running / chain_blocks).
  std::size_t chains_per_call(std::size_t running) const;
  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // Missing keys keep their defaults; errors name the JSON path ("mcmc.chains: expected ...").
  static McmcOptions from_json(const nlohmann::json& j, const std::string& path = "mcmc");
};

std::string to_string(McmcOptions::Sampler sampler);
std::string to_string(McmcOptions::Init init);
std::string to_string(McmcOptions::SliceDirections directions);

// Counts and settings of a run, summed (counts) or averaged (settings) over chains.
struct McmcStatistics {
  std::uint64_t evaluations = 0;        // target rows evaluated (calls × rows), initialisation included
  std::uint64_t target_calls = 0;       // batched calls
  std::uint64_t init_evaluations = 0;   // of which for the start (SIR candidates or initial draws)
  std::uint64_t mixture_evaluations = 0;  // of which for weighting the jump mixture's components
  double acceptance_rate = 0;           // HMC: mean acceptance probability after warm-up
  double step_size = 0;                 // HMC: mean adapted step size
  double mean_leapfrog_steps = 0;       // HMC: per iteration after warm-up
  std::uint64_t divergences = 0;        // HMC: after warm-up
  double slice_evaluations_per_update = 0;  // slice: target rows per one-dimensional update after warm-up
  std::uint64_t jumps_proposed = 0;     // after warm-up
  std::uint64_t jumps_accepted = 0;
  double seconds = 0;                   // wall time of the run

  nlohmann::json to_json() const;
  static McmcStatistics from_json(const nlohmann::json& j, const std::string& path = "statistics");
};

struct McmcResult {
  RowMatrix samples;                    // n × dim, interleaved over chains (see above)
  RowMatrix draws;                      // all kept draws, chain-major: rows [c·D, (c+1)·D) = chain c
  Vector log_density;                   // the target at each row of `draws`
  Eigen::Index chains = 0;
  Eigen::Index draws_per_chain = 0;     // D
  McmcDiagnostics diagnostics;          // per coordinate of `draws`
  McmcStatistics statistics;
  McmcOptions options;
  std::uint64_t seed = 0;

  // One line: "slice/factor: 10000 samples, 100 chains × 100 draws; R-hat max 1.003 (x_2), bulk
  // ESS min 2950 (x_1); 61200 evaluations in 0.41 s".
  std::string brief_report() const;
  std::string full_report() const;
  // Options, seed, statistics and diagnostics (not the draws, which belong in a CSV file).
  nlohmann::json to_json() const;
};

// Runs the chains and returns n samples. Throws InputError for invalid options, n < 1, a target
// without a gradient for HMC, a missing initial.log_density for SIR, or when no starting point with
// a finite target value is found.
McmcResult run_mcmc(const McmcTarget& target, const McmcInitialDistribution& initial, Eigen::Index n, std::uint64_t seed,
                    const McmcOptions& options);

// Moves each row of `x` in place by `iterations` sweeps of coordinate-wise slice sampling on
// `target` (Neal 2003, stepping out and shrinkage), `widths[j]` the initial interval along axis j,
// without warm-up, adaptation or jumps: every chain is a Markov chain that leaves the target
// invariant, so points drawn nearly from the target end nearer to it (the move of resample-move,
// Gilks & Berzuini 2001). Axes rather than a covariance's eigenvectors: a covariance pooled over
// separated modes points along the line between them, and steps along it stay within the narrowest
// mode's width (bench/lfvi_flow/RESULTS.md). `log_density` holds the target at the rows on entry and
// at the moved rows on return; a row whose value is not finite stays where it is. Row r moves with
// Rng::stream(seed, r, 0) and its own values only, all rows batched into each target call, on the
// calling thread. Returns the target rows evaluated. InputError for iterations outside [1, 100000]
// or widths that are not dim positive numbers.
std::uint64_t move_by_slice_sampling(const McmcTarget& target, RowMatrix& x, Vector& log_density, std::size_t iterations, const Vector& widths,
                                     std::uint64_t seed);

// Splits a method's options section (a spec's "inference") into its own keys and its "mcmc" block,
// parsed with the JSON path `path`.mcmc (defaults when absent); used by the methods whose posterior
// is sampled by MCMC (NLE, NRE).
std::pair<nlohmann::json, McmcOptions> split_mcmc_section(const nlohmann::json& section, const std::string& path);

}  // namespace sbi
