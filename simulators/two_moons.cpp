#include "simulators/two_moons.hpp"

#include "simulators/detail/common.hpp"

#include <cmath>
#include <numbers>

namespace sbi::simulators {

Simulator make_two_moons() {
  SimulatorInfo info;
  info.name = "two_moons";
  info.parameter_names = detail::numbered_names("theta", 2);
  info.data_names = detail::numbered_names("data", 2);
  return make_simulator(std::move(info), [](ConstRow theta, MutableRow y, Rng& rng) {
    if (theta.size() != 2) throw SimulationError("expected 2 parameters, got " + std::to_string(theta.size()));
    constexpr double pi = std::numbers::pi;
    const double a = rng.uniform(-pi / 2, pi / 2);
    const double r = rng.normal(kTwoMoonsRadiusMean, kTwoMoonsRadiusSd);
    const double p1 = r * std::cos(a) + kTwoMoonsOffset;
    const double p2 = r * std::sin(a);
    constexpr double inv_sqrt2 = 1.0 / std::numbers::sqrt2;
    y[0] = p1 - std::abs(theta[0] + theta[1]) * inv_sqrt2;
    y[1] = p2 + (theta[1] - theta[0]) * inv_sqrt2;
    return true;
  });
}

PriorPtr two_moons_prior() {
  return std::make_shared<UniformPrior>(Vector::Constant(2, -1.0), Vector::Constant(2, 1.0), detail::numbered_names("theta", 2));
}

}  // namespace sbi::simulators
