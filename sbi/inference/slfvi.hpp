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
// With "generator": "flow" the generator is LFVI's explicit one (sbi/inference/lfvi_flow.hpp): each
// round trains the ratio estimator on all rows so far and then the flow against it, amortised over
// the rows' y and refined for y_o ("refine", on by default here: 2000 steps at most), on the
// importance-weighted bound with K = 8 unless "iw_samples" says otherwise. Its region is
// "region": "hpd" (its default) — the flow's highest-density region at y_o holding 1 − ε of its mass, as
// in TSNPE (sbi/inference/snpe.hpp: τ the ε-quantile of log q over region_samples draws, the prior
// truncated to log q ≥ τ) — or "ellipsoid" as above. The flow's density makes the HPD region possible;
// unlike the ellipsoid it follows a curved or multimodal posterior, and unlike drawing from q itself
// it gives every part of the region the prior's weight, so a mode q under-weights is still simulated
// as often as the prior would (a mode q drops is lost, hence K = 8 by default). A ratio estimator
// trained on rows from a proposal p̃ learns log p(y | θ)/p̃(y), whose denominator does not depend on θ (as in SNRE), so π(θ) exp r(θ, y_o) is
// still the posterior the bound targets. The flow's keys are LFVI (flow)'s; "retrain_from_scratch"
// must stay true (every round trains both networks afresh).
//
//   "inference": {"method": "slfvi", "simulations": 10000, "rounds": 5, "truncation_quantile": 1e-4,
//                 "inflation": 1.5, "region_samples": 10000, "max_prior_draws": 100,
//                 "retrain_from_scratch": true, <LFVI's keys>}
#include "sbi/inference/implicit_generator.hpp"
#include "sbi/inference/lfvi.hpp"
#include "sbi/inference/lfvi_flow.hpp"
#include "sbi/inference/sequential.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace sbi {

struct SlfviOptions {
  LfviOptions lfvi;                     // the implicit generator's options (unused with a flow)
  std::optional<LfviFlowOptions> flow;  // "generator": "flow": the explicit generator's
  SequentialSettings sequential;
  double truncation_quantile = 1e-4;
  double inflation = 1.5;               // ≥ 1: the ellipsoid's radius over the draws' (1 − ε) quantile
  Eigen::Index region_samples = 10000;  // draws of q(θ | y_o) that define the region
  double max_prior_draws = 100;         // prior draws per proposal row before falling back
  enum class Region { ellipsoid, hpd };
  Region region = Region::ellipsoid;    // "region": the flow generator may use "hpd" (its default)
  bool retrain_from_scratch = true;     // false: each round continues from the last round's networks (implicit only)

  // The flow's refinement for y_o when "refine" is not given: the setting measured for LFVI (flow)
  // (bench/lfvi_flow/RESULTS.md, "refined for one observation").
  static constexpr int default_flow_refine_steps = 2000;
  // The flow's importance-weighted bound when "iw_samples" is not given. With K = 1 the reverse KL
  // dropped one of two_moons' crescents in 3 of 4 runs, and the HPD region then dropped it too; K = 8
  // kept both (observation 1 at 10^4; bench/RESULTS.md, 2026-12-05).
  static constexpr int default_flow_iw_samples = 8;

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;  // LFVI's (or LFVI (flow)'s) keys plus "rounds", ...
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

// The same rounds with the flow generator (options.flow set): returns the last round's fit (its
// posterior is the flow, refined for y_o unless refinement did not improve the bound there), or
// nothing when stopped before the first fit. A resumed run reads the last kept round's flow back
// (the returned fit then has no ratio estimators and no training summary). Throws as run_snle.
std::optional<LfviFlowFit> run_slfvi_flow(const SequentialProblem& problem, const SlfviOptions& options, SequentialRecord& record,
                                          const TrainingCallbacks& callbacks);

}  // namespace sbi
