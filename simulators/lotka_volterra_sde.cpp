#include "simulators/lotka_volterra_sde.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/random/ziggurat.hpp"
#include "simulators/detail/common.hpp"
#include "simulators/lotka_volterra_jump.hpp"  // the shared summary statistics and time labels

#include <bit>
#include <cmath>
#include <numbers>
#include <vector>

namespace sbi::simulators {

namespace {

constexpr const char* kName = "lotka_volterra_sde";

const char* to_string(LotkaVolterraSdeOptions::NoiseScaling s) {
  return s == LotkaVolterraSdeOptions::NoiseScaling::diffusion ? "diffusion" : "per_observation";
}

const char* to_string(LotkaVolterraSdeOptions::Boundary b) {
  switch (b) {
    case LotkaVolterraSdeOptions::Boundary::clamp: return "clamp";
    case LotkaVolterraSdeOptions::Boundary::reflect: return "reflect";
    default: return "none";
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Options

std::size_t LotkaVolterraSdeOptions::num_times() const { return detail::whole_intervals(t_end, observation_interval); }

std::size_t LotkaVolterraSdeOptions::steps_per_interval() const {
  const double ratio = observation_interval / dt;
  // A ratio within rounding of an integer (0.2 / 0.01 = 20.000000000000004) is that integer.
  const double nearest = std::round(ratio);
  const double steps = std::abs(ratio - nearest) <= 1e-9 * std::max(1.0, ratio) ? nearest : std::ceil(ratio);
  return static_cast<std::size_t>(std::max(1.0, steps));
}

double LotkaVolterraSdeOptions::step() const {
  return observation_interval / static_cast<double>(steps_per_interval());
}

double LotkaVolterraSdeOptions::diffusion_sd() const {
  return noise_scaling == NoiseScaling::diffusion ? noise_sd : noise_sd / std::sqrt(observation_interval);
}

bool LotkaVolterraSdeOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (parameters != 3 && parameters != 4) return fail("parameters: expected 3 or 4, got " + std::to_string(parameters));
  if (!(initial_prey >= 0) || !std::isfinite(initial_prey))
    return fail("initial_state[0]: expected a non-negative number, got " + format_number(initial_prey));
  if (!(initial_predators >= 0) || !std::isfinite(initial_predators))
    return fail("initial_state[1]: expected a non-negative number, got " + format_number(initial_predators));
  if (!(t_end > 0) || !std::isfinite(t_end)) return fail("t_end: expected a positive number, got " + format_number(t_end));
  if (!(observation_interval > 0) || !std::isfinite(observation_interval))
    return fail("observation_interval: expected a positive number, got " + format_number(observation_interval));
  if (!(dt > 0) || !std::isfinite(dt)) return fail("dt: expected a positive number, got " + format_number(dt));
  if (!(noise_sd >= 0) || !std::isfinite(noise_sd))
    return fail("noise_sd: expected a non-negative number, got " + format_number(noise_sd));
  if (!(max_population > 0)) return fail("max_population: expected a positive number, got " + format_number(max_population));
  const std::size_t intervals = detail::whole_intervals(t_end, observation_interval);
  if (intervals == 0)
    return fail("t_end: expected a positive multiple of observation_interval (" + format_number(observation_interval) +
           "), got " + format_number(t_end));
  if (summaries && intervals < 3)
    return fail("t_end: expected at least 3 observation intervals with \"summaries\": true, got " + format_number(t_end) +
           " with observation_interval " + format_number(observation_interval));
  if (static_cast<double>(intervals) * (observation_interval / dt) > 1e9)
    return fail("dt: more than 10^9 steps in [0, t_end], got " + format_number(dt));
  return true;
}

LotkaVolterraSdeOptions LotkaVolterraSdeOptions::from_json(const nlohmann::json& options, const std::string& path) {
  JsonObjectReader reader(options, path);
  LotkaVolterraSdeOptions o;
  const std::int64_t parameters = reader.optional_integer("parameters", o.parameters, 3, 4);
  o.parameters = static_cast<int>(parameters);
  const std::vector<double> initial =
      reader.optional_number_list("initial_state", {o.initial_prey, o.initial_predators}, 2);
  for (std::size_t i = 0; i < 2; ++i)
    if (!(initial[i] >= 0))
      throw InputError(reader.child_path("initial_state") + "[" + std::to_string(i) +
                       "]: expected a non-negative number, got " + format_number(initial[i]));
  o.initial_prey = initial[0];
  o.initial_predators = initial[1];
  o.t_end = reader.optional_positive_number("t_end", o.t_end);
  o.observation_interval = reader.optional_positive_number("observation_interval", o.observation_interval);
  o.dt = reader.optional_positive_number("dt", o.dt);
  o.noise_sd = reader.optional_number("noise_sd", o.noise_sd);
  if (!(o.noise_sd >= 0))
    throw InputError(reader.child_path("noise_sd") + ": expected a non-negative number, got " + format_number(o.noise_sd));
  o.noise_scaling = reader.optional_string("noise_scaling", "diffusion", {"diffusion", "per_observation"}) == "diffusion"
                        ? NoiseScaling::diffusion
                        : NoiseScaling::per_observation;
  const std::string boundary = reader.optional_string("boundary", "clamp", {"clamp", "reflect", "none"});
  o.boundary = boundary == "clamp" ? Boundary::clamp : boundary == "reflect" ? Boundary::reflect : Boundary::none;
  o.max_population = reader.optional_positive_number("max_population", o.max_population);
  o.summaries = reader.optional_bool("summaries", o.summaries);
  reader.reject_unknown_keys();
  if (std::string problem; !o.is_valid(&problem)) throw InputError(reader.child_path(problem));
  return o;
}

nlohmann::json LotkaVolterraSdeOptions::to_json() const {
  return {{"parameters", parameters},
          {"initial_state", {initial_prey, initial_predators}},
          {"t_end", t_end},
          {"observation_interval", observation_interval},
          {"dt", dt},
          {"noise_sd", noise_sd},
          {"noise_scaling", to_string(noise_scaling)},
          {"boundary", to_string(boundary)},
          {"max_population", max_population},
          {"summaries", summaries}};
}

// ---------------------------------------------------------------------------------------------
// Simulation

LotkaVolterraSde::LotkaVolterraSde(LotkaVolterraSdeOptions options) : options_(options) {
  if (std::string problem; !options_.is_valid(&problem))
    throw InputError(std::string(kName) + " options: " + problem);
  num_times_ = options_.num_times();
  steps_ = options_.steps_per_interval();
  h_ = options_.step();
  noise_per_step_ = options_.diffusion_sd() * std::sqrt(h_);
}

std::size_t LotkaVolterraSde::data_dim() const { return options_.summaries ? 9 : 2 * num_times_; }

namespace {

template <LotkaVolterraSdeOptions::Boundary B>
inline double apply_boundary(double v) {
  if constexpr (B == LotkaVolterraSdeOptions::Boundary::clamp) {
    return v < 0.0 ? 0.0 : v;
  } else if constexpr (B == LotkaVolterraSdeOptions::Boundary::reflect) {
    return std::abs(v);
  } else {
    return v;
  }
}

// The Euler–Maruyama loop, with the boundary rule and the noise on/off decided at compile time.
template <LotkaVolterraSdeOptions::Boundary B, bool Noisy>
bool euler_maruyama(double b1, double b2, double b3, double b4, double x, double y, double h, double s,
                    std::size_t num_times, std::size_t steps, double max_population, std::span<double> x_out,
                    std::span<double> y_out, Rng& rng) {
  for (std::size_t k = 0; k < num_times; ++k) {
    for (std::size_t n = 0; n < steps; ++n) {
      const double xy = x * y;
      double x_next = x + h * (b1 * x - b2 * xy);
      double y_next = y + h * (b3 * xy - b4 * y);
      if constexpr (Noisy) {
        x_next += s * ziggurat_normal(rng);
        y_next += s * ziggurat_normal(rng);
      }
      x = apply_boundary<B>(x_next);
      y = apply_boundary<B>(y_next);
    }
    // One check per observation interval: a path that leaves the range stays out or turns non-finite.
    if (!(std::abs(x) <= max_population && std::abs(y) <= max_population)) return false;
    x_out[k] = x;
    y_out[k] = y;
  }
  return true;
}

}  // namespace

bool LotkaVolterraSde::simulate_path(ConstRow theta, std::span<double> x_out, std::span<double> y_out,
                                     Rng& rng) const {
  using Boundary = LotkaVolterraSdeOptions::Boundary;
  const double b1 = theta[0], b2 = theta[1], b3 = theta[2];
  const double b4 = options_.parameters == 4 ? theta[3] : theta[0];
  const double x0 = options_.initial_prey, y0 = options_.initial_predators;
  const double s = noise_per_step_;
  const bool noisy = s > 0.0;
  const auto run = [&]<Boundary B>() {
    return noisy ? euler_maruyama<B, true>(b1, b2, b3, b4, x0, y0, h_, s, num_times_, steps_,
                                           options_.max_population, x_out, y_out, rng)
                 : euler_maruyama<B, false>(b1, b2, b3, b4, x0, y0, h_, s, num_times_, steps_,
                                            options_.max_population, x_out, y_out, rng);
  };
  switch (options_.boundary) {
    case Boundary::clamp: return run.template operator()<Boundary::clamp>();
    case Boundary::reflect: return run.template operator()<Boundary::reflect>();
    default: return run.template operator()<Boundary::none>();
  }
}

bool LotkaVolterraSde::operator()(ConstRow theta, MutableRow out, Rng& rng) const {
  const std::size_t p = static_cast<std::size_t>(options_.parameters);
  if (theta.size() != p || out.size() != data_dim())
    throw SimulationError(std::string(kName) + ": expected " + std::to_string(p) + " parameters and " +
                          std::to_string(data_dim()) + " outputs, got " + std::to_string(theta.size()) + " and " +
                          std::to_string(out.size()));
  const std::size_t n = num_times_;
  std::span<double> xs, ys;
  thread_local std::vector<double> scratch;
  if (options_.summaries) {
    if (scratch.size() < 2 * n) scratch.resize(2 * n);
    xs = {scratch.data(), n};
    ys = {scratch.data() + n, n};
  } else {
    xs = out.subspan(0, n);
    ys = out.subspan(n, n);
  }
  if (!simulate_path(theta, xs, ys, rng))
    throw SimulationError(std::string(kName) + ": the path left [-" + format_number(options_.max_population) + ", " +
                          format_number(options_.max_population) +
                          "] or became non-finite (option \"max_population\"; try a smaller \"dt\") at " +
                          describe_theta({}, theta));
  if (options_.summaries) lotka_volterra_summary_statistics(xs, ys, out);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Simulator value, prior and registry entry

SimulatorInfo lotka_volterra_sde_info(const LotkaVolterraSdeOptions& options) {
  SimulatorInfo info;
  info.name = kName;
  info.parameter_names = {"beta1", "beta2", "beta3"};
  if (options.parameters == 4) info.parameter_names.push_back("beta4");
  if (options.summaries) {
    info.data_names = lotka_volterra_summary_names();
  } else {
    const std::size_t n = options.num_times();
    info.data_names.reserve(2 * n);
    for (const char* series : {"X_t", "Y_t"})
      for (std::size_t k = 1; k <= n; ++k)
        info.data_names.push_back(series + lotka_volterra_time_label(static_cast<double>(k) * options.observation_interval));
  }
  info.thread_safe = true;
  info.options = options.to_json();
  return info;
}

Simulator make_lotka_volterra_sde(const LotkaVolterraSdeOptions& options) {
  LotkaVolterraSde model(options);
  return make_simulator(lotka_volterra_sde_info(options), model);
}

PriorPtr lotka_volterra_sde_prior(int parameters) {
  if (parameters != 3 && parameters != 4)
    throw InputError("lotka_volterra_sde prior: expected 3 or 4 parameters, got " + std::to_string(parameters));
  const Eigen::Index d = parameters;
  Vector low(d), high(d);
  low.head(3) << 0.1, 0.002, 0.002;
  high.head(3) << 1.0, 0.02, 0.02;
  Names names{"beta1", "beta2", "beta3"};
  if (d == 4) {
    low[3] = 0.1;
    high[3] = 1.0;
    names.push_back("beta4");
  }
  return std::make_shared<UniformPrior>(low, high, names);
}

BuiltinSimulator lotka_volterra_sde_entry() {
  BuiltinSimulator entry;
  entry.name = kName;
  entry.description =
      "Lotka-Volterra SDE with additive noise (Euler-Maruyama), 3 rates (beta1 shared) or 4; raw series "
      "or 9 summary statistics";
  entry.make = [](const nlohmann::json& options, const std::string& path) {
    return make_lotka_volterra_sde(LotkaVolterraSdeOptions::from_json(options, path));
  };
  entry.default_prior = [](const nlohmann::json& options) {
    return lotka_volterra_sde_prior(LotkaVolterraSdeOptions::from_json(options).parameters);
  };
  return entry;
}

}  // namespace sbi::simulators
