// The samplers on targets with known moments, reproducibility for any thread count and blocking,
// batching of target calls, and errors.
#include "sbi/mcmc/mcmc.hpp"

#include "sbi/core/error.hpp"
#include "tests/sbi/mcmc/targets.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numbers>
#include <thread>
#include <utility>
#include <vector>

using namespace sbi;
using namespace sbi::test;

namespace {

Vector column_means(const RowMatrix& x) { return x.colwise().mean().transpose(); }

Matrix covariance(const RowMatrix& x) {
  const RowMatrix centred = x.rowwise() - x.colwise().mean();
  return centred.transpose() * centred / static_cast<double>(x.rows() - 1);
}

// The ESS of a function of the draws, f applied to each row of the chain-major draws.
template <class F>
double ess_of(const McmcResult& r, const F& f) {
  Matrix x(r.chains, r.draws_per_chain);
  for (Eigen::Index c = 0; c < r.chains; ++c)
    for (Eigen::Index t = 0; t < r.draws_per_chain; ++t) x(c, t) = f(r.draws.row(c * r.draws_per_chain + t));
  return split_ess(x);
}

// Checks the mean and covariance of all kept draws against the truth within 4.5 Monte Carlo
// standard errors: se(mean_i) = σ_i/√ESS_i with the ESS of x_i, se(Σ̂_ij) = √((Σ_ii Σ_jj + Σ_ij²)/ESS_ij)
// (the variance of a Gaussian sample covariance) with the ESS of (x_i − m_i)(x_j − m_j). With d = 4:
// 4 + 10 checks, each failing with probability 7·10⁻⁶ when the sampler is right.
void check_gaussian_moments(const McmcResult& r, const Vector& mean, const Matrix& cov) {
  REQUIRE(r.diagnostics.min_ess_bulk() > 500);
  const Vector m = column_means(r.draws);
  const Matrix c = covariance(r.draws);
  for (Eigen::Index i = 0; i < mean.size(); ++i) {
    const double ess = ess_of(r, [i](const auto& row) { return row[i]; });
    INFO("coordinate " << i << ", ESS " << ess);
    CHECK(std::abs(m[i] - mean[i]) < 4.5 * std::sqrt(cov(i, i) / ess));
    for (Eigen::Index j = 0; j <= i; ++j) {
      const double ess_ij = ess_of(r, [&](const auto& row) { return (row[i] - m[i]) * (row[j] - m[j]); });
      INFO("covariance " << i << "," << j << ", ESS " << ess_ij);
      CHECK(std::abs(c(i, j) - cov(i, j)) < 4.5 * std::sqrt((cov(i, i) * cov(j, j) + cov(i, j) * cov(i, j)) / ess_ij));
    }
  }
}

McmcOptions options_with(McmcOptions::Sampler sampler, McmcOptions::SliceDirections directions = McmcOptions::SliceDirections::factor) {
  McmcOptions o;
  o.sampler = sampler;
  o.slice_directions = directions;
  return o;
}

}  // namespace

TEST_CASE("slice sampling recovers a correlated Gaussian along every kind of direction", "[mcmc][slice]") {
  const Vector mean = Vector::LinSpaced(4, -1.0, 2.0);
  const Matrix cov = correlated_covariance(4, 0.8);
  const McmcTarget target = gaussian_target(mean, cov);
  for (auto directions : {McmcOptions::SliceDirections::factor, McmcOptions::SliceDirections::random,
                          McmcOptions::SliceDirections::coordinate}) {
    INFO(to_string(directions));
    const McmcResult r = run_mcmc(target, wide_normal(3.0), 10000, 1, options_with(McmcOptions::Sampler::slice, directions));
    CHECK(r.samples.rows() == 10000);
    CHECK(r.diagnostics.max_rhat() < 1.01);
    check_gaussian_moments(r, mean, cov);
    // Stepping out and shrinking cost a few evaluations per update, whatever the direction.
    CHECK(r.statistics.slice_evaluations_per_update > 2);
    CHECK(r.statistics.slice_evaluations_per_update < 10);
  }
}

TEST_CASE("HMC recovers a correlated Gaussian and adapts its step size", "[mcmc][hmc]") {
  const Vector mean = Vector::LinSpaced(4, -1.0, 2.0);
  const Matrix cov = correlated_covariance(4, 0.8);
  McmcOptions o = options_with(McmcOptions::Sampler::hmc);
  const McmcResult r = run_mcmc(gaussian_target(mean, cov), wide_normal(3.0), 10000, 2, o);
  CHECK(r.diagnostics.max_rhat() < 1.01);
  check_gaussian_moments(r, mean, cov);
  // Dual averaging aims at 0.8; with a well-fitted metric the averaged step lands above it.
  CHECK(r.statistics.acceptance_rate > 0.7);
  CHECK(r.statistics.divergences == 0);
  CHECK(r.statistics.step_size > 0.1);
}

// x1 ~ N(0, 1), x2 | x1 ~ N(x1² − 1, 0.5²): E x2 = 0, Var x2 = Var(x1²) + 0.25 = 2.25.
TEST_CASE("slice sampling recovers the moments of a banana-shaped target", "[mcmc][slice]") {
  const McmcTarget banana = make_mcmc_target(2, [](const RowMatrix& x, Eigen::Ref<Vector> lp) {
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      const double x1 = x(r, 0), z = (x(r, 1) - (x1 * x1 - 1.0)) / 0.5;
      lp[r] = -0.5 * x1 * x1 - 0.5 * z * z;
    }
  });
  const McmcResult r = run_mcmc(banana, wide_normal(2.0), 20000, 3, McmcOptions{});
  INFO(r.full_report());
  REQUIRE(r.diagnostics.min_ess_bulk() > 500);
  CHECK(r.diagnostics.max_rhat() < 1.01);
  const Vector m = column_means(r.draws);
  const Matrix c = covariance(r.draws);
  // 4.5 Monte Carlo standard errors, each with the ESS of the quantity averaged.
  CHECK(std::abs(m[0]) < 4.5 * std::sqrt(1.0 / ess_of(r, [](const auto& x) { return x[0]; })));
  CHECK(std::abs(m[1]) < 4.5 * std::sqrt(2.25 / ess_of(r, [](const auto& x) { return x[1]; })));
  // Var of a sample variance ≈ (μ4 − σ⁴)/n: x1 Gaussian (μ4 − σ⁴ = 2); for x2 the fourth central
  // moment of x1² − 1 + 0.5 ε is 60 + 6·2·0.25 + 3·0.0625 ≈ 63.2, so (63.2 − 2.25²)/n.
  CHECK(std::abs(c(0, 0) - 1.0) < 4.5 * std::sqrt(2.0 / ess_of(r, [&](const auto& x) { return (x[0] - m[0]) * (x[0] - m[0]); })));
  CHECK(std::abs(c(1, 1) - 2.25) <
        4.5 * std::sqrt((63.2 - 2.25 * 2.25) / ess_of(r, [&](const auto& x) { return (x[1] - m[1]) * (x[1] - m[1]); })));
}

// 0.3 N((−4, −4), I) + 0.7 N((4, 4), 0.5² I): separated by a valley no local move crosses.
TEST_CASE("mode jumps move chains between separated modes in the right proportions, without them R-hat flags stuck chains",
          "[mcmc][slice][jumps]") {
  const McmcTarget bimodal = make_mcmc_target(2, [](const RowMatrix& x, Eigen::Ref<Vector> lp) {
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      const double a = std::log(0.3) - 0.5 * ((x(r, 0) + 4) * (x(r, 0) + 4) + (x(r, 1) + 4) * (x(r, 1) + 4)) - std::log(2 * std::numbers::pi);
      const double b = std::log(0.7) - 2.0 * ((x(r, 0) - 4) * (x(r, 0) - 4) + (x(r, 1) - 4) * (x(r, 1) - 4)) - std::log(2 * std::numbers::pi * 0.25);
      lp[r] = std::max(a, b) + std::log1p(std::exp(std::min(a, b) - std::max(a, b)));
    }
  });
  McmcOptions o;
  o.init = McmcOptions::Init::prior;  // chains start in both modes
  o.chains = 20;
  const McmcResult with_jumps = run_mcmc(bimodal, wide_normal(4.0), 10000, 4, o);
  INFO(with_jumps.full_report());
  CHECK(with_jumps.statistics.jumps_accepted > 1000);
  CHECK(with_jumps.diagnostics.max_rhat() < 1.01);
  // The share in the first mode: ESS of the indicator from the chains (split, as the diagnostics).
  Matrix in_first(with_jumps.chains, with_jumps.draws_per_chain);
  const Matrix x0 = chains_of(with_jumps, 0);
  in_first = (x0.array() < 0).cast<double>().matrix();
  const double share = in_first.mean(), ess = split_ess(in_first);
  CHECK(std::abs(share - 0.3) < 4.5 * std::sqrt(0.21 / ess));

  o.jumps_per_iteration = 0;
  const McmcResult stuck = run_mcmc(bimodal, wide_normal(4.0), 10000, 4, o);
  CHECK(stuck.statistics.jumps_proposed == 0);
  // Every chain stays in the mode it reached first, and both modes have chains.
  const Matrix stuck_x0 = chains_of(stuck, 0);
  int in_first_mode = 0;
  for (Eigen::Index c = 0; c < stuck.chains; ++c) {
    const bool first = stuck_x0(c, 0) < 0;
    in_first_mode += first;
    CHECK((first ? (stuck_x0.row(c).array() < 0).all() : (stuck_x0.row(c).array() > 0).all()));
  }
  REQUIRE(in_first_mode > 0);
  REQUIRE(in_first_mode < stuck.chains);
  // On the rank-normalised scale, k of M chains in one mode give between-chain variance p(1 − p)Δz²
  // (p = k/M, Δz the gap between the groups' mean normal scores, above 2 for any p in [1/20, 19/20])
  // against a within-chain variance below 0.8: R̂² > 1 + 0.0475·4/0.8, R̂ > 1.1.
  CHECK(stuck.diagnostics.max_rhat() > 1.1);
}

TEST_CASE("the same seed gives the same bits for any thread count and any grouping of chains into calls", "[mcmc][reproducibility]") {
  const Vector mean = Vector::LinSpaced(3, -1.0, 1.0);
  const McmcTarget target = gaussian_target(mean, correlated_covariance(3, 0.5));
  for (auto sampler : {McmcOptions::Sampler::slice, McmcOptions::Sampler::hmc}) {
    INFO(to_string(sampler));
    McmcOptions o = options_with(sampler);
    o.chains = 12;
    o.warmup = 60;
    o.threads = 1;
    const McmcResult reference = run_mcmc(target, wide_normal(2.0), 1200, 9, o);
    for (int threads : {2, 3}) {
      o.threads = threads;
      for (std::size_t blocks : {std::size_t{1}, std::size_t{3}, std::size_t{12}}) {
        o.chain_blocks = blocks;
        const McmcResult r = run_mcmc(target, wide_normal(2.0), 1200, 9, o);
        INFO("threads " << threads << ", chain blocks " << blocks);
        CHECK(r.draws == reference.draws);
        CHECK(r.samples == reference.samples);
        CHECK(r.log_density == reference.log_density);
        CHECK(r.statistics.evaluations == reference.statistics.evaluations);
        CHECK(r.statistics.jumps_accepted == reference.statistics.jumps_accepted);
      }
    }
    const McmcResult other = run_mcmc(target, wide_normal(2.0), 1200, 10, o);
    CHECK(other.samples != reference.samples);
  }
}

TEST_CASE("progress counts every chain iteration, on the calling thread, and does not change the draws", "[mcmc][progress]") {
  const McmcTarget target = gaussian_target(Vector::Zero(2), Matrix::Identity(2, 2));
  McmcOptions o;
  o.chains = 8;
  o.exploration_chains = 12;
  o.warmup = 100;
  o.threads = 2;
  const McmcResult plain = run_mcmc(target, wide_normal(2.0), 800, 3, o);
  std::vector<std::pair<std::size_t, std::size_t>> reports;
  const auto caller = std::this_thread::get_id();
  bool other_thread = false;
  o.on_progress = [&](std::size_t done, std::size_t total) {
    other_thread = other_thread || std::this_thread::get_id() != caller;
    reports.emplace_back(done, total);
  };
  const McmcResult watched = run_mcmc(target, wide_normal(2.0), 800, 3, o);
  CHECK(watched.draws == plain.draws);
  CHECK_FALSE(other_thread);
  // 12 exploring chains to the jump phase at iteration 50, then 8 chains to 100 + 800/8 = 200.
  const std::size_t due = 12 * 50 + 8 * (200 - 50);
  REQUIRE(reports.size() >= 2);  // at least the end of each phase, and timed reports between on a slow machine
  CHECK(std::find(reports.begin(), reports.end(), std::pair<std::size_t, std::size_t>{12 * 50, due}) != reports.end());
  CHECK(reports.back() == std::pair<std::size_t, std::size_t>{due, due});
  for (std::size_t i = 1; i < reports.size(); ++i) {
    CHECK(reports[i].first >= reports[i - 1].first);
    CHECK(reports[i].second == due);
  }
}

TEST_CASE("a stop request ends the chains with sbi::Interrupted", "[mcmc][interrupt]") {
  std::atomic<long> calls{0};
  const McmcTarget inner = gaussian_target(Vector::Zero(2), Matrix::Identity(2, 2));
  McmcTarget counting = inner;
  counting.log_density = [&](const RowMatrix& x, Eigen::Ref<Vector> lp) {
    ++calls;
    inner.log_density(x, lp);
  };
  std::atomic<bool> stop{true};
  McmcOptions o;
  o.chains = 8;
  o.warmup = 100;
  o.threads = 2;
  o.stop = &stop;
  o.init = McmcOptions::Init::prior;
  // Asked before the start: no chain step is taken.
  CHECK_THROWS_AS(run_mcmc(counting, wide_normal(2.0), 800, 3, o), Interrupted);
  o.init = McmcOptions::Init::sir;
  o.init_candidates = 500;
  calls = 0;
  CHECK_THROWS_WITH(run_mcmc(counting, wide_normal(2.0), 800, 3, o), Catch::Contains("while weighting the starting candidates"));
  CHECK(calls == (500 + 255) / 256);  // the candidates' calls only
  // Asked from a progress report (40 exploring chains to iteration 50, 8 on to 200): the chains stop at their next step.
  stop = false;
  o.on_progress = [&](std::size_t done, std::size_t total) {
    if (done < total) stop = true;
  };
  try {
    run_mcmc(counting, wide_normal(2.0), 800, 3, o);
    FAIL("run_mcmc finished although a stop was requested");
  } catch (const Interrupted& e) {
    CHECK_THAT(e.what(), Catch::Contains("stopped on request") && Catch::Contains("of 3200 chain iterations done"));
  }
}

TEST_CASE("chains share target calls: many rows per call, never an empty call", "[mcmc][batching]") {
  std::atomic<long> calls{0}, rows{0}, empty{0}, largest{0};
  const McmcTarget inner = gaussian_target(Vector::Zero(2), Matrix::Identity(2, 2));
  McmcTarget counting = inner;
  counting.log_density = [&](const RowMatrix& x, Eigen::Ref<Vector> lp) {
    ++calls;
    rows += x.rows();
    if (x.rows() == 0) ++empty;
    long seen = largest.load();
    while (x.rows() > seen && !largest.compare_exchange_weak(seen, x.rows())) {}
    inner.log_density(x, lp);
  };
  McmcOptions o;
  o.chains = 16;
  o.chain_blocks = 2;
  o.init_candidates = 1000;
  const McmcResult r = run_mcmc(counting, wide_normal(2.0), 4000, 5, o);
  CHECK(empty == 0);
  CHECK(static_cast<std::uint64_t>(rows.load()) == r.statistics.evaluations);
  CHECK(static_cast<std::uint64_t>(calls.load()) == r.statistics.target_calls);
  // SIR candidates and the draws weighting the jump mixture go in calls of at most 256 rows; chain
  // steps ask for up to 8 chains × 5 jumps at once.
  CHECK(largest <= 256);
  // 16 draws for the component of each exploring chain.
  const std::uint64_t mixture_rows = 16 * o.resolved_exploration_chains();
  CHECK(r.statistics.mixture_evaluations == mixture_rows);
  const std::uint64_t other_calls = (1000 + 255) / 256 + (mixture_rows + 255) / 256;
  const double rows_per_chain_call =
      static_cast<double>(r.statistics.evaluations - r.statistics.init_evaluations - r.statistics.mixture_evaluations) /
      static_cast<double>(r.statistics.target_calls - other_calls);
  CHECK(rows_per_chain_call > 8);
}

TEST_CASE("thinning keeps one iteration in thin and makes the kept draws less correlated", "[mcmc][slice]") {
  const McmcTarget target = gaussian_target(Vector::Zero(3), correlated_covariance(3, 0.95));
  McmcOptions o = options_with(McmcOptions::Sampler::slice, McmcOptions::SliceDirections::coordinate);
  o.jumps_per_iteration = 0;
  const McmcResult plain = run_mcmc(target, wide_normal(2.0), 4000, 6, o);
  o.thin = 5;
  const McmcResult thinned = run_mcmc(target, wide_normal(2.0), 4000, 6, o);
  CHECK(thinned.samples.rows() == 4000);
  CHECK(thinned.draws_per_chain == plain.draws_per_chain);
  // Coordinate-wise slice sampling of a 0.95-correlated Gaussian mixes slowly: five times as many
  // iterations between kept draws give clearly more effective draws.
  CHECK(thinned.diagnostics.min_ess_bulk() > 2 * plain.diagnostics.min_ess_bulk());
  // 200 warm-up + 5 × 200 iterations per chain against 200 + 200: three times the work.
  CHECK(thinned.statistics.evaluations > 2.5 * plain.statistics.evaluations);
}

TEST_CASE("sample count, ordering and the result's JSON", "[mcmc]") {
  const McmcTarget target = gaussian_target(Vector::Zero(2), Matrix::Identity(2, 2));
  McmcOptions o;
  o.chains = 7;
  const McmcResult r = run_mcmc(target, wide_normal(2.0), 1001, 1, o);
  CHECK(r.samples.rows() == 1001);
  CHECK(r.draws_per_chain == 143);  // ceil(1001 / 7)
  CHECK(r.draws.rows() == 7 * 143);
  // Sample k is draw k / 7 of chain k % 7.
  CHECK(r.samples.row(0) == r.draws.row(0));
  CHECK(r.samples.row(1) == r.draws.row(143));
  CHECK(r.samples.row(7) == r.draws.row(1));
  CHECK(r.samples.row(1000) == r.draws.row(6 * 143 + 142));
  const nlohmann::json j = r.to_json();
  CHECK(j["samples"] == 1001);
  CHECK(j["options"]["chains"] == 7);
  CHECK(j["diagnostics"]["rhat"].size() == 2);
  CHECK(j["statistics"]["evaluations"] == r.statistics.evaluations);
  const McmcStatistics s = McmcStatistics::from_json(j["statistics"]);
  CHECK(s.evaluations == r.statistics.evaluations);
  CHECK(s.jumps_accepted == r.statistics.jumps_accepted);
  CHECK_THAT(r.brief_report(), Catch::Contains("slice/factor: 1001 samples, 7 chains x 143 draws; R-hat max"));
  CHECK(r.brief_report().find("chains x", r.brief_report().find("chains x") + 1) == std::string::npos);  // said once
  CHECK_THAT(r.full_report(), Catch::Contains("mode jumps"));
}

TEST_CASE("the target's NaN means outside the support, the samplers stay inside", "[mcmc]") {
  // A half-normal: log-density NaN for x < 0.
  const McmcTarget half = make_mcmc_target(1, [](const RowMatrix& x, Eigen::Ref<Vector> lp) {
    for (Eigen::Index r = 0; r < x.rows(); ++r) lp[r] = x(r, 0) >= 0 ? -0.5 * x(r, 0) * x(r, 0) : std::numeric_limits<double>::quiet_NaN();
  });
  McmcOptions o;
  o.init = McmcOptions::Init::prior;
  const McmcResult r = run_mcmc(half, wide_normal(1.0), 5000, 2, o);
  CHECK(r.samples.minCoeff() >= 0);
  // E|z| = √(2/π) for the half-normal, sd √(1 − 2/π).
  CHECK(std::abs(r.samples.mean() - std::sqrt(2 / std::numbers::pi)) < 4.5 * std::sqrt((1 - 2 / std::numbers::pi) / r.diagnostics.min_ess_bulk()));
}

TEST_CASE("run_mcmc refuses what it cannot run", "[mcmc]") {
  const McmcTarget gaussian = gaussian_target(Vector::Zero(2), Matrix::Identity(2, 2));
  const McmcTarget no_gradient = make_mcmc_target(2, gaussian.log_density);
  CHECK_THROWS_WITH(run_mcmc(no_gradient, wide_normal(1.0), 100, 1, options_with(McmcOptions::Sampler::hmc)),
                    Catch::Contains("hmc") && Catch::Contains("gradient"));
  McmcInitialDistribution no_density = wide_normal(1.0);
  no_density.log_density = nullptr;
  CHECK_THROWS_WITH(run_mcmc(gaussian, no_density, 100, 1, McmcOptions{}), Catch::Contains("sir"));
  CHECK_THROWS_WITH(run_mcmc(gaussian, wide_normal(1.0), 0, 1, McmcOptions{}), Catch::Contains("at least 1"));
  McmcOptions bad;
  bad.chains = 0;
  CHECK_THROWS_WITH(run_mcmc(gaussian, wide_normal(1.0), 100, 1, bad), Catch::Contains("chains"));

  const McmcTarget nowhere = make_mcmc_target(2, [](const RowMatrix&, Eigen::Ref<Vector> lp) { lp.setConstant(-INFINITY); });
  CHECK_THROWS_WITH(run_mcmc(nowhere, wide_normal(1.0), 100, 1, McmcOptions{}), Catch::Contains("SIR candidates"));
  McmcOptions from_prior;
  from_prior.init = McmcOptions::Init::prior;
  CHECK_THROWS_WITH(run_mcmc(nowhere, wide_normal(1.0), 100, 1, from_prior), Catch::Contains("initial draws"));

  const McmcTarget infinite = make_mcmc_target(2, [](const RowMatrix&, Eigen::Ref<Vector> lp) { lp.setConstant(INFINITY); });
  CHECK_THROWS_WITH(run_mcmc(infinite, wide_normal(1.0), 100, 1, McmcOptions{}), Catch::Contains("+inf"));
}

// Slice moves from given points (resample-move's move). Target N(0, Σ), Σ = [[1, 0.8], [0.8, 1]]; all
// 2000 rows start at (3, 3), 3 standard deviations out. A coordinate sweep of exact conditional
// draws (Gibbs) would shrink the mean's offset by ρ² = 0.64 per sweep; slice updates are not exact
// conditional draws but mix at a similar rate on a Gaussian, so after 60 sweeps the start's trace
// (3·0.64⁶⁰ ≈ 10⁻¹¹ under Gibbs) is far below the noise of 2000 independent chains: 0.022 on a mean,
// 0.032 on a variance. Checked within 0.1 and 0.15 (about 4.5 standard errors). A row whose value is
// −∞ stays put; the same seed gives the same bits, and the values returned are the target's.
TEST_CASE("slice moves from given points reach the target and stay reproducible", "[mcmc][slice]") {
  Matrix cov(2, 2);
  cov << 1, 0.8, 0.8, 1;
  const McmcTarget target = gaussian_target(Vector::Zero(2), cov);
  const Eigen::Index rows = 2000;
  RowMatrix x = RowMatrix::Constant(rows, 2, 3.0);
  Vector lp(rows);
  target.log_density(x, lp);
  lp[rows - 1] = -std::numeric_limits<double>::infinity();
  RowMatrix again = x;
  Vector lp_again = lp;
  const Vector widths = Vector::Ones(2);
  const std::uint64_t evaluations = move_by_slice_sampling(target, x, lp, 60, widths, 4);
  CHECK(evaluations > static_cast<std::uint64_t>(60 * 2 * (rows - 1)));
  CHECK((x.row(rows - 1).array() == 3.0).all());
  const RowMatrix moved = x.topRows(rows - 1);
  const Vector m = column_means(moved);
  const Matrix c = covariance(moved);
  INFO("mean " << m.transpose() << ", covariance " << c);
  CHECK(m.cwiseAbs().maxCoeff() < 0.1);
  CHECK(std::abs(c(0, 0) - 1) < 0.15);
  CHECK(std::abs(c(1, 1) - 1) < 0.15);
  CHECK(std::abs(c(0, 1) - 0.8) < 0.15);
  Vector check(rows - 1);
  target.log_density(moved, check);
  CHECK((check - lp.head(rows - 1)).cwiseAbs().maxCoeff() < 1e-12);
  move_by_slice_sampling(target, again, lp_again, 60, widths, 4);
  CHECK((again.array() == x.array()).all());
  CHECK_THROWS_WITH(move_by_slice_sampling(target, again, lp_again, 0, widths, 4), Catch::Contains("iterations must be between 1 and 100000"));
  CHECK_THROWS_WITH(move_by_slice_sampling(target, again, lp_again, 5, Vector::Ones(3), 4), Catch::Contains("2 positive numbers"));
  CHECK_THROWS_WITH(move_by_slice_sampling(target, again, lp_again, 5, Vector::Zero(2), 4), Catch::Contains("2 positive numbers"));
}
