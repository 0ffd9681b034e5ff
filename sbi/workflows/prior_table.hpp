#pragma once
// Simulating a reference table from the prior: what `sbi simulate`, `sbi infer`, `sbi abc` and
// `sbi compare` do before a table method trains, as one library call.
//
//   sbi::PriorTableRun run = sbi::simulate_prior_table(simulator, prior, {.simulations = 10000, .seed = 1});
//   train_on(run.table);                       // run.summary says what failed and how long it took
//
// Simulation i draws θ_i and y_i from streams of (seed, i) alone (sbi/simulation/runner.hpp), so the
// table is the same for any thread count. Rows can also stream into a table file as they finish, so an
// interrupted run keeps them (reusable with --table / --append).
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/simulation/simulator.hpp"
#include "sbi/simulation/table.hpp"

#include <filesystem>

namespace sbi {

struct PriorTableSettings {
  std::size_t simulations = 10000;
  std::uint64_t seed = 1;
  int threads = 0;                                // 0 = all cores (1 for a simulator that is not thread-safe)
  FailurePolicy failure_policy = FailurePolicy::drop;
  int max_redraws = 100;
  std::filesystem::path write_to{};                 // when set: also stream the rows into this binary table file
  // With write_to: when that file already holds a table of this simulator and seed (an interrupted
  // run), keep its rows and simulate only the indices it lacks, so the result is the table an
  // uninterrupted run would have made. InputError when the file is another simulator's or seed's.
  bool continue_existing = false;
};

struct PriorTableRun {
  ReferenceTable table;
  SimulationSummary summary;                      // summary.interrupted: stopped by callbacks.stop
};

// Simulates settings.simulations rows from the prior. Progress goes to callbacks (stage "simulate",
// unit "sim"); callbacks.stop stops after the simulations in flight, with the finished rows kept
// (and published in settings.write_to).
PriorTableRun simulate_prior_table(const Simulator& simulator, const Prior& prior, const PriorTableSettings& settings,
                                   const TrainingCallbacks& callbacks = {});

}  // namespace sbi
