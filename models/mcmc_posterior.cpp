#include "models/mcmc_posterior.hpp"

#include "models/ensemble_posterior.hpp"
#include "models/flow_posterior.hpp"
#include "sbi/core/error.hpp"
#include "sbi/inference/watched_chains.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/mcmc/unconstrained.hpp"
#include "sbi/nn/serialize.hpp"

#include <cmath>
#include <limits>

namespace sbi::models {

namespace fs = std::filesystem;

// The progress stage of a watched sample().
constexpr const char* kMcmcSampleStage = "sample (MCMC)";

namespace {

nlohmann::json outcome_summary(const optim::TrainingOutcome& outcome) {
  return {{"best_epoch", outcome.best_step},
          {"best_validation_loss", outcome.best_validation},
          {"epochs", outcome.curve.records.size()},
          {"stopped_early", outcome.stopped_early},
          {"interrupted", outcome.interrupted},
          {"seconds", outcome.seconds}};
}

void save_curve(const optim::TrainingCurve& curve, const fs::path& folder, std::vector<std::string>& files) {
  if (curve.records.empty()) return;
  write_csv(folder / "training_curve.csv", curve.columns(), curve.to_matrix());
  files.push_back("training_curve.csv");
}

// Loads a kind's state, turning format problems into FileErrors that name posterior.json.
template <class F>
auto read_state(const SavedPosterior& saved, const char* kind, F read) {
  const auto json_file = saved.file("posterior.json").string();
  try {
    return read();
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_file + ": incomplete or corrupted " + kind + " state (" + e.what() + ")");
  } catch (const InputError& e) {
    throw FileError(json_file + ": " + e.what());
  }
}

// The sequential methods (snle, snre) save their surrogate's options plus "rounds", "sequential_record"
// (what each round simulated and how long it took) and, snre, "retrain_from_scratch".
nlohmann::json method_options_without_rounds(nlohmann::json options) {
  if (options.is_object()) {
    options.erase("rounds");
    options.erase("sequential_record");
    options.erase("retrain_from_scratch");
  }
  return options;
}

}  // namespace

// ------------------------------------------------------------------------------------------------

McmcPosterior::McmcPosterior(PriorPtr prior, Names data_names, PosteriorInfo info, McmcOptions mcmc, nlohmann::json training)
    : PosteriorModelBase(std::move(prior), std::move(data_names), std::move(info)), mcmc_(std::move(mcmc)), training_(std::move(training)) {
  info_.has_log_prob = true;
  info_.log_prob_normalized = false;
}

void McmcPosterior::check_made_for(const Vector& observation) const {
  if (!info_.amortized && info_.observation && observation != *info_.observation)
    throw InputError("this posterior was made by " + info_.method + " for one observation only, and the observation given differs from it; " +
                     "its rounds spent their simulations near that observation, so run " + info_.method +
                     " again for another one (or use an amortised method such as nle or npe)");
}

McmcResult McmcPosterior::sample_with_report(const Vector& observation, Eigen::Index n, std::uint64_t seed,
                                             const std::optional<McmcOptions>& options) const {
  check_made_for(observation);
  // The gradient in θ the target asks for: ∇θ = ∇u / (dθ/du) per coordinate (the target multiplies by
  // dθ/du again on its way back to u).
  const auto transforms = prior_->transforms();
  const UnconstrainedPosterior target(
      prior_, [this, &observation](const RowMatrix& theta, Eigen::Ref<Vector> out) { out = log_surrogate(theta, observation); },
      [this, &observation, &transforms](const RowMatrix& theta, Eigen::Ref<Vector> out, Eigen::Ref<RowMatrix> gradient) {
        const RowMatrix u = prior_->to_unconstrained(theta);
        log_surrogate_gradient(u, observation, out, gradient);
        for (Eigen::Index r = 0; r < u.rows(); ++r)
          for (Eigen::Index c = 0; c < u.cols(); ++c)
            gradient(r, c) /= std::exp(transforms[static_cast<std::size_t>(c)].log_abs_det_jacobian(u(r, c)));
      });
  McmcResult result = target.sample(n, seed, options ? *options : mcmc_);
  {
    std::lock_guard lock(last_run_mutex_);
    last_run_ = result.to_json();
  }
  return result;
}

RowMatrix McmcPosterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const {
  return sample_with_report(observation, n, seed).samples;
}

McmcResult McmcPosterior::sample_with_report(const Vector& observation, Eigen::Index n, std::uint64_t seed,
                                             const TrainingCallbacks& callbacks) const {
  return sample_with_report(observation, n, seed, watched_by(mcmc_, callbacks, kMcmcSampleStage));
}

RowMatrix McmcPosterior::sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed,
                                        const TrainingCallbacks& callbacks) const {
  return sample_with_report(observation, n, seed, callbacks).samples;
}

Vector McmcPosterior::log_prob(const RowMatrix& theta, const Vector& observation) const {
  check_made_for(observation);
  Vector out = Vector::Constant(theta.rows(), -std::numeric_limits<double>::infinity());
  std::vector<Eigen::Index> inside;
  for (Eigen::Index r = 0; r < theta.rows(); ++r)
    if (prior_->in_support(row_span(theta, r))) inside.push_back(r);
  if (inside.empty()) return out;
  RowMatrix rows(static_cast<Eigen::Index>(inside.size()), theta.cols());
  for (std::size_t k = 0; k < inside.size(); ++k) rows.row(static_cast<Eigen::Index>(k)) = theta.row(inside[k]);
  const Vector surrogate = log_surrogate(rows, observation);
  for (std::size_t k = 0; k < inside.size(); ++k) {
    const auto r = inside[k];
    out[r] = prior_->log_prob(row_span(theta, r)) + surrogate[static_cast<Eigen::Index>(k)];
  }
  return out;
}

nlohmann::json McmcPosterior::diagnostics() const {
  std::lock_guard lock(last_run_mutex_);
  return {{"training", training_}, {"mcmc", last_run_}};
}

// ------------------------------------------------------------------------------------------------
// NLE

LikelihoodMcmcPosterior::LikelihoodMcmcPosterior(NleFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, nlohmann::json training)
    : McmcPosterior(std::move(prior), std::move(data_names), std::move(info), fit.options().mcmc, std::move(training)), fit_(std::move(fit)) {
  if (static_cast<std::size_t>(fit_.data_dim()) != data_names_.size())
    throw InputError("NLE posterior: " + std::to_string(data_names_.size()) + " data names for a likelihood of " +
                     std::to_string(fit_.data_dim()) + " data columns");
  if (static_cast<std::size_t>(fit_.parameter_dim()) != prior_->dim())
    throw InputError("NLE posterior: the likelihood takes " + std::to_string(fit_.parameter_dim()) + " parameters, the prior has " +
                     std::to_string(prior_->dim()));
  info_.kind = kLikelihoodMcmcKind;
}

LikelihoodMcmcPosterior::LikelihoodMcmcPosterior(NleFit fit, PriorPtr prior, Names data_names, PosteriorInfo info)
    : LikelihoodMcmcPosterior(fit, std::move(prior), std::move(data_names), std::move(info), flows::density_training_summary(fit.training, fit.trials)) {}

Vector LikelihoodMcmcPosterior::log_surrogate(const RowMatrix& theta, const Vector& observation) const {
  return fit_.log_likelihood(theta, observation, *prior_);
}

void LikelihoodMcmcPosterior::log_surrogate_gradient(const RowMatrix& u, const Vector& observation, Eigen::Ref<Vector> value,
                                                     Eigen::Ref<RowMatrix> gradient_u) const {
  fit_.log_likelihood_gradient_unconstrained(u, observation, value, gradient_u);
}

nlohmann::json LikelihoodMcmcPosterior::save_state(const fs::path& folder, std::vector<std::string>& files) const {
  write_atomically_with(folder / "likelihood.sbinn", [&](const fs::path& tmp) { fit_.save_density(tmp); });
  files.push_back("likelihood.sbinn");
  save_curve(fit_.training.curve, folder, files);
  return {{"training", training_}};
}

std::shared_ptr<const LikelihoodMcmcPosterior> LikelihoodMcmcPosterior::load(const SavedPosterior& saved) {
  NleOptions options;
  nlohmann::json training;
  read_state(saved, "NLE", [&] {
    options = NleOptions::from_json(method_options_without_rounds(saved.info.options), "options");
    training = saved.state().value("training", nlohmann::json::object());
    return 0;
  });
  const auto file = saved.file("likelihood.sbinn");
  NleFit fit = [&] {
    try {
      NleFit loaded = NleFit::load(file, *saved.prior, options);
      loaded.training.curve = read_training_curve(saved);
      return loaded;
    } catch (const InputError& e) {
      throw FileError(file.string() + ": " + e.what());
    }
  }();
  return read_state(saved, "NLE", [&] {
    return std::shared_ptr<const LikelihoodMcmcPosterior>(
        new LikelihoodMcmcPosterior(std::move(fit), saved.prior, saved.data_names, saved.info, std::move(training)));
  });
}

// ------------------------------------------------------------------------------------------------
// NRE

RatioMcmcPosterior::RatioMcmcPosterior(NreFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, McmcOptions mcmc,
                                       nlohmann::json training)
    : McmcPosterior(std::move(prior), std::move(data_names), std::move(info), std::move(mcmc), std::move(training)),
      fit_(std::move(fit)) {
  const auto& st = fit_.standardization;
  if (static_cast<std::size_t>(st.y_mean.size()) != data_names_.size() || static_cast<std::size_t>(st.y_sd.size()) != data_names_.size() ||
      st.y_log.size() > data_names_.size())
    throw InputError("NRE posterior: the standardisation does not have one entry per data column");
  if (static_cast<std::size_t>(st.u_mean.size()) != prior_->dim() || static_cast<std::size_t>(st.u_sd.size()) != prior_->dim())
    throw InputError("NRE posterior: the standardisation does not have one entry per parameter");
  const auto inputs = static_cast<Eigen::Index>(prior_->dim() + data_names_.size());
  if (fit_.classifier.options().widths.front() != inputs || fit_.classifier.options().widths.back() != 1)
    throw InputError("NRE posterior: the classifier does not take (θ, y) to one value");
  if (training_.is_null()) training_ = outcome_summary(fit_.training);  // freshly trained (not loaded)
  info_.kind = kRatioMcmcKind;
}

RatioMcmcPosterior::RatioMcmcPosterior(NreFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, McmcOptions mcmc)
    : RatioMcmcPosterior(std::move(fit), std::move(prior), std::move(data_names), std::move(info), std::move(mcmc), nullptr) {}

Vector RatioMcmcPosterior::log_surrogate(const RowMatrix& theta, const Vector& observation) const {
  return fit_.log_ratio(theta, observation, *prior_, data_names_);
}

void RatioMcmcPosterior::log_surrogate_gradient(const RowMatrix& u, const Vector& observation, Eigen::Ref<Vector> value,
                                                Eigen::Ref<RowMatrix> gradient_u) const {
  fit_.log_ratio_gradient_unconstrained(u, observation, data_names_, value, gradient_u);
}

nlohmann::json RatioMcmcPosterior::save_state(const fs::path& folder, std::vector<std::string>& files) const {
  write_atomically_with(folder / "classifier.sbinn", [&](const fs::path& tmp) { nn::save(fit_.classifier, tmp); });
  files.push_back("classifier.sbinn");
  save_curve(fit_.training.curve, folder, files);
  return {{"training", training_}, {"standardization", fit_.standardization.to_json()}, {"logit_scale", fit_.logit_scale}};
}

std::shared_ptr<const RatioMcmcPosterior> RatioMcmcPosterior::load(const SavedPosterior& saved) {
  NreOptions options;
  Standardization standardization;
  nlohmann::json training;
  double logit_scale = 1.0;
  read_state(saved, "NRE", [&] {
    const auto& state = saved.state();
    options = NreOptions::from_json(method_options_without_rounds(saved.info.options), "options");
    standardization = Standardization::from_json(state.at("standardization"));
    training = state.value("training", nlohmann::json::object());
    logit_scale = state.value("logit_scale", 1.0);  // absent before temperature scaling existed
    if (!(logit_scale > 0) || !std::isfinite(logit_scale)) throw InputError("logit_scale: expected a positive number");
    return 0;
  });
  NreFit fit(nn::load_mlp<float>(saved.file("classifier.sbinn")));
  fit.standardization = std::move(standardization);
  fit.logit_scale = logit_scale;
  fit.training.curve = read_training_curve(saved);
  return read_state(saved, "NRE", [&] {
    return std::shared_ptr<const RatioMcmcPosterior>(
        new RatioMcmcPosterior(std::move(fit), saved.prior, saved.data_names, saved.info, options.mcmc, std::move(training)));
  });
}

// ------------------------------------------------------------------------------------------------
// Other sampling settings

namespace {

// An MCMC posterior sampled with other settings, which its info (and so its saved form) records;
// the rest is the wrapped one's.
class ResampledMcmcPosterior final : public PosteriorModel {
 public:
  ResampledMcmcPosterior(Posterior wrapped, McmcOptions options)
      : wrapped_(std::move(wrapped)), mcmc_(*wrapped_.model_as<McmcPosterior>()), options_(std::move(options)), info_(wrapped_.info()) {
    info_.options["mcmc"] = options_.to_json();
  }
  const PosteriorInfo& info() const override { return info_; }
  const Names& parameter_names() const override { return wrapped_.parameter_names(); }
  const Names& data_names() const override { return wrapped_.data_names(); }
  const Prior& prior() const override { return wrapped_.prior(); }
  PriorPtr prior_ptr() const override { return wrapped_.prior_ptr(); }
  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override {
    return mcmc_.sample_with_report(observation, n, seed, options_).samples;
  }
  RowMatrix sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const override {
    return mcmc_.sample_with_report(observation, n, seed, watched_by(options_, callbacks, kMcmcSampleStage)).samples;
  }
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override { return mcmc_.log_prob(theta, observation); }
  nlohmann::json diagnostics() const override { return wrapped_.diagnostics(); }
  nlohmann::json save_state(const fs::path& folder, std::vector<std::string>& files) const override {
    return mcmc_.save_state(folder, files);
  }

 private:
  Posterior wrapped_;           // owns the model mcmc_ refers to
  const McmcPosterior& mcmc_;
  McmcOptions options_;
  PosteriorInfo info_;
};

}  // namespace

Posterior with_mcmc_sampling(const Posterior& posterior, const std::function<McmcOptions(const McmcOptions&)>& adjust) {
  if (const auto* mcmc = posterior.model_as<McmcPosterior>()) {
    McmcOptions options = adjust(mcmc->mcmc_options());
    if (std::string why; !options.is_valid(&why)) throw InputError("adjusted MCMC settings: " + why);
    return Posterior(std::make_shared<const ResampledMcmcPosterior>(posterior, std::move(options)));
  }
  if (const auto* ensemble = posterior.model_as<EnsemblePosterior>(); ensemble && samples_by_mcmc(posterior)) {
    std::vector<Posterior> members;
    for (const auto& member : ensemble->members()) members.push_back(with_mcmc_sampling(member, adjust));
    PosteriorInfo info = ensemble->info();
    if (info.options.contains("mcmc")) info.options["mcmc"] = members.front().info().options["mcmc"];
    return Posterior(std::make_shared<const EnsemblePosterior>(std::move(members), std::move(info)));
  }
  return posterior;
}

bool samples_by_mcmc(const Posterior& posterior) {
  if (posterior.model_as<McmcPosterior>()) return true;
  const auto* ensemble = posterior.model_as<EnsemblePosterior>();
  return ensemble && !ensemble->members().empty() && samples_by_mcmc(ensemble->members().front());
}

}  // namespace sbi::models
