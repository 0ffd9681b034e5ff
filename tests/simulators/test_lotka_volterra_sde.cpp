// Tests of simulators/lotka_volterra_sde: options and errors, Euler convergence against an accurate
// ODE solution, the documented increment variance, boundaries, reproducibility, the spec file.
#include "simulators/lotka_volterra_sde.hpp"

#include "sbi/core/error.hpp"
#include "simulators/lotka_volterra_jump.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace sbi;
using namespace sbi::simulators;

namespace {

std::string input_error_of(const nlohmann::json& options) {
  try {
    LotkaVolterraSdeOptions::from_json(options, "simulator.options");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

const std::vector<double> kTheta{0.5, 0.01, 0.01};

// The deterministic ODE by classical RK4 with step h, sampled every `interval` (k = 1..n).
std::vector<std::array<double, 2>> rk4_path(double b1, double b2, double b3, double b4, double x, double y,
                                            double interval, std::size_t n, std::size_t substeps) {
  auto f = [&](double px, double py) {
    return std::array<double, 2>{b1 * px - b2 * px * py, -b4 * py + b3 * px * py};
  };
  const double h = interval / static_cast<double>(substeps);
  std::vector<std::array<double, 2>> out;
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t s = 0; s < substeps; ++s) {
      const auto k1 = f(x, y);
      const auto k2 = f(x + 0.5 * h * k1[0], y + 0.5 * h * k1[1]);
      const auto k3 = f(x + 0.5 * h * k2[0], y + 0.5 * h * k2[1]);
      const auto k4 = f(x + h * k3[0], y + h * k3[1]);
      x += h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]);
      y += h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]);
    }
    out.push_back({x, y});
  }
  return out;
}

// Largest absolute deviation of the noise-free simulator (step dt) from the RK4 reference.
double euler_error(double dt, const std::vector<std::array<double, 2>>& reference, const LotkaVolterraSdeOptions& base) {
  LotkaVolterraSdeOptions options = base;
  options.dt = dt;
  options.noise_sd = 0;
  const LotkaVolterraSde model(options);
  const std::size_t n = options.num_times();
  std::vector<double> y(2 * n);
  Rng rng(1);
  REQUIRE(model(kTheta, y, rng));
  double error = 0;
  for (std::size_t k = 0; k < n; ++k)
    error = std::max({error, std::abs(y[k] - reference[k][0]), std::abs(y[n + k] - reference[k][1])});
  return error;
}

struct Stats {
  double mean = 0, var = 0;
};
Stats stats(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.var += (x - s.mean) * (x - s.mean);
  s.var /= static_cast<double>(v.size() - 1);
  return s;
}

}  // namespace

TEST_CASE("lotka_volterra_sde: defaults, names and registry entry", "[simulators][lotka_volterra_sde]") {
  const auto entry = lotka_volterra_sde_entry();
  CHECK(entry.name == "lotka_volterra_sde");
  const Simulator sim = entry.make(nlohmann::json::object(), "simulator.options");
  CHECK(sim.name() == "lotka_volterra_sde");
  CHECK(sim.thread_safe());
  CHECK(sim.info().parameter_names == Names{"beta1", "beta2", "beta3"});
  REQUIRE(sim.data_dim() == 300);
  CHECK(sim.info().data_names[0] == "X_t0.2");
  CHECK(sim.info().data_names[2] == "X_t0.6");
  CHECK(sim.info().data_names[149] == "X_t30");
  CHECK(sim.info().data_names[150] == "Y_t0.2");
  CHECK(sim.info().data_names[299] == "Y_t30");
  CHECK(sim.info().options["noise_sd"] == Approx(std::sqrt(10.0)));
  CHECK(sim.info().options["noise_scaling"] == "diffusion");
  CHECK(sim.info().options["boundary"] == "clamp");

  const Simulator four = entry.make({{"parameters", 4}, {"summaries", true}}, "simulator.options");
  CHECK(four.info().parameter_names == Names{"beta1", "beta2", "beta3", "beta4"});
  CHECK(four.info().data_names == lotka_volterra_summary_names());

  const PriorPtr p3 = entry.default_prior(nlohmann::json::object());
  const PriorPtr p4 = entry.default_prior({{"parameters", 4}});
  CHECK(p3->dim() == 3);
  CHECK(p4->dim() == 4);
  CHECK(p4->names() == Names{"beta1", "beta2", "beta3", "beta4"});
  CHECK(p3->in_support(kTheta));
  CHECK(p4->in_support(std::vector<double>{0.5, 0.01, 0.01, 0.5}));
}

TEST_CASE("lotka_volterra_sde: bad options give errors naming the path", "[simulators][lotka_volterra_sde]") {
  CHECK(input_error_of({{"dt", 0}}) == "simulator.options.dt: expected a positive number, got 0");
  CHECK(input_error_of({{"parameters", 5}}) == "simulator.options.parameters: expected an integer in [3, 4], got 5");
  CHECK(input_error_of({{"noise_sd", -1}}) == "simulator.options.noise_sd: expected a non-negative number, got -1");
  CHECK(input_error_of({{"noise_scaling", "per_step"}}) ==
        "simulator.options.noise_scaling: expected one of \"diffusion\" or \"per_observation\", got \"per_step\"");
  CHECK(input_error_of({{"boundary", "wrap"}}) ==
        "simulator.options.boundary: expected one of \"clamp\", \"reflect\" or \"none\", got \"wrap\"");
  CHECK(input_error_of({{"t_end", 1}, {"observation_interval", 0.3}}) ==
        "simulator.options.t_end: expected a positive multiple of observation_interval (0.3), got 1");
  CHECK(input_error_of({{"initial_state", {-1, 5}}}) ==
        "simulator.options.initial_state[0]: expected a non-negative number, got -1");
  CHECK(input_error_of({{"summaries", true}, {"t_end", 0.4}}) ==
        "simulator.options.t_end: expected at least 3 observation intervals with \"summaries\": true, got 0.4 with "
        "observation_interval 0.2");
  CHECK_THAT(input_error_of({{"noise", 1}}), Catch::StartsWith("simulator.options.noise: unknown key"));
}

TEST_CASE("lotka_volterra_sde: the step is fitted to the observation interval", "[simulators][lotka_volterra_sde]") {
  LotkaVolterraSdeOptions o;
  CHECK(o.steps_per_interval() == 20);  // 0.2 / 0.01 is 20.000000000000004 in floating point
  CHECK(o.step() == Approx(0.01));
  o.dt = 0.03;
  CHECK(o.steps_per_interval() == 7);
  CHECK(o.step() == Approx(0.2 / 7));
  o.dt = 1.0;
  CHECK(o.steps_per_interval() == 1);
  CHECK(o.step() == Approx(0.2));
  o.noise_scaling = LotkaVolterraSdeOptions::NoiseScaling::per_observation;
  o.noise_sd = 2;
  CHECK(o.diffusion_sd() == Approx(2 / std::sqrt(0.2)));
}

TEST_CASE("lotka_volterra_sde: zero noise converges to the ODE at Euler's first order", "[simulators][lotka_volterra_sde]") {
  LotkaVolterraSdeOptions options;
  options.t_end = 10;
  options.observation_interval = 0.5;
  const auto reference = rk4_path(0.5, 0.01, 0.01, 0.5, 100, 50, 0.5, options.num_times(), 2000);
  // RK4 itself is converged: halving its step changes nothing at this tolerance.
  const auto check = rk4_path(0.5, 0.01, 0.01, 0.5, 100, 50, 0.5, options.num_times(), 4000);
  CHECK(std::abs(check.back()[0] - reference.back()[0]) < 1e-9);

  const double e1 = euler_error(0.01, reference, options);
  const double e2 = euler_error(0.005, reference, options);
  const double e3 = euler_error(0.0025, reference, options);
  INFO("errors " << e1 << ", " << e2 << ", " << e3);
  CHECK(e1 < 1.0);
  CHECK(e1 / e2 == Approx(2).margin(0.25));
  CHECK(e2 / e3 == Approx(2).margin(0.15));
}

TEST_CASE("lotka_volterra_sde: one step has mean x + h f(x) and variance sigma^2 h", "[simulators][lotka_volterra_sde]") {
  LotkaVolterraSdeOptions options;
  options.t_end = 0.1;
  options.observation_interval = 0.1;
  options.dt = 0.1;
  options.noise_sd = 3;
  options.boundary = LotkaVolterraSdeOptions::Boundary::none;
  const LotkaVolterraSde model(options);
  const std::vector<double> theta{0.6, 0.01, 0.012};
  // f(100, 50) = (0.6·100 − 0.01·5000, −0.6·50 + 0.012·5000) = (10, 30).
  const double mean_x = 100 + 0.1 * 10, mean_y = 50 + 0.1 * 30, var = 9 * 0.1;
  const int n = 20000;
  std::vector<double> xs, ys;
  double cross = 0;
  for (int r = 0; r < n; ++r) {
    std::vector<double> y(2);
    Rng rng = Rng::stream(31, static_cast<std::uint64_t>(r));
    REQUIRE(model(theta, y, rng));
    xs.push_back(y[0]);
    ys.push_back(y[1]);
    cross += (y[0] - mean_x) * (y[1] - mean_y);
  }
  const Stats sx = stats(xs), sy = stats(ys);
  const double mean_se = std::sqrt(var / n), var_se = var * std::sqrt(2.0 / (n - 1));
  CHECK(std::abs(sx.mean - mean_x) < 5 * mean_se);
  CHECK(std::abs(sy.mean - mean_y) < 5 * mean_se);
  CHECK(std::abs(sx.var - var) < 5 * var_se);
  CHECK(std::abs(sy.var - var) < 5 * var_se);
  CHECK(std::abs(cross / n) < 5 * var / std::sqrt(n));  // independent noise on X and Y
}

TEST_CASE("lotka_volterra_sde: noise accumulated over an observation interval", "[simulators][lotka_volterra_sde]") {
  // With zero rates the path is a random walk: over one interval Δ = 0.2 made of 4 steps the variance
  // is σ²Δ ("diffusion") or noise_sd² ("per_observation"), independent of the step.
  for (const auto scaling : {LotkaVolterraSdeOptions::NoiseScaling::diffusion, LotkaVolterraSdeOptions::NoiseScaling::per_observation}) {
    LotkaVolterraSdeOptions options;
    options.t_end = 0.2;
    options.dt = 0.05;
    options.noise_sd = 2;
    options.noise_scaling = scaling;
    options.boundary = LotkaVolterraSdeOptions::Boundary::none;
    const LotkaVolterraSde model(options);
    const double var = scaling == LotkaVolterraSdeOptions::NoiseScaling::diffusion ? 4 * 0.2 : 4.0;
    const int n = 20000;
    std::vector<double> xs;
    for (int r = 0; r < n; ++r) {
      std::vector<double> y(2);
      Rng rng = Rng::stream(32, static_cast<std::uint64_t>(r));
      REQUIRE(model(std::vector<double>{0, 0, 0}, y, rng));
      xs.push_back(y[0]);
    }
    const Stats s = stats(xs);
    INFO("variance " << s.var << " vs " << var);
    CHECK(std::abs(s.mean - 100) < 5 * std::sqrt(var / n));
    CHECK(std::abs(s.var - var) < 5 * var * std::sqrt(2.0 / (n - 1)));
  }
}

TEST_CASE("lotka_volterra_sde: boundaries", "[simulators][lotka_volterra_sde]") {
  LotkaVolterraSdeOptions options;
  options.initial_prey = 1;
  options.initial_predators = 1;
  options.noise_sd = 10;
  options.t_end = 2;  // short: without a boundary, negative populations make the drift explode later
  double lowest[3] = {1e9, 1e9, 1e9};
  for (int b = 0; b < 3; ++b) {
    options.boundary = static_cast<LotkaVolterraSdeOptions::Boundary>(b);
    const LotkaVolterraSde model(options);
    std::vector<double> y(model.data_dim());
    for (int r = 0; r < 20; ++r) {
      Rng rng = Rng::stream(33, static_cast<std::uint64_t>(r));
      REQUIRE(model(kTheta, y, rng));
      for (double v : y) lowest[b] = std::min(lowest[b], v);
    }
  }
  CHECK(lowest[0] == 0.0);  // clamp: touches 0, never below
  CHECK(lowest[1] >= 0.0);  // reflect
  CHECK(lowest[2] < 0.0);   // none
}

TEST_CASE("lotka_volterra_sde: variants agree and statistics are those of the raw series", "[simulators][lotka_volterra_sde]") {
  LotkaVolterraSdeOptions three, four, summarised;
  four.parameters = 4;
  summarised.summaries = true;
  std::vector<double> a(300), b(300), s(9), expected(9);
  Rng ra(5), rb(5), rs(5);
  REQUIRE(LotkaVolterraSde(three)(kTheta, a, ra));
  REQUIRE(LotkaVolterraSde(four)(std::vector<double>{0.5, 0.01, 0.01, 0.5}, b, rb));
  CHECK(a == b);  // β4 = β1 is the three-parameter model
  REQUIRE(LotkaVolterraSde(summarised)(kTheta, s, rs));
  lotka_volterra_summary_statistics(std::span(a).first(150), std::span(a).last(150), expected);
  CHECK(s == expected);
}

TEST_CASE("lotka_volterra_sde: a path out of range fails the simulation", "[simulators][lotka_volterra_sde]") {
  const Simulator sim = lotka_volterra_sde_entry().make({{"max_population", 60}}, "simulator.options");
  RowMatrix theta(1, 3), y(1, 300);
  theta.row(0) << 0.5, 0.01, 0.01;
  const std::uint64_t seed = 1;
  SimulationOutcome outcome;
  sim.simulate_batch(theta, y, {&seed, 1}, {&outcome, 1});
  CHECK(outcome.status == SimulationStatus::failed);
  CHECK_THAT(outcome.message, Catch::Contains("max_population"));
}

TEST_CASE("lotka_volterra_sde: the same stream gives the same output", "[simulators][lotka_volterra_sde]") {
  const Simulator sim = make_lotka_volterra_sde();
  const Vector a = sim.simulate_one(kTheta, stream_seed(9, 4, 1));
  const Vector b = sim.simulate_one(kTheta, stream_seed(9, 4, 1));
  const Vector c = sim.simulate_one(kTheta, stream_seed(9, 5, 1));
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a.allFinite());
}

TEST_CASE("lotka_volterra_sde: the spec's observation is reproduced", "[simulators][lotka_volterra_sde]") {
  std::ifstream file(std::string(SBI_SOURCE_DIR) + "/data/specs/lotka_volterra_sde.json");
  REQUIRE(file);
  const nlohmann::json spec = nlohmann::json::parse(file);
  CHECK(spec["simulator"]["name"] == "lotka_volterra_sde");
  const Simulator sim = lotka_volterra_sde_entry().make(spec["simulator"]["options"], "simulator.options");
  const PriorPtr prior = prior_from_json(spec["prior"]);
  REQUIRE(prior->dim() == sim.parameter_dim());
  const auto theta = spec["true_parameters"].get<std::vector<double>>();
  const auto observation = spec["observation"].get<std::vector<double>>();
  REQUIRE(observation.size() == sim.data_dim());
  CHECK(prior->in_support(theta));
  // Documented in the spec's description: simulation index 0 of a run with seed 2017.
  const Vector y = sim.simulate_one(theta, stream_seed(2017, 0, 1));
  for (std::size_t i = 0; i < observation.size(); ++i)
    CHECK(y[static_cast<Eigen::Index>(i)] == Approx(observation[i]).epsilon(1e-12));
}

TEST_CASE("lotka_volterra_sde: a linear case matches the Euler-Maruyama law exactly", "[simulators][lotka_volterra_sde]") {
  // With β2 = β3 = 0: dX = β1 X dt + σ dW, dY = −β1 Y dt + σ dW'. Euler–Maruyama with n steps of h gives
  // X_n = a^n X0 + σ√h Σ a^{n−1−j} Z_j, a = 1 + β1 h: mean a^n X0, variance σ² h Σ_{j<n} a^{2j}
  // (and the same with a = 1 − β1 h for Y); the means approach X0 e^{β1 t} at first order in h.
  LotkaVolterraSdeOptions options;
  options.t_end = 2;
  options.observation_interval = 1;
  options.dt = 0.01;
  options.noise_sd = 4;
  options.boundary = LotkaVolterraSdeOptions::Boundary::none;
  const LotkaVolterraSde model(options);
  const double b1 = 0.5, h = 0.01, sigma = 4;
  const int n_steps = 200, runs = 20000;
  std::vector<double> xs, ys;
  for (int r = 0; r < runs; ++r) {
    std::vector<double> y(4);
    Rng rng = Rng::stream(34, static_cast<std::uint64_t>(r));
    REQUIRE(model(std::vector<double>{b1, 0, 0}, y, rng));
    xs.push_back(y[1]);  // X at t = 2
    ys.push_back(y[3]);  // Y at t = 2
  }
  for (const auto& [a, x0, samples] : {std::tuple{1 + b1 * h, 100.0, &xs}, std::tuple{1 - b1 * h, 50.0, &ys}}) {
    const double mean = std::pow(a, n_steps) * x0;
    double var = 0;
    for (int j = 0; j < n_steps; ++j) var += std::pow(a, 2 * j);
    var *= sigma * sigma * h;
    const Stats s = stats(*samples);
    INFO("mean " << s.mean << " vs " << mean << ", variance " << s.var << " vs " << var);
    CHECK(std::abs(s.mean - mean) < 5 * std::sqrt(var / runs));
    CHECK(std::abs(s.var - var) < 5 * var * std::sqrt(2.0 / (runs - 1)));
  }
  // The Euler mean's bias against the SDE's exact mean, X0 e^{β1 t}, is first order: ≈ X0 e^{β1 t} β1² t h / 2.
  const double bias = std::pow(1 + b1 * h, n_steps) * 100 - 100 * std::exp(b1 * 2);
  CHECK(bias / (100 * std::exp(1.0) * b1 * b1 * 2 * h / 2) == Approx(-1).margin(0.02));
}

TEST_CASE("lotka_volterra_sde: two threads give the same table as one", "[simulators][lotka_volterra_sde]") {
  for (const bool summaries : {false, true}) {
    const Simulator sim = lotka_volterra_sde_entry().make({{"summaries", summaries}, {"parameters", 4}}, "simulator.options");
    const PriorPtr prior = lotka_volterra_sde_prior(4);
    const Eigen::Index n = 64;
    Rng rng(8);
    const RowMatrix theta = prior->sample_batch(rng, n);
    std::vector<std::uint64_t> seeds;
    for (Eigen::Index i = 0; i < n; ++i) seeds.push_back(stream_seed(8, static_cast<std::uint64_t>(i), 1));
    RowMatrix one(n, static_cast<Eigen::Index>(sim.data_dim()));
    std::vector<SimulationOutcome> outcomes(static_cast<std::size_t>(n));
    sim.simulate_batch(theta, one, seeds, outcomes);
    // Halves on two threads at once.
    RowMatrix t0 = theta.topRows(n / 2), t1 = theta.bottomRows(n / 2);
    RowMatrix y0(n / 2, one.cols()), y1(n / 2, one.cols());
    std::vector<SimulationOutcome> o0(n / 2), o1(n / 2);
    std::thread worker([&] { sim.simulate_batch(t1, y1, std::span(seeds).last(n / 2), o1); });
    sim.simulate_batch(t0, y0, std::span(seeds).first(n / 2), o0);
    worker.join();
    CHECK(y0 == one.topRows(n / 2));
    CHECK(y1 == one.bottomRows(n / 2));
  }
}
