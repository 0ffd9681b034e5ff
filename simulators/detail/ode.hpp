#pragma once
// Internal to simulators/: an adaptive Dormand–Prince 5(4) solve (Boost.Odeint's controlled dopri5 and its
// dense output) sampled at given times, with a cap on the number of steps. Used by lotka_volterra and
// sir. The state is a std::array, so a solve allocates nothing.
#include <boost/numeric/odeint/stepper/controlled_runge_kutta.hpp>
#include <boost/numeric/odeint/stepper/runge_kutta_dopri5.hpp>

#include <algorithm>
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
  // Step attempts (accepted or rejected) over [0, t_end], counted as DifferentialEquations.jl counts
  // `maxiters` (sbibm's solver: 10^5).
  std::int64_t max_steps = 100000;
  double t_end = 1.0;  // the solve runs to here even past the last observation time
};

struct OdeResult {
  OdeStatus status = OdeStatus::ok;
  std::int64_t steps = 0;     // step attempts, accepted or rejected
  std::int64_t accepted = 0;  // accepted steps
  double t_reached = 0.0;     // time of the last accepted step
};

// Solves x' = system(x, dxdt, t) from x(0) = x0 to settings.t_end and calls observe(k, x(times[k])) for
// each k in order, from the Dormand–Prince dense output of the step that contains times[k]. `times` must
// be sorted, within [0, t_end]. The last step is shortened to end exactly at t_end (as
// DifferentialEquations.jl does with its tspan), so the step count is that of a solve over [0, t_end].
// Error control (Odeint's default checker with a_dxdt = 0): per component
// |err_i| ≤ atol + rtol·|x_i|. Nothing is allocated.
template <std::size_t N, class System, class Observer>
OdeResult solve_at_times(System system, const std::array<double, N>& x0, std::span<const double> times,
                         const OdeSettings& settings, Observer&& observe) {
  namespace odeint = boost::numeric::odeint;
  using State = std::array<double, N>;
  using Stepper = odeint::runge_kutta_dopri5<State>;
  using Controlled = odeint::controlled_runge_kutta<Stepper>;
  using Checker = typename Controlled::error_checker_type;
  constexpr int kMaxConsecutiveRejections = 500;  // as Odeint's failed_step_checker

  Controlled controlled(Checker(settings.atol, settings.rtol, 1.0, 0.0));
  const double t_end = settings.t_end;
  State x = x0, dxdt{}, x_new{}, dxdt_new{}, x_observed{};
  system(x, dxdt, 0.0);
  double t = 0.0;
  // A small first step; the controller grows it by up to 5× per accepted step.
  double dt = std::min(1e-3, t_end);

  OdeResult result;
  std::size_t next = 0;
  while (next < times.size() && times[next] <= 0.0) observe(next++, x0);
  int rejections = 0;
  while (t < t_end) {
    if (result.steps >= settings.max_steps) {
      result.status = OdeStatus::max_steps;
      return result;
    }
    ++result.steps;
    const bool last = dt >= t_end - t;
    if (last) dt = t_end - t;
    const double t_old = t;
    if (controlled.try_step(system, x, dxdt, t, x_new, dxdt_new, dt) == odeint::fail) {
      if (++rejections > kMaxConsecutiveRejections || !std::isfinite(dt) || dt <= 0.0) {
        result.status = OdeStatus::step_adjustment;
        return result;
      }
      continue;
    }
    rejections = 0;
    ++result.accepted;
    if (last) t = t_end;  // exactly, whatever the rounding of t_old + dt
    result.t_reached = t;
    for (double v : x_new) {
      if (!std::isfinite(v)) {
        result.status = OdeStatus::non_finite;
        return result;
      }
    }
    while (next < times.size() && times[next] <= t) {
      controlled.stepper().calc_state(times[next], x_observed, x, dxdt, t_old, x_new, dxdt_new, t);
      observe(next++, x_observed);
    }
    std::swap(x, x_new);
    std::swap(dxdt, dxdt_new);
  }
  while (next < times.size()) observe(next++, x);  // times equal to t_end up to rounding
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
