#pragma once
// The external-process simulator: any program, in any language, that speaks a line protocol over
// its standard input and output. Linux/POSIX.
//
// Spec section (all keys but "command" optional; unknown keys are errors):
//
//   "simulator": {
//     "command": ["python3", "sim.py", "--fast"],   program and arguments (no shell)
//     "workers": 2,                 worker processes run in parallel, kept alive across batches
//     "timeout_s": 60,              per simulation; a worker that takes longer is killed (with its
//                                   process group) and restarted, the simulation counts as failed
//     "startup_timeout_s": 60,      start-up allowance of a new worker (default: timeout_s): its
//                                   first simulation's timeout starts this long after the start
//     "protocol": "array",          "array" or "object" (see below)
//     "data_names": ["y1", "y2"],   default data_1..data_D
//     "working_directory": "run/"   default: the spec's folder
//   }
//
// Relative paths are resolved against the spec's folder (the factory's base_directory): the
// working directory, and every argument of the command that names an existing file or folder
// there (so ["python3", "sim.py"] works from any current directory). A program name without a
// '/' is looked up on PATH.
//
// Protocol, one line per simulation, one simulation in flight per worker:
//
// | we write (one line)                                    | the worker answers (one line)       |
// |--------------------------------------------------------|-------------------------------------|
// | "array":  [θ_1, ..., θ_P]                              | [y_1, ..., y_D]  numbers; null = NaN|
// |                                                        | (Python's NaN/Infinity accepted)    |
// |                                                        | or {"error": "why it failed"}       |
// | "object": {"theta": [...], "seed": S, "index": i,      | {"id": k, "y": [y_1, ..., y_D]}     |
// |            "id": k}                                    | or {"id": k, "error": "why"}        |
//
// S is the simulation's own seed (a 64-bit unsigned integer, stream_seeds[r] of the batch): a
// simulator that seeds its generator from S alone gives the same table for any number of workers
// or threads. i is the simulation index within the run (the runner passes it through
// simulate_batch_indexed; plain simulate_batch numbers the rows 0..n-1). k is the request's id,
// unique for the simulator's lifetime: the reply must echo it, so that a stray, repeated or late
// line is never taken for the answer to another θ. Non-finite θ values are written as null. The
// worker must flush stdout after each line (Python: print(..., flush=True); the environment has
// PYTHONUNBUFFERED=1), may write anything to stderr (the last ~2 KB are kept for error messages)
// and should exit when its stdin closes. Blank output lines are ignored.
//
// Replies are matched to requests: one simulation in flight per worker, and exactly one line per
// request. A worker that writes more lines than it was sent requests is out of step and restarted.
// In the array protocol nothing ties a reply to its θ, so every answer it gave in the batch counts as
// failed too (when the extra line arrives after the worker's next request has been sent, it cannot be
// told from that request's answer: simulators that may print stray lines on stdout should use the
// object protocol, whose ids catch it every time).
//
// What counts as a failed simulation (the outcome says so and names θ; the batch goes on):
//   {"error": ...}        the message is the worker's text;
//   a crash               the message gives the exit status and the worker's stderr; the worker
//                         is restarted;
//   a timeout             the worker is killed and restarted;
//   a garbage reply       not JSON, or not a list of numbers/nulls nor {"error": ...}, or (object
//                         protocol) without the request's id: the message quotes the line
//                         (truncated); the worker is restarted (its output is out of step with our
//                         requests);
//   a closed input        the worker closed its stdin before our request: it is restarted;
//   surplus output        more lines than requests (see above);
//   a wrong length        a list of numbers of the wrong length: the message quotes it.
// Errors that stop the batch (it throws; the workers in flight are killed):
//   InputError            the command cannot be started (from the factory: "simulator.command: ...");
//   SimulationError       it cannot be restarted later; its workers die before ever answering (3 in
//                         a row), or keep dying without a single answer (25 in a row) after it has
//                         worked; its first 3 replies all have the wrong length (D is misdeclared).
// Messages are valid UTF-8 (other bytes and control characters of the worker's text become '?').
//
// Thread safety: simulate_batch may be called from several threads; calls are serialised by a
// mutex (parallelism comes from the worker processes; runs_own_workers() is true). Exception: when
// D is learnt from the first reply, info().data_names is set during that first call; read info()
// from another thread only once a batch has returned.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace sbi::simulators {

enum class ExternalProtocol { array, object };

struct ExternalSimulatorOptions {
  std::vector<std::string> command;          // resolved (see above) by parse_external_simulator_options
  int workers = 2;
  double timeout_s = 60.0;
  double startup_timeout_s = 60.0;          // the spec's default is timeout_s
  ExternalProtocol protocol = ExternalProtocol::array;
  Names data_names;                          // empty = data_1..data_D
  std::filesystem::path working_directory;   // empty = our current directory
  std::string path = "simulator";            // JSON path for error messages
  double shutdown_grace_s = 2.0;             // destructor: wait this long after closing stdin
  std::size_t stderr_tail_bytes = 2048;

  // Empty if valid, else what is wrong.
  std::string validate() const;
};

// Reads a spec section (errors name `path`: "simulator.workers: expected an integer ≥ 1, got 0").
ExternalSimulatorOptions parse_external_simulator_options(const nlohmann::json& section, const std::string& path,
                                                          const std::filesystem::path& base_directory);

// True if a "simulator" section describes an external program (it has a "command").
bool is_external_simulator_section(const nlohmann::json& section);

class ExternalProcessSimulator final : public SimulatorModel {
 public:
  // Starts the workers. data_dim = 0 with no data_names: D is taken from the first successful
  // reply (info().data_dim() is 0 until then, and simulate_batch resizes y). Throws InputError if
  // the options are invalid or the command cannot be started.
  ExternalProcessSimulator(ExternalSimulatorOptions options, Names parameter_names, std::size_t data_dim = 0,
                           nlohmann::json recorded_options = nlohmann::json::object());
  // Closes the workers' stdin, waits up to shutdown_grace_s, then kills what is left.
  ~ExternalProcessSimulator() override;
  ExternalProcessSimulator(const ExternalProcessSimulator&) = delete;
  ExternalProcessSimulator& operator=(const ExternalProcessSimulator&) = delete;

  const SimulatorInfo& info() const override;
  bool runs_own_workers() const override { return true; }

  // Rows get indices 0..n-1 (the "index" field of the object protocol).
  void simulate_batch(const RowMatrix& theta, RowMatrix& y, std::span<const std::uint64_t> stream_seeds,
                      std::span<SimulationOutcome> outcomes) const override;
  // As simulate_batch, with the simulation index of each row (sent as "index"). If y does not have
  // rows × data_dim() columns it is resized; rows of failed simulations are NaN.
  void simulate_indexed(const RowMatrix& theta, RowMatrix& y, std::span<const std::uint64_t> stream_seeds,
                        std::span<const std::uint64_t> indices, std::span<SimulationOutcome> outcomes) const;
  void simulate_batch_indexed(const RowMatrix& theta, RowMatrix& y, std::span<const std::uint64_t> stream_seeds,
                              std::span<const std::uint64_t> indices, std::span<SimulationOutcome> outcomes) const override {
    simulate_indexed(theta, y, stream_seeds, indices, outcomes);
  }

  const ExternalSimulatorOptions& options() const;
  // Workers started after the first ones (after a crash, timeout or garbage reply).
  std::size_t restarts() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Builds the simulator from its spec section. data_dim_hint: the observation's length, 0 if
// unknown. base_directory: the spec's folder (relative paths are resolved against it). With no
// data_names and no hint, data_dim() stays 0 until the first successful reply: a runner that sizes
// its tables from data_dim() beforehand should use the overload with the prior below.
// SimulatorInfo: name "external:<basename of command[0]>", thread_safe = true, options = section.
Simulator make_external_simulator(const nlohmann::json& section, const std::string& path,
                                  const Names& parameter_names, std::size_t data_dim_hint,
                                  const std::filesystem::path& base_directory);

// As above, with the parameter names taken from the prior; and if neither data_names nor the hint
// gives D, one simulation is run at a prior draw (a few more if it fails) so that data_dim() and
// the data names are known before a runner sizes its tables (see learn_data_dim).
Simulator make_external_simulator(const nlohmann::json& section, const std::string& path, const Prior& prior,
                                  std::size_t data_dim_hint, const std::filesystem::path& base_directory);

// If simulator.data_dim() is 0, simulates θ drawn from `prior` (fixed probe streams, independent of
// any run's seed) until one simulation succeeds, which fixes D for an external simulator. Does
// nothing if D is known. Throws SimulationError with the last failure after max_attempts.
void learn_data_dim(const Simulator& simulator, const Prior& prior, int max_attempts = 5);

}  // namespace sbi::simulators
