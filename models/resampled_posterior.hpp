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
//   With moves M > 0, each draw then takes M sweeps of coordinate-wise slice sampling on the target
//   in the prior's unconstrained space (widths: the spread of a pilot of proposal draws along each
//   axis; no adaptation), chains that leave the target invariant: resample-move (Gilks & Berzuini
//   2001). Where the proposal is thin in the target's tails (near a bounded prior's edge, say), SIR
//   with K proposals under-fills them, and the moves fill them in from the neighbouring draws.
//   log_prob(θ, y): the target's, unnormalised (info().log_prob_normalized is false): the law of the
//     resampled draws has no closed form.
//   diagnostics(): the proposal's and the target's, K, and for the last sample() call the
//     importance-sampling efficiency of all weights (Kish's ESS over their number: 1 when the
//     proposal is the target, small when it misses it) and the mean ESS within a group of K.
//
// Files: proposal/ and target/, each a complete saved posterior (sbi/inference/posterior.hpp),
// loaded and checked like any other. State in posterior.json: {"proposals_per_draw": K, "moves": M,
// "proposal_kind": ..., "target_kind": ...} ("moves" absent in files saved before it existed: 0).
#include "sbi/inference/posterior.hpp"

#include <functional>
#include <mutex>

namespace sbi::models {

inline constexpr const char* kImportanceResampledKind = "importance_resampled";
inline constexpr Eigen::Index kResampleBlock = 1000;  // draws per block (and per random stream)
inline constexpr int kMaxResampleMoves = 1000;

class ImportanceResampledPosterior final : public PosteriorModelBase {
 public:
  // `proposal` with a normalised log_prob, `target` with a log_prob (normalised or not), over the same
  // parameters and data; 2 ≤ proposals_per_draw ≤ 4096, 0 ≤ moves ≤ kMaxResampleMoves. Amortised when
  // the proposal is (the target's observation, if any, must then agree). InputError otherwise.
  ImportanceResampledPosterior(Posterior proposal, Posterior target, int proposals_per_draw, PosteriorInfo info, int moves = 0);

  RowMatrix sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const override;
  // The same draws, with progress in draws (stage "importance resampling") and a stop checked
  // between blocks: sbi::Interrupted, no draws kept.
  RowMatrix sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks& callbacks) const override;
  Vector log_prob(const RowMatrix& theta, const Vector& observation) const override;
  nlohmann::json save_state(const std::filesystem::path& folder, std::vector<std::string>& files) const override;
  // {"proposals_per_draw": K, "moves": M, "proposal": ..., "target": ..., "last_sample": {...} or null}
  nlohmann::json diagnostics() const override;

  static std::shared_ptr<const ImportanceResampledPosterior> load(const SavedPosterior& saved,
                                                                  const std::function<Posterior(const std::filesystem::path&)>& load_part);

  const Posterior& proposal() const { return proposal_; }
  const Posterior& target() const { return target_; }
  int proposals_per_draw() const { return proposals_per_draw_; }
  int moves() const { return moves_; }
  // The same proposal and target with another K and M (InputError out of range): nothing retrained.
  Posterior with_counts(int proposals_per_draw, int moves) const;

 private:
  void check_made_for(const Vector& observation) const;  // InputError for another observation than a non-amortised one's
  RowMatrix draw(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks* callbacks) const;
  // The standard deviation along each axis of kResampleBlock proposal draws in the unconstrained
  // space: the moves' slice widths.
  Vector pilot_widths(const Vector& observation, std::uint64_t seed) const;
  Posterior proposal_, target_;
  int proposals_per_draw_, moves_;
  mutable std::mutex last_sample_mutex_;
  mutable nlohmann::json last_sample_;
};

}  // namespace sbi::models
