#pragma once
// Likelihood-free variational inference (Tran, Ranganath & Blei, NIPS 2017), amortised, with an
// implicit generator (registered as "lfvi").
//
// Simulated pairs (θ_i, y_i) are samples of the joint p(θ, y). A generator θ = f(y, z), z ~ N(0, I),
// defines q(θ, y) = q(θ | y) p(y) on the same y_i. A discriminator r(θ, y) is trained by logistic
// regression to tell (θ_i, y_i) (label 1) from (f(y_i, z), y_i) (label 0), so that
// r → log p(θ, y)/q(θ, y) = log p(θ|y)/q(θ|y); the generator is trained to maximise E_q[r] (i.e. to
// minimise KL(q‖p); "kl"), or with the non-saturating GAN loss E_q[softplus(−r)] ("non_saturating").
// k discriminator steps per generator step, separate learning rates and batch sizes; regularisers for
// the discriminator: spectral normalisation, gradient penalties (on real, generated or interpolated
// points), an RKHS-norm penalty and weight decay (sbi/stability).
//
// The space, the standardisation, the validation yardstick and early stopping are shared with the
// MMD generator (sbi/inference/implicit_generator.hpp). The discriminator's ratio is unchanged by the
// invertible standardising map (the Jacobians cancel), so it can reweight samples (refine_oversample).
#include "sbi/inference/implicit_generator.hpp"
#include "sbi/stability/regularizers.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace sbi {

struct LfviOptions : GeneratorOptions {
  enum class GeneratorLoss { kl, non_saturating };
  enum class PenaltyPoints { real, fake, interpolated };

  GeneratorLoss generator_loss = GeneratorLoss::kl;
  NetworkOptions discriminator{{128, 128, 128}, nn::Activation::elu, false, 1e-4, 256};
  int discriminator_steps = 3;       // k discriminator updates per generator update
  bool spectral_norm = false;        // on every discriminator layer
  double spectral_bound = 1.0;       // Lipschitz bound α per layer
  double gradient_penalty = 1.0;     // λ in λ/2 · E‖∇ₓ r‖² (0 = off)
  PenaltyPoints penalty_points = PenaltyPoints::real;
  // Lazy regularisation (Karras et al. 2020): the penalty is applied on every k-th discriminator
  // step with weight k·λ, which costs 1/k of the double backward pass and regularises as much.
  int penalty_every = 4;
  double weight_decay = 0.0;         // decoupled (AdamW), discriminator only
  // Stability regularisers (sbi/stability; Chu, Minami & Fukumizu, ICLR 2020).
  // The gradient penalty's form: zero_centred (λ/2·‖∇r‖², the default above), two_sided
  // (λ·(‖∇r‖ − target)²) or one_sided (λ·max(0, ‖∇r‖ − target)²), target = Lipschitz bound α.
  stability::GradientPenaltyMode gradient_penalty_mode = stability::GradientPenaltyMode::zero_centred;
  double gradient_penalty_target = 1.0;
  // β2 > 0: RKHS penalty (1/(2β2))·‖r‖²_H for k(x, y) = exp(−π‖x − y‖²) on each discriminator step,
  // in the support-set form on the first `rkhs_support` real and generated rows of the batch. 0 = off.
  double rkhs_beta2 = 0.0;
  int rkhs_support = 64;
  // c > 0: the generator's learning rate is c·γ0 with γ0 = 1/(7α + β2) (lfvi_gamma0), replacing
  // generator.learning_rate. The bound is derived for plain gradient descent; LFVI's Adam
  // normalises step sizes, so here it is a scale for the learning rate, not a guarantee. 0 = off.
  double generator_learning_rate_gamma0_multiple = 0.0;
  // Sampling refinement: draw `refine_oversample` × n candidates from the generator and resample
  // n of them with weights exp(r(θ, y_o)) (the discriminator's ratio estimate). 0 = off.
  int refine_oversample = 0;

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // From a spec's "inference" section. Errors name the JSON path under `path`
  // ("inference.generator.learning_rate: expected a positive number, got 0"). The run-level keys
  // (method, simulations, table) are skipped.
  static LfviOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

// γ0 = 1/(7α + β2) for these options: α = the discriminator's network Lipschitz bound
// (spectral_bound per layer, to the power of the number of layers) under spectral normalisation,
// else gradient_penalty_target when a two- or one-sided gradient penalty is on; β2 = rkhs_beta2.
// Throws InputError when no Lipschitz bound is configured.
double lfvi_gamma0(const LfviOptions& options);
// The generator's learning rate: c·γ0 when generator_learning_rate_gamma0_multiple = c > 0, else
// generator.learning_rate.
double effective_generator_learning_rate(const LfviOptions& options);

// Trains on a reference table (θ in the prior's support, y finite). The fit's training curve has the
// losses "discriminator" and "generator" and the validation MMD².
// `start` (sequential rounds): training begins from its generator's and discriminator's weights
// instead of fresh ones (InputError when the layouts differ); the standardisation, the optimisers and
// the weight average are this table's and new.
ImplicitGeneratorFit train_lfvi(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const LfviOptions& options,
                                const TrainingCallbacks& callbacks = {}, const ImplicitGeneratorFit* start = nullptr);

}  // namespace sbi
