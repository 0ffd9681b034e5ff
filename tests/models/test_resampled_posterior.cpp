// The posterior kind "importance_resampled" (models/resampled_posterior.hpp) on analytic parts: a
// proposal far from its target is corrected to the target's mean and spread, the weights' efficiency
// is the one derived, the same seed gives the same bits across blocks, and what cannot be resampled
// is refused.
#include "models/resampled_posterior.hpp"
#include "sbi/core/error.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/priors/prior.hpp"
#include "simulators/gaussian.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numbers>

using namespace sbi;

namespace {

// A one-parameter Gaussian posterior N(mean, sd²) whatever the observation, with its log-density
// shifted by `log_offset` (0: normalised).
class GaussianKind final : public PosteriorModelBase {
 public:
  GaussianKind(double mean, double sd, double log_offset, PriorPtr prior)
      : PosteriorModelBase(std::move(prior), Names{"y"}, PosteriorInfo{}), mean_(mean), sd_(sd), log_offset_(log_offset) {
    info_.kind = "test_gaussian";
    info_.method = "test";
    info_.has_log_prob = true;
    info_.log_prob_normalized = log_offset == 0;
  }
  RowMatrix sample(const Vector&, Eigen::Index n, std::uint64_t seed) const override {
    Rng rng(seed);
    RowMatrix out(n, 1);
    for (Eigen::Index i = 0; i < n; ++i) out(i, 0) = rng.normal(mean_, sd_);
    return out;
  }
  Vector log_prob(const RowMatrix& theta, const Vector&) const override {
    const auto z = (theta.col(0).array() - mean_) / sd_;
    return (-0.5 * z.square() - std::log(sd_ * std::sqrt(2 * std::numbers::pi)) + log_offset_).matrix();
  }
  nlohmann::json save_state(const std::filesystem::path&, std::vector<std::string>&) const override {
    throw InputError("test_gaussian: not saved");
  }

 private:
  double mean_, sd_, log_offset_;
};

// The uniform density on [low, high] whatever the observation (normalised).
class UniformKind final : public PosteriorModelBase {
 public:
  UniformKind(double low, double high, PriorPtr prior)
      : PosteriorModelBase(std::move(prior), Names{"y"}, PosteriorInfo{}), low_(low), high_(high) {
    info_.kind = "test_uniform";
    info_.method = "test";
    info_.has_log_prob = true;
    info_.log_prob_normalized = true;
  }
  RowMatrix sample(const Vector&, Eigen::Index n, std::uint64_t seed) const override {
    Rng rng(seed);
    RowMatrix out(n, 1);
    for (Eigen::Index i = 0; i < n; ++i) out(i, 0) = low_ + (high_ - low_) * rng.uniform();
    return out;
  }
  Vector log_prob(const RowMatrix& theta, const Vector&) const override {
    Vector out(theta.rows());
    for (Eigen::Index i = 0; i < theta.rows(); ++i)
      out[i] = theta(i, 0) >= low_ && theta(i, 0) <= high_ ? -std::log(high_ - low_) : -std::numeric_limits<double>::infinity();
    return out;
  }
  nlohmann::json save_state(const std::filesystem::path&, std::vector<std::string>&) const override {
    throw InputError("test_uniform: not saved");
  }

 private:
  double low_, high_;
};

Posterior gaussian(double mean, double sd, double log_offset = 0) {
  simulators::GaussianLinearOptions one;
  one.dim = 1;
  return Posterior(std::make_shared<GaussianKind>(mean, sd, log_offset, simulators::gaussian_linear_prior(one)));
}

}  // namespace

// Proposal q = N(0, 1), target p = N(1, 0.5²) known up to a constant (e³). The weights w = p/q have
// E_q[w²] = ∫ p²/q = 2.675 (the exponent −4(θ−1)² + θ²/2 = −3.5(θ − 8/7)² + 4/7), so Kish's ESS over
// all 256,000 weights is 1/2.675 = 0.374 of them, up to noise well below 0.01. With K = 64 proposals
// per draw the draws' law is q·w·E[K/(w + Σ others)] ≈ p·(1 − (w − 1)/K): the mean moves by about
// −Cov_p(θ, w)/K ≈ −0.5/64 (w grows with θ over p's mass, sd(w) ≈ 1.5), under 0.01, and the sd
// by as little; 4000 draws add 0.5/√4000 = 0.008 of noise to the mean and 0.006 to the sd. So the mean
// lies within 0.05 of 1 and the sd within 0.05 of 0.5, where the proposal's are 0 and 1.
TEST_CASE("importance resampling corrects a proposal to its unnormalised target", "[models][posterior]") {
  const Posterior proposal = gaussian(0, 1), target = gaussian(1, 0.5, 3.0);
  const Vector y = Vector::Zero(1);
  PosteriorInfo info;
  info.method = "test";
  const Posterior resampled(std::make_shared<models::ImportanceResampledPosterior>(proposal, target, 64, info));
  CHECK(resampled.kind() == "importance_resampled");
  CHECK(resampled.info().has_log_prob);
  CHECK_FALSE(resampled.info().log_prob_normalized);
  CHECK(resampled.diagnostics()["last_sample"].is_null());

  const RowMatrix draws = resampled.sample(y, 4000, 7);
  REQUIRE(draws.rows() == 4000);
  REQUIRE(draws.allFinite());
  const double mean = draws.col(0).mean();
  const double sd = std::sqrt((draws.col(0).array() - mean).square().mean());
  INFO("mean " << mean << ", sd " << sd);
  CHECK(std::abs(mean - 1) < 0.05);
  CHECK(std::abs(sd - 0.5) < 0.05);
  const auto report = resampled.diagnostics()["last_sample"];
  INFO(report.dump());
  CHECK(report["proposals"] == 4000 * 64);
  CHECK(report["ess_fraction"].get<double>() == Approx(1 / 2.675).margin(0.02));
  CHECK(report["groups_without_weight"] == 0);
  CHECK(report["mean_group_ess_fraction"].get<double>() > 0.3);

  // The target's density, as it is (unnormalised).
  CHECK((resampled.log_prob(draws, y).array() == target.log_prob(draws, y).array()).all());
  // The same seed, the same bits, over whole and partial blocks; another seed, other draws.
  const RowMatrix again = resampled.sample(y, 2500, 11);
  CHECK((resampled.sample(y, 2500, 11).array() == again.array()).all());
  CHECK((resampled.sample(y, 2500, 12).array() != again.array()).any());
  // Each block draws its own proposals: a prefix is the start of a longer sample.
  CHECK((again.topRows(1000).array() == resampled.sample(y, 1000, 11).array()).all());
}

// A target piled against the edge of a bounded prior: N(0.9, 0.2²) on the prior's [−1, 1], known up
// to a constant, from a uniform proposal with K = 2. Its law is the normal truncated at β = (1 − 0.9)/0.2
// = 0.5: mean 0.9 − 0.2·φ(β)/Φ(β) = 0.7982, sd 0.2·√(1 − βφ/Φ − (φ/Φ)²) = 0.1395. SIR with two
// proposals stays near the proposal (a 400,000-draw simulation of the scheme, NumPy: mean 0.329, sd
// 0.468). Each move is a slice-sampling sweep that leaves the target invariant in the prior's
// unconstrained (logit) space; 20 of them leave a bias far below the tolerance (a one-dimensional
// unimodal slice chain forgets its start within a few sweeps), so the moved draws' mean and sd lie
// within 0.01 of the target's (4000 independent chains: noise 0.0022 on the mean, 0.0016 on the sd).
TEST_CASE("importance resampling with slice moves reaches a target piled against the prior's edge", "[models][posterior]") {
  const PriorPtr prior = std::make_shared<UniformPrior>(Vector::Constant(1, -1.0), Vector::Constant(1, 1.0), Names{"theta"});
  const Posterior proposal(std::make_shared<UniformKind>(-1, 1, prior));
  const Posterior target(std::make_shared<GaussianKind>(0.9, 0.2, 2.0, prior));
  const Vector y = Vector::Zero(1);
  PosteriorInfo info;
  info.method = "test";
  auto mean_and_sd = [](const RowMatrix& draws) {
    const double mean = draws.col(0).mean();
    return std::pair{mean, std::sqrt((draws.col(0).array() - mean).square().mean())};
  };
  const Posterior resampled(std::make_shared<models::ImportanceResampledPosterior>(proposal, target, 2, info));
  const auto [sir_mean, sir_sd] = mean_and_sd(resampled.sample(y, 4000, 5));
  INFO("SIR alone: mean " << sir_mean << ", sd " << sir_sd);
  CHECK(sir_mean < 0.5);
  CHECK(resampled.diagnostics()["last_sample"]["move_evaluations_per_draw"] == 0.0);

  const Posterior moved(std::make_shared<models::ImportanceResampledPosterior>(proposal, target, 2, info, 20));
  const RowMatrix draws = moved.sample(y, 4000, 5);
  REQUIRE(draws.allFinite());
  CHECK((draws.array() > -1).all());
  CHECK((draws.array() < 1).all());
  const auto [mean, sd] = mean_and_sd(draws);
  INFO("moved: mean " << mean << ", sd " << sd);
  CHECK(std::abs(mean - 0.7982) < 0.01);
  CHECK(std::abs(sd - 0.1395) < 0.01);
  const auto report = moved.diagnostics()["last_sample"];
  CHECK(report["moves"] == 20);
  CHECK(report["move_evaluations_per_draw"].get<double>() > 20);
  // The moves' streams are the block's: the same bits again, and a prefix is the start of a longer sample.
  CHECK((moved.sample(y, 4000, 5).array() == draws.array()).all());
  CHECK((moved.sample(y, 1500, 5).array() == draws.topRows(1500).array()).all());
  CHECK_THROWS_WITH(models::ImportanceResampledPosterior(proposal, target, 2, info, -1), Catch::Contains("moves per draw must be in [0, 1000]"));
  CHECK_THROWS_WITH(models::ImportanceResampledPosterior(proposal, target, 2, info, 1001), Catch::Contains("moves per draw must be in [0, 1000]"));
}

// sample_watched: the same draws as sample, progress in draws ending at n, and a stop set beforehand
// interrupts with nothing kept.
TEST_CASE("importance resampling reports progress and can be stopped", "[models][posterior]") {
  const Posterior proposal = gaussian(0, 1), target = gaussian(1, 0.5, 3.0);
  const Vector y = Vector::Zero(1);
  PosteriorInfo info;
  info.method = "test";
  const Posterior resampled(std::make_shared<models::ImportanceResampledPosterior>(proposal, target, 8, info, 1));
  std::vector<std::size_t> done;
  TrainingCallbacks callbacks;
  callbacks.on_progress = [&](const TrainingProgress& p) {
    CHECK(p.total == 2500);
    CHECK(p.unit == "draw");
    done.push_back(p.done);
  };
  const RowMatrix watched = resampled.sample(y, 2500, 3, callbacks);
  CHECK((watched.array() == resampled.sample(y, 2500, 3).array()).all());
  REQUIRE_FALSE(done.empty());
  CHECK(done.back() == 2500);
  CHECK(std::is_sorted(done.begin(), done.end()));
  std::atomic<bool> stop{true};
  callbacks.stop = &stop;
  CHECK_THROWS_AS(resampled.sample(y, 2500, 3, callbacks), Interrupted);
}

TEST_CASE("importance resampling refuses a proposal without a normalised density, and too few proposals", "[models][posterior]") {
  PosteriorInfo info;
  info.method = "test";
  const Posterior proposal = gaussian(0, 1), target = gaussian(1, 0.5, 3.0);
  CHECK_THROWS_WITH(models::ImportanceResampledPosterior(target, proposal, 8, info), Catch::Contains("exact, normalised density"));
  CHECK_THROWS_WITH(models::ImportanceResampledPosterior(proposal, target, 1, info), Catch::Contains("in [2, 4096]"));
  CHECK_THROWS_WITH(models::ImportanceResampledPosterior(proposal, Posterior(), 8, info), Catch::Contains("no target"));
}
