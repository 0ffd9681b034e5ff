#include "simulators/lotka_volterra_jump.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/random/ziggurat.hpp"
#include "simulators/detail/common.hpp"

#include <cmath>
#include <cstdio>
#include <vector>

namespace sbi::simulators {

namespace {

constexpr const char* kName = "lotka_volterra_jump";

}  // namespace

std::string lotka_volterra_time_label(double t) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", t);
  return buffer;
}

const Names& lotka_volterra_summary_names() {
  static const Names names{"mean_X",      "mean_Y",      "log_var_X",   "log_var_Y",   "autocorr1_X",
                           "autocorr2_X", "autocorr1_Y", "autocorr2_Y", "crosscorr_XY"};
  return names;
}

void lotka_volterra_summary_statistics(std::span<const double> x, std::span<const double> y,
                                       std::span<double> out) {
  const std::size_t n = x.size();
  if (n < 3 || y.size() != n || out.size() != 9)
    throw std::invalid_argument("lotka_volterra_summary_statistics: need two series of equal length >= 3 and 9 outputs");
  const double nd = static_cast<double>(n);
  double mx = 0.0, my = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    mx += x[k];
    my += y[k];
  }
  mx /= nd;
  my /= nd;
  double sxx = 0.0, syy = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    sxx += (x[k] - mx) * (x[k] - mx);
    syy += (y[k] - my) * (y[k] - my);
  }
  const double var_x = sxx / (nd - 1.0);
  const double var_y = syy / (nd - 1.0);
  // Standardised u_k = (x_k − m)/s; a constant series has no standardised form: its correlations are 0.
  const double ix = var_x > 0.0 ? 1.0 / std::sqrt(var_x) : 0.0;
  const double iy = var_y > 0.0 ? 1.0 / std::sqrt(var_y) : 0.0;
  double ax1 = 0.0, ax2 = 0.0, ay1 = 0.0, ay2 = 0.0, cxy = 0.0;
  for (std::size_t k = 0; k < n; ++k) {
    const double u = (x[k] - mx) * ix;
    const double v = (y[k] - my) * iy;
    cxy += u * v;
    if (k + 1 < n) {
      ax1 += u * (x[k + 1] - mx) * ix;
      ay1 += v * (y[k + 1] - my) * iy;
    }
    if (k + 2 < n) {
      ax2 += u * (x[k + 2] - mx) * ix;
      ay2 += v * (y[k + 2] - my) * iy;
    }
  }
  const double d = nd - 1.0;
  out[0] = mx;
  out[1] = my;
  out[2] = std::log(var_x + 1.0);
  out[3] = std::log(var_y + 1.0);
  out[4] = ax1 / d;
  out[5] = ax2 / d;
  out[6] = ay1 / d;
  out[7] = ay2 / d;
  out[8] = cxy / d;
}

// ---------------------------------------------------------------------------------------------
// Options

std::size_t LotkaVolterraJumpOptions::num_times() const {
  return detail::whole_intervals(t_end, observation_interval) + 1;
}

bool LotkaVolterraJumpOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (initial_prey < 0) return fail("initial_state[0]: expected a non-negative integer, got " + std::to_string(initial_prey));
  if (initial_predators < 0) return fail("initial_state[1]: expected a non-negative integer, got " + std::to_string(initial_predators));
  if (!(t_end > 0) || !std::isfinite(t_end)) return fail("t_end: expected a positive number, got " + format_number(t_end));
  if (!(observation_interval > 0) || !std::isfinite(observation_interval))
    return fail("observation_interval: expected a positive number, got " + format_number(observation_interval));
  const std::size_t intervals = detail::whole_intervals(t_end, observation_interval);
  if (intervals == 0)
    return fail("t_end: expected a positive multiple of observation_interval (" + format_number(observation_interval) +
           "), got " + format_number(t_end));
  if (intervals < 2)
    return fail("t_end: expected at least 2 observation intervals (3 recorded times), got " + format_number(t_end) +
           " with observation_interval " + format_number(observation_interval));
  if (intervals > 10'000'000) return fail("t_end: more than 10^7 observation intervals");
  if (max_events < 1) return fail("max_events: expected an integer ≥ 1, got " + std::to_string(max_events));
  return true;
}

LotkaVolterraJumpOptions LotkaVolterraJumpOptions::from_json(const nlohmann::json& options, const std::string& path) {
  JsonObjectReader reader(options, path);
  LotkaVolterraJumpOptions o;
  // (prey, predators), as in the ODE and SDE simulators.
  const std::vector<double> initial = reader.optional_number_list(
      "initial_state", {static_cast<double>(o.initial_prey), static_cast<double>(o.initial_predators)}, 2);
  for (std::size_t i = 0; i < 2; ++i) {
    if (!(initial[i] >= 0) || std::floor(initial[i]) != initial[i] || initial[i] > 1e12)
      throw InputError(reader.child_path("initial_state") + "[" + std::to_string(i) +
                       "]: expected a non-negative integer, got " + format_number(initial[i]));
  }
  o.initial_prey = static_cast<std::int64_t>(initial[0]);
  o.initial_predators = static_cast<std::int64_t>(initial[1]);
  o.t_end = reader.optional_positive_number("t_end", o.t_end);
  o.observation_interval = reader.optional_positive_number("observation_interval", o.observation_interval);
  o.max_events = reader.optional_integer("max_events", o.max_events, 1);
  o.summaries = reader.optional_bool("summaries", o.summaries);
  reader.reject_unknown_keys();
  if (std::string problem; !o.is_valid(&problem)) throw InputError(reader.child_path(problem));
  return o;
}

nlohmann::json LotkaVolterraJumpOptions::to_json() const {
  return {{"initial_state", {initial_prey, initial_predators}},
          {"t_end", t_end},
          {"observation_interval", observation_interval},
          {"max_events", max_events},
          {"summaries", summaries}};
}

// ---------------------------------------------------------------------------------------------
// Simulation

LotkaVolterraJump::LotkaVolterraJump(LotkaVolterraJumpOptions options) : options_(options) {
  if (std::string problem; !options_.is_valid(&problem))
    throw InputError(std::string(kName) + " options: " + problem);
  num_times_ = options_.num_times();
}

std::size_t LotkaVolterraJump::data_dim() const { return options_.summaries ? 9 : 2 * num_times_; }

std::int64_t LotkaVolterraJump::simulate_path(ConstRow theta, std::span<double> x_out, std::span<double> y_out,
                                              Rng& rng) const {
  const double c1 = std::exp(theta[0]);  // predator born, c1·X·Y
  const double c2 = std::exp(theta[1]);  // predator dies, c2·X
  const double c3 = std::exp(theta[2]);  // prey born,     c3·Y
  const double c4 = std::exp(theta[3]);  // prey eaten,    c4·X·Y
  const std::size_t num_times = num_times_;
  const double interval = options_.observation_interval;
  const std::int64_t max_events = options_.max_events;

  // Populations are held as doubles: exact integers (at most initial + max_events), no conversions.
  double x = static_cast<double>(options_.initial_predators);
  double y = static_cast<double>(options_.initial_prey);
  double t = 0.0;
  std::size_t k = 0;  // next time to record, t_k = k·Δ
  double t_record = 0.0;
  std::int64_t events = 0;
  for (;;) {
    const double xy = x * y;
    const double a1 = c1 * xy;
    const double a2 = c2 * x;
    const double a3 = c3 * y;
    const double a4 = c4 * xy;
    const double s2 = a1 + a2;
    const double s3 = s2 + a3;
    const double a0 = s3 + a4;
    if (!(a0 > 0.0)) {  // both populations extinct (or all rates underflowed): the state is final
      for (; k < num_times; ++k) {
        x_out[k] = x;
        y_out[k] = y;
      }
      break;
    }
    t += ziggurat_exponential(rng) / a0;
    // The state holds on [previous event, t): record every observation time before the next event.
    while (t_record < t) {
      x_out[k] = x;
      y_out[k] = y;
      if (++k == num_times) return events;
      t_record = static_cast<double>(k) * interval;
    }
    if (++events > max_events) return -1;
    // The reaction: the first r with u < a1 + ... + a_r. (Branches beat a branch-free table here:
    // over prior draws one reaction usually dominates, and the branch-free form puts the whole
    // propensity computation on the loop-carried dependency chain.) A zero propensity has an empty
    // interval, so it cannot be chosen, except when u rounds up onto a0 itself: then the last
    // reaction with a positive propensity fires.
    const double u = rng.uniform() * a0;
    if (u < a1) {
      x += 1.0;
    } else if (u < s2) {
      x -= 1.0;
    } else if (u < s3) {
      y += 1.0;
    } else if (a4 > 0.0) [[likely]] {
      y -= 1.0;
    } else if (a3 > 0.0) {
      y += 1.0;
    } else if (a2 > 0.0) {
      x -= 1.0;
    } else {
      x += 1.0;
    }
  }
  return events;
}

bool LotkaVolterraJump::operator()(ConstRow theta, MutableRow out, Rng& rng) const {
  if (theta.size() != 4 || out.size() != data_dim())
    throw SimulationError(std::string(kName) + ": expected 4 parameters and " + std::to_string(data_dim()) +
                          " outputs, got " + std::to_string(theta.size()) + " and " + std::to_string(out.size()));
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
  if (simulate_path(theta, xs, ys, rng) < 0)
    throw SimulationError(std::string(kName) + ": more than " + std::to_string(options_.max_events) +
                          " events before t = " + format_number(options_.t_end) +
                          " (the event cap \"max_events\"; the rates are too high) at " +
                          describe_theta({"log_c1", "log_c2", "log_c3", "log_c4"}, theta));
  if (options_.summaries) lotka_volterra_summary_statistics(xs, ys, out);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Simulator value, prior and registry entry

SimulatorInfo lotka_volterra_jump_info(const LotkaVolterraJumpOptions& options) {
  SimulatorInfo info;
  info.name = kName;
  info.parameter_names = {"log_c1", "log_c2", "log_c3", "log_c4"};
  if (options.summaries) {
    info.data_names = lotka_volterra_summary_names();
  } else {
    const std::size_t n = options.num_times();
    info.data_names.reserve(2 * n);
    for (const char* series : {"X_t", "Y_t"})
      for (std::size_t k = 0; k < n; ++k)
        info.data_names.push_back(series + lotka_volterra_time_label(static_cast<double>(k) * options.observation_interval));
  }
  info.thread_safe = true;
  info.options = options.to_json();
  return info;
}

Simulator make_lotka_volterra_jump(const LotkaVolterraJumpOptions& options) {
  LotkaVolterraJump model(options);
  return make_simulator(lotka_volterra_jump_info(options), model);
}

PriorPtr lotka_volterra_jump_prior() {
  return std::make_shared<UniformPrior>(Vector::Constant(4, -5.0), Vector::Constant(4, 2.0),
                                        Names{"log_c1", "log_c2", "log_c3", "log_c4"});
}

BuiltinSimulator lotka_volterra_jump_entry() {
  BuiltinSimulator entry;
  entry.name = kName;
  entry.description =
      "Lotka-Volterra Markov jump process (Gillespie SSA; Papamakarios & Murray 2016): 4 log-rates, "
      "9 summary statistics or the raw 2x151 series";
  entry.make = [](const nlohmann::json& options, const std::string& path) {
    return make_lotka_volterra_jump(LotkaVolterraJumpOptions::from_json(options, path));
  };
  entry.default_prior = [](const nlohmann::json&) { return lotka_volterra_jump_prior(); };
  return entry;
}

}  // namespace sbi::simulators
