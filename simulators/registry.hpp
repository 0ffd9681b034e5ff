#pragma once
// The registry that maps a spec's simulator name to a built-in simulator and its default prior.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace sbi::simulators {

struct BuiltinSimulator {
  std::string name;
  std::string description;  // one line for `sbi simulate --list`
  // Builds the simulator from its "options" object; errors are InputError naming `path`
  // (e.g. "simulator.options.dt: expected a positive number, got 0"); unknown options are errors.
  std::function<Simulator(const nlohmann::json& options, const std::string& path)> make;
  // The prior of the task with these options (sbibm's for the benchmark tasks).
  std::function<PriorPtr(const nlohmann::json& options)> default_prior;
};

const std::vector<BuiltinSimulator>& builtin_simulators();
// Throws InputError listing the known names if `name` is unknown.
const BuiltinSimulator& find_builtin_simulator(const std::string& name, const std::string& path = "simulator.name");

}  // namespace sbi::simulators
