#pragma once
// Simulating a reference table from the prior for the commands (`sbi infer`, `sbi abc`, `sbi compare`).
#include "sbi/simulation/table.hpp"
#include "sbi/spec/spec.hpp"
#include "simulators/from_spec.hpp"

#include <cstdint>
#include <filesystem>

namespace sbi::cli {

// Simulates `n` rows from the prior with `seed` and the spec's failure policy, with a progress bar
// unless `quiet`. When `write_to` is not empty the rows also go to that binary table file as they are
// made, so that a Ctrl-C keeps what was finished (reusable with --table). Ctrl-C throws InputError.
// `seconds` receives the simulation time.
ReferenceTable simulate_prior_table(const simulators::SpecModel& model, const Spec& spec, std::size_t n, std::uint64_t seed,
                                    int threads, bool quiet, double& seconds, const std::filesystem::path& write_to = {});

}  // namespace sbi::cli
