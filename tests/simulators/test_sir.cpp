#include "simulators/registry.hpp"
#include "simulators/sir.hpp"
#include "test_support.hpp"

#include <array>
#include <cmath>

using namespace sbi;
using namespace sbi::simulators;

namespace {

// Reference: classical RK4 with h = 1e-3 days, I sampled at t = 17 j (every 17000 steps).
std::vector<double> rk4_infected(double beta, double gamma) {
  const double n = 1e6;
  const auto f = [&](const std::array<double, 3>& x) {
    const double infection = beta * x[0] * x[1] / n;
    return std::array<double, 3>{-infection, infection - gamma * x[1], gamma * x[1]};
  };
  const double h = 1e-3;
  std::array<double, 3> x{n - 1, 1, 0};
  std::vector<double> out(10);
  for (int j = 0; j < 10; ++j) {
    out[static_cast<std::size_t>(j)] = x[1];
    if (j == 9) break;
    for (int k = 0; k < 17000; ++k) {
      const auto k1 = f(x);
      std::array<double, 3> a{}, b{}, c{};
      for (int i = 0; i < 3; ++i) a[i] = x[i] + 0.5 * h * k1[i];
      const auto k2 = f(a);
      for (int i = 0; i < 3; ++i) b[i] = x[i] + 0.5 * h * k2[i];
      const auto k3 = f(b);
      for (int i = 0; i < 3; ++i) c[i] = x[i] + h * k3[i];
      const auto k4 = f(c);
      for (int i = 0; i < 3; ++i) x[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
  }
  return out;
}

const std::vector<double>& true_theta() {
  static const std::vector<double> theta = test::read_csv_row("data/sbibm/sir/obs_1/true_parameters.csv").values;
  return theta;
}

}  // namespace

TEST_CASE("sir: names, dimensions and prior follow sbibm", "[simulators][sir]") {
  const auto sim = make_sir();
  CHECK(sim.name() == "sir");
  CHECK(sim.info().parameter_names == Names{"beta", "gamma"});
  CHECK(sim.info().data_names == test::read_csv_row("data/sbibm/sir/obs_1/observation.csv").header);
  CHECK(sim.thread_safe());
  const auto prior = sir_prior();
  const double theta[2] = {0.4, 0.125};  // the medians
  const double expected = -std::log(0.5 * std::sqrt(2 * M_PI)) - std::log(0.4) - std::log(0.2 * std::sqrt(2 * M_PI)) - std::log(0.125);
  CHECK(prior->log_prob(ConstRow(theta, 2)) == Approx(expected).epsilon(1e-12));
}

TEST_CASE("sir: noise-free path agrees with a fine RK4 solution", "[simulators][sir]") {
  // With sbibm's tolerances (1e-8) the error in I is below 0.05 persons (5e-5 counts; measured worst
  // case over 200 prior draws: 0.007) plus 1e-5 relative; with tight tolerances (1e-10) the relative
  // error is below 1e-5 (measured worst case 1.5e-6).
  SirOptions options;
  options.noise = false;
  SirOptions tight = options;
  tight.rtol = tight.atol = 1e-10;
  const auto sim = make_sir(options);
  const auto prior = sir_prior();
  Rng rng(5);
  std::vector<std::array<double, 2>> thetas{{true_theta()[0], true_theta()[1]}};
  for (int i = 0; i < 3; ++i) {
    std::array<double, 2> th{};
    prior->sample(rng, MutableRow(th.data(), 2));
    thetas.push_back(th);
  }
  for (const auto& th : thetas) {
    const ConstRow theta(th.data(), 2);
    const auto reference = rk4_infected(th[0], th[1]);
    RowMatrix infected(1, 10), precise(1, 10);
    sir_infected(options, theta, row_span(infected, 0));
    sir_infected(tight, theta, row_span(precise, 0));
    const Vector counts = sim.simulate_one(theta, 1);
    for (std::size_t k = 0; k < 10; ++k) {
      INFO("θ = " << th[0] << ", " << th[1] << "; t = " << 17 * k);
      const auto kk = static_cast<Eigen::Index>(k);
      CHECK(std::abs(infected(0, kk) - reference[k]) <= 1e-5 * std::abs(reference[k]) + 0.05);
      CHECK(std::abs(precise(0, kk) - reference[k]) <= 1e-5 * std::abs(reference[k]) + 1e-6);
      CHECK(std::abs(counts[kk] - 1000 * reference[k] / 1e6) <= 1e-5 * 1000 * reference[k] / 1e6 + 5e-5);
    }
  }
}

TEST_CASE("sir: counts are integers in [0, 1000] with binomial means", "[simulators][sir]") {
  const auto sim = make_sir();
  const auto prior = sir_prior();
  Rng rng(11);
  const RowMatrix theta = prior->sample_batch(rng, 300);
  RowMatrix y(theta.rows(), 10);
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(theta.rows()));
  for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = stream_seed(1, i);
  std::vector<SimulationOutcome> outcomes(seeds.size());
  sim.simulate_batch(theta, y, seeds, outcomes);
  for (const auto& o : outcomes) REQUIRE(o.ok());
  CHECK((y.array() >= 0).all());
  CHECK((y.array() <= 1000).all());
  CHECK((y.array() == y.array().round()).all());

  // At θ*: mean count = 1000 p within 5 standard errors sqrt(1000 p (1 − p) / n).
  const Eigen::Index n = 2000;
  const RowMatrix counts = test::simulate_repeated(sim, true_theta(), n);
  RowMatrix infected(1, 10);
  sir_infected({}, true_theta(), row_span(infected, 0));
  const Vector mean = test::column_means(counts);
  for (Eigen::Index k = 0; k < 10; ++k) {
    const double p = std::clamp(infected(0, k) / 1e6, 0.0, 1.0);
    INFO("t = " << 17 * k << ", p = " << p);
    CHECK(std::abs(mean[k] - 1000 * p) <= 5 * std::sqrt(1000 * p * (1 - p) / static_cast<double>(n)) + 1e-12);
  }
}

TEST_CASE("sir: the published observation is consistent with the ODE at θ*", "[simulators][sir]") {
  const auto x_o = test::read_csv_row("data/sbibm/sir/obs_1/observation.csv").values;
  RowMatrix infected(1, 10);
  sir_infected({}, true_theta(), row_span(infected, 0));
  for (Eigen::Index k = 0; k < 10; ++k) {
    const double p = std::clamp(infected(0, k) / 1e6, 0.0, 1.0);
    const double sd = std::sqrt(1000 * p * (1 - p));
    INFO("t = " << 17 * k << ", expected " << 1000 * p << ", observed " << x_o[static_cast<std::size_t>(k)]);
    CHECK(std::abs(x_o[static_cast<std::size_t>(k)] - 1000 * p) <= 5 * sd + 1);
  }
}

TEST_CASE("sir: same stream, same output", "[simulators][sir]") {
  const auto sim = make_sir();
  CHECK(sim.simulate_one(true_theta(), 9) == sim.simulate_one(true_theta(), 9));
  CHECK(sim.simulate_one(true_theta(), 9) != sim.simulate_one(true_theta(), 10));
}

TEST_CASE("sir: options are parsed with path-aware errors", "[simulators][sir]") {
  using nlohmann::json;
  const auto parse = [](const json& j) { return SirOptions::from_json(j, "simulator.options"); };
  CHECK_THROWS_WITH(parse({{"population", 0}}), "simulator.options.population: expected a positive number, got 0");
  CHECK_THROWS_WITH(parse({{"sample_size", 0}}), Catch::StartsWith("simulator.options.sample_size: expected an integer in [1,"));
  CHECK_THROWS_WITH(parse({{"max_steps", 0}}), "simulator.options.max_steps: expected an integer ≥ 1, got 0");
  CHECK_THROWS_WITH(parse({{"N", 1000}}), Catch::StartsWith("simulator.options.N: unknown key"));
  CHECK_THROWS_WITH(parse({{"observation_times", {0, 170}}}),
                    Catch::StartsWith("simulator.options.observation_times[1]: expected a time in [0, t_end = 160]"));
  const auto o = parse({{"population", 1000}, {"initial_infected", 10}, {"sample_size", 50}, {"observation_times", {0, 10, 20}}});
  const auto sim = make_sir(o);
  CHECK(sim.data_dim() == 3);
  const Vector y = sim.simulate_one(true_theta(), 1);
  CHECK(((y.array() >= 0) && (y.array() <= 50)).all());
  // A tiny step cap fails with a message naming θ.
  CHECK_THROWS_WITH(make_sir(parse({{"max_steps", 3}})).simulate_one(true_theta(), 1), Catch::Contains("beta="));
  CHECK_THROWS_WITH(find_builtin_simulator("sir").make(json{{"population", -5}}, "simulator.options"),
                    "simulator.options.population: expected a positive number, got -5");
}
