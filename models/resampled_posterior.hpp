#pragma once
// Posterior kind "importance_resampled": draws of a proposal posterior with an exact density,
// corrected towards a target known up to a constant by sampling-importance-resampling (SIR; Rubin
// 1988). Made by "lfvi" with "generator": "flow" and "importance_resampling": K, where the proposal is
// the trained flow q(θ | y) and the target the posterior its bound aimed at, π(θ) exp r(θ, y) with the
// surrogate's likelihood term (NLE's q(y | θ) or the ratio estimator's r): the reverse KL leaves the
// flow narrower than its target and short of its far modes, and the weights give the mass back
// (Glöckler, Deistler & Macke 2022 refine their variational posteriors the same way).
//
//   sample(y, n, seed): each of the n draws is one of K fresh proposal draws, chosen with probability
//     proportional to w = exp(log target − log q). Draws are independent (no draw repeats another
//     group's), and as K grows their law tends to the target's. Work is split in blocks of
//     kResampleBlock draws, each with its own random streams (seed, block), run on all cores: the
//     same seed gives the same bits for any thread count.
//   log_prob(θ, y): the target's, unnormalised (info().log_prob_normalized is false): the law of the
//     resampled draws has no closed form.
//   diagnostics(): the proposal's and the target's, K, and for the last sample() call the
//     importance-sampling efficiency of all weights (Kish's ESS over their number: 1 when the
//     proposal is the target, small when it misses it) and the mean ESS within a group of K.
//
// Files: proposal/ and target/, each a complete saved posterior (sbi/inference/posterior.hpp),
// loaded and checked like any other. State in posterior.json: {"proposals_per_draw": K,
// "proposal_kind": ..., "target_kind": ...}.
#include "sbi/inference/posterior.hpp"

#include <functional>
#include <mutex>

namespace sbi::models {

inline constexpr const char* kImportanceResampledKind = "importance_resampled";
inline constexpr Eigen::Index kResampleBlock = 1000;  // draws per block (and per random stream)

class ImportanceResampledPosterior final : public PosteriorModelBase {
 public:
  // `proposal` with a normalised log_prob, `target` with a log_prob (normalised or not), over the same
  // parameters and data; 2 ≤ proposals_per_draw ≤ 4096. Amortised when the proposal is (the
  // target's observation, if any, must then agree). InputError otherwise.
  ImportanceResampledPosterior(Posterior proposal, Posterior target, int proposals_per_draw, PosteriorInfo info);

  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override;
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override;
  nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const override;
  // {"proposals_per_draw": K, "proposal": ..., "target": ..., "last_sample": {...} or null}
  nlohmann::json diagnostics() const override;

  static std::shared_ptr<const ImportanceResampledPosterior> load(const SavedPosterior& saved,
                                                                  const std::function<Posterior(const std::filesystem::path&)>& load_part);

  const Posterior& proposal() const { return proposal_; }
  const Posterior& target() const { return target_; }
  int proposals_per_draw() const { return proposals_per_draw_; }

 private:
  void check_made_for(const Vector& observation) const;  // InputError for another observation than a non-amortised one's
  Posterior proposal_, target_;
  int proposals_per_draw_;
  mutable std::mutex last_sample_mutex_;
  mutable nlohmann::json last_sample_;
};

}  // namespace sbi::models
