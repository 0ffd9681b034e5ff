#pragma once
// Neural posterior estimation (NPE; Papamakarios & Murray 2016, Greenberg et al. 2019, amortised
// form): a conditional density estimator q(u | y) fitted by maximum likelihood on a reference
// table (θ_i, y_i) with θ_i ~ π, y_i ~ p(y | θ_i). Then q(θ | y) ≈ p(θ | y) for every y.
//
// The estimator works in the prior's unconstrained space: u = T⁻¹(θ) by the prior's elementwise
// bijection (identity, log, logit; sbi/priors/prior.hpp), so
//   log q(θ | y) = log q(u | y) − Σ_i log |dθ_i/du_i|,
// exactly normalised on the prior's support, and every draw θ = T(u) lies in the support — no
// rejection and no leakage. Both u and y are z-scored with training statistics (sbi/flows/fit.hpp).
//
//   sbi::NpeFit fit = sbi::train_npe(theta, y, *prior, sbi::NpeOptions{});
//   sbi::RowMatrix draws = fit.sample(y_obs, 10000, /*seed=*/1);
//   sbi::Vector lp = fit.log_prob(draws, y_obs);
//
// Defaults (density estimator, batch size, learning rate, patience) were chosen on sbibm's
// observation 1 of two_moons, gaussian_linear and slcp at 10^3 and 10^4 simulations (the runs and
// the held-out figures on observations 2–5 are in bench/npe/RESULTS.md): NSF and MAF tie on average,
// batch 50 beats 200 at 10^3, LU-linear layers gave no consistent gain. The spline flow's residual
// conditioner became the default after it beat the MLP one on observations 1–5 of five sbibm tasks at
// 10^4 and tied on Lotka–Volterra (bench/npe/RESULTS.md §5); SNPE and LFVI's flow keep the MLP one,
// with which they were measured. Two MAFs train beside the spline flow ("alternatives"); one is kept
// when its validation log-likelihood is better: on the ten-parameter tasks the spline flow over-fits
// within a few epochs and the MAF fits better, elsewhere the spline flow wins (bench/npe/RESULTS.md §6).
#include "sbi/core/types.hpp"
#include "sbi/flows/density.hpp"
#include "sbi/flows/fit.hpp"
#include "sbi/flows/options.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sbi {

struct NpeOptions {
  flows::DensityEstimatorOptions density_estimator = default_density_estimator();
  // Estimators trained beside density_estimator on the same split; whichever has the best validation
  // log-likelihood is kept (flows::fit_best_density). Empty: density_estimator alone.
  std::vector<flows::DensityEstimatorOptions> alternatives = default_alternatives();
  Eigen::Index batch_size = 50;      // rows per Adam step
  double learning_rate = 5e-4;       // Adam
  double validation_fraction = 0.1;  // rows held out for early stopping
  int max_epochs = 1000;             // upper bound on passes over the training rows
  int patience = 20;                 // epochs without a better validation log-likelihood before stopping
  double clip_grad_norm = 5.0;       // 0 = no clipping
  // When patience runs out: go on from the best weights at rate × this (1 = stop), at most `decays`
  // times (sbi/flows/fit.hpp). On: in the sbibm grid it lowered the validation loss in every cell and
  // C2ST in most, gaussian_linear at 10^5 .516 → .503, Lotka–Volterra .909 → .858, for about twice
  // the training time (bench/npe/RESULTS.md §7).
  double learning_rate_decay = 0.25;
  int decays = 2;
  // The candidates race (flows::DensityFitOptions::race_window): past the first 10 epochs, one that
  // trails the leader by more than 0.1 nats per row and is not catching up stops (0 = all train to
  // their ends). Chosen on the sbibm grid's curves (bench/npe/RESULTS.md §8): it kept the same
  // estimator in 14 of 18 cells for about half the training time on one core; two cells got worse.
  int race_window = 10;
  double race_margin = 0.1;
  std::uint64_t seed = 1;            // weights, split, minibatches

  // The estimator NPE uses unless the spec says otherwise (see bench/npe/RESULTS.md).
  static flows::DensityEstimatorOptions default_density_estimator();
  // NPE's default alternatives: two MAFs (ReLU and tanh), which fit the ten-parameter sbibm tasks
  // better and train in a fraction of the spline flow's time (bench/npe/RESULTS.md §6).
  static std::vector<flows::DensityEstimatorOptions> default_alternatives();
  // density_estimator followed by the alternatives, each estimator once.
  std::vector<flows::DensityEstimatorOptions> candidates() const;
  // The fitting options these settings give (sbi/flows/fit.hpp).
  flows::DensityFitOptions fit_options() const;

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // From a spec's "inference" section ({"method": "npe", "density_estimator": {...}, "batch_size": ...});
  // the run-level keys (method, simulations, table) are skipped; errors name the JSON path.
  static NpeOptions from_json(const nlohmann::json& section, const std::string& path = "inference");
  // The same, keys not given keeping the values of `defaults` (SNPE passes its own).
  static NpeOptions from_json(const nlohmann::json& section, const std::string& path, const NpeOptions& defaults);
};

// A trained NPE posterior: q(u | y) and the prior's bijection. Immutable after training; sample and
// log_prob may be called from several threads at once.
class NpeFit {
 public:
  NpeFit(std::shared_ptr<const flows::ConditionalDensity> density, std::vector<ElementTransform> transforms, NpeOptions options);

  // n draws of θ for one observation y (length data_dim), all inside the prior's support. Draws come
  // in blocks of 1024 rows, block b from Rng::stream(seed, b): the same seed gives the same bits for
  // any `threads` (0 = all cores).
  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed, int threads = 0) const;
  // log q(θ | y) per row of theta; −∞ outside the prior's support (or on its boundary).
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const;

  const flows::ConditionalDensity& density() const { return *density_; }
  std::shared_ptr<const flows::ConditionalDensity> density_ptr() const { return density_; }
  const std::vector<ElementTransform>& transforms() const { return transforms_; }
  const NpeOptions& options() const { return options_; }
  Eigen::Index parameter_dim() const { return density_->data_dim(); }
  Eigen::Index data_dim() const { return density_->context_dim(); }

  // The estimator's file (sbi/flows/density.hpp; bit-for-bit). The bijection comes from the prior
  // and the options from the caller when loading.
  void save_density(const std::filesystem::path& path) const { density_->save(path); }
  // FileError naming the file if it is damaged; InputError if it does not fit the prior.
  static NpeFit load(const std::filesystem::path& density_file, const Prior& prior, NpeOptions options = {});

  flows::DensityFitResult training;  // the kept estimator's: curve, epochs, best validation −log q(u | y)
  std::vector<flows::EstimatorTrial> trials;  // every estimator tried, when there were alternatives

 private:
  std::shared_ptr<const flows::ConditionalDensity> density_;
  std::vector<ElementTransform> transforms_;
  NpeOptions options_;
};

// Trains NPE on a table: theta (n × dim θ, inside the prior's support), y (n × dim y, finite).
// The estimator and its alternatives train on up to `threads` threads at once (0 = all cores; the
// result does not depend on it). Throws InputError for shapes, rows outside the support, non-finite
// data, invalid options.
NpeFit train_npe(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const NpeOptions& options = {},
                 const TrainingCallbacks& callbacks = {}, int threads = 0);

}  // namespace sbi
