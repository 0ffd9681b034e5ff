#include "simulators/lotka_volterra.hpp"
#include "simulators/registry.hpp"
#include "test_support.hpp"

#include <array>
#include <chrono>
#include <cmath>

using namespace sbi;
using namespace sbi::simulators;

namespace {

// Reference: classical RK4 with h = 1e-4 (global error ~ h⁴), sampled at t = 2.1 j (every 21000 steps).
std::vector<double> rk4_reference(const std::array<double, 4>& th) {
  const auto f = [&](const std::array<double, 2>& x) {
    return std::array<double, 2>{th[0] * x[0] - th[1] * x[0] * x[1], th[3] * x[0] * x[1] - th[2] * x[1]};
  };
  const double h = 1e-4;
  const int per_observation = 21000;
  std::array<double, 2> x{30.0, 1.0};
  std::vector<double> out(20);
  for (int j = 0; j < 10; ++j) {
    out[static_cast<std::size_t>(j)] = x[0];
    out[static_cast<std::size_t>(10 + j)] = x[1];
    if (j == 9) break;
    for (int k = 0; k < per_observation; ++k) {
      const auto k1 = f(x);
      const auto k2 = f({x[0] + 0.5 * h * k1[0], x[1] + 0.5 * h * k1[1]});
      const auto k3 = f({x[0] + 0.5 * h * k2[0], x[1] + 0.5 * h * k2[1]});
      const auto k4 = f({x[0] + h * k3[0], x[1] + h * k3[1]});
      for (int i = 0; i < 2; ++i) x[static_cast<std::size_t>(i)] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
  }
  return out;
}

const std::vector<double>& true_theta() {
  static const std::vector<double> theta = test::read_csv_row("data/sbibm/lotka_volterra/obs_1/true_parameters.csv").values;
  return theta;
}

}  // namespace

TEST_CASE("lotka_volterra: names, dimensions and prior follow sbibm", "[simulators][lotka_volterra]") {
  const auto sim = make_lotka_volterra();
  CHECK(sim.name() == "lotka_volterra");
  CHECK(sim.info().parameter_names == Names{"alpha", "beta", "gamma", "delta"});
  CHECK(sim.data_dim() == 20);
  CHECK(sim.thread_safe());
  const auto header = test::read_csv_row("data/sbibm/lotka_volterra/obs_1/observation.csv").header;
  CHECK(sim.info().data_names == header);
  const auto prior = lotka_volterra_prior();
  REQUIRE(prior->dim() == 4);
  const double theta[4] = {0.7, 0.05, 0.9, 0.04};
  // Σ log N(log θ_i; μ_i, 0.5) − log θ_i
  double expected = 0;
  const double mu[4] = {-0.125, -3.0, -0.125, -3.0};
  for (int i = 0; i < 4; ++i) {
    const double z = (std::log(theta[i]) - mu[i]) / 0.5;
    expected += -0.5 * z * z - std::log(0.5 * std::sqrt(2 * M_PI)) - std::log(theta[i]);
  }
  CHECK(prior->log_prob(ConstRow(theta, 4)) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("lotka_volterra: noise-free path agrees with a fine RK4 solution", "[simulators][lotka_volterra]") {
  // At θ* with sbibm's tolerances (rtol = atol = 1e-8): relative error < 1e-5 everywhere.
  // For prior draws the prey can collapse to ~1e-7, where atol = 1e-8 (sbibm's setting too) allows
  // relative errors ~1e-3, far below the 10 % noise: there the defaults must agree to 1e-2, and tight
  // tolerances (1e-11) to 1e-5 (measured worst case over 200 draws: 1.1e-6).
  LotkaVolterraOptions options;
  options.noise = false;
  LotkaVolterraOptions tight = options;
  tight.rtol = tight.atol = 1e-11;
  const auto sim = make_lotka_volterra(options);
  const auto prior = lotka_volterra_prior();
  Rng rng(3);
  std::vector<std::array<double, 4>> thetas{{true_theta()[0], true_theta()[1], true_theta()[2], true_theta()[3]}};
  for (int i = 0; i < 8; ++i) {
    std::array<double, 4> th{};
    prior->sample(rng, MutableRow(th.data(), 4));
    thetas.push_back(th);
  }
  for (std::size_t d = 0; d < thetas.size(); ++d) {
    const auto& th = thetas[d];
    const ConstRow theta(th.data(), 4);
    const auto reference = rk4_reference(th);
    const Vector y = sim.simulate_one(theta, 1);
    RowMatrix raw(1, 20), precise(1, 20);
    lotka_volterra_solution(options, theta, row_span(raw, 0));
    lotka_volterra_solution(tight, theta, row_span(precise, 0));
    const double default_tolerance = d == 0 ? 1e-5 : 1e-2;
    for (std::size_t k = 0; k < 20; ++k) {
      INFO("θ = " << th[0] << ", " << th[1] << ", " << th[2] << ", " << th[3] << "; entry " << k);
      const auto kk = static_cast<Eigen::Index>(k);
      const double clipped = std::clamp(reference[k], 1e-10, 1e4);
      CHECK(std::abs(y[kk] - clipped) <= default_tolerance * std::abs(clipped));
      CHECK(std::abs(raw(0, kk) - reference[k]) <= default_tolerance * std::abs(reference[k]));
      CHECK(std::abs(precise(0, kk) - reference[k]) <= 1e-5 * std::abs(reference[k]));
    }
  }
}

TEST_CASE("lotka_volterra: the published observations are consistent with the ODE at θ*", "[simulators][lotka_volterra]") {
  // log(x_o / ODE(θ*)) = 0.1 ε with ε ~ N(0, I_20): S = Σ (log ratio / 0.1)² ~ χ²_20, whose 0.05 % and
  // 99.95 % quantiles are 5.40 and 48.27 (a two-sided test at level 1e-3 per observation).
  for (int k = 1; k <= 5; ++k) {
    const std::string dir = "data/sbibm/lotka_volterra/obs_" + std::to_string(k) + "/";
    const auto x_o = test::read_csv_row(dir + "observation.csv").values;
    const auto theta = test::read_csv_row(dir + "true_parameters.csv").values;
    RowMatrix ode(1, 20);
    lotka_volterra_solution({}, theta, row_span(ode, 0));
    double s = 0, mean = 0;
    for (Eigen::Index i = 0; i < 20; ++i) {
      const double r = std::log(x_o[static_cast<std::size_t>(i)] / std::clamp(ode(0, i), 1e-10, 1e4)) / 0.1;
      s += r * r;
      mean += r / 20;
    }
    INFO("observation " << k << ": S = " << s << ", mean standardised residual = " << mean);
    CHECK(s > 5.40);
    CHECK(s < 48.27);
    CHECK(std::abs(mean) < 3.29 / std::sqrt(20.0));  // mean of 20 N(0,1): |z| < 3.29 at level 1e-3
  }
}

TEST_CASE("lotka_volterra: observation noise is log-normal with sd 0.1", "[simulators][lotka_volterra]") {
  const Eigen::Index n = 2000;
  const RowMatrix y = test::simulate_repeated(make_lotka_volterra(), true_theta(), n);
  RowMatrix ode(1, 20);
  lotka_volterra_solution({}, ConstRow(true_theta().data(), 4), row_span(ode, 0));
  RowMatrix log_ratio(n, 20);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index k = 0; k < 20; ++k) log_ratio(i, k) = std::log(y(i, k) / std::clamp(ode(0, k), 1e-10, 1e4));
  const double total = static_cast<double>(n * 20);
  const double mean = log_ratio.mean();
  const double variance = (log_ratio.array() - mean).square().sum() / (total - 1);
  CHECK(std::abs(mean) < 5 * std::sqrt(0.01 / total));
  CHECK(std::abs(variance - 0.01) < 5 * 0.01 * std::sqrt(2 / (total - 1)));
}

TEST_CASE("lotka_volterra: a θ that needs more than max_steps fails quickly, naming θ", "[simulators][lotka_volterra]") {
  const auto sim = make_lotka_volterra();
  const std::vector<double> extreme{500, 0.05, 500, 0.05};  // ~2·10^5 steps over [0, 20]
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)sim.simulate_one(extreme, 1);
    FAIL("expected a SimulationError");
  } catch (const SimulationError& e) {
    const std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("max_steps (100000 steps)"));
    CHECK_THAT(message, Catch::Contains("alpha=500"));
  }
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 2.0);

  // In a batch, the failure is an outcome of its row and the other rows are unaffected.
  RowMatrix theta(2, 4);
  theta.row(0) = Eigen::Map<const Eigen::RowVectorXd>(true_theta().data(), 4);
  theta.row(1) = Eigen::Map<const Eigen::RowVectorXd>(extreme.data(), 4);
  RowMatrix y(2, 20);
  std::uint64_t seeds[2] = {1, 2};
  SimulationOutcome outcomes[2];
  sim.simulate_batch(theta, y, seeds, outcomes);
  CHECK(outcomes[0].ok());
  CHECK(outcomes[1].status == SimulationStatus::failed);
  CHECK_THAT(outcomes[1].message, Catch::Contains("max_steps"));

  // A small cap makes even θ* fail.
  LotkaVolterraOptions few;
  few.max_steps = 10;
  CHECK_THROWS_AS(make_lotka_volterra(few).simulate_one(true_theta(), 1), SimulationError);
}

TEST_CASE("lotka_volterra: same stream, same output, another stream, another output", "[simulators][lotka_volterra]") {
  const auto sim = make_lotka_volterra();
  const Vector a = sim.simulate_one(true_theta(), 42);
  const Vector b = sim.simulate_one(true_theta(), 42);
  const Vector c = sim.simulate_one(true_theta(), 43);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("lotka_volterra: options are parsed with path-aware errors", "[simulators][lotka_volterra]") {
  using nlohmann::json;
  const auto parse = [](const json& j) { return LotkaVolterraOptions::from_json(j, "simulator.options"); };
  CHECK_THROWS_WITH(parse({{"max_steps", 0}}), "simulator.options.max_steps: expected an integer ≥ 1, got 0");
  CHECK_THROWS_WITH(parse({{"max_step", 10}}), Catch::StartsWith("simulator.options.max_step: unknown key"));
  CHECK_THROWS_WITH(parse({{"rtol", -1}}), "simulator.options.rtol: expected a positive number, got -1");
  CHECK_THROWS_WITH(parse({{"noise", "yes"}}), "simulator.options.noise: expected true or false, got \"yes\"");
  CHECK_THROWS_WITH(parse({{"initial_state", {30, 0}}}), "simulator.options.initial_state[1]: expected a positive number, got 0");
  CHECK_THROWS_WITH(parse({{"initial_state", {30}}}), Catch::StartsWith("simulator.options.initial_state: expected a list of 2 numbers"));
  CHECK_THROWS_WITH(parse({{"observation_times", {0, 2, 1}}}),
                    Catch::StartsWith("simulator.options.observation_times[2]: expected times in increasing order"));
  CHECK_THROWS_WITH(parse({{"t_end", 10}}), "simulator.options.t_end: expected a number ≥ the last default observation time 18.9 "
                                             "(or give observation_times), got 10");
  CHECK_THROWS_WITH(parse({{"observation_times", {0, 25}}}),
                    Catch::StartsWith("simulator.options.observation_times[1]: expected a time in [0, t_end = 20]"));

  const auto o = parse({{"observation_times", {0, 1, 2}}, {"noise_sd", 0.2}, {"t_end", 5}, {"initial_state", {10, 2}}});
  CHECK(o.observation_times.size() == 3);
  CHECK(o.noise_sd == 0.2);
  const auto sim = make_lotka_volterra(o);
  CHECK(sim.data_dim() == 6);
  CHECK(sim.info().options.at("t_end") == 5.0);
  // Round trip.
  CHECK(parse(o.to_json()).to_json() == o.to_json());

  // Through the registry, with the spec's path.
  const auto& entry = find_builtin_simulator("lotka_volterra");
  CHECK_THROWS_WITH(entry.make(json{{"noise_sd", 0}}, "simulator.options"),
                    "simulator.options.noise_sd: expected a positive number, got 0");
}
