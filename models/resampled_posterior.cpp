#include "models/resampled_posterior.hpp"

#include "sbi/core/error.hpp"
#include "sbi/mcmc/mcmc.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

namespace sbi::models {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kProposalStream = 0x51e0, kChoiceStream = 0x51e1, kPilotStream = 0x51e2, kMoveStream = 0x51e3;
constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

double log_add(double a, double b) {
  if (a == kMinusInfinity) return b;
  if (b == kMinusInfinity) return a;
  const double top = std::max(a, b);
  return top + std::log(std::exp(a - top) + std::exp(b - top));
}

// What one block's weights add to the diagnostics: log Σ w and log Σ w² over all its proposals (so
// blocks combine into one Kish ESS), the sum of the groups' ESS fractions, and the groups whose K
// weights were all zero.
struct BlockWeights {
  double log_sum = kMinusInfinity, log_sum_squares = kMinusInfinity;
  double group_ess_fraction_sum = 0;
  Eigen::Index groups_without_weight = 0;
  std::uint64_t move_evaluations = 0;
};

}  // namespace

ImportanceResampledPosterior::ImportanceResampledPosterior(Posterior proposal, Posterior target, int proposals_per_draw, PosteriorInfo info,
                                                           int moves)
    : PosteriorModelBase(proposal ? proposal.prior_ptr() : nullptr, proposal ? proposal.data_names() : Names{}, std::move(info)),
      proposal_(std::move(proposal)),
      target_(std::move(target)),
      proposals_per_draw_(proposals_per_draw),
      moves_(moves) {
  if (!target_) throw InputError("importance resampling: no target posterior");
  if (!proposal_.info().has_log_prob || !proposal_.info().log_prob_normalized)
    throw InputError("importance resampling: the proposal (kind \"" + proposal_.kind() + "\") needs an exact, normalised density");
  if (!target_.info().has_log_prob) throw InputError("importance resampling: the target (kind \"" + target_.kind() + "\") has no density");
  if (proposal_.parameter_names() != target_.parameter_names() || proposal_.data_names() != target_.data_names())
    throw InputError("importance resampling: the proposal and the target must have the same parameters and data");
  if (proposals_per_draw_ < 2 || proposals_per_draw_ > 4096)
    throw InputError("importance resampling: proposals per draw must be in [2, 4096], got " + std::to_string(proposals_per_draw_));
  if (moves_ < 0 || moves_ > kMaxResampleMoves)
    throw InputError("importance resampling: moves per draw must be in [0, " + std::to_string(kMaxResampleMoves) + "], got " + std::to_string(moves_));
  info_.kind = kImportanceResampledKind;
  info_.amortized = proposal_.info().amortized && target_.info().amortized;
  info_.observation = proposal_.info().amortized ? target_.info().observation : proposal_.info().observation;
  if (!info_.amortized && !info_.observation) throw InputError("importance resampling: a posterior for one observation needs that observation");
  if (!proposal_.info().amortized && !target_.info().amortized && *proposal_.info().observation != *target_.info().observation)
    throw InputError("importance resampling: the proposal and the target were made for different observations");
  info_.has_log_prob = true;
  info_.log_prob_normalized = false;
}

void ImportanceResampledPosterior::check_made_for(const Vector& observation) const {
  if (!info_.amortized && observation != *info_.observation)
    throw InputError("this posterior was made by " + info_.method + " for one observation only, and the observation given differs from it");
}

RowMatrix ImportanceResampledPosterior::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed) const {
  return draw(observation, n, seed, nullptr);
}

RowMatrix ImportanceResampledPosterior::sample_watched(const Vector& observation, Eigen::Index n, std::uint64_t seed,
                                                       const TrainingCallbacks& callbacks) const {
  return draw(observation, n, seed, &callbacks);
}

RowMatrix ImportanceResampledPosterior::draw(const Vector& observation, Eigen::Index n, std::uint64_t seed, const TrainingCallbacks* callbacks) const {
  check_made_for(observation);
  const Eigen::Index k = proposals_per_draw_;
  const auto dim = static_cast<Eigen::Index>(parameter_names().size());
  const Eigen::Index blocks = (n + kResampleBlock - 1) / kResampleBlock;
  RowMatrix draws(n, dim);
  std::vector<BlockWeights> per_block(static_cast<std::size_t>(blocks));
  const Vector widths = moves_ > 0 ? pilot_widths(observation, seed) : Vector();
  const Prior& prior = *prior_;
  // The target in the prior's unconstrained space u, with the Jacobian of θ(u).
  const McmcTarget unconstrained_target = make_mcmc_target(static_cast<std::size_t>(dim), [&](const RowMatrix& u, Eigen::Ref<Vector> log_density) {
    log_density = target_.log_prob(prior.to_constrained(u), observation);
    for (Eigen::Index r = 0; r < u.rows(); ++r) log_density[r] += prior.log_abs_det_jacobian(row_span(u, r));
  });
  std::atomic<Eigen::Index> drawn{0};
  std::atomic<bool> stopped{false};
  auto report_progress = [&] {
    if (callbacks) callbacks->report({.stage = "importance resampling", .done = static_cast<std::size_t>(drawn.load()),
                                      .total = static_cast<std::size_t>(n), .unit = "draw"});
  };
  parallel_for(static_cast<std::size_t>(blocks), hardware_threads(), [&](std::size_t b, std::size_t worker) {
    if (callbacks && callbacks->stop_requested()) stopped = true;
    if (stopped) return;
    const Eigen::Index first = static_cast<Eigen::Index>(b) * kResampleBlock, m = std::min(kResampleBlock, n - first);
    const RowMatrix candidates = proposal_.sample(observation, m * k, stream_seed(seed, b, kProposalStream));
    Vector log_weight = target_.log_prob(candidates, observation) - proposal_.log_prob(candidates, observation);
    // NaN or +∞ (a proposal density of 0 where the target has mass cannot come from a flow's own draw)
    // and −∞ (outside the target's support) all get weight 0.
    for (Eigen::Index i = 0; i < log_weight.size(); ++i)
      if (!std::isfinite(log_weight[i])) log_weight[i] = kMinusInfinity;
    Rng choose(stream_seed(seed, b, kChoiceStream));
    BlockWeights& stats = per_block[b];
    Vector weight(k);
    for (Eigen::Index g = 0; g < m; ++g) {
      const auto group = log_weight.segment(g * k, k);
      const double top = group.maxCoeff();
      Eigen::Index chosen = 0;
      if (top == kMinusInfinity) {  // no weight at all: keep the first proposal, and say so in the diagnostics
        ++stats.groups_without_weight;
      } else {
        weight = (group.array() - top).exp().matrix();
        const double total = weight.sum();
        double u = choose.uniform() * total;
        chosen = k - 1;
        for (Eigen::Index j = 0; j < k; ++j) {
          u -= weight[j];
          if (u < 0) {
            chosen = j;
            break;
          }
        }
        const double squares = weight.squaredNorm();
        stats.group_ess_fraction_sum += total * total / squares / static_cast<double>(k);
        stats.log_sum = log_add(stats.log_sum, top + std::log(total));
        stats.log_sum_squares = log_add(stats.log_sum_squares, 2 * top + std::log(squares));
      }
      draws.row(first + g) = candidates.row(g * k + chosen);
    }
    if (moves_ > 0) {
      RowMatrix u = prior.to_unconstrained(RowMatrix(draws.middleRows(first, m)));
      Vector log_density(m);
      unconstrained_target.log_density(u, log_density);
      stats.move_evaluations = move_by_slice_sampling(unconstrained_target, u, log_density, static_cast<std::size_t>(moves_), widths,
                                                      stream_seed(seed, b, kMoveStream));
      draws.middleRows(first, m) = prior.to_constrained(u);
    }
    drawn += m;
    if (worker == 0) report_progress();  // only the calling thread reports: the callback need not be thread-safe
  });
  if (stopped)
    throw Interrupted("importance resampling: stopped on request (" + std::to_string(drawn.load()) + " of " + std::to_string(n) +
                      " draws done); no draws were kept");
  report_progress();
  BlockWeights all;
  for (const auto& s : per_block) {
    all.log_sum = log_add(all.log_sum, s.log_sum);
    all.log_sum_squares = log_add(all.log_sum_squares, s.log_sum_squares);
    all.group_ess_fraction_sum += s.group_ess_fraction_sum;
    all.groups_without_weight += s.groups_without_weight;
    all.move_evaluations += s.move_evaluations;
  }
  const double proposals = static_cast<double>(n) * static_cast<double>(k);
  const double weighted_groups = static_cast<double>(n - all.groups_without_weight);
  nlohmann::json report = {{"draws", n},
                           {"proposals", n * k},
                           {"seed", seed},
                           {"ess_fraction", all.log_sum == kMinusInfinity ? 0.0 : std::exp(2 * all.log_sum - all.log_sum_squares) / proposals},
                           {"mean_group_ess_fraction", weighted_groups > 0 ? all.group_ess_fraction_sum / weighted_groups : 0.0},
                           {"groups_without_weight", all.groups_without_weight},
                           {"moves", moves_},
                           {"move_evaluations_per_draw", n > 0 ? static_cast<double>(all.move_evaluations) / static_cast<double>(n) : 0.0}};
  {
    std::lock_guard lock(last_sample_mutex_);
    last_sample_ = std::move(report);
  }
  return draws;
}

Posterior ImportanceResampledPosterior::with_counts(int proposals_per_draw, int moves) const {
  return Posterior(std::make_shared<ImportanceResampledPosterior>(proposal_, target_, proposals_per_draw, info_, moves));
}

Vector ImportanceResampledPosterior::pilot_widths(const Vector& observation, std::uint64_t seed) const {
  const RowMatrix u = prior_->to_unconstrained(proposal_.sample(observation, kResampleBlock, stream_seed(seed, 0, kPilotStream)));
  const Vector sd = ((u.rowwise() - u.colwise().mean()).colwise().squaredNorm() / static_cast<double>(u.rows() - 1)).cwiseSqrt().transpose();
  // A flow collapsed along an axis would give it no width: floor each at a tiny share of the largest.
  return sd.cwiseMax(1e-6 * std::max(sd.maxCoeff(), 1e-300));
}

Vector ImportanceResampledPosterior::log_prob(const RowMatrix& theta, const Vector& observation) const {
  check_made_for(observation);
  return target_.log_prob(theta, observation);
}

nlohmann::json ImportanceResampledPosterior::save_state(const fs::path& folder, std::vector<std::string>&) const {
  proposal_.save(folder / "proposal");
  target_.save(folder / "target");
  return {{"proposals_per_draw", proposals_per_draw_}, {"moves", moves_}, {"proposal_kind", proposal_.kind()}, {"target_kind", target_.kind()}};
}

nlohmann::json ImportanceResampledPosterior::diagnostics() const {
  std::lock_guard lock(last_sample_mutex_);
  return {{"proposals_per_draw", proposals_per_draw_},
          {"moves", moves_},
          {"proposal", proposal_.diagnostics()},
          {"target", target_.diagnostics()},
          {"last_sample", last_sample_.is_null() ? nlohmann::json(nullptr) : last_sample_}};
}

std::shared_ptr<const ImportanceResampledPosterior> ImportanceResampledPosterior::load(
    const SavedPosterior& saved, const std::function<Posterior(const fs::path&)>& load_part) {
  const auto json_file = saved.file("posterior.json").string();
  int k = 0, moves = 0;
  try {
    k = saved.state().at("proposals_per_draw").get<int>();
    moves = saved.state().value("moves", 0);
  } catch (const nlohmann::json::exception& e) {
    throw FileError(json_file + ": incomplete or corrupted importance-resampling state (" + e.what() + ")");
  }
  Posterior proposal = load_part(saved.folder / "proposal");
  Posterior target = load_part(saved.folder / "target");
  try {
    return std::make_shared<ImportanceResampledPosterior>(std::move(proposal), std::move(target), k, saved.info, moves);
  } catch (const InputError& e) {
    throw FileError(saved.folder.string() + ": " + e.what());
  }
}

}  // namespace sbi::models
