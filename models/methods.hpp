#pragma once
// The built-in inference methods and posterior kinds: the registry every front end (the `sbi` program,
// the Python package, library users) reaches methods through, and loading a saved posterior of any kind.
//
//   sbi::ReferenceTable table = sbi::simulate_prior_table(simulator, *prior, {.simulations = 4000}).table;
//   sbi::Posterior posterior = sbi::infer("mmd", table, prior, {{"max_iterations", 1500}});
//   sbi::RowMatrix theta = posterior.sample(y_obs, 2000, /*seed=*/7);
//   posterior.save("out/posterior");
//   sbi::Posterior again = sbi::load_posterior("out/posterior");   // same draws for the same seed
//
// Adding a method: write its options and training in sbi/inference/<method>.{hpp,cpp} (or the folder
// of its family, e.g. sbi/abc), and register it in models/methods.cpp (one `registry.add`). A method
// that needs a new kind of posterior also adds models/<kind>_posterior.{hpp,cpp} and one line in
// load_posterior's table.
#include "sbi/inference/method.hpp"
#include "sbi/inference/posterior.hpp"
#include "sbi/simulation/table.hpp"

#include <filesystem>

namespace sbi {

// Every built-in method (lfvi, mmd, rejection, smc, ...), registered once.
const MethodRegistry& builtin_methods();

// Reads a folder written by Posterior::save, whatever its kind. FileError names the file and the
// problem (no posterior.json, unknown kind, newer format, damaged file).
Posterior load_posterior(const std::filesystem::path& folder);

// The kinds load_posterior knows.
std::vector<std::string> posterior_kinds();

// Trains the table method `method` on `table` under `prior` with `options` (the method's JSON options;
// unknown or bad fields are InputErrors naming "options.<field>"). The shortest path for library users;
// run_method (sbi/workflows/run.hpp) also simulates and runs methods that need a simulator.
Posterior infer(const std::string& method, const ReferenceTable& table, PriorPtr prior, const nlohmann::json& options = nlohmann::json::object(),
                std::uint64_t seed = 1, const TrainingCallbacks& callbacks = {});

}  // namespace sbi
