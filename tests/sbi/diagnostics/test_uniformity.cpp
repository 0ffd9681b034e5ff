#include "sbi/diagnostics/uniformity.hpp"

#include "sbi/core/error.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <vector>

using namespace sbi;

namespace {

// P(X = k) for X ~ Binomial(n, p), by logs.
double binomial_pmf(std::size_t n, double p, std::size_t k) {
  const double nd = static_cast<double>(n), kd = static_cast<double>(k);
  return std::exp(std::lgamma(nd + 1) - std::lgamma(kd + 1) - std::lgamma(nd - kd + 1) + kd * std::log(p) + (nd - kd) * std::log1p(-p));
}

std::vector<double> uniforms(std::size_t n, Rng& rng) {
  std::vector<double> u(n);
  for (auto& x : u) x = rng.uniform();
  return u;
}

}  // namespace

TEST_CASE("chi-square upper tail matches tabulated critical values", "[diagnostics][uniformity]") {
  // Critical values from any χ² table (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.4).
  CHECK(chi_square_upper_tail(3.841, 1) == Approx(0.05).margin(2e-5));
  CHECK(chi_square_upper_tail(30.144, 19) == Approx(0.05).margin(2e-5));
  CHECK(chi_square_upper_tail(36.191, 19) == Approx(0.01).margin(2e-5));
  CHECK(chi_square_upper_tail(0.0, 5) == 1.0);
  CHECK(chi_square_upper_tail(2.0, 2) == Approx(std::exp(-1.0)).epsilon(1e-12));  // χ²(2) is Exp(1/2)
  CHECK_THROWS_AS(chi_square_upper_tail(1.0, 0), InputError);
}

TEST_CASE("Kolmogorov tail: tabulated values, both series agree where they switch", "[diagnostics][uniformity]") {
  // Asymptotic critical values of √n·D: 1.358 (5 %), 1.628 (1 %), 1.224 (10 %) (Smirnov 1948 tables).
  CHECK(kolmogorov_upper_tail(1.3581) == Approx(0.05).margin(1e-4));
  CHECK(kolmogorov_upper_tail(1.6276) == Approx(0.01).margin(1e-4));
  CHECK(kolmogorov_upper_tail(1.2238) == Approx(0.10).margin(1e-4));
  CHECK(kolmogorov_upper_tail(1.18 - 1e-12) == Approx(kolmogorov_upper_tail(1.18)).epsilon(1e-10));
  CHECK(kolmogorov_upper_tail(0.0) == 1.0);
  CHECK(kolmogorov_upper_tail(0.3) == Approx(1.0).margin(1e-6));
  CHECK(kolmogorov_upper_tail(5.0) < 1e-20);
  // The critical value inverts the p-value.
  const double d = ks_critical_value(400, 0.01);
  CHECK(ks_p_value(d, 400) == Approx(0.01).epsilon(1e-6));
  CHECK(d == Approx(1.6276 / (20 + 0.12 + 0.11 / 20)).epsilon(1e-3));
}

TEST_CASE("binomial quantiles and bands agree with summed probabilities", "[diagnostics][uniformity]") {
  for (const auto& [n, p] : std::vector<std::pair<std::size_t, double>>{{50, 0.05}, {400, 0.5}, {1000, 0.05}, {1000, 0.95}, {37, 0.3}}) {
    for (double q : {0.0005, 0.005, 0.5, 0.995, 0.9995}) {
      const std::size_t k = binomial_quantile(n, p, q);
      double cdf = 0;
      for (std::size_t i = 0; i <= k; ++i) cdf += binomial_pmf(n, p, i);
      CHECK(cdf >= q - 1e-12);
      if (k > 0) CHECK(cdf - binomial_pmf(n, p, k) < q + 1e-12);  // k is the smallest such
    }
    const double alpha = 0.01;
    const auto [low, high] = binomial_band(n, p, alpha);
    double below = 0, above = 0;
    for (std::size_t i = 0; i < low; ++i) below += binomial_pmf(n, p, i);
    for (std::size_t i = high + 1; i <= n; ++i) above += binomial_pmf(n, p, i);
    CHECK(below <= alpha / 2 + 1e-12);
    CHECK(above <= alpha / 2 + 1e-12);
    // ... and the band is not wider than it must be: one more count on either side breaks the bound.
    if (low > 0) CHECK(below + binomial_pmf(n, p, low - 1) > 0);
    CHECK(low <= high);
  }
  CHECK(binomial_quantile(10, 0.0, 0.5) == 0);
  CHECK(binomial_quantile(10, 1.0, 0.5) == 10);
  CHECK_THROWS_AS(binomial_band(10, 0.5, 0.0), InputError);
}

TEST_CASE("uniformity test of an evenly spread sample, and of ∪, ∩ and skewed ones", "[diagnostics][uniformity]") {
  std::vector<double> even(1000);
  for (std::size_t i = 0; i < even.size(); ++i) even[i] = (static_cast<double>(i) + 0.5) / 1000.0;
  const auto flat = test_uniformity(even, 20);
  CHECK(flat.n == 1000);
  CHECK(flat.chi_square == Approx(0.0).margin(1e-12));
  CHECK(flat.chi_square_p == Approx(1.0));
  CHECK(flat.ks_statistic == Approx(0.0005));
  CHECK(flat.mean_z == Approx(0.0).margin(1e-9));
  CHECK(flat.shape() == "flat");
  for (std::size_t c : flat.counts) CHECK(c == 50);

  // u = Φ(2Z): more mass near 0 and 1 (what an over-confident posterior gives).
  Rng rng(7);
  std::vector<double> cup(1000), cap(1000), skew(1000);
  for (std::size_t i = 0; i < cup.size(); ++i) {
    cup[i] = 0.5 * std::erfc(-2.0 * rng.normal() / std::sqrt(2.0));
    cap[i] = 0.5 * std::erfc(-0.5 * rng.normal() / std::sqrt(2.0));
    skew[i] = std::sqrt(rng.uniform());  // density 2u
  }
  const auto u = test_uniformity(cup, 20), n = test_uniformity(cap, 20), s = test_uniformity(skew, 20);
  CHECK(u.spread_z > 5);
  CHECK(u.shape() == "∪-shaped");
  CHECK(n.spread_z < -5);
  CHECK(n.shape() == "∩-shaped");
  CHECK(s.mean_z > 5);
  CHECK(s.shape() == "skewed towards 1");
  CHECK(u.chi_square_p < 1e-6);
  CHECK(n.chi_square_p < 1e-6);
  CHECK(s.chi_square_p < 1e-6);
  CHECK(test_uniformity(cup, 20).to_json()["shape"] == "∪-shaped");

  CHECK_THROWS_AS(test_uniformity(std::vector<double>{0.5, 1.5}, 10), InputError);
  CHECK_THROWS_AS(test_uniformity(std::vector<double>{0.5, std::nan("")}, 10), InputError);
  CHECK_THROWS_AS(test_uniformity(even, 0), InputError);
  CHECK(test_uniformity(std::vector<double>{}, 10).n == 0);
}

TEST_CASE("uniformity p-values are uniform for uniform samples (rejection rate at 5 %)", "[diagnostics][uniformity]") {
  // 2000 samples of n = 200 uniforms: the share with p < 0.05 is Binomial(2000, 0.05)/2000 if the
  // p-values are right, sd = √(0.05·0.95/2000) = 0.0049; ±0.02 is about 4 sd. The chi-square and
  // Stephens approximations add well under 0.005 at n = 200, 10 bins. The z statistics are ≈ N(0, 1):
  // |z| > 1.96 at the same rate.
  Rng rng(2024);
  const int replicates = 2000;
  int chi = 0, ks = 0, mean = 0, spread = 0;
  for (int r = 0; r < replicates; ++r) {
    const auto t = test_uniformity(uniforms(200, rng), 10);
    chi += t.chi_square_p < 0.05;
    ks += t.ks_p < 0.05;
    mean += std::abs(t.mean_z) > 1.959964;
    spread += std::abs(t.spread_z) > 1.959964;
  }
  CHECK(chi / double(replicates) == Approx(0.05).margin(0.02));
  CHECK(ks / double(replicates) == Approx(0.05).margin(0.02));
  CHECK(mean / double(replicates) == Approx(0.05).margin(0.02));
  CHECK(spread / double(replicates) == Approx(0.05).margin(0.02));
}
