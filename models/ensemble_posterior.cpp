#include "models/ensemble_posterior.hpp"

#include "sbi/core/error.hpp"
#include "sbi/random/rng.hpp"

#include <cmath>
#include <limits>

namespace sbi::models {

namespace fs = std::filesystem;

namespace {

std::string member_folder(std::size_t k) { return "member_" + std::to_string(k); }

}  // namespace

EnsemblePosterior::EnsemblePosterior(std::vector<Posterior> members, PosteriorInfo info)
    : PosteriorModelBase(members.empty() ? nullptr : members.front().prior_ptr(), members.empty() ? Names{} : members.front().data_names(),
                         std::move(info)),
      members_(std::move(members)) {
  if (members_.size() < 2) throw InputError("ensemble: needs at least 2 members, got " + std::to_string(members_.size()));
  const Posterior& first = members_.front();
  bool all_have_density = true, all_normalised = true;
  for (const auto& m : members_) {
    if (!m) throw InputError("ensemble: an empty member");
    if (!m.info().amortized) throw InputError("ensemble: members must be amortised posteriors (\"" + m.method() + "\" is not)");
    if (m.method() != first.method() || m.parameter_names() != first.parameter_names() || m.data_names() != first.data_names())
      throw InputError("ensemble: members must come from one method with the same parameters and data");
    all_have_density = all_have_density && m.info().has_log_prob;
    all_normalised = all_normalised && m.info().log_prob_normalized;
  }
  info_.kind = kEnsembleKind;
  info_.amortized = true;
  info_.has_log_prob = all_have_density;
  info_.log_prob_normalized = all_have_density && all_normalised;
}

RowMatrix EnsemblePosterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const {
  return draw(n, seed, [&](const Posterior& member, Eigen::Index count, std::uint64_t s) { return member.sample(observation, count, s); });
}

RowMatrix EnsemblePosterior::sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed,
                                            const TrainingCallbacks& callbacks) const {
  return draw(n, seed,
              [&](const Posterior& member, Eigen::Index count, std::uint64_t s) { return member.sample(observation, count, s, callbacks); });
}

RowMatrix EnsemblePosterior::draw(Eigen::Index n, std::uint64_t seed,
                                  const std::function<RowMatrix(const Posterior&, Eigen::Index, std::uint64_t)>& member_sample) const {
  const auto k = static_cast<std::uint64_t>(members_.size());
  Rng rng(stream_seed(seed, 0, 0xe45e));
  std::vector<Eigen::Index> counts(members_.size(), 0);
  for (Eigen::Index i = 0; i < n; ++i) ++counts[rng.below(k)];
  RowMatrix draws(n, static_cast<Eigen::Index>(parameter_names().size()));
  Eigen::Index row = 0;
  for (std::size_t m = 0; m < members_.size(); ++m) {
    if (counts[m] == 0) continue;
    draws.middleRows(row, counts[m]) = member_sample(members_[m], counts[m], stream_seed(seed, m + 1, 0xe45e));
    row += counts[m];
  }
  // Member blocks come out in order: shuffle so that any prefix is a fair sample of the mixture.
  for (Eigen::Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(i + 1)));
    if (j != i) draws.row(i).swap(draws.row(j));
  }
  return draws;
}

Vector EnsemblePosterior::log_prob(const RowMatrix& theta, const Vector& observation) const {
  const double log_k = std::log(static_cast<double>(members_.size()));
  Matrix per_member(theta.rows(), static_cast<Eigen::Index>(members_.size()));
  for (std::size_t m = 0; m < members_.size(); ++m) per_member.col(static_cast<Eigen::Index>(m)) = members_[m].log_prob(theta, observation);
  Vector out(theta.rows());
  for (Eigen::Index r = 0; r < theta.rows(); ++r) {
    const double top = per_member.row(r).maxCoeff();
    out[r] = std::isfinite(top) ? top + std::log((per_member.row(r).array() - top).exp().sum()) - log_k : top;
  }
  return out;
}

nlohmann::json EnsemblePosterior::save_state(const fs::path& folder, std::vector<std::string>&) const {
  for (std::size_t k = 0; k < members_.size(); ++k) members_[k].save(folder / member_folder(k));
  // Members of an earlier, larger ensemble saved in the same folder would be stale: remove them.
  for (std::size_t k = members_.size(); fs::exists(folder / member_folder(k)); ++k) fs::remove_all(folder / member_folder(k));
  return {{"members", members_.size()}, {"member_kind", members_.front().kind()}};
}

nlohmann::json EnsemblePosterior::diagnostics() const {
  nlohmann::json each = nlohmann::json::array();
  for (const auto& m : members_) each.push_back(m.diagnostics());
  return {{"members", members_.size()}, {"member_diagnostics", each}};
}

std::shared_ptr<const EnsemblePosterior> EnsemblePosterior::load(const SavedPosterior& saved,
                                                                 const std::function<Posterior(const fs::path&)>& load_member) {
  const auto json_file = saved.file("posterior.json").string();
  std::size_t count = 0;
  try {
    count = saved.state().at("members").get<std::size_t>();
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_file + ": incomplete or corrupted ensemble state (" + e.what() + ")");
  }
  if (count < 2 || count > 10000) throw FileError(json_file + ": an ensemble of " + std::to_string(count) + " members is not valid");
  std::vector<Posterior> members;
  for (std::size_t k = 0; k < count; ++k) members.push_back(load_member(saved.folder / member_folder(k)));
  try {
    return std::make_shared<EnsemblePosterior>(std::move(members), saved.info);
  } catch (const InputError& e) {
    throw FileError(saved.folder.string() + ": " + e.what());
  }
}

}  // namespace sbi::models
