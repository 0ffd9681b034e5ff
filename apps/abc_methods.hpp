#pragma once
// The ABC runs shared by `sbi abc` and `sbi compare` (defined in apps/command_abc.cpp).
#include "sbi/abc/rejection.hpp"
#include "sbi/abc/smc.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/spec/spec.hpp"
#include "apps/prior_table.hpp"
#include "simulators/from_spec.hpp"

#include <optional>
#include <string>

namespace sbi::cli {

struct AbcRunSettings {
  std::string method = "rejection";  // "rejection" | "smc"
  std::size_t budget = 10000;
  RejectionOptions rejection;        // keep/quantile/epsilon/regression/scale
  SmcAbcOptions smc;                 // budget, seed, threads are set from the fields here
  ResampleOptions resample;
  std::size_t samples = 10000;
  std::uint64_t seed = 1;
  int threads = 0;
  bool quiet = false;
};

struct AbcRun {
  AbcResult result;
  double simulation_seconds = 0;  // rejection: simulating the table (0 when it was given)
};

// The observation to condition on: the CSV file `observation_file` (header + one row) when not
// empty, else the spec's; InputError when its length does not match the simulator or there is none.
Vector observation_for(const simulators::SpecModel& model, const Spec& spec, const std::string& observation_file);

// The simulation budget when --budget is not given: the spec's inference.simulations (checked: an
// integer ≥ minimum, else InputError naming the JSON path), else 10000.
std::size_t spec_simulation_budget(const Spec& spec, std::size_t minimum);

// Runs rejection ABC (on `table` when given, else on a fresh table of settings.budget rows) or SMC-ABC
// for `observation`, then resamples settings.samples draws into result.samples.
AbcRun run_abc_method(const simulators::SpecModel& model, const Spec& spec, const Vector& observation, const AbcRunSettings& settings,
                      const ReferenceTable* table);

}  // namespace sbi::cli
