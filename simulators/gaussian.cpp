#include "simulators/gaussian.hpp"

#include "simulators/detail/common.hpp"

#include <cmath>

namespace sbi::simulators {

GaussianLinearOptions GaussianLinearOptions::from_json(const nlohmann::json& options, const std::string& path) {
  JsonObjectReader reader(options, path);
  GaussianLinearOptions o;
  o.dim = static_cast<int>(reader.optional_integer("dim", o.dim, 1, 100000));
  reader.reject_unknown_keys();
  return o;
}

nlohmann::json GaussianLinearOptions::to_json() const { return {{"dim", dim}}; }

namespace {

void check_dim(int dim, const char* task) {
  if (dim < 1) throw InputError(std::string(task) + " options: dim: expected an integer ≥ 1, got " + std::to_string(dim));
}

// y ~ N(θ, variance·I).
Simulator make_isotropic_gaussian(const char* name, const GaussianLinearOptions& options) {
  check_dim(options.dim, name);
  const auto d = static_cast<std::size_t>(options.dim);
  SimulatorInfo info;
  info.name = name;
  info.parameter_names = detail::numbered_names("theta", d);
  info.data_names = detail::numbered_names("data", d);
  info.options = options.to_json();
  const double sd = std::sqrt(kGaussianLinearVariance);
  return make_simulator(std::move(info), [d, sd](ConstRow theta, MutableRow y, Rng& rng) {
    if (theta.size() != d) throw SimulationError("expected " + std::to_string(d) + " parameters, got " + std::to_string(theta.size()));
    for (std::size_t i = 0; i < d; ++i) y[i] = theta[i] + sd * rng.normal();
    return true;
  });
}

}  // namespace

Simulator make_gaussian_linear(const GaussianLinearOptions& options) {
  return make_isotropic_gaussian("gaussian_linear", options);
}

PriorPtr gaussian_linear_prior(const GaussianLinearOptions& options) {
  check_dim(options.dim, "gaussian_linear");
  const auto d = static_cast<std::size_t>(options.dim);
  return std::make_shared<NormalPrior>(NormalPrior::diagonal(Vector::Zero(options.dim),
                                                             Vector::Constant(options.dim, std::sqrt(kGaussianLinearVariance)),
                                                             detail::numbered_names("theta", d)));
}

Simulator make_gaussian_linear_uniform(const GaussianLinearOptions& options) {
  return make_isotropic_gaussian("gaussian_linear_uniform", options);
}

PriorPtr gaussian_linear_uniform_prior(const GaussianLinearOptions& options) {
  check_dim(options.dim, "gaussian_linear_uniform");
  return std::make_shared<UniformPrior>(Vector::Constant(options.dim, -1.0), Vector::Constant(options.dim, 1.0),
                                        detail::numbered_names("theta", static_cast<std::size_t>(options.dim)));
}

Simulator make_gaussian_mixture() {
  SimulatorInfo info;
  info.name = "gaussian_mixture";
  info.parameter_names = detail::numbered_names("theta", 2);
  info.data_names = detail::numbered_names("data", 2);
  return make_simulator(std::move(info), [](ConstRow theta, MutableRow y, Rng& rng) {
    if (theta.size() != 2) throw SimulationError("expected 2 parameters, got " + std::to_string(theta.size()));
    // The component is drawn for each simulation (sbibm ≥ 1.1.0).
    const double sd = rng.uniform() < 0.5 ? kGaussianMixtureWideSd : kGaussianMixtureNarrowSd;
    y[0] = theta[0] + sd * rng.normal();
    y[1] = theta[1] + sd * rng.normal();
    return true;
  });
}

PriorPtr gaussian_mixture_prior() {
  return std::make_shared<UniformPrior>(Vector::Constant(2, -10.0), Vector::Constant(2, 10.0), detail::numbered_names("theta", 2));
}

}  // namespace sbi::simulators
