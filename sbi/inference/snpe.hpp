#pragma once
// Sequential neural posterior estimation for one observation y_o (registered as "snpe"): NPE's
// conditional flow q(θ | y) (sbi/inference/npe.hpp) refitted in rounds, round 1 on prior simulations
// and every later round on simulations from a proposal built from the current q(θ | y_o). The weights
// are continued from round to round, with a fresh Adam each round (the z-scoring is refitted to all
// rows so far). sbi infer keeps the finished rounds and resumes (sbi/inference/sequential.hpp). Two losses:
//
//  * "truncated" (default; TSNPE, Deistler, Goncalves & Macke, NeurIPS 2022). Round r ≥ 1 draws from
//    the prior truncated to the highest-probability region of q(θ | y_o) that holds 1 − ε of its
//    mass (ε = truncation_quantile, 1e-4):
//        τ = the ε-quantile of log q(θ_j | y_o) over hpd_samples draws θ_j ~ q(θ | y_o),
//        p̃_r(θ) ∝ π(θ) · 1[log q(θ | y_o) ≥ τ],
//    sampled by rejection from the prior (at most max_prior_draws × n prior draws per round). When
//    fewer than n are accepted, the rest come from sampling-importance-resampling of 10 draws of q per missing row
//    (weights π(θ)/q(θ) inside the region, which are bounded there since q ≥ e^τ) and the round's
//    recorded proposal says so. The loss is NPE's plain −log q(θ_i | y_i) on all rows of all rounds:
//    its minimiser is the posterior restricted to the region, which holds the posterior's mass as
//    long as the region does. The result is the flow: exact, normalised log_prob.
//  * "atomic" (APT / SNPE-C, Greenberg, Nonnenmacher & Macke, ICML 2019). Round r ≥ 1 draws from
//    q(θ | y_o) itself. Round 1 is fitted with the plain loss; later rounds with the atomic
//    (contrastive) loss on all rows: for row i with K − 1 other rows j of its minibatch as atoms,
//        −log [ exp ℓ_i(θ_i) / Σ_{k ∈ atoms} exp ℓ_i(θ_k) ],   ℓ_i(θ) = log q(θ | y_i) − log π(θ),
//    whose minimiser is q = the posterior whatever the proposals were. Validation (early stopping) uses
//    the same loss on the validation rows, with atoms fixed by the seed. The result is the flow q:
//    a normalised density, which approximates the posterior (no proposal correction is applied to it).
//
// Both work in the prior's unconstrained space (the Jacobians cancel in ℓ_i's ratio).
//
//   "inference": {"method": "snpe", "simulations": 10000, "rounds": 10, "loss": "truncated",
//                 "truncation_quantile": 1e-4, "hpd_samples": 10000, "max_prior_draws": 100,
//                 "atoms": 10, <NPE's keys>}
//
// Randomness: round r's proposal from streams of stream_seed(seed, r, 0x75e), its fit's split and
// minibatches from stream_seed(npe.seed, r, 0xf17); simulation indices run on across rounds.
#include "sbi/inference/npe.hpp"
#include "sbi/inference/sequential.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace sbi {

struct SnpeOptions {
  enum class Loss { truncated, atomic };
  NpeOptions npe = default_npe();
  SequentialSettings sequential;
  Loss loss = Loss::truncated;
  double truncation_quantile = 1e-4;  // ε: the region holds 1 − ε of q(θ | y_o) (truncated)
  Eigen::Index hpd_samples = 10000;   // draws of q estimating the region's threshold (truncated)
  double max_prior_draws = 100;       // prior draws per proposal row before falling back (truncated)
  int atoms = 10;                     // K, atoms per row including its own (atomic)

  // NPE's defaults with the MLP conditioner: SNPE's defaults were measured with it (bench/RESULTS.md,
  // SNPE), before NPE's default became the residual one.
  static NpeOptions default_npe();

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;  // NPE's keys plus "rounds", "loss", ...
  static SnpeOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

std::string to_string(SnpeOptions::Loss loss);

// The truncated-prior proposal of one round (exposed for tests): n rows from π restricted to
// {θ : log q(θ | y_o) ≥ τ}, τ from the fit's own draws. `description` says how they were drawn.
struct TruncatedProposal {
  RowMatrix theta;
  double threshold = 0;        // τ
  std::size_t prior_draws = 0; // drawn from the prior
  std::size_t accepted = 0;    // of those, inside the region (the first `accepted` rows of theta)
  std::size_t resampled = 0;   // rows from the importance-resampling fallback
  std::string description;
};
TruncatedProposal truncated_prior_proposal(const NpeFit& fit, const Prior& prior, const Vector& observation, std::size_t n,
                                           const SnpeOptions& options, std::uint64_t seed, int threads = 0);

// Runs SNPE; the last round's fit is returned and `record` says what each round did. Throws
// InputError for invalid options or a round with fewer than 2 rows; callbacks.stop ends the run after
// the step in progress (the fit so far; before the first fit an empty optional).
std::optional<NpeFit> run_snpe(const SequentialProblem& problem, const SnpeOptions& options, SequentialRecord& record,
                               const TrainingCallbacks& callbacks = {});

}  // namespace sbi
