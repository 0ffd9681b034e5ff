#pragma once
// Posterior kinds sampled by MCMC from a learnt surrogate for one observation at a time:
//
//   "likelihood_mcmc" (method "nle"): log p(θ | y) = log π(θ) + log q(y | θ) + const, q a conditional
//                     flow (sbi/inference/nle.hpp);
//   "ratio_mcmc"      (method "nre"): log p(θ | y) = log π(θ) + r(θ, y) + const, r a classifier's
//                     log ratio (sbi/inference/nre.hpp).
//
// Made by "nle"/"nre" they are amortised (the surrogate is trained once, for every observation);
// made by the sequential "snle"/"snre" they hold for the observation their rounds aimed at. Each sample() call
// runs the chains of sbi/mcmc/mcmc.hpp in the prior's unconstrained space with the options saved
// with the posterior (the spec's "inference": {"mcmc": {...}}). log_prob is the unnormalised
// log-density above (info().log_prob_normalized is false). diagnostics() reports the training and
// the last MCMC run's R-hat, ESS and cost.
//
// Files (besides posterior.json; format in sbi/inference/posterior.hpp):
//   likelihood.sbinn    NLE: the conditional density q(y | u) (format in sbi/flows/density.hpp)
//   classifier.sbinn    NRE: the classifier (format in sbi/nn/serialize.hpp)
//   training_curve.csv  the training curve
// State in posterior.json: {"training": {...}} and, for NRE, {"standardization": {...}, "logit_scale": s}
// (scale_to_validation; 1 when absent).
#include "sbi/inference/nle.hpp"
#include "sbi/inference/nre.hpp"
#include "sbi/inference/posterior.hpp"
#include "sbi/mcmc/mcmc.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace sbi::models {

inline constexpr const char* kLikelihoodMcmcKind = "likelihood_mcmc";
inline constexpr const char* kRatioMcmcKind = "ratio_mcmc";

class McmcPosterior : public PosteriorModelBase {
 public:
  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override;
  // Chains that stop with callbacks.stop (sbi::Interrupted) and report as the stage "sample (MCMC)".
  RowMatrix sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const override;
  // log π(θ) + the surrogate, per row (−∞ outside the prior's support); unnormalised.
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override;
  // {"training": ..., "mcmc": the last run (options, seed, statistics, R-hat and ESS) or null}.
  nlohmann::json diagnostics() const override;

  // The whole MCMC result (samples, draws per chain, diagnostics); `options` replaces the saved
  // sampling settings when given.
  McmcResult sample_with_report(const Vector& observation, Eigen::Index n, std::uint64_t seed,
                                const std::optional<McmcOptions>& options = std::nullopt) const;
  // The same with the saved settings, the chains stopping with callbacks.stop (sbi::Interrupted) and
  // reporting their progress as the stage "sample (MCMC)".
  McmcResult sample_with_report(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const;
  const McmcOptions& mcmc_options() const { return mcmc_; }

  // The learnt term, log q(y | θ) or r(θ, y), per row of theta (inside the support).
  virtual Vector log_surrogate(const RowMatrix& theta, const Vector& observation) const = 0;
  // The same term and its gradient in the prior's unconstrained space u = T⁻¹(θ), through the
  // autodiff tape: what lets "mcmc": {"sampler": "hmc"} run (sbi/mcmc/mcmc.hpp).
  virtual void log_surrogate_gradient(const RowMatrix& u, const Vector& observation, Eigen::Ref<Vector> value,
                                      Eigen::Ref<RowMatrix> gradient_u) const = 0;

 protected:
  // InputError when a sequential (one-observation) posterior is asked about another observation.
  void check_made_for(const Vector& observation) const;
  McmcPosterior(PriorPtr prior, Names data_names, PosteriorInfo info, McmcOptions mcmc, nlohmann::json training);
  McmcOptions mcmc_;
  nlohmann::json training_;

 private:
  mutable std::mutex last_run_mutex_;
  mutable nlohmann::json last_run_;
};

class LikelihoodMcmcPosterior final : public McmcPosterior {
 public:
  LikelihoodMcmcPosterior(NleFit fit, PriorPtr prior, Names data_names, PosteriorInfo info);
  Vector log_surrogate(const RowMatrix& theta, const Vector& observation) const override;
  void log_surrogate_gradient(const RowMatrix& u, const Vector& observation, Eigen::Ref<Vector> value,
                              Eigen::Ref<RowMatrix> gradient_u) const override;
  nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const override;
  static std::shared_ptr<const LikelihoodMcmcPosterior> load(const SavedPosterior& saved);
  const NleFit& fit() const { return fit_; }

 private:
  LikelihoodMcmcPosterior(NleFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, nlohmann::json training);
  NleFit fit_;
};

class RatioMcmcPosterior final : public McmcPosterior {
 public:
  // `mcmc`: the sampling settings (NreOptions::mcmc of the training run).
  RatioMcmcPosterior(NreFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, McmcOptions mcmc);
  Vector log_surrogate(const RowMatrix& theta, const Vector& observation) const override;
  void log_surrogate_gradient(const RowMatrix& u, const Vector& observation, Eigen::Ref<Vector> value,
                              Eigen::Ref<RowMatrix> gradient_u) const override;
  nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const override;
  static std::shared_ptr<const RatioMcmcPosterior> load(const SavedPosterior& saved);
  const NreFit& fit() const { return fit_; }

 private:
  RatioMcmcPosterior(NreFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, McmcOptions mcmc, nlohmann::json training);
  NreFit fit_;
};

// The same posterior with its MCMC sampling settings changed to adjust(saved settings): an MCMC
// kind, alone or as an ensemble's members, is wrapped so that sample() runs the adjusted chains and
// its info's options["mcmc"] (so its saved form, and what another MPI rank rebuilds from it) says
// so; log_prob, the files and diagnostics stay the wrapped posterior's. Any other kind comes back as
// it is. What lets a quick calibration check of `sbi infer` afford one MCMC run per simulated case
// with a shorter warm-up than the one the posterior is sampled with.
Posterior with_mcmc_sampling(const Posterior& posterior, const std::function<McmcOptions(const McmcOptions&)>& adjust);

// True when sample() of this posterior runs MCMC (an MCMC kind, or an ensemble with such members).
bool samples_by_mcmc(const Posterior& posterior);

}  // namespace sbi::models
