#include "simulators/lotka_volterra.hpp"

#include "simulators/detail/common.hpp"
#include "simulators/detail/ode.hpp"

#include <algorithm>
#include <cmath>

namespace sbi::simulators {

LotkaVolterraOptions LotkaVolterraOptions::from_json(const nlohmann::json& options, const std::string& path) {
  JsonObjectReader reader(options, path);
  LotkaVolterraOptions o;
  const auto initial = reader.optional_number_list("initial_state", {o.initial_state[0], o.initial_state[1]}, 2);
  detail::check_positive_entries(initial, reader.child_path("initial_state"));
  o.initial_state = {initial[0], initial[1]};
  o.t_end = reader.optional_positive_number("t_end", o.t_end);
  if (!reader.has("observation_times") && o.t_end < o.observation_times.back())
    throw InputError(reader.child_path("t_end") + ": expected a number ≥ the last default observation time " +
                     format_number(o.observation_times.back()) + " (or give observation_times), got " + format_number(o.t_end));
  o.observation_times = reader.optional_number_list("observation_times", o.observation_times);
  detail::check_time_grid(o.observation_times, o.t_end, reader.child_path("observation_times"));
  o.rtol = reader.optional_positive_number("rtol", o.rtol);
  o.atol = reader.optional_positive_number("atol", o.atol);
  o.max_steps = reader.optional_integer("max_steps", o.max_steps, 1);
  o.noise = reader.optional_bool("noise", o.noise);
  o.noise_sd = reader.optional_positive_number("noise_sd", o.noise_sd);
  reader.reject_unknown_keys();
  return o;
}

nlohmann::json LotkaVolterraOptions::to_json() const {
  return {{"initial_state", initial_state}, {"observation_times", observation_times}, {"t_end", t_end},
          {"rtol", rtol}, {"atol", atol}, {"max_steps", max_steps}, {"noise", noise}, {"noise_sd", noise_sd}};
}

bool LotkaVolterraOptions::is_valid(std::string* why) const {
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

// The solve; returns the status and writes unclipped values in data order.
detail::OdeResult solve(const LotkaVolterraOptions& o, ConstRow theta, double* out) {
  const double alpha = theta[0], beta = theta[1], gamma = theta[2], delta = theta[3];
  const auto system = [=](const std::array<double, 2>& x, std::array<double, 2>& dxdt, double) {
    const double xy = x[0] * x[1];
    dxdt[0] = alpha * x[0] - beta * xy;
    dxdt[1] = delta * xy - gamma * x[1];
  };
  const std::size_t n = o.observation_times.size();
  const detail::OdeSettings settings{o.rtol, o.atol, o.max_steps, o.t_end};
  return detail::solve_at_times<2>(system, o.initial_state, o.observation_times, settings,
                                   [&](std::size_t k, const std::array<double, 2>& x) {
                                     out[k] = x[0];
                                     out[n + k] = x[1];
                                   });
}

[[noreturn]] void throw_failure(const LotkaVolterraOptions& o, ConstRow theta, const detail::OdeResult& r) {
  std::string message = "lotka_volterra: " + std::string(detail::describe(r.status));
  if (r.status == detail::OdeStatus::max_steps) message += " (" + std::to_string(o.max_steps) + " steps)";
  message += " before t = " + format_number(o.t_end) + " (reached t = " + format_number(r.t_reached) + ") at " +
             describe_theta({"alpha", "beta", "gamma", "delta"}, theta);
  throw SimulationError(message);
}

void check_theta(ConstRow theta) {
  if (theta.size() != 4) throw SimulationError("lotka_volterra: expected 4 parameters, got " + std::to_string(theta.size()));
}

}  // namespace

void lotka_volterra_solution(const LotkaVolterraOptions& options, ConstRow theta, MutableRow out, std::int64_t* steps) {
  check_theta(theta);
  if (out.size() != 2 * options.observation_times.size())
    throw SimulationError("lotka_volterra: output has " + std::to_string(out.size()) + " entries, expected " +
                          std::to_string(2 * options.observation_times.size()));
  const auto r = solve(options, theta, out.data());
  if (steps) *steps = r.steps;
  if (r.status != detail::OdeStatus::ok) throw_failure(options, theta, r);
}

Simulator make_lotka_volterra(const LotkaVolterraOptions& options) {
  if (std::string problem; !options.is_valid(&problem)) throw InputError("lotka_volterra options: " + problem);
  SimulatorInfo info;
  info.name = "lotka_volterra";
  info.parameter_names = {"alpha", "beta", "gamma", "delta"};
  info.data_names = detail::numbered_names("data", 2 * options.observation_times.size());
  info.thread_safe = true;
  info.options = options.to_json();
  return make_simulator(std::move(info), [o = options](ConstRow theta, MutableRow y, Rng& rng) {
    check_theta(theta);
    const auto r = solve(o, theta, y.data());
    if (r.status != detail::OdeStatus::ok) throw_failure(o, theta, r);
    for (double& v : y) {
      v = std::clamp(v, 1e-10, 1e4);
      if (o.noise) v *= std::exp(o.noise_sd * rng.normal());
    }
    return true;
  });
}

PriorPtr lotka_volterra_prior() {
  Vector mu(4), sigma(4);
  mu << -0.125, -3.0, -0.125, -3.0;
  sigma.setConstant(0.5);
  return std::make_shared<LogNormalPrior>(mu, sigma, Names{"alpha", "beta", "gamma", "delta"});
}

}  // namespace sbi::simulators
