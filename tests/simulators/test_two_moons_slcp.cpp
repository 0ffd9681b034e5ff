#include "simulators/slcp.hpp"
#include "simulators/two_moons.hpp"
#include "test_support.hpp"

#include <cmath>
#include <numbers>

using namespace sbi;
using namespace sbi::simulators;

TEST_CASE("two_moons: undoing the shift leaves a half circle of radius N(0.1, 0.01²)", "[simulators][two_moons]") {
  const auto sim = make_two_moons();
  CHECK(sim.info().data_names == test::read_csv_row("data/sbibm/two_moons/obs_1/observation.csv").header);
  const Eigen::Index n = 20000;
  for (const std::vector<double>& theta : {std::vector<double>{-0.8176656, -0.5756806}, std::vector<double>{0.3, 0.6}}) {
    const RowMatrix y = test::simulate_repeated(sim, theta, n);
    const double s = 1.0 / std::numbers::sqrt2;
    Eigen::ArrayXd radius(n), angle(n);
    double min_u = 1;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double u = y(i, 0) + std::abs(theta[0] + theta[1]) * s - 0.25;
      const double v = y(i, 1) - (theta[1] - theta[0]) * s;
      min_u = std::min(min_u, u);
      radius[i] = std::hypot(u, v);
      angle[i] = std::atan2(v, u);
    }
    const double mean = radius.mean();
    const double sd = std::sqrt((radius - mean).square().sum() / static_cast<double>(n - 1));
    CHECK(min_u >= 0.0);
    CHECK(std::abs(mean - 0.1) < 5 * 0.01 / std::sqrt(static_cast<double>(n)));
    CHECK(std::abs(sd - 0.01) < 5 * 0.01 / std::sqrt(2.0 * static_cast<double>(n)));
    // angle ~ U(−π/2, π/2): mean 0, sd π/√12
    CHECK(std::abs(angle.mean()) < 5 * (std::numbers::pi / std::sqrt(12.0)) / std::sqrt(static_cast<double>(n)));
    CHECK(angle.maxCoeff() <= std::numbers::pi / 2);
    CHECK(angle.minCoeff() >= -std::numbers::pi / 2);
  }
  CHECK(sim.simulate_one(std::vector<double>{0.1, 0.2}, 5) == sim.simulate_one(std::vector<double>{0.1, 0.2}, 5));
  CHECK(two_moons_prior()->log_prob(std::vector<double>{0.0, 0.0}) == Approx(-std::log(4.0)));
}

TEST_CASE("slcp: moments m and Σ as defined by sbibm", "[simulators][slcp]") {
  const std::vector<double> theta{0.5, -1.0, 1.2, -0.8, 0.7};
  const auto [m, c] = slcp_moments(theta);
  CHECK(m[0] == 0.5);
  CHECK(m[1] == -1.0);
  const double s1 = 1.44, s2 = 0.64;
  CHECK(c[0] == Approx(s1 * s1 + 1e-6).epsilon(1e-14));
  CHECK(c[3] == Approx(s2 * s2 + 1e-6).epsilon(1e-14));
  CHECK(c[1] == Approx(std::tanh(0.7) * s1 * s2).epsilon(1e-14));
  CHECK(c[2] == c[1]);
}

TEST_CASE("slcp: the four points are iid N(m, Σ)", "[simulators][slcp]") {
  const auto sim = make_slcp();
  CHECK(sim.info().data_names == test::read_csv_row("data/sbibm/slcp/obs_1/observation.csv").header);
  const Eigen::Index n = 20000;
  for (const auto& theta : {test::read_csv_row("data/sbibm/slcp/obs_1/true_parameters.csv").values,
                            std::vector<double>{0.5, -1.0, 1.2, -0.8, -0.7}}) {
    const auto [m, c] = slcp_moments(theta);
    const RowMatrix y = test::simulate_repeated(sim, theta, n);
    const Matrix cov = test::column_covariance(y);
    const Vector mean = test::column_means(y);
    const auto sigma = [&](int i, int j) { return c[static_cast<std::size_t>(2 * i + j)]; };
    for (int k = 0; k < 4; ++k) {
      for (int i = 0; i < 2; ++i) {
        INFO("point " << k << ", coordinate " << i);
        CHECK(std::abs(mean[2 * k + i] - m[static_cast<std::size_t>(i)]) < 5 * test::se_mean(sigma(i, i), n));
        for (int j = 0; j <= i; ++j) {
          // SE of a Gaussian sample covariance: sqrt((Σ_ii Σ_jj + Σ_ij²) / n).
          const double se = std::sqrt((sigma(i, i) * sigma(j, j) + sigma(i, j) * sigma(i, j)) / static_cast<double>(n));
          CHECK(std::abs(cov(2 * k + i, 2 * k + j) - sigma(i, j)) < 5 * se);
        }
        // Independent of the other points.
        for (int l = 0; l < k; ++l)
          for (int j = 0; j < 2; ++j)
            CHECK(std::abs(cov(2 * k + i, 2 * l + j)) < 5 * std::sqrt(sigma(i, i) * sigma(j, j) / static_cast<double>(n)));
      }
    }
  }
  const std::vector<double> theta{0.1, 0.2, 0.3, 0.4, 0.5};
  CHECK(sim.simulate_one(theta, 8) == sim.simulate_one(theta, 8));
  CHECK(slcp_prior()->log_prob(theta) == Approx(-5 * std::log(6.0)));
}
