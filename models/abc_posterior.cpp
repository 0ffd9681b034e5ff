#include "models/abc_posterior.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

namespace sbi::models {

AbcPosterior::AbcPosterior(AbcResult result, PriorPtr prior, Names data_names, PosteriorInfo info, ResampleOptions resample)
    : PosteriorModelBase(std::move(prior), std::move(data_names), std::move(info)), result_(std::move(result)), resample_(resample) {
  if (!info_.observation) throw InputError("AbcPosterior: the observation ABC ran for is required");
  if (static_cast<std::size_t>(info_.observation->size()) != data_names_.size())
    throw InputError("AbcPosterior: the observation has " + std::to_string(info_.observation->size()) + " values for " +
                     std::to_string(data_names_.size()) + " data names");
  if (result_.particles.rows() < 1 || result_.particles.cols() != static_cast<Eigen::Index>(prior_->dim()) ||
      result_.weights.size() != result_.particles.rows())
    throw InputError("AbcPosterior: particles and weights do not fit the prior");
  info_.kind = kAbcSamplesKind;
  info_.amortized = false;
  info_.has_log_prob = false;
  info_.log_prob_normalized = false;
  diagnostics_ = result_.to_json();
  if (resample_.method == ResampleMethod::kde && !(resample_.bandwidth > 0)) {
    double chosen = 0;
    resample_particles(result_.particles, result_.weights, 1, *prior_, resample_, &chosen);
    resample_.bandwidth = chosen;
  }
}

RowMatrix AbcPosterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const {
  check_observation(observation, data_names_);
  if (observation != *info_.observation)
    throw InputError("this posterior was made by ABC (" + info_.method + ") for one observation only, and the observation given differs "
                     "from it; ABC keeps the simulations accepted for that observation, so run it again for another one "
                     "(or use an amortised method such as npe)");
  ResampleOptions options = resample_;
  options.seed = seed;
  return resample_particles(result_.particles, result_.weights, n, *prior_, options);
}

nlohmann::json AbcPosterior::save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const {
  const Eigen::Index p = result_.particles.cols(), k = result_.particles.rows();
  RowMatrix table(k, p + 2);
  table.leftCols(p) = result_.particles;
  table.col(p) = result_.weights;
  table.col(p + 1) = result_.distances.size() == k ? result_.distances : Vector::Constant(k, std::nan(""));
  Names header = prior_->names();
  header.push_back("weight");
  header.push_back("distance");
  write_csv(folder / "particles.csv", header, table);
  files.push_back("particles.csv");
  nlohmann::json state = {{"diagnostics", diagnostics_}};
  write_resample_options(resample_, state);
  return state;
}

std::shared_ptr<const AbcPosterior> AbcPosterior::load(const SavedPosterior& saved) {
  const auto json_file = saved.file("posterior.json").string();
  auto posterior = std::shared_ptr<AbcPosterior>(new AbcPosterior());
  posterior->prior_ = saved.prior;
  posterior->data_names_ = saved.data_names;
  posterior->info_ = saved.info;
  if (!posterior->info_.observation || static_cast<std::size_t>(posterior->info_.observation->size()) != saved.data_names.size())
    throw FileError(json_file + ": an ABC posterior needs the observation it was made for (\"observation\")");
  try {
    const auto& state = saved.state();
    JsonObjectReader reader(state, "state");
    reader.get("diagnostics");
    read_resample_options(reader, posterior->resample_);
    posterior->diagnostics_ = state.at("diagnostics");
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_file + ": incomplete or corrupted ABC state (" + e.what() + ")");
  } catch (const InputError& e) {
    throw FileError(json_file + ": " + e.what());
  }
  CsvTable table;
  try {
    table = read_csv(saved.file("particles.csv"));
  } catch (const InputError& e) {
    throw FileError(e.what());
  }
  const auto p = static_cast<Eigen::Index>(saved.prior->dim());
  if (table.values.cols() != p + 2 || table.values.rows() < 1)
    throw FileError(saved.file("particles.csv").string() + ": expected " + std::to_string(p + 2) + " columns (θ, weight, distance) and at least one row");
  auto& r = posterior->result_;
  r.parameter_names = saved.parameter_names;
  r.particles = table.values.leftCols(p);
  r.weights = table.values.col(p);
  r.distances = table.values.col(p + 1);
  if (!r.particles.allFinite() || !r.weights.allFinite() || (r.weights.array() < 0).any() || !(r.weights.sum() > 0))
    throw FileError(saved.file("particles.csv").string() + ": particles must be finite and weights non-negative with a positive sum");
  r.method = saved.info.method;
  posterior->info_.kind = kAbcSamplesKind;
  posterior->info_.amortized = false;
  return posterior;
}

}  // namespace sbi::models
