#pragma once
// Tests that values are uniform on (0, 1), and the bands a uniform sample stays within: the
// statistics behind every calibration check (sbi/diagnostics/calibration.hpp), whose fractional
// ranks are exactly U(0, 1) for a calibrated posterior.
//
//   sbi::UniformityTest t = sbi::test_uniformity(u, /*bins=*/20);
//   t.chi_square_p;   // rank-histogram test       t.ks_p;      // Kolmogorov–Smirnov test
//   t.spread_z > 0;   // ∪-shaped (too many extreme values), < 0: ∩-shaped
//
// For n values u_i that are independent U(0, 1) under the null hypothesis:
//
// | statistic        | definition                                   | null distribution                        |
// |------------------|----------------------------------------------|------------------------------------------|
// | chi_square       | Σ_b (n_b − n/B)² / (n/B) over B equal bins   | χ²(B − 1), asymptotically (n/B ≥ 5 is    |
// |                  | of [0, 1)                                    | the usual rule; the defaults keep ≥ 10)  |
// | ks_statistic     | D = sup_x |F_n(x) − x|                       | Kolmogorov; p from Q_KS(λ) with Stephens' |
// |                  |                                              | λ = (√n + 0.12 + 0.11/√n)·D (Stephens,   |
// |                  |                                              | J. R. Stat. Soc. B 32, 1970), accurate   |
// |                  |                                              | to about 1 % in p for n ≥ 5              |
// | mean_z           | (ū − 1/2) / √(1/(12 n))                      | ≈ N(0, 1) (Var u = 1/12)                 |
// | spread_z         | (m − 1/12) / √(1/(180 n)), m = mean (u−1/2)² | ≈ N(0, 1): E (u−½)² = 1/12, E (u−½)⁴ =   |
// |                  |                                              | 1/80, so Var (u−½)² = 1/80 − 1/144 = 1/180 |
//
// mean_z and spread_z are uncorrelated under the null (u − ½ is odd about ½, (u − ½)² − 1/12 even) and
// say which way a sample deviates: spread_z > 0 means values far from ½ are too frequent (a ∪-shaped
// or one-sided histogram), spread_z < 0 too rare (∩-shaped); mean_z ≠ 0 a histogram skewed to one side.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace sbi {

struct UniformityTest {
  std::size_t n = 0;
  int bins = 0;
  std::vector<std::size_t> counts;  // per bin [b/B, (b+1)/B)
  double chi_square = 0;
  int chi_square_df = 0;            // bins − 1
  double chi_square_p = 1;
  double ks_statistic = 0;
  double ks_p = 1;
  double mean = 0.5, mean_z = 0;
  double spread = 1.0 / 12.0, spread_z = 0;
  // Values below 1/4 and above 3/4, each Binomial(n, 1/4) under the null: (count − n/4) / √(3n/16).
  double low_tail_z = 0, high_tail_z = 0;

  // A description for reports: "flat" when none of |low_tail_z|, |high_tail_z|, |mean_z|, |spread_z|
  // exceeds z; else "∪-shaped" (both tails in excess), "∩-shaped" (both short) or "skewed towards 0/1"
  // (the tail in excess).
  std::string shape(double z = 3.0) const;
  nlohmann::json to_json() const;
};

// Throws InputError when bins < 1 or a value lies outside [0, 1] (NaN included). n = 0 gives the
// default (untested) result.
UniformityTest test_uniformity(std::span<const double> values, int bins);

// P(χ²(df) > x): the upper tail of the chi-square distribution.
double chi_square_upper_tail(double x, int df);

// Q_KS(λ) = P(K > λ) for the Kolmogorov distribution K = lim √n·D_n:
// 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²) for λ ≥ 1.18, else 1 − (√(2π)/λ) Σ_{k≥1} exp(−(2k−1)²π²/(8λ²))
// (the two forms of the same function; each converges in a few terms on its side).
double kolmogorov_upper_tail(double lambda);
// p-value of the one-sample KS statistic D for n values (Stephens' approximation above).
double ks_p_value(double d, std::size_t n);
// The D that a uniform sample of n values exceeds with probability `alpha` (inverse of
// ks_p_value): the half-width of a simultaneous (1 − alpha) band around an ECDF.
double ks_critical_value(std::size_t n, double alpha);

// Smallest k with P(X ≤ k) ≥ q for X ~ Binomial(n, p), q in [0, 1].
std::size_t binomial_quantile(std::size_t n, double p, double q);
// [low, high] with P(X < low) ≤ alpha/2 and P(X > high) ≤ alpha/2 for X ~ Binomial(n, p): the counts
// a Binomial(n, p) variable stays within with probability at least 1 − alpha.
std::pair<std::size_t, std::size_t> binomial_band(std::size_t n, double p, double alpha);

}  // namespace sbi
