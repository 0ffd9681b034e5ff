#include "simulators/slcp.hpp"

#include "simulators/detail/common.hpp"

#include <algorithm>
#include <cmath>

namespace sbi::simulators {

SlcpMoments slcp_moments(ConstRow theta) {
  if (theta.size() != 5) throw SimulationError("slcp: expected 5 parameters, got " + std::to_string(theta.size()));
  const double s1 = theta[2] * theta[2];
  const double s2 = theta[3] * theta[3];
  const double rho = std::tanh(theta[4]);
  const double off = rho * s1 * s2;
  return {{theta[0], theta[1]}, {s1 * s1 + 1e-6, off, off, s2 * s2 + 1e-6}};
}

Simulator make_slcp() {
  SimulatorInfo info;
  info.name = "slcp";
  info.parameter_names = detail::numbered_names("theta", 5);
  info.data_names = detail::numbered_names("data", 8);
  return make_simulator(std::move(info), [](ConstRow theta, MutableRow y, Rng& rng) {
    const auto [m, c] = slcp_moments(theta);
    // Σ = L Lᵀ with L lower triangular.
    const double l11 = std::sqrt(c[0]);
    const double l21 = c[2] / l11;
    const double l22 = std::sqrt(std::max(c[3] - l21 * l21, 0.0));
    for (std::size_t k = 0; k < 4; ++k) {
      const double e1 = rng.normal();
      const double e2 = rng.normal();
      y[2 * k] = m[0] + l11 * e1;
      y[2 * k + 1] = m[1] + l21 * e1 + l22 * e2;
    }
    return true;
  });
}

PriorPtr slcp_prior() {
  return std::make_shared<UniformPrior>(Vector::Constant(5, -3.0), Vector::Constant(5, 3.0), detail::numbered_names("theta", 5));
}

}  // namespace sbi::simulators
