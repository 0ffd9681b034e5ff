#pragma once
// Internal to simulators/: an adaptive Dormand–Prince 5(4) solve (Boost.Odeint, controlled stepper with
// dense output) sampled at given times, with a cap on the number of steps. Used by lotka_volterra and
// sir. The state is a std::array, so a solve allocates nothing.
#include <boost/numeric/odeint/stepper/controlled_runge_kutta.hpp>
#include <boost/numeric/odeint/stepper/dense_output_runge_kutta.hpp>
#include <boost/numeric/odeint/stepper/runge_kutta_dopri5.hpp>
#include <boost/numeric/odeint/integrate/max_step_checker.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <span>

namespace sbi::simulators::detail {

enum class OdeStatus {
  ok,
  max_steps,       // the step cap was reached before t_end
  non_finite,      // the state became NaN or ±inf
  step_adjustment  // the controller could not find an acceptable step
};

struct OdeSettings {
  double rtol = 1e-8;
  double atol = 1e-8;
  std::int64_t max_steps = 100000;  // accepted steps over [0, t_end]
  double t_end = 1.0;               // the solve runs to here even past the last observation time
};

struct OdeResult {
  OdeStatus status = OdeStatus::ok;
  std::int64_t steps = 0;  // accepted steps taken
  double t_reached = 0.0;  // time of the last accepted step
};

// Solves x' = system(x, dxdt, t) from x(0) = x0 to settings.t_end and calls observe(k, x(times[k])) for
// each k in order. `times` must be sorted, within [0, t_end]. The last step is shortened to end exactly
// at t_end (as DifferentialEquations.jl does with its tspan), so the step count matches a solve over
// [0, t_end]. Error control: per component |err_i| ≤ atol + rtol·|x_i| (max norm).
template <std::size_t N, class System, class Observer>
OdeResult solve_at_times(System system, const std::array<double, N>& x0, std::span<const double> times,
                         const OdeSettings& settings, Observer&& observe) {
  namespace odeint = boost::numeric::odeint;
  using State = std::array<double, N>;
  using Stepper = odeint::runge_kutta_dopri5<State>;
  using Controlled = odeint::controlled_runge_kutta<Stepper>;
  using Dense = odeint::dense_output_runge_kutta<Controlled>;
  using Checker = typename Controlled::error_checker_type;

  Dense dense{Controlled(Checker(settings.atol, settings.rtol, 1.0, 0.0))};
  const double t_end = settings.t_end;
  // A small first step; the controller grows it by up to 5× per accepted step.
  dense.initialize(x0, 0.0, std::min(1e-3, t_end));

  OdeResult result;
  std::size_t next = 0;
  while (next < times.size() && times[next] <= 0.0) observe(next++, x0);
  State x{};
  while (dense.current_time() < t_end) {
    if (result.steps >= settings.max_steps) {
      result.status = OdeStatus::max_steps;
      return result;
    }
    const double remaining = t_end - dense.current_time();
    if (dense.current_time_step() > remaining) dense.initialize(dense.current_state(), dense.current_time(), remaining);
    std::pair<double, double> interval;
    try {
      interval = dense.do_step(system);
    } catch (const odeint::step_adjustment_error&) {
      result.status = OdeStatus::step_adjustment;
      return result;
    }
    ++result.steps;
    result.t_reached = interval.second;
    for (double v : dense.current_state()) {
      if (!std::isfinite(v)) {
        result.status = OdeStatus::non_finite;
        return result;
      }
    }
    while (next < times.size() && times[next] <= interval.second) {
      dense.calc_state(times[next], x);
      observe(next++, x);
    }
  }
  // Times equal to t_end up to rounding.
  while (next < times.size()) observe(next++, dense.current_state());
  return result;
}

inline const char* describe(OdeStatus status) {
  switch (status) {
    case OdeStatus::ok: return "ok";
    case OdeStatus::max_steps: return "the ODE solver reached max_steps";
    case OdeStatus::non_finite: return "the ODE solution became non-finite";
    case OdeStatus::step_adjustment: return "the ODE solver could not adjust its step size";
  }
  return "unknown";
}

}  // namespace sbi::simulators::detail
