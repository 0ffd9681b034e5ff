// Rank-normalised split-R̂ and bulk/tail ESS (Vehtari et al. 2021): against ArviZ on stored data,
// and against the known ESS of independent draws and of AR(1) sequences.
#include "sbi/mcmc/diagnostics.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <limits>

using namespace sbi;

namespace {

Matrix iid_normal(Eigen::Index chains, Eigen::Index draws, std::uint64_t seed) {
  Matrix x(chains, draws);
  for (Eigen::Index c = 0; c < chains; ++c) {
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(c));
    for (Eigen::Index t = 0; t < draws; ++t) x(c, t) = rng.normal();
  }
  return x;
}

// x_t = ρ x_{t−1} + ε_t, started in its stationary distribution.
Matrix ar1(Eigen::Index chains, Eigen::Index draws, double rho, std::uint64_t seed) {
  Matrix x(chains, draws);
  for (Eigen::Index c = 0; c < chains; ++c) {
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(c));
    double v = rng.normal() / std::sqrt(1 - rho * rho);
    for (Eigen::Index t = 0; t < draws; ++t) x(c, t) = v = rho * v + rng.normal();
  }
  return x;
}

}  // namespace

// The data and ArviZ's values come from data/make_arviz_reference.py (ArviZ 0.20.0). The only
// differences expected are floating-point rounding (another FFT, another summation order).
TEST_CASE("R-hat and ESS agree with ArviZ on stored chains", "[mcmc][diagnostics]") {
  const std::string folder = std::string(SBI_TEST_DIR) + "/sbi/mcmc/data/";
  const CsvTable table = read_csv(folder + "arviz_reference.csv");
  nlohmann::json expected;
  std::ifstream(folder + "arviz_reference.json") >> expected;
  int sets = 0;
  for (const auto& [name, v] : expected.items()) {
    if (!v.is_object()) continue;
    ++sets;
    const int index = v["index"];
    Matrix x(v["chains"].get<int>(), v["draws"].get<int>());
    for (Eigen::Index r = 0; r < table.values.rows(); ++r)
      if (table.values(r, 0) == index) x(static_cast<Eigen::Index>(table.values(r, 1)), static_cast<Eigen::Index>(table.values(r, 2))) = table.values(r, 3);
    INFO(name);
    CHECK(split_rhat(x) == Approx(v["rhat_rank"].get<double>()).epsilon(1e-9));
    CHECK(split_rhat_basic(x) == Approx(v["rhat_split"].get<double>()).epsilon(1e-9));
    CHECK(bulk_ess(x) == Approx(v["ess_bulk"].get<double>()).epsilon(1e-9));
    CHECK(tail_ess(x) == Approx(v["ess_tail"].get<double>()).epsilon(1e-9));
    CHECK(split_ess(x) == Approx(v["ess_mean"].get<double>()).epsilon(1e-9));
  }
  CHECK(sets == 4);
}

// S = 10^4 independent draws: τ̂ = 1 + 2ρ̂_1 + (a positive pair or two of noise), each ρ̂ with sd
// 1/√S = 0.01, so τ̂ − 1 has sd about 0.03; 5 sd gives the 15 % band.
TEST_CASE("the ESS of independent draws is about their number", "[mcmc][diagnostics]") {
  const Matrix x = iid_normal(4, 2500, 11);
  CHECK(bulk_ess(x) == Approx(10000).epsilon(0.15));
  CHECK(tail_ess(x) == Approx(10000).epsilon(0.15));
  CHECK(split_ess(x) == Approx(10000).epsilon(0.15));
}

// An AR(1) sequence has τ = (1 + ρ)/(1 − ρ), so ESS = S (1 − ρ)/(1 + ρ). The sum of autocorrelations
// up to lag K has relative sd ≈ √(2(2K+1)/S) (Bartlett); Geyer's sequence stops where ρ^K ≈ 1/√S,
// K ≈ 8 for ρ = 0.5 and 55 for ρ = 0.9 at S = 10^5: sd 1.8 % and 4.7 %, bands of 4 sd.
TEST_CASE("the ESS of an AR(1) sequence is n (1 - rho) / (1 + rho)", "[mcmc][diagnostics]") {
  for (auto [rho, band] : {std::pair{0.5, 0.08}, std::pair{0.9, 0.19}}) {
    INFO("rho " << rho);
    const Matrix x = ar1(4, 25000, rho, 5);
    const double expected = 100000 * (1 - rho) / (1 + rho);
    CHECK(split_ess(x) == Approx(expected).epsilon(band));
    CHECK(bulk_ess(x) == Approx(expected).epsilon(band));  // rank-normalising a Gaussian sequence keeps it Gaussian
  }
}

// For chains from one distribution, R̂² − 1 ≈ (χ²_7/7 − 1)/n with 8 split halves of n = 500 draws,
// at most 0.005 (p < 10⁻³): R̂ < 1.0025, well below the 1.01 bar.
TEST_CASE("R-hat is about 1 for chains of one distribution and large for chains that disagree", "[mcmc][diagnostics]") {
  Matrix x = iid_normal(4, 1000, 3);
  CHECK(split_rhat(x) < 1.01);
  CHECK(split_rhat(x) >= split_rhat_bulk(x));

  // One chain with another mean: the 8 halves' means have variance ≈ 0.21, R̂ ≈ √1.21 = 1.1.
  Matrix shifted = x;
  shifted.row(3).array() += 1.0;
  CHECK(split_rhat(shifted) > 1.05);
  CHECK(split_rhat_bulk(shifted) > 1.05);

  // One chain three times as wide, same mean: the ranks' means agree (bulk R̂ ≈ 1), the folded
  // draws |x − median| do not (tail R̂ large).
  Matrix wide = x;
  wide.row(3) *= 3.0;
  CHECK(split_rhat_bulk(wide) < 1.01);
  CHECK(split_rhat_tail(wide) > 1.05);
  CHECK(split_rhat(wide) == split_rhat_tail(wide));

  // One chain whose second half drifted: splitting catches it.
  Matrix drift = iid_normal(1, 1000, 4);
  drift.rightCols(500).array() += 1.0;
  CHECK(split_rhat(drift) > 1.1);
}

TEST_CASE("diagnostics are NaN where they are undefined", "[mcmc][diagnostics]") {
  CHECK(std::isnan(split_rhat(Matrix::Constant(4, 100, 2.0))));
  CHECK(std::isnan(bulk_ess(Matrix::Constant(4, 100, 2.0))));
  CHECK(std::isnan(split_rhat(iid_normal(4, 3, 1))));  // fewer than 4 draws per chain
  Matrix x = iid_normal(4, 100, 1);
  x(2, 7) = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(split_rhat(x)));
  CHECK(std::isnan(tail_ess(x)));
}

TEST_CASE("per-parameter diagnostics: report, JSON round trip, errors", "[mcmc][diagnostics]") {
  // Two parameters, 4 chains × 200 draws chain-major; the second parameter's chain 3 is shifted.
  RowMatrix draws(800, 2);
  const Matrix a = iid_normal(4, 200, 7), b = iid_normal(4, 200, 8);
  for (Eigen::Index c = 0; c < 4; ++c)
    for (Eigen::Index t = 0; t < 200; ++t) {
      draws(c * 200 + t, 0) = a(c, t);
      draws(c * 200 + t, 1) = b(c, t) + (c == 3 ? 2.0 : 0.0);
    }
  const McmcDiagnostics d = compute_mcmc_diagnostics(draws, 4, {"alpha", "beta"});
  CHECK(d.chains == 4);
  CHECK(d.draws_per_chain == 200);
  CHECK(d.rhat[0] < 1.01);
  CHECK(d.rhat[1] > 1.1);
  CHECK(d.max_rhat() == d.rhat[1]);
  CHECK_FALSE(d.converged());
  CHECK_THAT(d.brief_report(), Catch::Contains("R-hat max") && Catch::Contains("(beta)") && Catch::Contains("4 chains x 200 draws"));
  CHECK_THAT(d.full_report(), Catch::Contains("alpha") && Catch::Contains("beta"));

  McmcDiagnostics with_nan = d;
  with_nan.ess_tail[0] = std::numeric_limits<double>::quiet_NaN();
  const McmcDiagnostics back = McmcDiagnostics::from_json(nlohmann::json::parse(with_nan.to_json().dump()));
  CHECK(back.parameter_names == d.parameter_names);
  CHECK(back.rhat == d.rhat);
  CHECK(back.ess_bulk == d.ess_bulk);
  CHECK(std::isnan(back.ess_tail[0]));
  CHECK(back.ess_tail[1] == d.ess_tail[1]);
  CHECK(back.draws_per_chain == 200);
  CHECK_THAT(with_nan.brief_report(), Catch::Contains("tail ESS min NaN (alpha)"));

  nlohmann::json broken = d.to_json();
  broken["rhat"] = {1.0};
  CHECK_THROWS_WITH(McmcDiagnostics::from_json(broken, "posterior.mcmc"), Catch::Contains("posterior.mcmc.rhat") && Catch::Contains("2 values"));
  broken = d.to_json();
  broken.erase("ess_bulk");
  CHECK_THROWS_WITH(McmcDiagnostics::from_json(broken), Catch::Contains("diagnostics.ess_bulk"));

  CHECK_THROWS_AS(compute_mcmc_diagnostics(draws, 3), InputError);  // 800 rows do not split into 3 chains
  CHECK_THROWS_AS(compute_mcmc_diagnostics(draws, 4, {"only_one"}), InputError);
}
