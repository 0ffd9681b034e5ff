#pragma once
// Calibration of a posterior where no reference posterior exists: simulation-based calibration (SBC;
// Talts et al. 2018, arXiv:1804.06788), expected coverage of highest-posterior-density (HPD) regions
// (Hermans et al. 2022, arXiv:2110.06581) and TARP (Lemos et al. 2023, arXiv:2302.03026), computed in
// one pass over the same draws, with a verdict: calibrated, over-confident, under-confident or
// miscalibrated.
//
//   sbi::CalibrationOptions options;                    // N = 1000 draws, L = 1000 samples each
//   sbi::CalibrationResult r = sbi::run_calibration(posterior, simulator, options);
//   std::cout << r.brief_report() << "\n";              // "calibration: over-confident (...)"
//   sbi::write_calibration_report(r, "out/");           // sbi/diagnostics/calibration_report.hpp
//
// ## What is computed
//
// N pairs (θ*_i, y*_i) from the prior predictive: θ*_i from the prior, y*_i simulated, by
// simulate_from_prior (sbi/simulation/runner.hpp) with the options' seed and first index 0, so pair i
// depends on (seed, i) only. For each pair, L draws θ_1..L
// from the posterior q(θ | y*_i) with seed stream_seed(root, i, 0), root = stream_seed(seed, 2^32, 0xCA1B).
// Three statistics per pair, each a *fractional rank* u = (k + U)/(L + 1), where k ∈ {0..L} counts
// the draws below θ* by some score (ties broken uniformly at random) and U ~ U(0, 1) (from the stream
// (root, i, 1)). If q is the true posterior, θ* and θ_1..L are exchangeable given y*, so k is uniform
// on {0..L} and u is exactly U(0, 1), for any L — the tests below have exact null distributions.
//
// | check    | score of a point θ                                 | u for pair i                          |
// |----------|----------------------------------------------------|---------------------------------------|
// | SBC      | θ_j, per parameter j                               | rank of θ*_j among the draws' θ_j     |
// | coverage | log q(θ | y*) (exact `log_prob`), or a Gaussian    | rank of θ*'s density: θ* lies in the  |
// |          | kernel density estimate (see below)                | c-HPD region iff u > 1 − c            |
// | TARP     | distance ‖z(θ) − r_i‖ to a random reference r_i    | f_i = share of draws nearer r_i than θ* |
//
// *SBC* (per parameter): the histogram of u in B bins, a χ²(B − 1) test and a KS test of its
// uniformity (sbi/diagnostics/uniformity.hpp). A ∪-shaped histogram (θ* too often in the draws'
// tails) means an over-confident posterior, ∩-shaped an under-confident one, a skewed one a biased
// one. Central intervals per parameter are read off the same ranks (θ*_j lies in the central c
// interval iff |u − ½| < c/2): the marginal coverage.
//
// *Expected coverage* at levels c = 0.05, 0.10, …, 0.95: the share of pairs with θ* inside the c-HPD
// region {θ : q(θ|y*) ≥ the (1 − c)-quantile of q(Θ|y*), Θ ~ q}, i.e. the share with u > 1 − c.
// Under calibration that count is Binomial(N, c) exactly. The density used:
//   * `log_prob` when the posterior has it (normalised or not: only its order matters);
//   * else a Gaussian kernel density estimate, made symmetric so that the null stays exact: the
//     first m = min(L, kde_samples) draws and θ* are pooled, standardised by the pool's per-parameter
//     sd, and each point is scored by the leave-one-out kernel sum over the other m points (bandwidth
//     by Scott's rule, h = (m + 1)^(−1/(d+4)) in standardised units). Any scoring that treats the m + 1
//     points alike keeps u uniform under calibration; the estimate's quality only affects power.
//
// *TARP*: θ is standardised as z(θ) = (θ − μ)/σ with μ, σ the mean and sd of `tarp_pilot` prior draws
// (stream (root, k, 3)); r_i is drawn (stream (root, i, 2)) uniformly in the box spanned by those
// pilot draws in z units (`tarp_reference` = "box") or from the prior ("prior").
// ECP(α) = share of pairs with f_i < α, on α = 0, 0.01, …, 1; its distance to the diagonal is the KS
// statistic D = sup |ECP(α) − α| of the f_i (a one-sample test of the f_i against U(0, 1), with its
// p-value) and the area ∫|ECP(α) − α| dα. (The sbi package draws the references in the box of the θ*
// themselves and z-scores by that box; ours are fixed before any θ* is seen, so they are independent
// of the θ*, as the method assumes.)
//
// ## The verdict and the rule behind it (`significance` = s, 0.01 by default)
//
// Each check fails when its null hypothesis (calibration) is rejected at level s:
//   * coverage: the observed count at any of the K levels lies outside its band [lo_k, hi_k], the
//     binomial quantiles of Binomial(N, c_k) at s/(2K) and 1 − s/(2K) (Bonferroni over the K levels,
//     so a calibrated posterior stays inside all K bands with probability ≥ 1 − s);
//   * SBC: the χ² p-value of any parameter is below s/d (Bonferroni over the d parameters);
//   * TARP: the KS p-value is below s.
// A calibrated posterior fails at least one check with probability at most 3s (union bound; exact for
// coverage, up to the χ² and Kolmogorov approximations for SBC and TARP; measured: 2.3 % of 3000 runs
// of the exact linear-Gaussian posterior at s = 0.01, N = 400, L = 200, bench/calibration/RESULTS.md).
// Verdict: "calibrated" when every check run passes; otherwise the direction is taken from coverage
// when it failed (counts only below their bands: over-confident; only above: under-confident; both:
// miscalibrated), else from the failed SBC/TARP tests: an SBC histogram ∪-shaped counts as
// over-confident, ∩-shaped as under-confident, skewed as biased (UniformityTest::shape with z = 0);
// TARP by the sign of its spread_z; one direction alone gives the verdict, anything else (a bias
// included) "miscalibrated". "Calibrated" means "no miscalibration detectable with N
// draws": result.resolution() is the half-width of the coverage band at c = 0.5.
//
// ## Failed simulations
//
// `failure_policy` (default redraw): "redraw" draws a fresh θ for the same index (as the runner does),
// "drop" leaves the pair out (fewer than N pairs), "fail" stops with the simulator's error. With drop
// or redraw the check is of the posterior under the prior restricted to where the simulator succeeds,
// which is what a method trained on a table with dropped failures learns. The counts are reported.
//
// ## Threads, reproducibility, progress
//
// The pairs are simulated on `threads` threads, then the N pairs are split over `threads` threads
// (sbi::parallel_for): each pair's work depends on (seed, i) only and the statistics are gathered in
// pair order, so the result is bit-identical for any thread count. The posterior is called from
// several threads at once (PosteriorModel promises that this is safe). Progress goes to
// callbacks.on_progress — stage "simulate", then stage "calibrate" (unit "draw") — from the worker
// threads, one call at a time. callbacks.stop stops the run at the next pair: the result then covers
// the pairs finished so far, with `interrupted` set (and is no longer independent of thread timing).
//
// Under MPI (sbi/parallel/cluster.hpp), for an amortised posterior that every rank holds (see
// share_posterior_for_calibration below), called on rank 0's main thread: the pairs are simulated over
// the ranks (simulate_from_prior), then handed out in chunks (dynamic scheduling) to the ranks, which
// run the per-pair work above on their own threads; the results are gathered in pair order, so the
// result (and the report) is the same as on one process, timings apart. The stop flag stops the
// handing out of chunks (workers finish theirs). A posterior only rank 0 holds (sbi infer trains it
// there) is sent to the workers with the job when the ranks were told how (ship_posteriors_for_calibration).
// One-observation posteriors (PosteriorForObservation) have their re-runs spread the same way when
// every rank was given the method to re-run (share_rerun_for_calibration), else run on rank 0 alone.
//
// Posterior draws must be independent (an MCMC kind thins its chains): correlated draws make SBC
// ranks ∪-shaped on their own.
#include "sbi/core/types.hpp"
#include "sbi/diagnostics/uniformity.hpp"
#include "sbi/inference/posterior.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sbi {

// `inconclusive`: no pair was evaluated (interrupted before the first one, or every simulation dropped).
enum class CalibrationVerdict { calibrated, over_confident, under_confident, miscalibrated, inconclusive };
std::string to_string(CalibrationVerdict verdict);  // "calibrated", "over-confident", ...

struct CalibrationOptions {
  std::size_t draws = 1000;              // N: prior-predictive pairs (θ*, y*)
  Eigen::Index posterior_samples = 1000; // L: posterior draws per pair
  std::uint64_t seed = 1;                // pairs, posterior seeds, tie-breaks, TARP references
  int threads = 0;                       // 0 = all cores

  bool sbc = true;                       // which checks to run (all share the same draws)
  bool coverage = true;
  bool tarp = true;

  int bins = 0;                          // SBC histogram bins; 0 = max(2, min(20, N/10, L+1))
  std::vector<double> levels = default_levels();  // coverage levels, increasing, in (0, 1)
  std::string coverage_density = "auto";  // "auto" (log_prob if the posterior has it, else kde),
                                          // "log_prob", "kde"
  Eigen::Index kde_samples = 256;         // m: draws in the kernel density estimate (cost m² per pair)
  std::string tarp_reference = "box";     // "box" (uniform in the pilot draws' box) or "prior"
  std::size_t tarp_pilot = 1000;          // prior draws fixing TARP's standardisation and box

  double significance = 0.01;             // s: level of each check and of the pictures' bands
  FailurePolicy failure_policy = FailurePolicy::redraw;
  int max_redraws = 100;                  // per pair, with failure_policy redraw

  // 0.05, 0.10, ..., 0.95.
  static std::vector<double> default_levels();
  // A check of a few seconds for `sbi infer`: N = 300, L = 300 (coverage resolution about ±0.10).
  static CalibrationOptions quick();

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // Missing keys keep their defaults; unknown keys and bad values are InputError naming `path.key`.
  static CalibrationOptions from_json(const nlohmann::json& j, const std::string& path = "calibration");
};

struct SbcResult {
  std::string parameter;
  UniformityTest ranks;          // of the fractional ranks of θ*_j
  double p_threshold = 0;        // s / d: the χ² p-value must be at least this
  bool passed = true;
};

struct CoverageResult {
  std::string density;           // "log_prob" or "kde"
  std::vector<double> levels;    // nominal credibility c_k
  std::vector<double> observed;  // share of pairs inside the c_k-HPD region
  std::vector<double> band_low, band_high;  // the 1 − s simultaneous band, as shares
  // marginal[j][k]: share of pairs with θ*_j in the central c_k interval of parameter j (from SBC ranks).
  std::vector<std::vector<double>> marginal;
  UniformityTest hpd_ranks;      // of u (over-confident: mean_z < 0, θ* in low-density places)
  int below = 0, above = 0;      // levels whose count lies below / above its band
  double max_deviation = 0;      // max_k |observed − c_k|
  bool passed = true;
};

struct TarpResult {
  std::string reference;         // "box" or "prior"
  std::vector<double> alpha;     // 0, 0.01, ..., 1
  std::vector<double> ecp;       // expected coverage probability at alpha
  double distance = 0;           // KS statistic sup |ECP − α| of the f_i
  double area = 0;               // ∫ |ECP(α) − α| dα (trapezoids on the grid)
  // ∫ from ½ to 1 of (ECP(α) − α) dα, the "area to curve" of sbi's check_tarp: > 0 under-confident,
  // < 0 over-confident (a one-number summary for readers who know it; the verdict uses the KS test).
  double atc = 0;
  double band = 0;               // ECP stays within α ± band with probability 1 − s (KS critical value)
  UniformityTest f;              // of the f_i (over-confident: spread_z > 0)
  bool passed = true;
};

// Where the time went. sampling, density and statistics are each thread's wall time in that step,
// summed over the threads (CPU time when the machine is otherwise idle).
struct CalibrationTimings {
  double simulation = 0;         // wall seconds simulating the pairs
  double sampling = 0;           // in posterior.sample (and a PosteriorForObservation's call)
  double density = 0;            // in log_prob or the kernel density estimate
  double statistics = 0;         // ranking, TARP distances
  double total = 0;              // wall seconds of the whole run
};

struct CalibrationResult {
  CalibrationOptions options;
  int threads = 1;                       // threads used
  Names parameter_names;
  std::string posterior_kind, posterior_method;
  SimulationSummary simulation;          // pairs simulated, failed, redrawn, dropped
  std::size_t draws = 0;                 // pairs evaluated (N unless dropped or interrupted)
  std::size_t non_finite_samples = 0;    // posterior draws with a non-finite entry (left out of the ranks)
  std::size_t non_finite_log_prob = 0;   // NaN log_prob values (ranked as −∞)
  bool interrupted = false;

  std::vector<SbcResult> sbc;            // per parameter (empty when not run)
  std::optional<CoverageResult> coverage;
  std::optional<TarpResult> tarp;

  // Per pair, in pair order (length `draws`): its simulation index, the integer SBC ranks k (draws ×
  // d), the fractional ranks u, the HPD rank u and TARP's f (empty when the check was not run).
  std::vector<std::uint64_t> draw_index;
  Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> ranks;
  RowMatrix rank_fractions;
  std::vector<double> hpd_ranks;
  std::vector<double> tarp_f;

  CalibrationVerdict verdict = CalibrationVerdict::calibrated;
  std::string verdict_reason;            // one sentence: which checks failed, which way
  CalibrationTimings timings;

  // Half-width of the coverage band at level 0.5: smaller deviations of coverage go unnoticed at N.
  double resolution() const;
  bool passed() const { return verdict == CalibrationVerdict::calibrated; }
  // "calibration: over-confident — coverage below nominal at 19 of 19 levels (...); N = 1000, L = 1000, 3.2 s".
  std::string brief_report() const;
  // One plain sentence for users, e.g. for a quick check after training: "over-confident: its 90 %
  // credible regions held the true parameter in only 52 % of 300 simulated cases (they are too
  // narrow)". Starts with the verdict.
  std::string plain_summary() const;
  // Adds each check's statistics, the coverage table, the rules and the timings.
  std::string full_report() const;
  // Everything, per-pair values included.
  nlohmann::json to_json() const;
};

// Checks an amortised posterior. The prior is the posterior's own (the one it was trained under; a
// different prior calibrates against a different joint distribution). Throws InputError when the
// options are invalid, the posterior is not amortised (see the overload below), or the simulator's
// dimensions do not fit the posterior; SimulationError with failure_policy fail.
CalibrationResult run_calibration(const Posterior& posterior, const Simulator& simulator,
                                  const CalibrationOptions& options = {}, const TrainingCallbacks& callbacks = {});
CalibrationResult run_calibration(const Posterior& posterior, const Simulator& simulator, const Prior& prior,
                                  const CalibrationOptions& options = {}, const TrainingCallbacks& callbacks = {});

// The general form, for posteriors made for one observation (sequential methods): `posterior_for` is
// called once per pair with y*_i and a seed that depends on (seed, i) only, from several threads at
// once, and must return a posterior for that observation (e.g. by re-running the method: the check
// then costs N trainings, so use a small N). The result's posterior_kind/method come from the first
// pair's posterior.
using PosteriorForObservation = std::function<Posterior(const Vector& observation, std::uint64_t seed)>;
CalibrationResult run_calibration(const PosteriorForObservation& posterior_for, const Simulator& simulator, const Prior& prior,
                                  const CalibrationOptions& options = {}, const TrainingCallbacks& callbacks = {});

// Under MPI: every rank calls this with the same posterior (e.g. loaded from the same folder by the
// same command) before it serves rank 0 (serve_simulator_if_worker, sbi/simulation/runner.hpp). A
// worker rank can then evaluate calibration draws of it, and run_calibration(posterior, ...) of this
// posterior (the same value: a copy of this Posterior) on rank 0 spreads its draws over the ranks. A
// worker refuses the job when its posterior is not rank 0's. Without MPI, or alone, it does nothing.
void share_posterior_for_calibration(const Posterior& posterior);

// Under MPI, for a one-observation posterior checked by re-running its method (sbi diagnose
// --calibration N --rerun): every rank calls this with the same posterior (loaded from the same
// folder), the simulator and a factory that re-runs the method, before it serves rank 0. Then
// run_calibration(posterior_for, simulator, made_for_one.prior(), ...) on rank 0 hands the simulated
// observations out to the ranks, and each re-runs the method with the factory it was given here
// (rank 0 with the one passed to run_calibration: pass the same). A re-run depends on its seed only,
// so the result is the same as on one process. Without MPI, or alone, it does nothing.
void share_rerun_for_calibration(const Posterior& made_for_one, const Simulator& simulator, PosteriorForObservation rerun);

// Under MPI, for amortised posteriors only rank 0 holds: every rank calls this before it serves rank 0,
// with functions that turn a posterior into bytes and back (a saved posterior's files). An amortised
// run_calibration on rank 0 then sends the posterior's bytes with the job (once per worker) and every
// worker rebuilds it. Without MPI, or alone, it does nothing.
void ship_posteriors_for_calibration(std::function<std::string(const Posterior&)> encode,
                                     std::function<Posterior(const std::string&)> decode);

}  // namespace sbi
