#pragma once
// Neural likelihood estimation (registered as "nle"; Papamakarios, Sterratt & Murray 2019, amortised
// form): a conditional density estimator q(y | θ) fitted by maximum likelihood on a reference table,
// used as a surrogate likelihood. The posterior for an observation y_o is then
//   log p(θ | y_o) = log π(θ) + log q(y_o | θ) + const,
// known up to its normalising constant and sampled by MCMC (models/mcmc_posterior.hpp).
//
// The estimator's context is the unconstrained parameter u = T⁻¹(θ) (the prior's bijection), which
// spreads bounded parameters over the real line for the network; q(y | θ) = q(y | u) since u is a
// function of θ. Data and context are z-scored with training statistics (sbi/flows/fit.hpp).
//
//   sbi::NleFit fit = sbi::train_nle(theta, y, *prior, sbi::NleOptions{});
//   sbi::Vector log_l = fit.log_likelihood(theta_rows, y_obs, *prior);
//
// The estimator and fitting settings are NPE's (sbi/inference/npe.hpp), with a masked autoregressive
// flow as the default family: the data are often higher-dimensional than θ, where NPE's spline
// coupling flow is costlier to evaluate on every MCMC step (sbi's NLE default is also a MAF).
#include "sbi/core/types.hpp"
#include "sbi/flows/density.hpp"
#include "sbi/flows/fit.hpp"
#include "sbi/inference/npe.hpp"
#include "sbi/mcmc/mcmc.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace sbi {

struct NleOptions {
  NpeOptions estimator = default_estimator();  // density estimator and fitting (keys as NPE's)
  McmcOptions mcmc;                             // how the posterior is sampled (key "mcmc")

  static NpeOptions default_estimator();
  // The default without its alternatives: one estimator (SNLE's rounds continue one).
  static NpeOptions default_single_estimator();

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // From a spec's "inference" section: NPE's keys plus "mcmc": {...} (sbi/mcmc/mcmc.hpp); errors
  // name the JSON path.
  static NleOptions from_json(const nlohmann::json& section, const std::string& path = "inference",
                              const NpeOptions& estimator_defaults = default_estimator());
};

// A trained surrogate likelihood. Immutable; log_likelihood may run on several threads at once.
class NleFit {
 public:
  NleFit(std::shared_ptr<const flows::ConditionalDensity> density, NleOptions options);

  // log q(y | θ_i) for every row θ_i (−∞ outside the prior's support or on its boundary).
  Vector log_likelihood(const RowMatrix& theta, const Vector& observation, const Prior& prior) const;
  // log q(y | u_i) and its gradient ∇u (row i of `gradient`) at rows u_i = T⁻¹(θ_i) of the unconstrained
  // space, by the autodiff tape (the network in float; one tape per thread, so thread-safe).
  void log_likelihood_gradient_unconstrained(const RowMatrix& u, const Vector& observation, Eigen::Ref<Vector> log_likelihood,
                                             Eigen::Ref<RowMatrix> gradient) const;

  const flows::ConditionalDensity& density() const { return *density_; }
  const NleOptions& options() const { return options_; }
  Eigen::Index parameter_dim() const { return density_->context_dim(); }
  Eigen::Index data_dim() const { return density_->data_dim(); }

  void save_density(const std::filesystem::path& path) const { density_->save(path); }
  // FileError naming the file if it is damaged; InputError if it does not fit the prior.
  static NleFit load(const std::filesystem::path& density_file, const Prior& prior, NleOptions options = {});

  flows::DensityFitResult training;           // the kept estimator's
  std::vector<flows::EstimatorTrial> trials;  // every estimator tried, when there were alternatives

 private:
  std::shared_ptr<const flows::ConditionalDensity> density_;
  NleOptions options_;
};

// Trains NLE on a table: theta (n × dim θ, inside the prior's support), y (n × dim y, finite). With
// "alternatives" the estimators train on up to `threads` threads at once (0 = all cores) and the best
// validation log-likelihood is kept (flows::fit_best_density).
NleFit train_nle(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const NleOptions& options = {},
                 const TrainingCallbacks& callbacks = {}, int threads = 0);

}  // namespace sbi
