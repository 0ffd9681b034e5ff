// Tests of simulators/lotka_volterra_jump: options and errors, integrality, known-answer statistics
// (pure death, pure birth), the event cap, the summary statistics, reproducibility, the spec file.
#include "simulators/lotka_volterra_jump.hpp"

#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

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
    LotkaVolterraJumpOptions::from_json(options, "simulator.options");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

// Sample mean, variance and the standard error of the variance (from the fourth central moment).
struct Moments {
  double mean = 0, var = 0, var_se = 0;
};
Moments moments(const std::vector<double>& v) {
  const double n = static_cast<double>(v.size());
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= n;
  double m2 = 0, m4 = 0;
  for (double x : v) {
    const double d = x - m.mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  m.var = m2 * n / (n - 1);
  m.var_se = std::sqrt(std::max(m4 - m2 * m2, 0.0) / n);
  return m;
}

// Runs `runs` raw simulations of theta; returns the paths row by row (2K values each).
std::vector<std::vector<double>> raw_paths(const LotkaVolterraJumpOptions& options, std::vector<double> theta,
                                           int runs, std::uint64_t seed) {
  LotkaVolterraJump model(options);
  std::vector<std::vector<double>> paths;
  for (int r = 0; r < runs; ++r) {
    std::vector<double> y(model.data_dim());
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(r));
    REQUIRE(model(theta, y, rng));
    paths.push_back(std::move(y));
  }
  return paths;
}

// The 9 statistics written out directly from their definitions (standardised vectors, then dot products).
std::vector<double> direct_statistics(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  auto mean = [&](const std::vector<double>& s) {
    double m = 0;
    for (double v : s) m += v;
    return m / static_cast<double>(n);
  };
  auto var = [&](const std::vector<double>& s, double m) {
    double q = 0;
    for (double v : s) q += (v - m) * (v - m);
    return q / static_cast<double>(n - 1);
  };
  const double mx = mean(x), my = mean(y), vx = var(x, mx), vy = var(y, my);
  std::vector<double> u(n), w(n);
  for (std::size_t k = 0; k < n; ++k) {
    u[k] = (x[k] - mx) / std::sqrt(vx);
    w[k] = (y[k] - my) / std::sqrt(vy);
  }
  auto lagged = [&](const std::vector<double>& a, const std::vector<double>& b, std::size_t lag) {
    double s = 0;
    for (std::size_t k = 0; k + lag < n; ++k) s += a[k] * b[k + lag];
    return s / static_cast<double>(n - 1);
  };
  return {mx, my, std::log(vx + 1), std::log(vy + 1), lagged(u, u, 1), lagged(u, u, 2),
          lagged(w, w, 1), lagged(w, w, 2), lagged(u, w, 0)};
}

const std::vector<double> kTrueTheta{std::log(0.01), std::log(0.5), std::log(1.0), std::log(0.01)};

}  // namespace

TEST_CASE("lotka_volterra_jump: defaults, names and registry entry", "[simulators][lotka_volterra_jump]") {
  const auto entry = lotka_volterra_jump_entry();
  CHECK(entry.name == "lotka_volterra_jump");
  const Simulator sim = entry.make(nlohmann::json::object(), "simulator.options");
  CHECK(sim.name() == "lotka_volterra_jump");
  CHECK(sim.thread_safe());
  CHECK(sim.info().parameter_names == Names{"log_c1", "log_c2", "log_c3", "log_c4"});
  CHECK(sim.info().data_names == lotka_volterra_summary_names());
  CHECK(sim.data_dim() == 9);
  CHECK(sim.info().options["max_events"] == 10000);

  const Simulator raw = entry.make({{"summaries", false}}, "simulator.options");
  REQUIRE(raw.data_dim() == 302);
  CHECK(raw.info().data_names[0] == "X_t0");
  CHECK(raw.info().data_names[1] == "X_t0.2");
  CHECK(raw.info().data_names[3] == "X_t0.6");
  CHECK(raw.info().data_names[150] == "X_t30");
  CHECK(raw.info().data_names[151] == "Y_t0");
  CHECK(raw.info().data_names[301] == "Y_t30");

  const PriorPtr prior = entry.default_prior(nlohmann::json::object());
  REQUIRE(prior->dim() == 4);
  CHECK(prior->names() == Names{"log_c1", "log_c2", "log_c3", "log_c4"});
  const auto* uniform = dynamic_cast<const UniformPrior*>(prior.get());
  REQUIRE(uniform);
  CHECK((uniform->low().array() == -5.0).all());
  CHECK((uniform->high().array() == 2.0).all());
}

TEST_CASE("lotka_volterra_jump: bad options give errors naming the path", "[simulators][lotka_volterra_jump]") {
  CHECK(input_error_of({{"t_end", 0}}) == "simulator.options.t_end: expected a positive number, got 0");
  CHECK(input_error_of({{"observation_interval", -0.2}}) ==
        "simulator.options.observation_interval: expected a positive number, got -0.2");
  CHECK(input_error_of({{"t_end", 30.1}}) ==
        "simulator.options.t_end: expected a positive multiple of observation_interval (0.2), got 30.1");
  CHECK(input_error_of({{"initial_state", {100.5, 50}}}) ==
        "simulator.options.initial_state[0]: expected a non-negative integer, got 100.5");
  CHECK(input_error_of({{"initial_state", {100, -1}}}) ==
        "simulator.options.initial_state[1]: expected a non-negative integer, got -1");
  CHECK(input_error_of({{"initial_state", {50}}}) == "simulator.options.initial_state: expected a list of 2 numbers, got 1");
  CHECK(input_error_of({{"max_events", 0}}) == "simulator.options.max_events: expected an integer ≥ 1, got 0");
  CHECK(input_error_of({{"summaries", 1}}) == "simulator.options.summaries: expected true or false, got 1");
  CHECK_THAT(input_error_of({{"tend", 30}}), Catch::StartsWith("simulator.options.tend: unknown key"));
  CHECK(input_error_of(nlohmann::json::array()) == "simulator.options: expected an object, got an empty list");
}

TEST_CASE("lotka_volterra_jump: populations are non-negative integers", "[simulators][lotka_volterra_jump]") {
  LotkaVolterraJumpOptions options;
  options.summaries = false;
  const LotkaVolterraJump model(options);
  const PriorPtr prior = lotka_volterra_jump_prior();
  std::vector<double> y(model.data_dim()), theta(4);
  int completed = 0, capped = 0;
  for (int r = 0; r < 300; ++r) {
    Rng rng = Rng::stream(11, static_cast<std::uint64_t>(r));
    if (r == 0) {
      theta = kTrueTheta;
    } else {
      prior->sample(rng, theta);
    }
    if (model.simulate_path(theta, std::span(y).first(151), std::span(y).last(151), rng) < 0) {
      ++capped;
      continue;
    }
    ++completed;
    CHECK(y[0] == 50);
    CHECK(y[151] == 100);
    for (double v : y) {
      REQUIRE(v >= 0);
      REQUIRE(v == std::floor(v));
    }
  }
  CHECK(completed > 50);
  CHECK(capped > 0);  // the broad prior hits the event cap sometimes
}

TEST_CASE("lotka_volterra_jump: pure death matches E and Var of a binomial thinning", "[simulators][lotka_volterra_jump]") {
  // Only predator death (c2 = 0.1); X(t) ~ Binomial(50, e^{−c t}), prey stay at 100.
  LotkaVolterraJumpOptions options;
  options.summaries = false;
  options.t_end = 20;
  options.observation_interval = 1;
  const double c = 0.1;
  const int runs = 4000;
  const auto paths = raw_paths(options, {-50, std::log(c), -50, -50}, runs, 21);
  const std::size_t K = options.num_times();
  for (std::size_t k = 0; k < K; ++k) {
    std::vector<double> x;
    for (const auto& p : paths) {
      x.push_back(p[k]);
      REQUIRE(p[K + k] == 100);
    }
    const double t = static_cast<double>(k);
    const double q = std::exp(-c * t);
    const double mean = 50 * q, var = 50 * q * (1 - q);
    const Moments m = moments(x);
    INFO("t = " << t << ", mean " << m.mean << " vs " << mean << ", var " << m.var << " vs " << var);
    CHECK(std::abs(m.mean - mean) <= 5 * std::sqrt(var / runs) + 1e-12);
    if (k > 0) CHECK(std::abs(m.var - var) <= 5 * m.var_se);
  }
}

TEST_CASE("lotka_volterra_jump: pure birth (Yule) matches its mean and variance", "[simulators][lotka_volterra_jump]") {
  // Only prey birth (c3 = 0.05) from Y0 = 100: E Y(t) = 100 e^{ct}, Var = 100 e^{2ct} (1 − e^{−ct}).
  LotkaVolterraJumpOptions options;
  options.summaries = false;
  options.t_end = 30;
  options.observation_interval = 2;
  const double c = 0.05;
  const int runs = 3000;
  const auto paths = raw_paths(options, {-50, -50, std::log(c), -50}, runs, 22);
  const std::size_t K = options.num_times();
  for (std::size_t k = 0; k < K; ++k) {
    std::vector<double> y;
    for (const auto& p : paths) {
      y.push_back(p[K + k]);
      REQUIRE(p[k] == 50);
    }
    const double t = 2.0 * static_cast<double>(k);
    const double mean = 100 * std::exp(c * t), var = 100 * std::exp(2 * c * t) * (1 - std::exp(-c * t));
    const Moments m = moments(y);
    INFO("t = " << t << ", mean " << m.mean << " vs " << mean << ", var " << m.var << " vs " << var);
    CHECK(std::abs(m.mean - mean) <= 5 * std::sqrt(var / runs) + 1e-12);
    if (k > 0) CHECK(std::abs(m.var - var) <= 5 * m.var_se);
  }
}

TEST_CASE("lotka_volterra_jump: the event cap fails the simulation", "[simulators][lotka_volterra_jump]") {
  LotkaVolterraJumpOptions options;
  options.max_events = 100;
  const LotkaVolterraJump model(options);
  std::vector<double> y(9);
  Rng rng(1);
  CHECK_THROWS_AS(model(kTrueTheta, y, rng), SimulationError);

  // Through the Simulator value: a failed outcome naming the cap, at the default cap too.
  const Simulator sim = make_lotka_volterra_jump();
  RowMatrix theta(2, 4), out(2, 9);
  theta.row(0) << -5, -5, 2, -5;  // prey born at rate e²·Y: thousands of events per time unit
  theta.row(1) = Eigen::Map<const Eigen::RowVector4d>(kTrueTheta.data());
  const std::uint64_t seeds[2] = {stream_seed(3, 0, 1), stream_seed(3, 1, 1)};
  SimulationOutcome outcomes[2];
  sim.simulate_batch(theta, out, seeds, outcomes);
  CHECK(outcomes[0].status == SimulationStatus::failed);
  CHECK_THAT(outcomes[0].message, Catch::Contains("more than 10000 events before t = 30"));
  CHECK(outcomes[1].ok());
  CHECK(out.row(1).allFinite());

  // Exactly at the cap is allowed: the count of a completed run is the cap for the next one.
  LotkaVolterraJumpOptions raw;
  raw.summaries = false;
  const LotkaVolterraJump counter(raw);
  std::vector<double> path(counter.data_dim());
  Rng a(5);
  const std::int64_t events = counter.simulate_path(kTrueTheta, std::span(path).first(151), std::span(path).last(151), a);
  REQUIRE(events > 0);
  raw.max_events = events;
  Rng b(5);
  CHECK(LotkaVolterraJump(raw).simulate_path(kTrueTheta, std::span(path).first(151), std::span(path).last(151), b) == events);
  raw.max_events = events - 1;
  Rng c(5);
  CHECK(LotkaVolterraJump(raw).simulate_path(kTrueTheta, std::span(path).first(151), std::span(path).last(151), c) == -1);
}

TEST_CASE("lotka_volterra_jump: summary statistics on hand-made series", "[simulators][lotka_volterra_jump]") {
  std::vector<double> out(9);
  SECTION("against the definitions") {
    const std::vector<double> x{50, 52, 55, 53, 49, 44, 40, 41, 45, 51, 56, 58};
    const std::vector<double> y{100, 96, 90, 88, 91, 97, 104, 109, 108, 101, 95, 90};
    lotka_volterra_summary_statistics(x, y, out);
    const auto expected = direct_statistics(x, y);
    for (std::size_t i = 0; i < 9; ++i) CHECK(out[i] == Approx(expected[i]).epsilon(1e-12).margin(1e-14));
  }
  SECTION("a short series by hand") {
    // x = (1, 2, 3): mean 2, s² = 1, u = (−1, 0, 1): lag-1 (0 + 0)/2 = 0, lag-2 (−1)/2 = −0.5.
    // y = (3, 1, 2): mean 2, s² = 1, v = (1, −1, 0): lag-1 (−1 + 0)/2, lag-2 0/2; cross (−1 + 0 + 0)/2.
    lotka_volterra_summary_statistics(std::vector<double>{1, 2, 3}, std::vector<double>{3, 1, 2}, out);
    CHECK(out[0] == Approx(2));
    CHECK(out[1] == Approx(2));
    CHECK(out[2] == Approx(std::log(2.0)));
    CHECK(out[3] == Approx(std::log(2.0)));
    CHECK(out[4] == Approx(0).margin(1e-15));
    CHECK(out[5] == Approx(-0.5));
    CHECK(out[6] == Approx(-0.5));
    CHECK(out[7] == Approx(0).margin(1e-15));
    CHECK(out[8] == Approx(-0.5));
  }
  SECTION("an affine copy is perfectly correlated; a constant series gives 0 correlations") {
    std::vector<double> x, y, flat(40, 7.0);
    for (int k = 0; k < 40; ++k) {
      x.push_back(std::sin(0.3 * k) * 20 + 60);
      y.push_back(2 * x.back() + 3);
    }
    lotka_volterra_summary_statistics(x, y, out);
    CHECK(out[8] == Approx(1).epsilon(1e-12));
    lotka_volterra_summary_statistics(x, flat, out);
    CHECK(out[1] == 7.0);
    CHECK(out[3] == 0.0);
    CHECK(out[6] == 0.0);
    CHECK(out[7] == 0.0);
    CHECK(out[8] == 0.0);
  }
  SECTION("the simulator's statistics are those of its raw series") {
    LotkaVolterraJumpOptions raw_options;
    raw_options.summaries = false;
    const LotkaVolterraJump raw(raw_options), summarised{LotkaVolterraJumpOptions{}};
    std::vector<double> path(302), stats(9);
    Rng a(77), b(77);
    REQUIRE(raw(kTrueTheta, path, a));
    REQUIRE(summarised(kTrueTheta, stats, b));
    lotka_volterra_summary_statistics(std::span(path).first(151), std::span(path).last(151), out);
    for (std::size_t i = 0; i < 9; ++i) CHECK(stats[i] == out[i]);
  }
}

TEST_CASE("lotka_volterra_jump: extinction of both populations is a valid, constant path", "[simulators][lotka_volterra_jump]") {
  LotkaVolterraJumpOptions options;
  options.initial_predators = 0;
  options.initial_prey = 0;
  const LotkaVolterraJump model(options);
  std::vector<double> stats(9);
  Rng rng(1);
  REQUIRE(model(kTrueTheta, stats, rng));
  const std::vector<double> expected{0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(stats == expected);
}

TEST_CASE("lotka_volterra_jump: the same stream gives the same output", "[simulators][lotka_volterra_jump]") {
  const Simulator sim = make_lotka_volterra_jump();
  const Vector a = sim.simulate_one(kTrueTheta, stream_seed(9, 4, 1));
  const Vector b = sim.simulate_one(kTrueTheta, stream_seed(9, 4, 1));
  const Vector c = sim.simulate_one(kTrueTheta, stream_seed(9, 5, 1));
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a.allFinite());
}

TEST_CASE("lotka_volterra_jump: the spec's observation is reproduced", "[simulators][lotka_volterra_jump]") {
  std::ifstream file(std::string(SBI_SOURCE_DIR) + "/data/specs/lotka_volterra_jump.json");
  REQUIRE(file);
  const nlohmann::json spec = nlohmann::json::parse(file);
  CHECK(spec["simulator"]["name"] == "lotka_volterra_jump");
  const Simulator sim = lotka_volterra_jump_entry().make(spec["simulator"]["options"], "simulator.options");
  const PriorPtr prior = prior_from_json(spec["prior"]);
  REQUIRE(prior->dim() == sim.parameter_dim());
  const auto theta = spec["true_parameters"].get<std::vector<double>>();
  const auto observation = spec["observation"].get<std::vector<double>>();
  REQUIRE(observation.size() == sim.data_dim());
  CHECK(prior->in_support(theta));
  // Documented in the spec's description: the observation is simulation index 0 of a run with seed
  // 2017, i.e. the stream stream_seed(2017, 0, 1).
  const Vector y = sim.simulate_one(theta, stream_seed(2017, 0, 1));
  for (std::size_t i = 0; i < observation.size(); ++i)
    CHECK(y[static_cast<Eigen::Index>(i)] == Approx(observation[i]).epsilon(1e-12));
}

TEST_CASE("lotka_volterra_jump: pure death has the binomial distribution", "[simulators][lotka_volterra_jump]") {
  // X(t) ~ Binomial(20, e^{−c t}) at t = 5 with c = 0.1: every probability mass within 5 standard errors.
  LotkaVolterraJumpOptions options;
  options.summaries = false;
  options.initial_predators = 20;
  options.t_end = 5;
  options.observation_interval = 2.5;
  const auto paths = raw_paths(options, {-50, std::log(0.1), -50, -50}, 40000, 23);
  std::vector<int> counts(21, 0);
  for (const auto& p : paths) ++counts[static_cast<std::size_t>(p[2])];
  const double q = std::exp(-0.5);
  double binomial = std::pow(1 - q, 20);  // P(X = 0)
  for (int m = 0; m <= 20; ++m) {
    if (m > 0) binomial *= (20.0 - (m - 1)) / m * q / (1 - q);
    const double expected = 40000 * binomial;
    INFO("X = " << m << ": " << counts[static_cast<std::size_t>(m)] << " vs " << expected);
    CHECK(std::abs(counts[static_cast<std::size_t>(m)] - expected) < 5 * std::sqrt(expected * (1 - binomial)) + 1);
  }
}

TEST_CASE("lotka_volterra_jump: two threads give the same table as one", "[simulators][lotka_volterra_jump]") {
  for (const bool summaries : {true, false}) {
    LotkaVolterraJumpOptions options;
    options.summaries = summaries;
    const Simulator sim = make_lotka_volterra_jump(options);
    const PriorPtr prior = lotka_volterra_jump_prior();
    const Eigen::Index n = 64;
    Rng rng(8);
    const RowMatrix theta = prior->sample_batch(rng, n);
    std::vector<std::uint64_t> seeds;
    for (Eigen::Index i = 0; i < n; ++i) seeds.push_back(stream_seed(8, static_cast<std::uint64_t>(i), 1));
    RowMatrix one(n, static_cast<Eigen::Index>(sim.data_dim()));
    std::vector<SimulationOutcome> outcomes(static_cast<std::size_t>(n));
    sim.simulate_batch(theta, one, seeds, outcomes);
    RowMatrix t0 = theta.topRows(n / 2), t1 = theta.bottomRows(n / 2);
    RowMatrix y0(n / 2, one.cols()), y1(n / 2, one.cols());
    std::vector<SimulationOutcome> o0(n / 2), o1(n / 2);
    std::thread worker([&] { sim.simulate_batch(t1, y1, std::span(seeds).last(n / 2), o1); });
    sim.simulate_batch(t0, y0, std::span(seeds).first(n / 2), o0);
    worker.join();
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto& o = i < n / 2 ? o0[static_cast<std::size_t>(i)] : o1[static_cast<std::size_t>(i - n / 2)];
      REQUIRE(o.status == outcomes[static_cast<std::size_t>(i)].status);
      if (!o.ok()) continue;  // a failed row's output is unspecified
      const auto row = i < n / 2 ? y0.row(i) : y1.row(i - n / 2);
      CHECK(row == one.row(i));
    }
  }
}
