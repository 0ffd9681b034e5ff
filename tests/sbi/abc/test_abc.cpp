// ABC on sbibm's gaussian_linear model: θ ~ N(0, 0.1 I_d), y ~ N(θ, 0.1 I_d), whose posterior is
// N(y_o / 2, 0.05 I_d) (data/sbibm/TASKS.md, task 3).
#include "sbi/abc/rejection.hpp"
#include "sbi/abc/smc.hpp"

#include "sbi/core/error.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/simulation/table.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <limits>

using namespace sbi;

namespace {

constexpr double kVariance = 0.1;  // prior and noise variance of gaussian_linear

Simulator gaussian_linear(Eigen::Index d, double noise_variance = kVariance) {
  Names theta_names, y_names;
  for (Eigen::Index k = 1; k <= d; ++k) {
    theta_names.push_back("theta_" + std::to_string(k));
    y_names.push_back("y_" + std::to_string(k));
  }
  return make_simulator({.name = "gaussian_linear_test", .parameter_names = theta_names, .data_names = y_names},
                        [noise_variance](ConstRow theta, MutableRow y, Rng& rng) {
                          for (std::size_t k = 0; k < theta.size(); ++k) y[k] = theta[k] + std::sqrt(noise_variance) * rng.normal();
                        });
}

std::shared_ptr<const Prior> gaussian_prior(Eigen::Index d) {
  Names names;
  for (Eigen::Index k = 1; k <= d; ++k) names.push_back("theta_" + std::to_string(k));
  return std::make_shared<NormalPrior>(NormalPrior::diagonal(Vector::Zero(d), Vector::Constant(d, std::sqrt(kVariance)), names));
}

ReferenceTable simulate(const Simulator& simulator, const Prior& prior, std::size_t n, std::uint64_t seed) {
  ReferenceTable table;
  simulate_from_prior(simulator, prior, n, seed, 0, {}, [&](const SimulationChunk& chunk) { table.append(chunk); });
  return table;
}

struct MeanError {
  double error;           // ‖weighted particle mean − posterior mean‖
  double standard_error;  // √(Σ_j Var_j / ESS): the Monte Carlo part of that error
};

MeanError mean_error(const AbcResult& r, const Vector& posterior_mean) {
  const Vector w = r.weights / r.weights.sum();
  const Vector mean = r.particles.transpose() * w;
  double total_variance = 0;
  for (Eigen::Index c = 0; c < r.particles.cols(); ++c) total_variance += (w.array() * (r.particles.col(c).array() - mean[c]).square()).sum();
  return {(mean - posterior_mean).norm(), std::sqrt(total_variance / r.effective_sample_size())};
}

// Draws of the posterior N(v · y_o / σ², v I), v = 1 / (1 / 0.1 + 1 / σ²), for noise variance σ².
RowMatrix analytic_posterior(const Vector& observation, double noise_variance, Eigen::Index n, std::uint64_t seed) {
  Rng rng(seed);
  const double variance = 1.0 / (1.0 / kVariance + 1.0 / noise_variance);
  RowMatrix x(n, observation.size());
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < observation.size(); ++j)
      x(i, j) = variance * observation[j] / noise_variance + std::sqrt(variance) * rng.normal();
  return x;
}

}  // namespace

// Why 2-d: the bias of rejection ABC falls like ε², and ε² ∝ quantile only in 2-d (ε ∝ q^{1/d}), so the
// ordering is visible above the Monte Carlo error with a table of 10^6 rows that builds in a second. The
// observation lies 2.9 prior-predictive sds out, where the bias is large. Leading-order bias of the
// ABC mean: ε_raw² · y_o / (2 · 0.2 · (d + 2)) with ε_raw² ≈ q / (π m(y_o)) = 24 q here, i.e. about
// 0.19 at q = 0.01 and 0.02 at q = 0.001 (the higher-order terms shrink it), against Monte Carlo errors
// of about 0.003 and 0.01.
// Each comparison demands a gap of 3 combined standard errors (estimated from the particles).
TEST_CASE("rejection ABC on gaussian_linear: mean error shrinks with the quantile, regression adjustment shrinks it further", "[abc]") {
  const Eigen::Index d = 2;
  const auto prior = gaussian_prior(d);
  const ReferenceTable table = simulate(gaussian_linear(d), *prior, 1000000, 11);
  Vector y_o(2);
  y_o << 1.0, -0.8;
  const Vector truth = y_o / 2;
  auto gap_is_significant = [](const MeanError& larger, const MeanError& smaller) {
    return larger.error - smaller.error > 3 * std::hypot(larger.standard_error, smaller.standard_error);
  };

  RejectionOptions options;
  std::vector<MeanError> errors;
  for (double q : {0.1, 0.01, 0.001}) {
    options.quantile = q;
    const AbcResult r = rejection_abc(table.theta, table.y, y_o, *prior, options);
    CHECK(r.particles.rows() == static_cast<Eigen::Index>(std::llround(q * 1000000)));
    CHECK(r.simulations == 1000000);
    CHECK(r.generations.size() == 1);
    errors.push_back(mean_error(r, truth));
  }
  INFO("errors (se) at q 0.1, 0.01, 0.001: " << errors[0].error << " (" << errors[0].standard_error << "), " << errors[1].error << " ("
       << errors[1].standard_error << "), " << errors[2].error << " (" << errors[2].standard_error << ")");
  CHECK(gap_is_significant(errors[0], errors[1]));
  CHECK(gap_is_significant(errors[1], errors[2]));

  options.quantile = 0.01;
  options.regression = true;
  const AbcResult adjusted = rejection_abc(table.theta, table.y, y_o, *prior, options);
  CHECK(adjusted.method == "rejection+regression");
  const MeanError adjusted_error = mean_error(adjusted, truth);
  INFO("regression at q 0.01: error " << adjusted_error.error << " (se " << adjusted_error.standard_error << ")");
  // Same accepted simulations, bias removed: significantly better than rejection at q = 0.01, and
  // no worse than rejection at q = 0.001 (whose smaller bias costs 10× fewer accepted draws).
  CHECK(gap_is_significant(errors[1], adjusted_error));
  CHECK(adjusted_error.error < errors[2].error + 3 * std::hypot(errors[2].standard_error, adjusted_error.standard_error));
}

TEST_CASE("regression adjustment keeps particles inside a bounded prior's support", "[abc]") {
  // θ ~ U(0, 1)², y = θ + noise: adjusted particles are mapped back through the logit.
  auto prior = std::make_shared<UniformPrior>(Vector::Zero(2), Vector::Ones(2), Names{"a", "b"});
  const Simulator simulator = make_simulator({.name = "uniform_shift", .parameter_names = {"a", "b"}, .data_names = {"y1", "y2"}},
                                             [](ConstRow theta, MutableRow y, Rng& rng) {
                                               for (std::size_t k = 0; k < 2; ++k) y[k] = theta[k] + 0.3 * rng.normal();
                                             });
  const ReferenceTable table = simulate(simulator, *prior, 20000, 5);
  Vector y_o(2);
  y_o << 1.2, -0.1;  // beyond the support's edge: a linear adjustment in θ space would leave it
  RejectionOptions options;
  options.quantile = 0.05;
  options.regression = true;
  const AbcResult r = rejection_abc(table.theta, table.y, y_o, *prior, options);
  for (Eigen::Index i = 0; i < r.particles.rows(); ++i) REQUIRE(prior->in_support(row_span(r.particles, i)));
  const RowMatrix draws = resample_particles(r.particles, r.weights, 5000, *prior);
  for (Eigen::Index i = 0; i < draws.rows(); ++i) REQUIRE(prior->in_support(row_span(draws, i)));
}

TEST_CASE("rejection ABC accepts by keep, epsilon and quantile and rejects bad input", "[abc]") {
  const auto prior = gaussian_prior(2);
  const ReferenceTable table = simulate(gaussian_linear(2), *prior, 1000, 2);
  Vector y_o = Vector::Zero(2);
  RejectionOptions options;
  options.keep = 37;
  AbcResult r = rejection_abc(table.theta, table.y, y_o, *prior, options);
  CHECK(r.particles.rows() == 37);
  for (Eigen::Index i = 1; i < r.distances.size(); ++i) CHECK(r.distances[i - 1] <= r.distances[i]);
  options.keep = 0;
  options.epsilon = r.epsilon;
  const AbcResult by_epsilon = rejection_abc(table.theta, table.y, y_o, *prior, options);
  CHECK(by_epsilon.particles.rows() == 37);
  CHECK(by_epsilon.particles == r.particles);
  options.epsilon = 1e-9;
  CHECK_THROWS_AS(rejection_abc(table.theta, table.y, y_o, *prior, options), InputError);
  options.epsilon = 0;
  options.quantile = 1.5;
  CHECK_THROWS_AS(rejection_abc(table.theta, table.y, y_o, *prior, options), InputError);
  options.quantile = 0.1;
  CHECK_THROWS_AS(rejection_abc(table.theta, table.y, Vector::Zero(3), *prior, options), InputError);
  // A non-finite simulation is never accepted.
  RowMatrix y = table.y;
  y.row(0).setConstant(std::numeric_limits<double>::quiet_NaN());
  const Vector distances = scaled_distances(y, y_o, statistic_scale(y, ScaleKind::mad));
  CHECK(std::isinf(distances[0]));
}

TEST_CASE("SMC-ABC spends exactly its budget and gives the same result at 1 and 2 threads", "[abc]") {
  const auto prior = gaussian_prior(3);
  const Simulator simulator = gaussian_linear(3);
  const Vector y_o = Vector::Constant(3, 0.5);
  for (std::size_t budget : {997u, 2500u}) {
    SmcAbcOptions options;
    options.budget = budget;
    options.seed = 21;
    options.threads = 1;
    std::size_t last_progress = 0;
    SmcAbcCallbacks callbacks;
    callbacks.on_progress = [&](std::size_t used, std::size_t) {
      CHECK(used <= budget);
      last_progress = used;
    };
    const AbcResult one = smc_abc(simulator, *prior, y_o, options, callbacks);
    options.threads = 2;
    const AbcResult two = smc_abc(simulator, *prior, y_o, options);
    CHECK(one.simulations == budget);
    CHECK(last_progress == budget);
    std::size_t per_generation = 0;
    for (const auto& g : one.generations) per_generation += g.simulations;
    CHECK(per_generation == budget);
    CHECK(one.stop_reason == "budget spent");
    CHECK(one.particles == two.particles);
    CHECK(one.weights == two.weights);
    CHECK(one.epsilon == two.epsilon);
    CHECK(std::abs(one.weights.sum() - 1.0) < 1e-12);
    for (std::size_t g = 1; g < one.generations.size(); ++g) CHECK(one.generations[g].epsilon <= one.generations[g - 1].epsilon);
  }
}

TEST_CASE("SMC-ABC stops at a final epsilon or a minimum acceptance rate", "[abc]") {
  const auto prior = gaussian_prior(2);
  const Simulator simulator = gaussian_linear(2);
  const Vector y_o = Vector::Constant(2, 0.3);
  SmcAbcOptions options;
  options.budget = 200000;
  options.population = 200;
  options.final_epsilon = 0.5;
  const AbcResult by_epsilon = smc_abc(simulator, *prior, y_o, options);
  CHECK(by_epsilon.stop_reason == "final epsilon reached");
  CHECK(by_epsilon.epsilon <= 0.5);
  CHECK(by_epsilon.simulations < 200000);
  options.final_epsilon = 0;
  options.min_acceptance_rate = 0.05;
  const AbcResult by_rate = smc_abc(simulator, *prior, y_o, options);
  CHECK(by_rate.stop_reason == "acceptance rate below the minimum");
  CHECK(by_rate.simulations < 200000);
  for (Eigen::Index i = 0; i < by_rate.particles.rows(); ++i) CHECK(std::isfinite(by_rate.weights[i]));
}

// Rejection ABC keeps the 100 nearest of 10^4 simulations (as sbibm); SMC-ABC spends the same 10^4.
// The model is gaussian_linear with a small noise variance σ² = 0.0004, so the posterior (sd 0.02)
// is 16× narrower than the prior per coordinate: the regime where ABC practitioners reach for SMC.
// Rejection then accepts within a few noise sds (its posterior is too wide), while SMC
// moves its proposals into the posterior and shrinks ε. The C2ST values (2000 vs 2000 draws) have a
// binomial standard error of about √(0.25 / 4000) ≈ 0.008 each; the test demands a gap of 0.05,
// more than four combined standard errors.
TEST_CASE("SMC-ABC beats rejection ABC at the same budget on C2ST", "[abc]") {
  const Eigen::Index d = 2;
  const double noise_variance = 0.0004;
  const auto prior = gaussian_prior(d);
  const Simulator simulator = gaussian_linear(d, noise_variance);
  Vector y_o(2);
  y_o << 0.3, -0.2;
  const std::size_t budget = 10000;

  const ReferenceTable table = simulate(simulator, *prior, budget, 3);
  RejectionOptions rejection;
  rejection.keep = 100;
  const AbcResult rej = rejection_abc(table.theta, table.y, y_o, *prior, rejection);
  SmcAbcOptions smc_options;
  smc_options.budget = budget;
  smc_options.seed = 3;
  const AbcResult smc = smc_abc(simulator, *prior, y_o, smc_options);
  CHECK(smc.simulations == budget);
  CHECK(smc.epsilon < rej.epsilon);
  const Eigen::Index n = 2000;
  const RowMatrix reference = analytic_posterior(y_o, noise_variance, n, 99);
  const double c2st_rej = c2st(reference, resample_particles(rej.particles, rej.weights, n, *prior));
  const double c2st_smc = c2st(reference, resample_particles(smc.particles, smc.weights, n, *prior));
  INFO("C2ST rejection " << c2st_rej << " (epsilon " << rej.epsilon << "), SMC " << c2st_smc << "\n" << smc.full_report());
  CHECK(c2st_smc + 0.05 < c2st_rej);
}

TEST_CASE("resampling: multinomial draws reproduce the weights, the KDE stays near the particles", "[abc]") {
  const auto prior = gaussian_prior(1);
  RowMatrix particles(3, 1);
  particles << -0.5, 0.0, 0.5;
  Vector weights(3);
  weights << 0.2, 0.3, 0.5;
  ResampleOptions options;
  options.method = ResampleMethod::multinomial;
  const RowMatrix draws = resample_particles(particles, weights, 10000, *prior, options);
  // Systematic resampling: each count is within one of n · w.
  CHECK(std::abs((draws.array() == 0.5).count() - 5000) <= 1);
  CHECK(std::abs((draws.array() == -0.5).count() - 2000) <= 1);
  options.method = ResampleMethod::kde;
  double bandwidth = 0;
  const RowMatrix smooth = resample_particles(particles, weights, 10000, *prior, options, &bandwidth);
  CHECK(bandwidth > 0);
  // The KDE mean equals the weighted particle mean (0.15) up to its Monte Carlo error:
  // sd ≤ √(Var particles + h² sd²) ≈ 0.5, so 4 standard errors of a mean of 10^4 draws ≈ 0.02.
  CHECK(std::abs(smooth.mean() - 0.15) < 0.02);
  CHECK(resample_particles(particles, weights, 100, *prior, options) == resample_particles(particles, weights, 100, *prior, options));
}

TEST_CASE("SMC-ABC rejects proposals outside the prior's support without simulating them", "[abc]") {
  // θ ~ U(0, 1)², y = θ + N(0, 0.05²): with y_o at a corner, many perturbed proposals leave the square.
  auto prior = std::make_shared<UniformPrior>(Vector::Zero(2), Vector::Ones(2), Names{"a", "b"});
  std::atomic<long> calls{0};
  const Simulator simulator = make_simulator({.name = "uniform_shift", .parameter_names = {"a", "b"}, .data_names = {"y1", "y2"}},
                                             [&calls](ConstRow theta, MutableRow y, Rng& rng) {
                                               ++calls;
                                               for (std::size_t k = 0; k < 2; ++k) y[k] = theta[k] + 0.05 * rng.normal();
                                             });
  Vector y_o(2);
  y_o << 0.98, 0.02;
  SmcAbcOptions options;
  options.budget = 3000;
  const AbcResult r = smc_abc(simulator, *prior, y_o, options);
  std::size_t proposals = 0, simulations = 0;
  for (const auto& g : r.generations) {
    proposals += g.proposals;
    simulations += g.simulations;
  }
  CHECK(simulations == 3000);
  CHECK(static_cast<std::size_t>(calls.load()) == 3000);  // the simulator ran once per counted simulation
  CHECK(proposals > simulations);                          // some proposals fell outside and cost nothing
  for (Eigen::Index i = 0; i < r.particles.rows(); ++i) REQUIRE(prior->in_support(row_span(r.particles, i)));
}
