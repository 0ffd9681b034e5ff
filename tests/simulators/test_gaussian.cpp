#include "simulators/gaussian.hpp"
#include "simulators/registry.hpp"
#include "test_support.hpp"

#include <cmath>

using namespace sbi;
using namespace sbi::simulators;

namespace {

// y − θ over n simulations must have mean 0 and variance `variance` per coordinate (5 standard errors),
// and uncorrelated coordinates.
void check_isotropic_noise(const Simulator& sim, const std::vector<double>& theta, double variance, Eigen::Index n,
                           double fourth_moment) {
  const RowMatrix y = test::simulate_repeated(sim, theta, n);
  const Vector mean = test::column_means(y);
  const Matrix cov = test::column_covariance(y);
  // SE of a sample variance: sqrt((μ4 − σ⁴)/n).
  const double se_var = std::sqrt((fourth_moment - variance * variance) / static_cast<double>(n));
  for (Eigen::Index i = 0; i < y.cols(); ++i) {
    INFO("coordinate " << i);
    CHECK(std::abs(mean[i] - theta[static_cast<std::size_t>(i)]) < 5 * test::se_mean(variance, n));
    CHECK(std::abs(cov(i, i) - variance) < 5 * se_var);
    for (Eigen::Index j = 0; j < i; ++j) CHECK(std::abs(cov(i, j)) < 5 * variance / std::sqrt(static_cast<double>(n)));
  }
}

}  // namespace

TEST_CASE("gaussian_linear: y ~ N(θ, 0.1 I) and prior N(0, 0.1 I)", "[simulators][gaussian]") {
  const auto sim = make_gaussian_linear();
  CHECK(sim.parameter_dim() == 10);
  CHECK(sim.info().data_names == test::read_csv_row("data/sbibm/gaussian_linear/obs_1/observation.csv").header);
  const auto theta = test::read_csv_row("data/sbibm/gaussian_linear/obs_1/true_parameters.csv").values;
  check_isotropic_noise(sim, theta, 0.1, 20000, 3 * 0.01);

  const auto prior = gaussian_linear_prior();
  REQUIRE(prior->dim() == 10);
  std::vector<double> zero(10, 0.0), one(10, 1.0);
  // log N(0; 0, 0.1 I) − log N(1; 0, 0.1 I) = Σ 1 / (2·0.1) = 50.
  CHECK(prior->log_prob(zero) - prior->log_prob(one) == Approx(50.0).epsilon(1e-12));
  CHECK(prior->log_prob(zero) == Approx(-10 * 0.5 * std::log(2 * M_PI * 0.1)).epsilon(1e-12));
}

TEST_CASE("gaussian_linear: dim option", "[simulators][gaussian]") {
  const auto o = GaussianLinearOptions::from_json({{"dim", 3}});
  CHECK(make_gaussian_linear(o).data_dim() == 3);
  CHECK(gaussian_linear_prior(o)->dim() == 3);
  CHECK(make_gaussian_linear_uniform(o).parameter_dim() == 3);
  CHECK_THROWS_WITH(GaussianLinearOptions::from_json({{"dim", 0}}), Catch::StartsWith("simulator.options.dim: expected an integer in [1,"));
  CHECK_THROWS_WITH(GaussianLinearOptions::from_json({{"dim", 2.5}}), Catch::StartsWith("simulator.options.dim: expected an integer"));
  CHECK_THROWS_WITH(GaussianLinearOptions::from_json({{"dims", 2}}), Catch::StartsWith("simulator.options.dims: unknown key"));
}

TEST_CASE("gaussian_linear_uniform: y ~ N(θ, 0.1 I) and prior U(-1, 1)^10", "[simulators][gaussian]") {
  const auto sim = make_gaussian_linear_uniform();
  const auto theta = test::read_csv_row("data/sbibm/gaussian_linear_uniform/obs_1/true_parameters.csv").values;
  check_isotropic_noise(sim, theta, 0.1, 20000, 3 * 0.01);
  const auto prior = gaussian_linear_uniform_prior();
  CHECK(prior->log_prob(std::vector<double>(10, 0.5)) == Approx(-10 * std::log(2.0)));
  CHECK(prior->log_prob(std::vector<double>(10, 1.5)) == -std::numeric_limits<double>::infinity());
}

TEST_CASE("gaussian_mixture: components drawn per simulation, variance ½(1 + 0.01)", "[simulators][gaussian]") {
  const auto sim = make_gaussian_mixture();
  const std::vector<double> theta{-9.5, 3.0};
  const double variance = 0.5 * (1.0 + 0.01);
  const double fourth = 0.5 * 3 * (1.0 + 1e-4);
  const Eigen::Index n = 20000;
  check_isotropic_noise(sim, theta, variance, n, fourth);

  // Both coordinates of one simulation share the component: Cov(e_1², e_2²) = ½(1 + 1e-4) − 0.505².
  // (With one component per batch it would be 0, and the variance would be 1 or 0.01.)
  const RowMatrix y = test::simulate_repeated(sim, theta, n, 99);
  Eigen::ArrayXd e1 = (y.col(0).array() - theta[0]).square();
  Eigen::ArrayXd e2 = (y.col(1).array() - theta[1]).square();
  const double cov = ((e1 - e1.mean()) * (e2 - e2.mean())).sum() / static_cast<double>(n - 1);
  const double expected = 0.5 * (1 + 1e-4) - variance * variance;
  // Var(e_1² e_2²) ≤ E[e_1⁴ e_2⁴] = ½(9 + 9e-8): a generous standard error.
  CHECK(std::abs(cov - expected) < 5 * std::sqrt(4.5 / static_cast<double>(n)));
  CHECK(cov > 0.1);

  const auto prior = gaussian_mixture_prior();
  CHECK(prior->log_prob(theta) == Approx(-2 * std::log(20.0)));
}

TEST_CASE("gaussian tasks: same stream, same output", "[simulators][gaussian]") {
  const std::vector<double> theta10(10, 0.1), theta2{0.5, -0.5};
  for (const auto& sim : {make_gaussian_linear(), make_gaussian_linear_uniform()}) {
    CHECK(sim.simulate_one(theta10, 3) == sim.simulate_one(theta10, 3));
    CHECK(sim.simulate_one(theta10, 3) != sim.simulate_one(theta10, 4));
  }
  const auto mixture = make_gaussian_mixture();
  CHECK(mixture.simulate_one(theta2, 3) == mixture.simulate_one(theta2, 3));
}
