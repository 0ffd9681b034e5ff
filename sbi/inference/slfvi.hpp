#pragma once
// Sequential LFVI for one observation y_o (registered as "slfvi"): LFVI (sbi/inference/lfvi.hpp)
// trained in rounds, round 1 on prior simulations, every later round on simulations from the prior
// truncated to a region around the current estimate q(θ | y_o), on all rows so far.
//
// LFVI's generator has no density, so the region is not an HPD region of q (as in SNPE) but an
// ellipsoid in the prior's unconstrained space u: with m and S the mean and covariance of
// region_samples draws of q(u | y_o),
//     R = {u : (u − m)ᵀ S⁻¹ (u − m) ≤ (inflation · d_ε)²},
// d_ε² the (1 − ε)-quantile of the draws' own squared distances (ε = truncation_quantile). The
// inflation (default 1.5) leaves room for an estimate that is too narrow or off-centre, which
// adversarial training often gives. The proposal p̃(θ) ∝ π(θ)·1[u ∈ R] is sampled by rejection from
// the prior (at most max_prior_draws per row); the rest, if any, by importance resampling of draws of
// N(m, inflation² S) inside R (weights π_u/N), and the round's recorded proposal says so. As with
// SNPE's truncated proposals the training target is the posterior restricted to R, which is the
// posterior as long as R holds its mass.
//
// By default the generator and discriminator are trained from fresh weights each round, the setting
// the sbibm grid measured (bench/RESULTS.md); "retrain_from_scratch": false starts each round from the
// last round's networks instead (train_lfvi's `start`), with the standardisation refitted to all rows
// so far and new optimisers, as SNRE does. Measured at 10^3 on two_moons and gaussian_linear
// (bench/RESULTS.md, 2026-12-05): no better on the one (.791 against .787), much worse on the other
// (.983 against .908), so retraining stays the default.
//
//   "inference": {"method": "slfvi", "simulations": 10000, "rounds": 5, "truncation_quantile": 1e-4,
//                 "inflation": 1.5, "region_samples": 10000, "max_prior_draws": 100,
//                 "retrain_from_scratch": true, <LFVI's keys>}
#include "sbi/inference/implicit_generator.hpp"
#include "sbi/inference/lfvi.hpp"
#include "sbi/inference/sequential.hpp"

#include <functional>
#include <memory>
#include <string>

namespace sbi {

struct SlfviOptions {
  LfviOptions lfvi;
  SequentialSettings sequential;
  double truncation_quantile = 1e-4;
  double inflation = 1.5;               // ≥ 1: the ellipsoid's radius over the draws' (1 − ε) quantile
  Eigen::Index region_samples = 10000;  // draws of q(θ | y_o) that define the region
  double max_prior_draws = 100;         // prior draws per proposal row before falling back
  bool retrain_from_scratch = true;     // false: each round continues from the last round's networks

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;  // LFVI's keys plus "rounds", ...
  static SlfviOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

// Draws θ of the current estimate for an observation: (y, n, seed) → n × dim θ.
using GeneratorSampler = std::function<RowMatrix(const Vector& observation, Eigen::Index n, std::uint64_t seed)>;

// The ellipsoidal region and its truncated-prior proposal (exposed for tests).
struct EllipsoidProposal {
  RowMatrix theta;
  Vector centre;               // m (unconstrained)
  double radius2 = 0;          // (inflation · d_ε)²
  std::size_t prior_draws = 0, accepted = 0, resampled = 0;
  std::string description;
};
EllipsoidProposal ellipsoid_prior_proposal(const GeneratorSampler& sampler, const Prior& prior, const Vector& observation, std::size_t n,
                                           const SlfviOptions& options, std::uint64_t seed);

// Runs the rounds. After each round's fit, `adopt` takes the fit (to wrap it into whatever samples it,
// e.g. models::ImplicitPosterior) and returns its sampler; a resumed run (problem.checkpoint, see
// run_sequential_rounds) adopts the last kept round's fit read back from its folder. Throws as run_snle.
void run_slfvi(const SequentialProblem& problem, const SlfviOptions& options, SequentialRecord& record, const TrainingCallbacks& callbacks,
               const std::function<GeneratorSampler(ImplicitGeneratorFit fit)>& adopt);

}  // namespace sbi
