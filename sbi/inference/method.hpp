#pragma once
// Inference methods and their registry.
//
// A method is a name, its own options struct (read from JSON with errors naming the JSON path,
// written back to JSON), and a train function that turns what the method needs into a Posterior:
//
// | member                 | meaning                                                                  |
// |------------------------|--------------------------------------------------------------------------|
// | `name`, `summary`      | "npe", one line for `sbi infer --list-methods`                           |
// | `needs`                | `table`: trains on a reference table simulated from the prior            |
// |                        | `simulator`: simulates by itself within a budget (SMC-ABC, sequential)   |
// | `amortized`            | its posterior samples any observation (else only the one it ran for)     |
// | `parse_options`        | (the spec's "inference" section, its JSON path) → the options as a JSON  |
// |                        | object with every default filled in; InputError names the bad field       |
// | `train`                | (TrainingInput, options JSON, TrainingCallbacks) → Posterior             |
// | `minimum_simulations`  | (options JSON) → the smallest budget it can train on, and why (optional) |
// | `one_observation_with` | (options JSON) → these options make a posterior for one observation only |
// |                        | (optional; amortised methods with a per-observation step)                |
//
// Registering a method (see models/registry.cpp for the built-in ones):
//
//   registry.add(sbi::Method{
//       .name = "npe", .summary = "neural posterior estimation (conditional flow)",
//       .needs = sbi::MethodNeeds::table, .amortized = true,
//       .parse_options = sbi::options_parser<NpeOptions>(),
//       .train = [](const sbi::TrainingInput& in, const nlohmann::json& o, const sbi::TrainingCallbacks& cb) {
//         return train_npe(in, NpeOptions::from_json(o, "inference"), cb); }});
//
// An options struct follows one style across the library: documented defaults, `bool
// is_valid(std::string* why) const`, `nlohmann::json to_json() const` and `static Options
// from_json(const nlohmann::json&, const std::string& path)` that throws InputError with the path.
#include "sbi/inference/posterior.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/simulation/simulator.hpp"
#include "sbi/simulation/table.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sbi {

enum class MethodNeeds { table, simulator };

// What a method trains from. Table methods read `table`; simulator methods call `simulator` within
// `budget` simulations (and may ignore the table). `observation` is set when there is one (required
// by non-amortised methods).
struct TrainingInput {
  PriorPtr prior{};
  Simulator simulator{};                     // may be empty for table methods
  const ReferenceTable* table = nullptr;   // table methods: the training table
  std::optional<Vector> observation{};
  std::size_t budget = 0;                  // simulator methods: simulations allowed
  // Amortised methods: train this many members with their own seeds and return their equal-weight
  // mixture (the spec's inference.ensemble; kind "ensemble", models/ensemble_posterior.hpp).
  int ensemble = 1;
  std::uint64_t seed = 1;
  int threads = 0;                         // 0 = all cores
  SimulationOptions simulation{};            // failure policy etc. for methods that simulate
  Provenance provenance{};                   // filled in by the caller (spec, simulator, table source)
  // Sequential methods: a folder that keeps finished rounds, so that an interrupted run resumes
  // (SequentialProblem::checkpoint, sbi/inference/sequential.hpp). Empty = none.
  std::filesystem::path checkpoint{};
};

// A method's smallest workable budget and the reason for it ("10 rounds, each of at least 24 rows").
struct SimulationFloor {
  std::size_t simulations = 0;
  std::string reason{};
};

struct Method {
  std::string name{};
  std::string summary{};
  MethodNeeds needs = MethodNeeds::table;
  bool amortized = true;
  // True when a table method's posterior is that of the prior its table's θ were drawn from (NPE
  // learns p(θ | y) under them, rejection ABC keeps them): run_method then refuses a table recorded
  // as drawn from another prior than the problem's. False where the prior is applied afterwards
  // (NLE's likelihood, NRE's ratio), which may reuse a table from another prior covering this one.
  bool posterior_under_table_prior = true;
  std::function<nlohmann::json(const nlohmann::json& section, const std::string& path)> parse_options;
  // The fewest simulations (table methods: table rows) the method can train on with these parsed
  // options, and why; empty = no floor beyond the spec's 20. Checked before anything is simulated
  // (check_simulation_budget), so a budget too small for, say, 10 rounds fails at once with the
  // spec's JSON path instead of after the first round.
  std::function<SimulationFloor(const nlohmann::json& options)> minimum_simulations{};
  // Optional, for amortised methods: true when these parsed options make a posterior for the run's
  // observation only (LFVI's refinement for one observation). run_method then treats the run as a
  // non-amortised method's: an observation is required before anything is simulated, ensembles are refused.
  std::function<bool(const nlohmann::json& options)> one_observation_with{};
  std::function<Posterior(const TrainingInput&, const nlohmann::json& options, const TrainingCallbacks&)> train;
};

// Throws InputError "<where>: N simulations are too few for METHOD: it needs at least M (why)" when
// `simulations` is below the method's floor for these parsed options.
void check_simulation_budget(const Method& method, const nlohmann::json& parsed_options, std::size_t simulations, const std::string& where);

// The options parser of an options struct in the library's style (see the top of this file).
template <class Options>
auto options_parser() {
  return [](const nlohmann::json& section, const std::string& path) { return Options::from_json(section, path).to_json(); };
}

class MethodRegistry {
 public:
  // Throws std::invalid_argument for a duplicate or incomplete method.
  void add(Method method);
  bool contains(const std::string& name) const { return methods_.count(name) != 0; }
  // Throws InputError listing the registered names when `name` is not one of them.
  const Method& at(const std::string& name) const;
  std::vector<std::string> names() const;
  // One line per method: "  npe         neural posterior estimation ..."
  std::string listing() const;

 private:
  std::map<std::string, Method> methods_{};
};

// Keys of a spec's "inference" section that belong to the run, not to a method's options:
// "method", "simulations", "table", "seed" (the training seed; TrainingInput::seed) and "ensemble"
// (TrainingInput::ensemble). Parsers skip them.
const std::vector<std::string>& run_level_inference_keys();

}  // namespace sbi
