#pragma once
// Parallel, reproducible simulation.
//
// Simulation i of a run with seed s uses only:
//   θ_i drawn from Rng::stream(s, i, 2·attempt)        (when θ comes from the prior)
//   y_i simulated from stream_seed(s, i, 2·attempt+1)
// where attempt counts redraws after failures (0 unless the policy is `redraw`). The result
// therefore does not depend on the number of threads, the batch size or the order of completion.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace sbi {

// What to do with a simulation that failed or returned non-finite values.
enum class FailurePolicy {
  drop,    // leave the row out (counted)
  redraw,  // draw a fresh θ from the prior for the same index (counted); only with prior draws
  fail,    // stop with an error naming θ
};
FailurePolicy failure_policy_from_string(const std::string& text);  // throws InputError
std::string to_string(FailurePolicy policy);

struct SimulationOptions {
  int threads = 0;                 // 0 = all hardware threads
  std::size_t batch_size = 256;    // rows handed to one worker at a time
  FailurePolicy failure_policy = FailurePolicy::drop;
  int max_redraws = 100;           // per index, with FailurePolicy::redraw
  // Set from outside (e.g. a SIGINT handler) to stop after the batches in flight.
  const std::atomic<bool>* stop = nullptr;
  // Called after each completed chunk with (simulations done, simulations requested).
  std::function<void(std::size_t, std::size_t)> on_progress;

  // Empty if valid, else what is wrong.
  bool is_valid(std::string* why = nullptr) const;
};

// A contiguous block of finished simulations, in index order, with what happened to the simulations
// that were not kept (so that a table written chunk by chunk records exact counts at every moment).
struct SimulationChunk {
  std::vector<std::uint64_t> indices;  // simulation index of each kept row
  RowMatrix theta;
  RowMatrix y;
  std::uint64_t next_index = 0;        // first index after the chunk (kept or not); 0 = not given
  std::size_t failed = 0;              // as in SimulationSummary, for this chunk's indices
  std::size_t non_finite = 0;
  std::size_t dropped = 0;
  std::size_t redraws = 0;
};

struct SimulationSummary {
  std::size_t requested = 0;
  std::size_t kept = 0;           // rows in the table
  std::size_t failed = 0;         // simulator failures (all attempts, including redrawn ones)
  std::size_t non_finite = 0;     // outputs with NaN or ±inf (all attempts)
  std::size_t dropped = 0;        // indices left out under FailurePolicy::drop
  std::size_t redraws = 0;        // extra attempts under FailurePolicy::redraw
  std::uint64_t next_index = 0;   // first index not yet used: append from here
  bool interrupted = false;
  double seconds = 0.0;
  std::string first_failure;      // message naming θ of the first failure, if any

  std::string brief_report() const;
};

// Whether the prior gives the simulator its parameters (prior_order_misfit, sbi/priors/prior.hpp):
// empty when it does; else what is wrong, with the prior as its subject.
std::string prior_misfit(const Prior& prior, const Simulator& simulator);
// Throws InputError("<context>: the prior <prior_misfit>") when the prior does not fit.
void check_prior_fits(const Prior& prior, const Simulator& simulator, const std::string& context);

// Draws θ_i from the prior and simulates indices [first_index, first_index + n). Each finished
// chunk is passed to `sink` in index order (write it out, append it to a table, ...), also a chunk
// whose simulations all failed (no rows; its counts), and under FailurePolicy::fail the rows before
// the failing simulation (with the failure counted) before SimulationError is thrown.
SimulationSummary simulate_from_prior(const Simulator& simulator, const Prior& prior, std::size_t n,
                                      std::uint64_t seed, std::uint64_t first_index,
                                      const SimulationOptions& options,
                                      const std::function<void(const SimulationChunk&)>& sink);

// Simulates given parameters: row r of `theta` is simulation index first_index + r with stream
// seed stream_seed(seed, first_index + r, 1). Outcomes per row go to `outcomes` (resized);
// FailurePolicy::redraw is not available here (there is no prior to redraw from), and
// FailurePolicy::fail throws SimulationError naming θ of the first failure.
RowMatrix simulate_given(const Simulator& simulator, const RowMatrix& theta, std::uint64_t seed,
                         std::uint64_t first_index, const SimulationOptions& options,
                         std::vector<SimulationOutcome>* outcomes = nullptr);

// Spreading simulations over the ranks of an MPI job (sbi/parallel/cluster.hpp), for programs that
// run the same command on every rank (the `sbi` program under mpirun or srun):
//
//   if (sbi::serve_simulator_if_worker(simulator)) return 0;   // right after building the simulator
//
// On a worker rank this serves rank 0's simulation jobs with this copy of the simulator until rank 0
// finishes (sbi::cluster::finalize), then returns true: the caller returns at once, having written
// nothing. On rank 0 it records that every rank has this simulator and returns false: from then on
// simulate_from_prior and simulate_given on rank 0's main thread hand chunks of indices to the ranks
// (rank 0 simulates too), and receive them in index order — the same rows, counts and failures as on
// one process, since every row depends on (seed, index) alone. Each rank runs `threads` threads
// (0 = the cores of its own node). Without MPI, or alone, it does nothing and returns false.
[[nodiscard]] bool serve_simulator_if_worker(const Simulator& simulator);

// Number of worker threads a `threads` option resolves to (0 = hardware concurrency).
int resolve_thread_count(int threads);
// The threads the runner uses for `simulator`: 1 for a simulator that runs its own workers or (when
// `threads` is 0, "all cores") one that is not thread-safe; else resolve_thread_count(threads). An
// explicit threads > 1 for a simulator that is not thread-safe is refused by the runner.
int simulation_threads(const Simulator& simulator, int threads);

}  // namespace sbi
