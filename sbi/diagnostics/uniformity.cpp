#include "sbi/diagnostics/uniformity.hpp"

#include "sbi/core/error.hpp"

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace sbi {

std::string UniformityTest::shape(double z) const {
  if (n == 0 || std::max({std::abs(low_tail_z), std::abs(high_tail_z), std::abs(mean_z), std::abs(spread_z)}) <= z) return "flat";
  if (low_tail_z > 0 && high_tail_z > 0) return "∪-shaped";
  if (low_tail_z < 0 && high_tail_z < 0) return "∩-shaped";
  return high_tail_z > low_tail_z ? "skewed towards 1" : "skewed towards 0";
}

nlohmann::json UniformityTest::to_json() const {
  return {{"n", n},           {"bins", bins},         {"counts", counts},         {"chi_square", chi_square},
          {"chi_square_df", chi_square_df},           {"chi_square_p", chi_square_p},
          {"ks_statistic", ks_statistic},             {"ks_p", ks_p},             {"mean", mean},
          {"mean_z", mean_z}, {"spread", spread},     {"spread_z", spread_z},     {"low_tail_z", low_tail_z},
          {"high_tail_z", high_tail_z}, {"shape", shape()}};
}

UniformityTest test_uniformity(std::span<const double> values, int bins) {
  if (bins < 1) throw InputError("uniformity test: bins must be at least 1, got " + std::to_string(bins));
  UniformityTest t;
  t.bins = bins;
  t.counts.assign(static_cast<std::size_t>(bins), 0);
  t.chi_square_df = bins - 1;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!(values[i] >= 0.0 && values[i] <= 1.0))
      throw InputError("uniformity test: value " + std::to_string(i) + " = " + std::to_string(values[i]) + " is not in [0, 1]");
  t.n = values.size();
  if (t.n == 0) return t;
  const double n = static_cast<double>(t.n);

  double sum = 0, squares = 0;
  std::size_t low_tail = 0, high_tail = 0;
  for (double u : values) {
    low_tail += u < 0.25;
    high_tail += u > 0.75;
    const auto bin = std::min<std::size_t>(static_cast<std::size_t>(u * bins), static_cast<std::size_t>(bins - 1));
    ++t.counts[bin];
    sum += u;
    squares += (u - 0.5) * (u - 0.5);
  }
  const double expected = n / bins;
  for (std::size_t c : t.counts) t.chi_square += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  t.chi_square_p = bins > 1 ? chi_square_upper_tail(t.chi_square, bins - 1) : 1.0;

  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const double above = static_cast<double>(i + 1) / n - sorted[i];  // F_n just after u_(i) minus u_(i)
    const double below = sorted[i] - static_cast<double>(i) / n;      // u_(i) minus F_n just before it
    t.ks_statistic = std::max({t.ks_statistic, above, below});
  }
  t.ks_p = ks_p_value(t.ks_statistic, t.n);

  t.mean = sum / n;
  t.mean_z = (t.mean - 0.5) / std::sqrt(1.0 / (12.0 * n));
  t.spread = squares / n;
  const double tail_sd = std::sqrt(n * 0.25 * 0.75);  // a quarter's count is Binomial(n, 1/4)
  t.low_tail_z = (static_cast<double>(low_tail) - 0.25 * n) / tail_sd;
  t.high_tail_z = (static_cast<double>(high_tail) - 0.25 * n) / tail_sd;
  t.spread_z = (t.spread - 1.0 / 12.0) / std::sqrt(1.0 / (180.0 * n));
  return t;
}

double chi_square_upper_tail(double x, int df) {
  if (df < 1) throw InputError("chi-square: degrees of freedom must be at least 1");
  if (!(x > 0)) return 1.0;
  if (std::isinf(x)) return 0.0;
  return boost::math::gamma_q(0.5 * df, 0.5 * x);
}

double kolmogorov_upper_tail(double lambda) {
  if (!(lambda > 0)) return 1.0;
  constexpr double pi = std::numbers::pi;
  if (lambda < 1.18) {
    // P(K ≤ λ) = (√(2π)/λ) Σ_{k≥1} exp(−(2k−1)² π² / (8λ²)); terms fall off fast for small λ.
    const double c = -pi * pi / (8.0 * lambda * lambda);
    double sum = 0;
    for (int k = 1; k <= 20; ++k) {
      const double odd = 2.0 * k - 1.0;
      const double term = std::exp(c * odd * odd);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return std::clamp(1.0 - std::sqrt(2.0 * pi) / lambda * sum, 0.0, 1.0);
  }
  double sum = 0, sign = 1;
  for (int k = 1; k <= 100; ++k) {
    const double term = std::exp(-2.0 * k * k * lambda * lambda);
    sum += sign * term;
    sign = -sign;
    if (term < 1e-17) break;
  }
  return std::clamp(2.0 * sum, 0.0, 1.0);
}

double ks_p_value(double d, std::size_t n) {
  if (n == 0) return 1.0;
  const double root = std::sqrt(static_cast<double>(n));
  return kolmogorov_upper_tail((root + 0.12 + 0.11 / root) * d);
}

double ks_critical_value(std::size_t n, double alpha) {
  if (n == 0) return 1.0;
  if (!(alpha > 0 && alpha < 1)) throw InputError("ks_critical_value: alpha must be in (0, 1)");
  // ks_p_value decreases in d: bisect for ks_p_value(d) = alpha.
  double low = 0, high = 1;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (low + high);
    (ks_p_value(mid, n) > alpha ? low : high) = mid;
  }
  return high;
}

std::size_t binomial_quantile(std::size_t n, double p, double q) {
  if (!(p >= 0 && p <= 1)) throw InputError("binomial_quantile: p must be in [0, 1]");
  if (!(q >= 0 && q <= 1)) throw InputError("binomial_quantile: q must be in [0, 1]");
  if (n == 0 || p == 0) return 0;
  if (p == 1) return n;
  const boost::math::binomial_distribution<double> distribution(static_cast<double>(n), p);
  // P(X ≤ k) is non-decreasing in k: the smallest k with P(X ≤ k) ≥ q by bisection.
  std::size_t low = 0, high = n;
  while (low < high) {
    const std::size_t mid = low + (high - low) / 2;
    if (boost::math::cdf(distribution, static_cast<double>(mid)) >= q) high = mid;
    else low = mid + 1;
  }
  return low;
}

std::pair<std::size_t, std::size_t> binomial_band(std::size_t n, double p, double alpha) {
  if (!(alpha > 0 && alpha < 1)) throw InputError("binomial_band: alpha must be in (0, 1)");
  // low: the smallest k with P(X ≤ k) > alpha/2, so P(X < low) = P(X ≤ low − 1) ≤ alpha/2.
  std::size_t low = binomial_quantile(n, p, alpha / 2);
  if (n > 0 && p > 0 && p < 1) {
    const boost::math::binomial_distribution<double> distribution(static_cast<double>(n), p);
    if (boost::math::cdf(distribution, static_cast<double>(low)) <= alpha / 2) ++low;
  }
  // high: the smallest k with P(X ≤ k) ≥ 1 − alpha/2, so P(X > high) ≤ alpha/2.
  const std::size_t high = binomial_quantile(n, p, 1.0 - alpha / 2);
  return {std::min(low, high), high};
}

}  // namespace sbi
