#include "models/flow_posterior.hpp"

#include "sbi/core/error.hpp"
#include "sbi/inference/snpe.hpp"
#include "sbi/io/csv.hpp"

namespace sbi::models {

namespace fs = std::filesystem;

FlowPosterior::FlowPosterior(NpeFit fit, PriorPtr prior, Names data_names, PosteriorInfo info, nlohmann::json training)
    : PosteriorModelBase(std::move(prior), std::move(data_names), std::move(info)), fit_(std::move(fit)), training_(std::move(training)) {
  if (static_cast<std::size_t>(fit_.data_dim()) != data_names_.size())
    throw InputError("FlowPosterior: " + std::to_string(data_names_.size()) + " data names for an estimator of " +
                     std::to_string(fit_.data_dim()) + " data columns");
  if (static_cast<std::size_t>(fit_.parameter_dim()) != prior_->dim())
    throw InputError("FlowPosterior: the estimator has " + std::to_string(fit_.parameter_dim()) + " parameters, the prior " +
                     std::to_string(prior_->dim()));
  info_.kind = kFlowKind;
  // NPE's flow is amortised; SNPE's (info.amortized false) was trained for info.observation only.
  if (!info_.amortized && !info_.observation) throw InputError("FlowPosterior: a posterior for one observation needs that observation");
  info_.has_log_prob = true;
  info_.log_prob_normalized = true;
}

FlowPosterior::FlowPosterior(NpeFit fit, PriorPtr prior, Names data_names, PosteriorInfo info)
    : FlowPosterior(fit, std::move(prior), std::move(data_names), std::move(info), flows::density_training_summary(fit.training, fit.trials)) {}

void FlowPosterior::check_made_for(const Vector& observation) const {
  if (!info_.amortized && observation != *info_.observation)
    throw InputError("this posterior was made by " + info_.method + " for one observation only, and the observation given differs from it; " +
                     "its rounds spent their simulations near that observation, so run " + info_.method +
                     " again for another one (or use an amortised method such as npe)");
}

RowMatrix FlowPosterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const {
  check_made_for(observation);
  return fit_.sample(observation, n, seed);
}

Vector FlowPosterior::log_prob(const RowMatrix& theta, const Vector& observation) const {
  check_made_for(observation);
  return fit_.log_prob(theta, observation);
}

nlohmann::json FlowPosterior::save_state(const fs::path& folder, std::vector<std::string>& files) const {
  write_atomically_with(folder / "density.sbinn", [&](const fs::path& tmp) { fit_.save_density(tmp); });
  files.push_back("density.sbinn");
  const auto& curve = fit_.training.curve;
  if (!curve.records.empty()) {
    write_csv(folder / "training_curve.csv", curve.columns(), curve.to_matrix());
    files.emplace_back("training_curve.csv");
  }
  return {{"training", training_}};
}

std::shared_ptr<const FlowPosterior> FlowPosterior::load(const SavedPosterior& saved) {
  const auto json_file = saved.file("posterior.json").string();
  NpeOptions options;
  nlohmann::json training;
  try {
    if (saved.info.method == "snpe") {
      // SNPE saves NPE's keys, its own and what its rounds did ("sequential_record").
      nlohmann::json own = saved.info.options;
      if (own.is_object()) own.erase("sequential_record");
      options = SnpeOptions::from_json(own, "options").npe;
    } else if (saved.info.method != "lfvi") {
      // lfvi's flow generator saves its own options; the estimator's are read from density.sbinn.
      options = NpeOptions::from_json(saved.info.options, "options");
    }
    training = saved.state().value("training", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_file + ": incomplete or corrupted flow state (" + e.what() + ")");
  } catch (const InputError& e) {
    throw FileError(json_file + ": " + e.what());
  }
  NpeFit fit = [&] {
    try {
      NpeFit loaded = NpeFit::load(saved.file("density.sbinn"), *saved.prior, options);
      loaded.training.curve = read_training_curve(saved);
      return loaded;
    } catch (const InputError& e) {
      throw FileError(saved.file("density.sbinn").string() + ": " + e.what());
    }
  }();
  try {
    return std::shared_ptr<const FlowPosterior>(new FlowPosterior(std::move(fit), saved.prior, saved.data_names, saved.info, std::move(training)));
  } catch (const InputError& e) {
    throw FileError(json_file + ": " + e.what());
  }
}

}  // namespace sbi::models
