// The AR(1) raw-data problem: the simulator follows the recursion it states, the exact
// log-likelihood is the one it states and peaks at the closed-form maximum, options and spec.
#include "sbi/spec/spec.hpp"
#include "simulators/autoregressive.hpp"
#include "simulators/registry.hpp"
#include "test_support.hpp"

#include <cmath>
#include <numbers>

using namespace sbi;
using namespace sbi::simulators;

TEST_CASE("ar1: innovations y_t − φ y_(t−1) are i.i.d. N(0, σ²) and independent of the past", "[simulators][ar1]") {
  const double phi = 0.6, sigma = 0.8;
  const Simulator sim = make_ar1();
  REQUIRE(sim.data_dim() == 100);
  const Eigen::Index n = 2000;
  const RowMatrix y = test::simulate_repeated(sim, {phi, sigma}, n);
  // All n·T innovations (y_0 = 0), their lag-1 products and their products with the previous value.
  double sum = 0, squares = 0, with_previous_value = 0, previous_value_squares = 0, lag1 = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    double previous = 0, previous_innovation = 0;
    for (Eigen::Index t = 0; t < y.cols(); ++t) {
      const double e = y(i, t) - phi * previous;
      sum += e;
      squares += e * e;
      with_previous_value += e * previous;
      previous_value_squares += previous * previous;
      lag1 += e * previous_innovation;
      previous = y(i, t);
      previous_innovation = e;
    }
  }
  const double count = static_cast<double>(n * y.cols()), variance = sigma * sigma;
  // Five standard errors of each statistic under i.i.d. N(0, σ²) innovations: the mean has SE
  // σ/√N, the variance √(2σ⁴/N); Σ e_t y_(t−1) has sd σ √(Σ y²_(t−1)) given the past; Σ e_t e_(t−1)
  // has sd σ²√N.
  CHECK(std::abs(sum / count) < 5 * sigma / std::sqrt(count));
  CHECK(std::abs(squares / count - variance) < 5 * std::sqrt(2 * variance * variance / count));
  CHECK(std::abs(with_previous_value) < 5 * sigma * std::sqrt(previous_value_squares));
  CHECK(std::abs(lag1) < 5 * variance * std::sqrt(count));
  // The stationary variance σ²/(1 − φ²) is approached (the mean of y²_(t−1) over t ≥ 50 is close to it).
  double late_squares = 0;
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index t = 50; t < y.cols(); ++t) late_squares += y(i, t) * y(i, t);
  CHECK(late_squares / static_cast<double>(n * 50) == Approx(variance / (1 - phi * phi)).epsilon(0.03));
}

TEST_CASE("ar1: the exact log-likelihood, by hand and at its closed-form maximum", "[simulators][ar1]") {
  // y = (1, 0.5), φ = 0.5, σ = 2: innovations 1 and 0, so log p = −2 log 2 − log 2π − 1/8.
  const std::vector<double> tiny{1.0, 0.5};
  CHECK(ar1_log_likelihood(tiny, 0.5, 2.0) == Approx(-2 * std::log(2.0) - std::log(2 * std::numbers::pi) - 0.125).epsilon(1e-14));

  Ar1Options long_series;
  long_series.steps = 5000;
  const Vector y = make_ar1(long_series).simulate_one(std::vector<double>{-0.3, 1.5}, 11);
  const std::span<const double> series(y.data(), static_cast<std::size_t>(y.size()));
  // Maximum likelihood in closed form: φ̂ = Σ y_t y_(t−1) / Σ y²_(t−1), σ̂² = mean squared innovation.
  double cross = 0, before = 0;
  for (Eigen::Index t = 1; t < y.size(); ++t) {
    cross += y(t) * y(t - 1);
    before += y(t - 1) * y(t - 1);
  }
  const double phi_hat = cross / before;
  double innovation_squares = 0, previous = 0;
  for (const double value : series) {
    innovation_squares += (value - phi_hat * previous) * (value - phi_hat * previous);
    previous = value;
  }
  const double sigma_hat = std::sqrt(innovation_squares / static_cast<double>(y.size()));
  const double best = ar1_log_likelihood(series, phi_hat, sigma_hat);
  for (const double dphi : {-0.01, 0.01})
    for (const double dsigma : {-0.01, 0.0, 0.01}) CHECK(ar1_log_likelihood(series, phi_hat + dphi, sigma_hat + dsigma) < best);
  // With T = 5000 the estimates are within 5 SE of the truth: √((1 − φ²)/T) = 0.013, σ/√(2T) = 0.015.
  CHECK(std::abs(phi_hat + 0.3) < 5 * 0.0135);
  CHECK(std::abs(sigma_hat - 1.5) < 5 * 0.015);
}

TEST_CASE("ar1: options, prior box, registry and data/specs/ar1.json", "[simulators][ar1]") {
  Ar1Options o = Ar1Options::from_json({{"steps", 7}});
  CHECK(make_ar1(o).data_dim() == 7);
  CHECK(make_ar1(o).info().data_names.front() == "y_1");
  CHECK_THROWS_WITH(Ar1Options::from_json({{"steps", 1}}), Catch::StartsWith("simulator.options.steps"));
  CHECK_THROWS_WITH(Ar1Options::from_json({{"step", 5}}, "s"), Catch::StartsWith("s.step: unknown key"));
  o.steps = 1;
  CHECK_THROWS_AS(make_ar1(o), InputError);

  const auto prior = ar1_prior();
  CHECK(std::isfinite(prior->log_prob(std::vector<double>{0.9, 0.3})));
  CHECK(prior->log_prob(std::vector<double>{0.96, 1.0}) == -std::numeric_limits<double>::infinity());
  CHECK(prior->log_prob(std::vector<double>{0.0, 0.1}) == -std::numeric_limits<double>::infinity());

  const auto& entry = find_builtin_simulator("ar1");
  CHECK(entry.make(nlohmann::json::object(), "simulator.options").data_dim() == 100);
  CHECK(entry.make(nlohmann::json{{"steps", 20}}, "simulator.options").data_dim() == 20);
  CHECK_THROWS_WITH(entry.make(nlohmann::json{{"bogus", 1}}, "simulator.options"), Catch::StartsWith("simulator.options.bogus"));

  const Spec spec = read_spec(test::source_path("data/specs/ar1.json"));
  CHECK(spec.simulator.at("name") == "ar1");
  REQUIRE(spec.observation.has_value());
  CHECK(spec.observation->size() == 100);
  REQUIRE(spec.true_parameters.has_value());
  CHECK(std::isfinite(prior->log_prob(std::vector<double>(spec.true_parameters->data(), spec.true_parameters->data() + 2))));
  REQUIRE(spec.prior != nullptr);
  CHECK(spec.prior->log_prob(std::vector<double>{0.1, 1.0}) == Approx(prior->log_prob(std::vector<double>{0.1, 1.0})));
}
