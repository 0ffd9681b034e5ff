// The ziggurat samplers (sbi/random/ziggurat.hpp) against their exact distributions.
#include "sbi/random/ziggurat.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using sbi::Rng;

TEST_CASE("ziggurat_normal has the N(0, 1) distribution", "[random][ziggurat]") {
  // CDF at points in every part of the ziggurat (inner rectangles, wedges, the tails beyond
  // R ≈ 3.65), each within 5 binomial standard errors; moments within 5 standard errors.
  const int n = 2'000'000;
  const std::vector<double> points{-4, -3.7, -2, -1, -0.3, 0, 0.05, 0.7, 1.5, 3, 3.7, 4};
  std::vector<int> below(points.size(), 0);
  double sum = 0, sum2 = 0, sum3 = 0;
  Rng rng(2025);
  for (int i = 0; i < n; ++i) {
    const double z = sbi::ziggurat_normal(rng);
    sum += z;
    sum2 += z * z;
    sum3 += z * z * z;
    for (std::size_t j = 0; j < points.size(); ++j) below[j] += z < points[j];
  }
  CHECK(std::abs(sum / n) < 5 * std::sqrt(1.0 / n));
  CHECK(std::abs(sum2 / n - 1) < 5 * std::sqrt(2.0 / n));
  CHECK(std::abs(sum3 / n) < 5 * std::sqrt(15.0 / n));
  for (std::size_t j = 0; j < points.size(); ++j) {
    const double p = 0.5 * std::erfc(-points[j] / std::sqrt(2.0));
    INFO("z = " << points[j] << ": " << below[j] << " below, expected " << n * p);
    CHECK(std::abs(below[j] - n * p) < 5 * std::sqrt(n * p * (1 - p)) + 1);
  }
}

TEST_CASE("ziggurat_exponential has the Exp(1) distribution", "[random][ziggurat]") {
  // CDF at points in every part of the ziggurat (inner rectangles, wedges, the tail beyond R ≈ 7.7),
  // each within 5 binomial standard errors; mean and variance within 5 standard errors.
  const int n = 2'000'000;
  const std::vector<double> points{0.01, 0.1, 0.5, 1, 2, 3, 5, 7.5, 8, 10};
  std::vector<int> below(points.size(), 0);
  double sum = 0, sum2 = 0;
  Rng rng(2024);
  for (int i = 0; i < n; ++i) {
    const double e = sbi::ziggurat_exponential(rng);
    REQUIRE(e >= 0);
    sum += e;
    sum2 += e * e;
    for (std::size_t j = 0; j < points.size(); ++j) below[j] += e < points[j];
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  CHECK(std::abs(mean - 1) < 5 * std::sqrt(1.0 / n));
  CHECK(std::abs(var - 1) < 5 * std::sqrt(8.0 / n));  // Var of E² − ... : fourth central moment 9
  for (std::size_t j = 0; j < points.size(); ++j) {
    const double p = 1 - std::exp(-points[j]);
    const double tail_count = n - below[j], tail_expected = n * (1 - p);
    INFO("x = " << points[j] << ": " << tail_count << " above, expected " << tail_expected);
    CHECK(std::abs(tail_count - tail_expected) < 5 * std::sqrt(n * p * (1 - p)) + 1);
  }
}
