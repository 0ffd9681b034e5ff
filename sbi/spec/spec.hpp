#pragma once
// The JSON spec: one document that names the simulator, the prior, the observation, the seed, the
// inference method and its settings, and the outputs.
//
//   {"description": "...",
//    "simulator": {"name": "lotka_volterra", "options": {}}        built-in, or
//                 {"command": ["python3", "sim.py"], "workers": 2, "timeout_s": 30, ...}
//                 (omitted: the spec trains on simulations made elsewhere, `sbi infer` with
//                 "inference": {"table": "sims.csv"} or --table; then "prior" is required),
//    "prior": [{"name": "alpha", "dist": "lognormal", "mu": -0.125, "sigma": 0.5}, ...]
//             (optional for built-in simulators: the task's own prior),
//    "observation": [30.1, 12.5]  or  {"file": "obs.csv"}          (header line of data names + one
//                                                                   row; matched to the simulator's
//                                                                   data by name, see SpecModel),
//    "true_parameters": [...]                                      (optional, for reports),
//    "seed": 1,
//    "simulation": {"failure_policy": "drop"|"redraw"|"fail", "max_redraws": 100},
//    "inference": {"method": "npe", "simulations": 10000, ...},   (read by the inference code),
//    "output": {"samples": 10000}}
//
// Every error names the JSON path and what was expected; unknown keys are errors. Relative file
// names are resolved against the spec's folder.
#include "sbi/core/types.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/runner.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace sbi {

struct Spec {
  nlohmann::json document;          // the whole spec as read
  std::filesystem::path directory;  // base for relative paths
  std::string description;
  nlohmann::json simulator;         // the "simulator" section, checked by the simulator layer; null when absent
  PriorPtr prior;                   // null when omitted (a built-in simulator supplies its own)
  // The observation as written: a list in the simulator's data order, or a file's row in the file's
  // column order. Use simulators::SpecModel::observation, which is matched to the data names.
  std::optional<Vector> observation;
  Names observation_names;                   // the file's header ({"file": ...}); empty for a list
  std::filesystem::path observation_file;    // the file, resolved against `directory`; empty for a list
  std::optional<Vector> true_parameters;
  // Samples of the exact posterior for the spec's observation (CSV, header = parameter names), when
  // known (the sbibm tasks): `sbi infer` then reports its C2ST against them. Resolved against `directory`.
  std::filesystem::path reference_posterior;
  std::uint64_t seed = 1;
  FailurePolicy failure_policy = FailurePolicy::drop;
  int max_redraws = 100;
  nlohmann::json inference = nlohmann::json::object();  // checked by the inference code
  std::size_t output_samples = 10000;

  bool has_simulator() const { return !simulator.is_null(); }
  bool has_external_simulator() const { return simulator.contains("command"); }
};

// Parses a spec document. `directory` resolves relative file names (observation files, commands).
Spec parse_spec(const nlohmann::json& document, const std::filesystem::path& directory);
// Reads and parses a spec file; JSON syntax errors name the line and column.
Spec read_spec(const std::filesystem::path& path);
// An observation file as written: its header (names, blanks around them removed) and its one row.
struct ObservationFile {
  Names names;
  Vector values;
};

// Reads an observation file: a header line and exactly one row of finite numbers. Errors name the
// file, the line and the column but never quote the file's text (it may not be an observation file).
ObservationFile read_observation_file(const std::filesystem::path& path);

// The file's values in the order of `data_names`, matched by the header. InputError (starting with
// `where`) naming a data name the header lacks, a header name that is not a data name (by its column
// and, if it looks like a name, the name), or a name that appears twice.
Vector match_observation(const ObservationFile& file, const Names& data_names, const std::string& where);

// Reads an observation file and matches its columns to `data_names` (read_observation_file, then
// match_observation): a file whose header names the data in another order gives the same vector.
Vector read_observation_csv(const std::filesystem::path& path, const Names& data_names);

// Positional reading (no names to match): the row in the file's column order. Only for callers that
// do not know the data names; prefer the overload above.
Vector read_observation_csv(const std::filesystem::path& path);

// The spec's simulation budget: inference.simulations (an integer ≥ minimum, else InputError naming
// the JSON path), or `fallback` when absent.
std::size_t spec_simulations(const Spec& spec, std::size_t minimum, std::size_t fallback = 10000);
// The spec's inference method: inference.method, or `fallback` when absent. NPE by default: at 10^4
// simulations it was the most accurate amortised method on the six sbibm tasks and the only one
// calibrated on all six (bench/RESULTS.md, bench/calibration/RESULTS.md).
std::string spec_method(const Spec& spec, const std::string& fallback = "npe");

}  // namespace sbi
