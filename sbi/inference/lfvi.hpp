#pragma once
// Likelihood-free variational inference (Tran, Ranganath & Blei, NIPS 2017), amortised.
//
// Simulated pairs (θ_i, y_i) are samples of the joint p(θ, y). A generator θ = f(y, z), z ~ N(0, I),
// defines q(θ, y) = q(θ | y) p(y) on the same y_i. Two ways to fit it:
//
//  * method "lfvi": a discriminator r(θ, y) is trained by logistic regression to tell (θ_i, y_i)
//    (label 1) from (f(y_i, z), y_i) (label 0), so that r → log p(θ, y)/q(θ, y) = log p(θ|y)/q(θ|y);
//    the generator is trained to maximise E_q[r] (i.e. to minimise KL(q‖p); "kl"), or with the
//    non-saturating GAN loss E_q[softplus(−r)] ("non_saturating"). k discriminator steps per
//    generator step, separate learning rates and batch sizes; regularisers for the discriminator:
//    spectral normalisation, a zero-centred gradient penalty (on real, generated or interpolated
//    points) and weight decay.
//  * method "mmd": no discriminator; the generator minimises MMD² between the joint samples
//    (y_i, f(y_i, z)) and (y_i, θ_i) with a sum of Gaussian kernels over several bandwidths (GMMN).
//
// Everything is fitted in a standardised unconstrained space: θ is mapped by the prior's bijection
// to u ∈ R^p and u and y are z-scored with training-set statistics. The discriminator's ratio is
// unchanged by this invertible map (the Jacobians cancel), and the generator's samples, mapped
// back, always lie in the prior's support.
//
// Training keeps a held-out validation split and evaluates, every `eval_every` generator steps,
// the joint MMD² between (y, f(y, z)) and (y, θ) on it (a yardstick that does not depend on the
// discriminator); the generator with the best value is kept, and training stops after `patience`
// evaluations without improvement.
#include "sbi/core/types.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/stability/regularizers.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace sbi {

struct NetworkOptions {
  std::vector<Eigen::Index> hidden = {128, 128, 128};
  nn::Activation activation = nn::Activation::elu;
  bool residual = false;
  double learning_rate = 1e-3;
  std::size_t batch_size = 256;
};

struct LfviOptions {
  enum class Method { lfvi, mmd };
  enum class GeneratorLoss { kl, non_saturating };
  enum class PenaltyPoints { real, fake, interpolated };

  Method method = Method::lfvi;
  GeneratorLoss generator_loss = GeneratorLoss::kl;
  NetworkOptions generator{{128, 128, 128}, nn::Activation::elu, false, 1e-4, 256};
  NetworkOptions discriminator{{128, 128, 128}, nn::Activation::elu, false, 1e-4, 256};
  int noise_dim = 0;                 // 0 = as many noise inputs as parameters (at least 2)
  // Data columns to take the log of before z-scoring: "none", "log" (all; data must be > 0) or
  // "auto" (columns whose training values are all positive and span more than two decades, such
  // as population counts; heavy right tails otherwise squeeze most data into a sliver).
  std::string data_transform = "auto";
  // Exponential moving average of the generator's weights (Polyak averaging, a standard GAN
  // stabiliser): the averaged generator is validated and kept. 0 = off.
  double generator_ema = 0.995;
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
  std::vector<double> mmd_bandwidths = {0.25, 0.5, 1.0, 2.0, 4.0};  // × √(dimension of the joint)
  double validation_fraction = 0.1;
  int max_iterations = 20000;        // generator steps
  int min_iterations = 1000;         // no early stop before this many generator steps
  int eval_every = 100;              // generator steps between validation checks
  int patience = 20;                 // validation checks without improvement before stopping
  // Sampling refinement: draw `refine_oversample` × n candidates from the generator and resample
  // n of them with weights exp(r(θ, y_o)) (the discriminator's ratio estimate). 0 = off.
  int refine_oversample = 0;
  std::uint64_t seed = 1;            // weights, minibatches and noise

  // Empty when valid, else what is wrong ("generator.learning_rate: must be positive").
  std::string validate() const;
  nlohmann::json to_json() const;
  // From a spec's "inference" section (keys method, generator, discriminator, ...). Errors name
  // the JSON path under `path` ("inference.generator.learning_rate: expected a positive number, got 0").
  // Keys the caller handles itself ("simulations", "table") are skipped.
  static LfviOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
};

std::string to_string(LfviOptions::Method method);

// Statistics of the standardised space: u = T⁻¹(θ), ũ = (u − u_mean)/u_sd, ỹ = (g(y) − y_mean)/y_sd
// where g takes the log of the columns flagged in y_log and leaves the others.
struct Standardization {
  Vector u_mean, u_sd, y_mean, y_sd;
  std::vector<bool> y_log;  // per data column; empty = none
  // g(y) for one observation, then z-scored.
  Vector standardize_data(const Vector& y) const;
  nlohmann::json to_json() const;
  static Standardization from_json(const nlohmann::json& j);
};

struct TrainingRecord {
  int iteration = 0;            // generator steps so far
  double discriminator_loss = 0;  // mean over the steps since the previous record (lfvi)
  double generator_loss = 0;
  double validation_mmd2 = 0;
  double seconds = 0;
};

struct LfviFit {
  explicit LfviFit(nn::Mlp trained_generator) : generator(std::move(trained_generator)) {}
  nn::Mlp generator;
  std::optional<nn::Mlp> discriminator;  // method "lfvi"
  Standardization standardization;
  std::vector<TrainingRecord> curve;
  int best_iteration = 0;
  double best_validation_mmd2 = 0;
  bool stopped_early = false;
  bool interrupted = false;
  double seconds = 0;
  std::size_t training_rows = 0, validation_rows = 0;
};

struct LfviCallbacks {
  // After each validation check: (record, max_iterations).
  std::function<void(const TrainingRecord&, int)> on_record;
  const std::atomic<bool>* stop = nullptr;  // stop at the next check, keeping the best generator
};

// γ0 = 1/(7α + β2) for these options: α = the discriminator's network Lipschitz bound
// (spectral_bound per layer, to the power of the number of layers) under spectral normalisation,
// else gradient_penalty_target when a two- or one-sided gradient penalty is on; β2 = rkhs_beta2.
// Throws InputError when no Lipschitz bound is configured.
double lfvi_gamma0(const LfviOptions& options);
// The generator's learning rate: c·γ0 when generator_learning_rate_gamma0_multiple = c > 0, else
// generator.learning_rate.
double effective_generator_learning_rate(const LfviOptions& options);

// The number of noise inputs z of the generator for `parameters` parameters.
int effective_noise_dim(const LfviOptions& options, Eigen::Index parameters);

// Trains on a reference table (θ in the prior's support, y finite).
LfviFit train_lfvi(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const LfviOptions& options,
                   const LfviCallbacks& callbacks = {});

}  // namespace sbi
