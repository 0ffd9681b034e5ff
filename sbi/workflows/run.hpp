#pragma once
// Running one inference method on a problem: what `sbi infer` does, as one library call.
//
//   sbi::InferenceProblem problem{.simulator = simulator, .prior = prior, .observation = y_obs};
//   sbi::MethodRun run = sbi::run_method(registry.at("npe"), options_json, problem, {.simulations = 10000});
//   sbi::RowMatrix theta = run.posterior.sample(y_obs, 10000, 1);
//
// A table method gets a table simulated from the prior (settings.simulations rows, or the given
// table); a simulator method gets the simulator and the budget. The posterior records how it was made
// (provenance: method, simulator, spec, seed, simulations, table, times, version).
#include "sbi/inference/method.hpp"
#include "sbi/workflows/prior_table.hpp"

#include <filesystem>
#include <optional>

namespace sbi {

struct InferenceProblem {
  Simulator simulator{};                    // may be empty when every method used trains on a given table
  PriorPtr prior{};
  std::optional<Vector> observation{};      // required by methods that are not amortised
  nlohmann::json spec = nullptr;          // the spec, recorded in the provenance
  FailurePolicy failure_policy = FailurePolicy::drop;
  int max_redraws = 100;
};

struct RunSettings {
  std::size_t simulations = 10000;        // the simulation budget
  std::uint64_t seed = 1;
  int threads = 0;                        // 0 = all cores
  const ReferenceTable* table = nullptr;  // table methods train on this instead of simulating
  std::string table_source{};               // where that table came from (provenance)
  std::filesystem::path write_table_to{};   // when simulating a table: also stream it into this file
  bool continue_table = false;              // ... and keep the rows already there (PriorTableSettings::continue_existing)
  std::filesystem::path checkpoint{};       // sequential methods: keep finished rounds here and resume from them
};

struct MethodRun {
  Posterior posterior{};                    // empty when interrupted before training started
  std::optional<SimulationSummary> simulation{};  // the prior table simulated for a table method
  std::size_t simulations = 0;            // simulations the posterior used
  double simulation_seconds = 0;
  double training_seconds = 0;            // the method's own time (its simulations included for simulator methods)
  bool interrupted = false;               // callbacks.stop was set
};

// Parses `options` (the spec's "inference" section or part of it) with the method's parser, so a bad
// field is an InputError naming its JSON path under `path` before anything is simulated.
nlohmann::json parse_method_options(const Method& method, const nlohmann::json& options, const std::string& path = "inference");

MethodRun run_method(const Method& method, const nlohmann::json& options, const InferenceProblem& problem, const RunSettings& settings,
                     const TrainingCallbacks& callbacks = {});

}  // namespace sbi
