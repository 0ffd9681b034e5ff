#pragma once
// Likelihood-free variational inference with an explicit generator ("lfvi" with "generator": "flow";
// Tran, Ranganath & Blei 2017, with the generator's entropy known).
//
// The generator is a conditional normalising flow q(θ | y) whose layers run from noise to θ
// ("direction": "sampling", sbi/flows/options.hpp), so a draw θ = g(ε; y) is one differentiable pass
// and log q(θ | y) is exact. A ratio estimator r(θ, y) ≈ log p(y | θ)/p(y) is trained once on the
// table (NRE, sbi/inference/nre.hpp; its keys under "ratio"). The flow is then trained to maximise
//
//   L(y) = E_{ε}[ log π(θ) + r(θ, y) − log q(θ | y) ],   θ = g(ε; y),
//
// averaged over the table's y (amortised): −L(y) = KL(q(·|y) ‖ p(·|y)) − log(p(y)/p(y)) with the
// posterior p(θ | y) ∝ π(θ) exp r(θ, y), i.e. the reverse KL to the ratio estimator's posterior,
// with reparameterised gradients. With "iw_samples": K > 1 the importance-weighted bound
// E[log (1/K) Σ_k exp w_k], w_k = log π(θ_k) + r(θ_k, y) − log q(θ_k | y), is maximised instead
// (Burda et al. 2016): tighter, and less mode-seeking as K grows.
//
// Everything runs in the prior's unconstrained space u = T⁻¹(θ): log π above is the prior's density
// in u (Jacobian included; exact gradients for the library's priors, sbi/mcmc/unconstrained.hpp), and
// the flow's data are u z-scored with the ratio estimator's statistics, so its draws are the ratio
// estimator's inputs as they are. The result is the posterior kind "flow" (models/flow_posterior.hpp):
// exact, normalised log_prob, samples in the prior's support, for any observation.
//
// Training keeps a held-out split of y rows (the ratio estimator's split) with fixed noise; the
// validation loss is −L on it, the best flow is kept, and training stops after `patience` checks
// without improvement.
//
// With "ratio_training": "alternate" the ratio estimator keeps training beside the generator, as in
// the paper's algorithm: before each generator step, `ratio_steps` classifier steps, each on a
// minibatch of the table's pairs (θ_i, y_i) against two kinds of contrast —
//   * θ drawn from the current generator q(· | y_i), with the logit ℓ = log π(θ) + r(θ, y) − log q(θ | y):
//     logistic regression of the joint p(θ, y) against q(θ | y)p(y) has the optimum
//     ℓ* = log p(θ | y)/q(θ | y), i.e. r* = log p(θ | y)/π(θ), NRE's own target (q's exact density
//     makes this possible; the implicit generator's discriminator learns ℓ itself);
//   * θ of another row (NRE-A's contrast, logit r), the same optimum, which keeps r anchored where q
//     puts no mass.
// So r is sharpened where the generator puts its mass, which is where the bound evaluates it. The
// bound then moves with r, so it cannot choose the best flow: the validation loss is instead the
// held-out rows' −log q(θ_i | y_i) (the forward KL, NPE's yardstick), and the classifier's weights are
// kept with the flow's. Needs "ratio_ensemble": 1.
//
// With "refine": {"steps": N} (N > 0) and an observation y_o, the amortised flow is then refined for
// y_o alone: training goes on maximising L(y_o) (the same bound, every draw at y_o), from the
// amortised weights, with its own learning rate, until the bound on a fixed set of draws stops
// improving. The amortised flow has to share its capacity among all of the table's y and may fit
// y_o less well (the amortisation gap); the refined one is the posterior for y_o only (its info says
// so: not amortised, made for y_o) and refuses other observations. The ratio estimator is unchanged,
// so refinement cannot do better than the ratio estimator's own posterior π(θ) exp r(θ, y_o).
//
// With "surrogate": "likelihood" the likelihood term comes from a surrogate likelihood instead of a
// classifier: NLE's conditional flow q(y | θ) (sbi/inference/nle.hpp; its keys under "likelihood"),
// trained once on the table, and r(θ, y) = log q(y | θ). That differs from a log ratio
// log p(y | θ)/p(y) by log p(y) alone, constant in θ: the bound's gradients and its optimum (the
// posterior π(θ) q(y | θ)/Z, NLE's own) are those of the ratio form, and the bound's value is shifted
// by log p(y) per row. The flow is then the variational counterpart of NLE's MCMC (as in Glöckler,
// Deistler & Macke 2022, "Variational methods for simulation-based inference"); with 10^4 simulations
// NLE's own posterior was more accurate than NRE's on five of the six sbibm tasks, SIR the exception
// (bench/lfvi_flow/RESULTS.md, the grid).
// The flow's data are u z-scored with NLE's context statistics, so its draws are NLE's context as
// they are. Not with "alternate" or a ratio ensemble.
//
// With "importance_resampling": K the posterior is the flow's draws resampled by their importance
// weights against the surrogate's posterior (kind "importance_resampled"): the flow is the proposal,
// the surrogate's MCMC posterior (NLE's or NRE's kind, or an ensemble of NRE's) the target.
#include "sbi/core/types.hpp"
#include "sbi/flows/options.hpp"
#include "sbi/inference/nle.hpp"
#include "sbi/inference/npe.hpp"
#include "sbi/inference/nre.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sbi {

// Refinement for one observation (the "refine" object; off while steps is 0).
struct LfviRefineOptions {
  int steps = 0;                        // the most refinement steps; 0 = no refinement
  double learning_rate = 1e-4;          // Adam, fresh moments (a tenth of the amortised default)
  Eigen::Index batch_size = 128;        // terms of the bound per step, each of iw_samples draws
  int iw_samples = 0;                   // 0 = the amortised bound's K
  int eval_every = 50;                  // steps between checks of the bound on the fixed draws
  int patience = 10;                    // checks without a better bound before stopping
  Eigen::Index validation_terms = 2048; // fixed draws (terms) the bound is checked on

  bool enabled() const { return steps > 0; }
  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  static LfviRefineOptions from_json(const nlohmann::json& section, const std::string& path);
};

struct LfviFlowOptions {
  // The generator: NPE's default family (spline coupling flow), in the sampling direction (forced:
  // "direction" may be left out or be "sampling").
  flows::DensityEstimatorOptions flow = default_flow();
  // Which estimate gives the bound's likelihood term (see the header's last paragraph).
  enum class Surrogate { ratio, likelihood };
  Surrogate surrogate = Surrogate::ratio;
  NreOptions ratio;                 // key "ratio": the ratio estimator's options (NRE's keys; its "mcmc" is unused)
  NleOptions likelihood;            // key "likelihood", with "surrogate": "likelihood" (NLE's keys; its "mcmc" is unused)
  // M ratio estimators (other weights and minibatches, the same split), trained side by side on the
  // cores, and r = log (1/M) Σ_m exp r_m: the bound's target is then the mixture of their posteriors,
  // as an ensemble of NRE posteriors is (models/ensemble_posterior.hpp), which on two_moons was far
  // less over-confident than one (bench/calibration/RESULTS.md).
  int ratio_ensemble = 1;
  // K draws per y; 1 = the plain bound (ELBO), K > 1 = the importance-weighted bound. The reverse KL
  // of K = 1 may drop a mode: on two_moons with 10^4 simulations K = 8 kept both crescents where
  // K = 1 kept one, but it was worse with 10^3 and no better on slcp (bench/lfvi_flow/RESULTS.md).
  int iw_samples = 1;
  // "once": the ratio estimator is trained on the table before the generator and then fixed;
  // "alternate": it keeps training between generator steps (above).
  std::string ratio_training = "once";
  int ratio_steps = 1;              // "alternate": classifier steps per generator step
  // Steps over which the amortised bound's likelihood term is tempered, β r with β rising linearly
  // from 1/anneal_steps to 1 (then 1): the target starts near the prior, which the flow covers, and
  // sharpens into the posterior, so that the flow follows its modes as they separate instead of
  // settling on whichever it finds first (annealed variational inference). The validation bound is
  // always the untempered one, and early stopping waits for the end of the annealing. 0 = none.
  int anneal_steps = 0;
  // Steps of maximum likelihood on the table's pairs, max Σ log q(θ_i | y_i) (NPE's objective, the
  // forward KL, which covers every mode the table shows), before the bound: the reverse KL of the
  // bound only reshapes mass the flow already has, and from a flow that misses a mode it has no
  // gradient towards it. Early-stopped on the held-out pairs' −log q, the best weights kept; the
  // bound's optimiser starts afresh. Needs spline coupling layers (their inverse is differentiable,
  // sbi/flows/flow.hpp). 0 = none.
  int pretrain_steps = 0;
  Eigen::Index batch_size = 128;    // y rows per step (each with K draws)
  double learning_rate = 1e-3;      // Adam
  int max_iterations = 5000;        // optimisation steps
  int min_iterations = 500;         // no early stop before this many steps
  int eval_every = 100;             // steps between validation checks
  int patience = 10;                // checks without a better validation bound before stopping
  double clip_grad_norm = 5.0;      // 0 = off
  Eigen::Index validation_rows = 1000;  // held-out y rows used for validation at most
  LfviRefineOptions refine;         // key "refine": refinement for the run's observation (off by default)
  // K ≥ 2: the posterior corrects the flow's draws towards the surrogate's posterior π(θ) exp r(θ, y)
  // by sampling-importance-resampling, each draw one of K flow draws chosen by its weight
  // (models/resampled_posterior.hpp); its log_prob is then the surrogate's, unnormalised. 0 = off:
  // the flow alone, with its exact density. With slfvi the last round's flow and surrogate, for its
  // observation (not with an ensemble of ratio estimators there).
  int importance_resampling = 0;
  // M ≥ 1 (with importance_resampling): each resampled draw then takes M sweeps of coordinate-wise
  // slice sampling on the surrogate's posterior, which leave it invariant (resample-move): where the
  // flow is thin in the target's tails, K proposals under-fill them, and the moves fill them in; the
  // draws then tend to the surrogate's own posterior, for better or worse. 0 = off.
  int resample_moves = 0;
  std::uint64_t seed = 1;           // weights, minibatches, noise (the ratio estimator gets it too)

  static flows::DensityEstimatorOptions default_flow();

  bool is_valid(std::string* why = nullptr) const;
  // Includes "generator": "flow".
  nlohmann::json to_json() const;
  // From a spec's "inference" section with "generator": "flow"; errors name the JSON path; the
  // run-level keys are skipped.
  static LfviFlowOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

struct LfviFlowFit {
  NpeFit posterior;                  // q(u | y) with the prior's bijection: sample and exact log_prob
  std::vector<NreFit> ratios;        // the ratio estimators the bound used (ratio_ensemble of them; none with a likelihood)
  // curve: "loss" (−bound per step), validation −bound; alternating also "ratio" (the classifier's
  // loss) and the validation −log q(θ | y) on held-out pairs
  optim::TrainingOutcome training;
  // With pretrain_steps: the maximum-likelihood stage (validation: held-out −log q(θ_i | y_i)).
  std::optional<optim::TrainingOutcome> pretraining;
  // The observation the flow was refined for; empty when it was not refined (refinement off, or no
  // better than the amortised flow at the observation, whose weights are then kept).
  std::optional<Vector> refined_for;
  // null without refinement; else the −bound at the observation before and after, steps, seconds,
  // and which weights were kept ("refined" or "amortised").
  nlohmann::json refinement;
  double ratio_seconds = 0;          // of which training the ratio estimator (or the surrogate likelihood)
  std::size_t training_rows = 0, validation_rows = 0;
  std::optional<NleFit> likelihood;  // the surrogate likelihood the bound used, with "surrogate": "likelihood"

  // Whether the fit carries the surrogate it was trained against (ratio estimators or a likelihood):
  // false for one read back from a checkpoint, which holds the flow alone and has no training summary.
  bool has_surrogate() const { return !ratios.empty() || likelihood.has_value(); }

  // {"ratio" (or "likelihood"): the surrogate's summary, "generator": best step, best validation −bound, stop reason, seconds,
  //  "refinement": the same for the refinement, with the bound before it}.
  nlohmann::json summary() const;
};

// Whether an LFVI section asks for this generator: "generator": "flow". False when "generator" is
// absent, "implicit", or the implicit generator's network options (an object); InputError at
// `path`.generator for any other value.
bool lfvi_flow_requested(const nlohmann::json& section, const std::string& path);

// Trains on a reference table (θ inside the prior's support, y finite). Throws InputError for invalid
// options or tables (the ratio estimator's checks), and when refinement is asked for without an
// observation or with one of the wrong length or not finite.
LfviFlowFit train_lfvi_flow(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const LfviFlowOptions& options,
                            const TrainingCallbacks& callbacks = {}, const std::optional<Vector>& observation = std::nullopt);

}  // namespace sbi
