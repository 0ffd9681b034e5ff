#pragma once
// Neural ratio estimation (registered as "nre"): a classifier r(θ, y) trained to tell pairs from the
// joint p(θ, y) from pairs of the marginals p(θ)p(y), so that r(θ, y) ≈ log p(θ | y)/p(θ) and the
// posterior is known up to a constant: log p(θ | y) = log π(θ) + r(θ, y) + const, sampled by MCMC.
//
// Losses ("variant"):
//  * "nre_a" (Hermans et al. 2020): binary cross-entropy, joint pairs against pairs whose θ comes
//    from another row of the minibatch; with "balance" λ > 0 the balancing term of BNRE (Delaunoy et
//    al. 2022), λ·(E_joint σ(r) + E_marginal σ(r) − 1)², which makes the classifier less overconfident.
//  * "nre_b" (Durkan et al. 2020): K contrastive atoms per y (its own θ and K − 1 from other rows),
//    cross-entropy of picking the right one; r is then the log ratio up to a function of y.
//  * "nre_c" (Miller et al. 2022): K atoms plus a class for "all independent", weighted by γ; the
//    classifier converges to the normalised log ratio, as NRE-A's, with the contrastive atoms' lower
//    variance.
// Atoms come from other rows of the shuffled minibatch (row i takes θ of row i + k, mod the batch),
// so they cost no extra simulations.
//
// The classifier works in the standardised unconstrained space of sbi/inference/standardization.hpp:
// r(θ, y) = f(z(T⁻¹(θ)), z(g(y))). The ratio is unchanged by the invertible map of θ (the Jacobians
// cancel), so it is also the ratio in θ-space. When evaluated, ũ is clamped to the range of the
// training rows (r is flat beyond it): otherwise the network's linear extrapolation can outgrow the
// prior's log density in the tails and make π(θ)·exp r improper — on two_moons (10^4 simulations,
// observation 5) the chains ran off to the prior's boundary, C2ST 0.992. The network family is the
// LFVI discriminator's, with the stability regularisers available (spectral normalisation, a
// zero-centred gradient penalty).
#include "sbi/inference/implicit_generator.hpp"
#include "sbi/inference/standardization.hpp"
#include "sbi/mcmc/mcmc.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace sbi {

struct NreOptions {
  std::string variant = "nre_c";     // "nre_a", "nre_b" or "nre_c"
  int atoms = 10;                    // K (nre_b, nre_c); nre_a uses one contrastive pair
  double gamma = 1.0;                // nre_c: weight of the dependent classes against the independent one
  double balance = 0.0;              // nre_a: λ of the BNRE balancing term (0 = off)
  NetworkOptions classifier{{128, 128, 128}, nn::Activation::elu, false, 5e-4, 256};
  bool spectral_norm = false;        // on every classifier layer (sbi/nn/spectral_norm.hpp)
  double gradient_penalty = 0.0;     // λ of a zero-centred penalty λ/2·E‖∇r‖² on joint pairs (0 = off)
  std::string data_transform = "auto";  // as for the implicit generators (standardization.hpp)
  double validation_fraction = 0.1;
  int max_epochs = 500;              // passes over the training rows
  int patience = 20;                 // epochs without a lower validation loss before stopping
  double clip_grad_norm = 5.0;       // 0 = off
  std::uint64_t seed = 1;            // weights, split, minibatches
  // Temperature scaling (Guo et al. 2017) of the trained classifier: r is multiplied by the s in
  // [0.05, 2] that minimises the validation loss (the loss is convex in s for every variant but
  // BNRE's). s < 1 widens the posterior π(θ)·exp(s·r), the remedy for a classifier whose log
  // ratios are too steep. Off by default: NRE is over-confident on 5 of 6 sbibm tasks at 10^4
  // (bench/calibration/RESULTS.md), but the fitted s was 0.90–1.05 on four of them and two_moons
  // stayed as over-confident with it — the classifiers are not too steep, they vary.
  bool scale_to_validation = false;
  McmcOptions mcmc;                  // how the posterior π(θ)·exp r(θ, y) is sampled (key "mcmc")

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // From a spec's "inference" section; errors name the JSON path; the run-level keys are skipped.
  static NreOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

// A trained ratio estimator. log_ratio() is const and may run on several threads at once.
struct NreFit {
  explicit NreFit(nn::Mlp network) : classifier(std::move(network)) {}
  nn::Mlp classifier;                // input [ũ, ỹ] (standardised), output r / logit_scale
  Standardization standardization;
  double logit_scale = 1.0;          // r = logit_scale × the classifier's output (scale_to_validation)
  optim::TrainingOutcome training;   // curve (loss, validation loss), best epoch, stop reason

  // r(θ_i, y) for every row θ_i (−∞ outside the prior's support).
  Vector log_ratio(const RowMatrix& theta, const Vector& observation, const Prior& prior, const Names& data_names = {}) const;
  // r in the unconstrained space: rows u_i = T⁻¹(θ_i) (no support check needed).
  Vector log_ratio_unconstrained(const RowMatrix& u, const Vector& observation, const Names& data_names = {}) const;
  // r at rows u_i and its gradient ∇u (row i of `gradient`), by the autodiff tape (thread-safe).
  void log_ratio_gradient_unconstrained(const RowMatrix& u, const Vector& observation, const Names& data_names, Eigen::Ref<Vector> log_ratio,
                                        Eigen::Ref<RowMatrix> gradient) const;
  // r on `tape` (n × 1) for standardised rows ũ (a tape value, n × p) and ỹ (n × d), with ũ clamped
  // to the training range as everywhere else: the value is r at the clamped ũ and the gradient with
  // respect to ũ is zero where a value was clamped. A generator trained against r (LFVI's flow) thus
  // gains nothing by carrying mass beyond the parameters the classifier saw.
  ad::Var<float> log_ratio_on_tape(ad::Tape<float>& tape, const ad::Var<float>& u_tilde,
                                   const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>& y_tilde) const;
  // The same with the classifier's weights as the tape's parameters, for further training (LFVI's
  // alternation, sbi/inference/lfvi_flow.hpp). Not thread-safe.
  ad::Var<float> trainable_log_ratio_on_tape(ad::Tape<float>& tape, const ad::Var<float>& u_tilde,
                                             const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>& y_tilde);
};

// The fewest table rows train_nre accepts with these options: 20 (the standardised table's floor),
// and enough that the training and validation sets each hold more rows than the loss has atoms.
std::size_t minimum_nre_rows(const NreOptions& options);

// `member` > 0: another member of an ensemble of ratio estimators — other initial weights and
// minibatches, the same validation split and standardisation as member 0 (so that their log ratios
// take the same standardised inputs).
// `start_from`: a classifier of the same architecture whose weights training continues from (SNRE's
// later rounds) instead of fresh ones; the standardisation is still fitted to these rows and the
// optimiser starts afresh. InputError if the architecture differs.
NreFit train_nre(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const NreOptions& options,
                 const TrainingCallbacks& callbacks = {}, std::uint64_t member = 0, const nn::Mlp* start_from = nullptr);

namespace detail {
// The loss of the variant in `options` (the training loss, in double precision) for logits scaled by s:
// logits[a] holds atom a's classifier outputs for the rows of one block (atom 0 the joint pairs; NRE-A
// 2 atoms, NRE-B K, NRE-C K + 1).
double scaled_nre_loss(const std::vector<Vector>& logits, const NreOptions& options, double s);
// The s in [0.05, 2] minimising the sum of scaled_nre_loss over blocks (golden-section search to 10⁻³).
double best_logit_scale(const std::vector<std::vector<Vector>>& block_logits, const NreOptions& options);
}  // namespace detail

}  // namespace sbi
