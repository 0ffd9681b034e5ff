#include "sbi/inference/method.hpp"

#include "sbi/core/error.hpp"

#include <stdexcept>

namespace sbi {

void check_simulation_budget(const Method& method, const nlohmann::json& parsed_options, std::size_t simulations, const std::string& where) {
  if (!method.minimum_simulations) return;
  const SimulationFloor floor = method.minimum_simulations(parsed_options);
  if (simulations >= floor.simulations) return;
  throw InputError(where + ": " + std::to_string(simulations) + (simulations == 1 ? " simulation is" : " simulations are") + " too few for " + method.name + ": it needs at least " +
                   std::to_string(floor.simulations) + (floor.reason.empty() ? "" : " (" + floor.reason + ")"));
}

void MethodRegistry::add(Method method) {
  if (method.name.empty() || !method.parse_options || !method.train)
    throw std::invalid_argument("MethodRegistry::add: a method needs a name, parse_options and train (\"" + method.name + "\")");
  if (contains(method.name)) throw std::invalid_argument("MethodRegistry::add: method \"" + method.name + "\" is registered twice");
  const std::string name = method.name;
  methods_.emplace(name, std::move(method));
}

const Method& MethodRegistry::at(const std::string& name) const {
  const auto it = methods_.find(name);
  if (it == methods_.end()) {
    std::string known;
    for (const auto& [n, m] : methods_) known += (known.empty() ? "" : ", ") + n;
    throw InputError("unknown method \"" + name + "\" (registered: " + known + ")");
  }
  return it->second;
}

std::vector<std::string> MethodRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, method] : methods_) out.push_back(name);
  return out;
}

std::string MethodRegistry::listing() const {
  std::string out;
  for (const auto& [name, method] : methods_) {
    std::string line = "  " + name;
    line += std::string(name.size() < 12 ? 12 - name.size() : 1, ' ');
    line += method.summary;
    line += method.amortized ? "" : " [one observation]";
    out += line + "\n";
  }
  return out;
}

const std::vector<std::string>& run_level_inference_keys() {
  static const std::vector<std::string> keys = {"method", "simulations", "table", "seed", "ensemble"};
  return keys;
}

}  // namespace sbi
