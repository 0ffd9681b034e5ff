#include "simulators/sir.hpp"

#include "simulators/detail/common.hpp"
#include "simulators/detail/ode.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace sbi::simulators {

SirOptions SirOptions::from_json(const nlohmann::json& options, const std::string& path) {
  JsonObjectReader reader(options, path);
  SirOptions o;
  o.population = reader.optional_positive_number("population", o.population);
  o.initial_infected = reader.optional_number_in("initial_infected", o.initial_infected, 0.0, o.population);
  o.t_end = reader.optional_positive_number("t_end", o.t_end);
  if (!reader.has("observation_times") && o.t_end < o.observation_times.back())
    throw InputError(reader.child_path("t_end") + ": expected a number ≥ the last default observation time " +
                     format_number(o.observation_times.back()) + " (or give observation_times), got " + format_number(o.t_end));
  o.observation_times = reader.optional_number_list("observation_times", o.observation_times);
  detail::check_time_grid(o.observation_times, o.t_end, reader.child_path("observation_times"));
  o.sample_size = reader.optional_integer("sample_size", o.sample_size, 1, 1000000000);
  o.rtol = reader.optional_positive_number("rtol", o.rtol);
  o.atol = reader.optional_positive_number("atol", o.atol);
  o.max_steps = reader.optional_integer("max_steps", o.max_steps, 1);
  o.noise = reader.optional_bool("noise", o.noise);
  reader.reject_unknown_keys();
  return o;
}

nlohmann::json SirOptions::to_json() const {
  return {{"population", population}, {"initial_infected", initial_infected}, {"observation_times", observation_times},
          {"t_end", t_end}, {"sample_size", sample_size}, {"rtol", rtol}, {"atol", atol}, {"max_steps", max_steps},
          {"noise", noise}};
}

bool SirOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  try {
    (void)from_json(to_json(), "");
  } catch (const InputError& e) {
    return fail(e.what());
  }
  return true;
}

namespace {

void check_theta(ConstRow theta) {
  if (theta.size() != 2) throw SimulationError("sir: expected 2 parameters, got " + std::to_string(theta.size()));
}

// Writes I(t_j) into out[j]; throws SimulationError naming θ on failure.
void solve(const SirOptions& o, ConstRow theta, double* out, std::int64_t* steps) {
  const double beta = theta[0], gamma = theta[1], inv_n = 1.0 / o.population;
  const auto system = [=](const std::array<double, 3>& x, std::array<double, 3>& dxdt, double) {
    const double infection = beta * x[0] * x[1] * inv_n;
    const double recovery = gamma * x[1];
    dxdt[0] = -infection;
    dxdt[1] = infection - recovery;
    dxdt[2] = recovery;
  };
  const detail::OdeSettings settings{o.rtol, o.atol, o.max_steps, o.t_end};
  const std::array<double, 3> x0{o.population - o.initial_infected, o.initial_infected, 0.0};
  const auto r = detail::solve_at_times<3>(system, x0, o.observation_times, settings,
                                           [&](std::size_t k, const std::array<double, 3>& x) { out[k] = x[1]; });
  if (steps) *steps = r.steps;
  if (r.status != detail::OdeStatus::ok) {
    std::string message = "sir: " + std::string(detail::describe(r.status));
    if (r.status == detail::OdeStatus::max_steps) message += " (" + std::to_string(o.max_steps) + " steps)";
    throw SimulationError(message + " before t = " + format_number(o.t_end) + " (reached t = " + format_number(r.t_reached) +
                          ") at " + describe_theta({"beta", "gamma"}, theta));
  }
}

}  // namespace

void sir_infected(const SirOptions& options, ConstRow theta, MutableRow out, std::int64_t* steps) {
  check_theta(theta);
  if (out.size() != options.observation_times.size())
    throw SimulationError("sir: output has " + std::to_string(out.size()) + " entries, expected " +
                          std::to_string(options.observation_times.size()));
  solve(options, theta, out.data(), steps);
}

Simulator make_sir(const SirOptions& options) {
  if (std::string problem; !options.is_valid(&problem)) throw InputError("sir options: " + problem);
  SimulatorInfo info;
  info.name = "sir";
  info.parameter_names = {"beta", "gamma"};
  info.data_names = detail::numbered_names("data", options.observation_times.size());
  info.thread_safe = true;
  info.options = options.to_json();
  return make_simulator(std::move(info), [o = options](ConstRow theta, MutableRow y, Rng& rng) {
    check_theta(theta);
    solve(o, theta, y.data(), nullptr);
    for (double& v : y) {
      const double p = std::clamp(v / o.population, 0.0, 1.0);
      if (o.noise) {
        std::binomial_distribution<std::int64_t> binomial(o.sample_size, p);
        v = static_cast<double>(binomial(rng));
      } else {
        v = static_cast<double>(o.sample_size) * p;
      }
    }
    return true;
  });
}

PriorPtr sir_prior() {
  Vector mu(2), sigma(2);
  mu << std::log(0.4), std::log(0.125);
  sigma << 0.5, 0.2;
  return std::make_shared<LogNormalPrior>(mu, sigma, Names{"beta", "gamma"});
}

}  // namespace sbi::simulators
