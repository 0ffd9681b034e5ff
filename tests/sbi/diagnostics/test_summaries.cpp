#include "sbi/diagnostics/summaries.hpp"

#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace sbi;

namespace {
RowMatrix normal_samples(Eigen::Index n, Eigen::Index d, double shift, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix x(n, d);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = rng.normal() + shift;
  return x;
}
}  // namespace

TEST_CASE("quantiles interpolate like numpy", "[diagnostics]") {
  CHECK(quantile({1, 2, 3, 4}, 0.5) == 2.5);
  CHECK(quantile({3, 1, 2}, 0.0) == 1.0);
  CHECK(quantile({3, 1, 2}, 1.0) == 3.0);
  CHECK(quantile({0, 10}, 0.25) == 2.5);
}

TEST_CASE("summaries of normal samples", "[diagnostics]") {
  const auto x = normal_samples(100000, 2, 1.0, 5);
  const auto s = summarise(x, {"a", "b"});
  REQUIRE(s.size() == 2);
  // 5 standard errors: mean sd/√n ≈ 0.0032·5; quantile SE ≈ √(p(1−p)/n)/φ(z) ≈ 0.0084 at 2.5 %.
  CHECK(std::abs(s[0].mean - 1.0) < 0.016);
  CHECK(std::abs(s[0].sd - 1.0) < 0.012);
  CHECK(std::abs(s[0].q025 - (1.0 - 1.959964)) < 0.042);
  CHECK(std::abs(s[0].q975 - (1.0 + 1.959964)) < 0.042);
  CHECK(std::abs(s[1].median - 1.0) < 0.02);
  Vector truth(2);
  truth << 1.0, 5.0;
  const auto table = format_summary_table(s, &truth);
  CHECK_THAT(table, Catch::Contains("yes") && Catch::Contains("no"));
}

TEST_CASE("MMD² is near zero for equal distributions and grows with a shift", "[diagnostics]") {
  const auto x = normal_samples(1500, 2, 0.0, 1);
  const auto same = normal_samples(1500, 2, 0.0, 2);
  const auto shifted = normal_samples(1500, 2, 1.0, 3);
  const auto r_same = mmd2(x, same);
  const auto r_shift = mmd2(x, shifted);
  // Unbiased MMD² under the null has sd of order 1/n ≈ 1e-3 here.
  CHECK(std::abs(r_same.mmd2) < 5e-3);
  CHECK(r_shift.mmd2 > 0.1);
  // Closed form for N(0, I) vs N(μ, I) with a Gaussian kernel of bandwidth σ in d dimensions:
  // MMD² = 2 (σ²/(σ²+2))^{d/2} (1 − exp(−‖μ‖²/(2(σ²+2)))).
  // With σ fixed at 1.665 the estimator's sd at n = m = 1500 is 0.010 (measured over 20 seeds), so
  // the margin is 5 sd.
  const double s2 = 1.665 * 1.665;
  const double expected = 2 * (s2 / (s2 + 2)) * (1 - std::exp(-2.0 / (2 * (s2 + 2))));
  CHECK(mmd2(x, shifted, {1.665, true, 0}).mmd2 == Approx(expected).margin(0.05));
  // The median distance of N(0, I₂) pairs: ‖x − y‖ ~ √2 · Rayleigh(1), median √2·√(2 ln 2) ≈ 1.665.
  CHECK(r_same.bandwidth == Approx(1.665).margin(0.05));
}

TEST_CASE("biased and unbiased MMD² agree with a direct double loop", "[diagnostics]") {
  const auto x = normal_samples(40, 3, 0.0, 7);
  const auto y = normal_samples(30, 3, 0.5, 8);
  const double sigma = 1.3, gamma = 1 / (2 * sigma * sigma);
  auto k = [&](const RowMatrix& a, Eigen::Index i, const RowMatrix& b, Eigen::Index j) {
    return std::exp(-gamma * (a.row(i) - b.row(j)).squaredNorm());
  };
  double xx = 0, yy = 0, xy = 0, xx_diag = 0, yy_diag = 0;
  for (Eigen::Index i = 0; i < 40; ++i)
    for (Eigen::Index j = 0; j < 40; ++j) (i == j ? xx_diag : xx) += k(x, i, x, j);
  for (Eigen::Index i = 0; i < 30; ++i)
    for (Eigen::Index j = 0; j < 30; ++j) (i == j ? yy_diag : yy) += k(y, i, y, j);
  for (Eigen::Index i = 0; i < 40; ++i)
    for (Eigen::Index j = 0; j < 30; ++j) xy += k(x, i, y, j);
  const double unbiased = xx / (40.0 * 39) + yy / (30.0 * 29) - 2 * xy / (40.0 * 30);
  const double biased = (xx + xx_diag) / 1600 + (yy + yy_diag) / 900 - 2 * xy / 1200;
  CHECK(mmd2(x, y, {sigma, true, 0}).mmd2 == Approx(unbiased).epsilon(1e-10));
  CHECK(mmd2(x, y, {sigma, false, 0}).mmd2 == Approx(biased).epsilon(1e-10));
}
