#include "simulators/autoregressive.hpp"

#include "simulators/detail/common.hpp"

#include <cmath>
#include <numbers>

namespace sbi::simulators {

Ar1Options Ar1Options::from_json(const nlohmann::json& options, const std::string& path) {
  JsonObjectReader reader(options, path);
  Ar1Options o;
  o.steps = static_cast<int>(reader.optional_integer("steps", o.steps, 2, 100000));
  reader.reject_unknown_keys();
  return o;
}

nlohmann::json Ar1Options::to_json() const { return {{"steps", steps}}; }

Simulator make_ar1(const Ar1Options& options) {
  if (options.steps < 2) throw InputError("ar1 options: steps: expected an integer ≥ 2, got " + std::to_string(options.steps));
  SimulatorInfo info;
  info.name = "ar1";
  info.parameter_names = {"phi", "sigma"};
  info.data_names = detail::numbered_names("y", static_cast<std::size_t>(options.steps));
  info.options = options.to_json();
  return make_simulator(std::move(info), [](ConstRow theta, MutableRow y, Rng& rng) {
    if (theta.size() != 2) throw SimulationError("expected 2 parameters, got " + std::to_string(theta.size()));
    double previous = 0.0;
    for (double& value : y) {
      value = theta[0] * previous + theta[1] * rng.normal();
      previous = value;
    }
    return true;
  });
}

PriorPtr ar1_prior() {
  return std::make_shared<UniformPrior>(Eigen::Vector2d(kAr1PhiLow, kAr1SigmaLow), Eigen::Vector2d(kAr1PhiHigh, kAr1SigmaHigh),
                                        Names{"phi", "sigma"});
}

double ar1_log_likelihood(ConstRow y, double phi, double sigma) {
  double squares = 0.0, previous = 0.0;
  for (const double value : y) {
    const double residual = value - phi * previous;
    squares += residual * residual;
    previous = value;
  }
  const double T = static_cast<double>(y.size());
  return -T * std::log(sigma) - 0.5 * T * std::log(2.0 * std::numbers::pi) - squares / (2.0 * sigma * sigma);
}

}  // namespace sbi::simulators
