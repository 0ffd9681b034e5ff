#include "simulators/registry.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "simulators/autoregressive.hpp"
#include "simulators/bernoulli_glm.hpp"
#include "simulators/gaussian.hpp"
#include "simulators/lotka_volterra.hpp"
#include "simulators/lotka_volterra_jump.hpp"
#include "simulators/lotka_volterra_sde.hpp"
#include "simulators/sir.hpp"
#include "simulators/slcp.hpp"
#include "simulators/two_moons.hpp"

namespace sbi::simulators {

namespace {

// For simulators without options: accepts only an empty object (or null, as an absent section).
void expect_no_options(const nlohmann::json& options, const std::string& path) {
  if (options.is_null()) return;
  JsonObjectReader reader(options, path);
  reader.reject_unknown_keys();
}

const nlohmann::json& or_empty(const nlohmann::json& options) {
  static const nlohmann::json empty = nlohmann::json::object();
  return options.is_null() ? empty : options;
}

std::vector<BuiltinSimulator> make_registry() {
  std::vector<BuiltinSimulator> r;
  r.push_back({"ar1", "AR(1) series y_t = phi y_(t-1) + sigma e_t, raw data (100 steps by default), exact Gaussian likelihood",
               [](const nlohmann::json& o, const std::string& path) { return make_ar1(Ar1Options::from_json(or_empty(o), path)); },
               [](const nlohmann::json&) { return ar1_prior(); }});
  r.push_back({"bernoulli_glm", "sbibm Bernoulli GLM neuron: 10 parameters, data = 10 sufficient statistics (or 100 raw spikes)",
               [](const nlohmann::json& o, const std::string& path) {
                 return make_bernoulli_glm(BernoulliGlmOptions::from_json(or_empty(o), path));
               },
               [](const nlohmann::json&) { return bernoulli_glm_prior(); }});
  r.push_back({"gaussian_linear", "sbibm Gaussian linear: y ~ N(θ, 0.1 I), prior N(0, 0.1 I), dim 10",
               [](const nlohmann::json& o, const std::string& path) {
                 return make_gaussian_linear(GaussianLinearOptions::from_json(or_empty(o), path));
               },
               [](const nlohmann::json& o) { return gaussian_linear_prior(GaussianLinearOptions::from_json(or_empty(o))); }});
  r.push_back({"gaussian_linear_uniform", "sbibm Gaussian linear with uniform prior U(-1, 1)^10",
               [](const nlohmann::json& o, const std::string& path) {
                 return make_gaussian_linear_uniform(GaussianLinearOptions::from_json(or_empty(o), path));
               },
               [](const nlohmann::json& o) { return gaussian_linear_uniform_prior(GaussianLinearOptions::from_json(or_empty(o))); }});
  r.push_back({"gaussian_mixture", "sbibm Gaussian mixture: y ~ ½ N(θ, I) + ½ N(θ, 0.01 I), θ in [-10, 10]^2",
               [](const nlohmann::json& o, const std::string& path) {
                 expect_no_options(o, path);
                 return make_gaussian_mixture();
               },
               [](const nlohmann::json&) { return gaussian_mixture_prior(); }});
  r.push_back({"lotka_volterra", "sbibm Lotka-Volterra ODE, 4 parameters, 20 log-normal observations of prey and predator",
               [](const nlohmann::json& o, const std::string& path) {
                 return make_lotka_volterra(LotkaVolterraOptions::from_json(or_empty(o), path));
               },
               [](const nlohmann::json&) { return lotka_volterra_prior(); }});
  r.push_back(lotka_volterra_jump_entry());
  r.push_back(lotka_volterra_sde_entry());
  r.push_back({"sir", "sbibm SIR epidemic ODE, 2 parameters, 10 binomial counts of infected",
               [](const nlohmann::json& o, const std::string& path) { return make_sir(SirOptions::from_json(or_empty(o), path)); },
               [](const nlohmann::json&) { return sir_prior(); }});
  r.push_back({"slcp", "sbibm SLCP: 5 parameters, 4 bivariate Gaussian points (simple likelihood, complex posterior)",
               [](const nlohmann::json& o, const std::string& path) {
                 expect_no_options(o, path);
                 return make_slcp();
               },
               [](const nlohmann::json&) { return slcp_prior(); }});
  r.push_back({"two_moons", "sbibm two moons: 2 parameters, crescent-shaped bimodal posterior",
               [](const nlohmann::json& o, const std::string& path) {
                 expect_no_options(o, path);
                 return make_two_moons();
               },
               [](const nlohmann::json&) { return two_moons_prior(); }});
  return r;
}

}  // namespace

const std::vector<BuiltinSimulator>& builtin_simulators() {
  static const std::vector<BuiltinSimulator> registry = make_registry();
  return registry;
}

const BuiltinSimulator& find_builtin_simulator(const std::string& name, const std::string& path) {
  for (const auto& entry : builtin_simulators())
    if (entry.name == name) return entry;
  std::string known;
  for (const auto& entry : builtin_simulators()) known += (known.empty() ? "" : ", ") + entry.name;
  throw InputError(path + ": unknown simulator \"" + name + "\" (built-in simulators: " + known + ")");
}

}  // namespace sbi::simulators
