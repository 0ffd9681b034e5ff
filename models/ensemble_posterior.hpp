#pragma once
// Posterior kind "ensemble": the equal-weight mixture of K posteriors of one amortised method, each
// trained on the same table with its own seed (Lakshminarayanan et al. 2017; Hermans et al. 2022
// found ensembles make simulation-based posteriors much less overconfident). Made by any amortised
// method with "ensemble": K in its options (models/ensemble_training.hpp trains the members on all
// cores, or over the ranks of an MPI job).
//
//   sample(y, n, seed): how many of the n draws each member gives is multinomial with equal
//     probabilities from stream (seed, 0); member k draws its share with seed stream_seed(seed, k + 1);
//     the draws are then shuffled, so any prefix is a fair sample. Same seed, same bits.
//   log_prob(θ, y) = log (1/K) Σ_k exp(log q_k(θ | y)), when every member has a density (normalised
//     when every member's is).
//
// Files: member_0/, member_1/, ...: each a complete saved posterior (sbi/inference/posterior.hpp),
// loaded and checked like any other. State in posterior.json: {"members": K, "member_kind": ...}.
#include "sbi/inference/posterior.hpp"

#include <functional>
#include <vector>

namespace sbi::models {

inline constexpr const char* kEnsembleKind = "ensemble";

class EnsemblePosterior final : public PosteriorModelBase {
 public:
  // At least 2 members, all amortised, of the same method, parameters and data names.
  EnsemblePosterior(std::vector<Posterior> members, PosteriorInfo info);

  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override;
  // Each member's watched sample in turn (the same draws as sample()).
  RowMatrix sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const override;
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override;
  nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const override;
  // {"members": K, "member_diagnostics": [...]}
  nlohmann::json diagnostics() const override;

  // `load_member` reads a member folder (load_posterior).
  static std::shared_ptr<const EnsemblePosterior> load(const SavedPosterior& saved,
                                                       const std::function<Posterior(const std::filesystem::path&)>& load_member);

  const std::vector<Posterior>& members() const { return members_; }

 private:
  RowMatrix draw(Eigen::Index n, std::uint64_t seed,
                 const std::function<RowMatrix(const Posterior& member, Eigen::Index count, std::uint64_t seed)>& member_sample) const;
  std::vector<Posterior> members_;
};

}  // namespace sbi::models
