#pragma once
// Shared pieces of the `sbi` command-line program.
#include "sbi/optim/training_loop.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/spec/spec.hpp"
#include "sbi/util/progress.hpp"

#include <boost/program_options.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sbi::cli {

namespace po = boost::program_options;

// One subcommand: its name, a one-line summary for `sbi --help`, and its entry point taking the
// arguments after the subcommand's name.
struct Command {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>&)> run;
  // Runs on every rank under MPI (apps/main.cpp): each of its paths either reaches
  // serve_simulator_if_worker (sbi/simulation/runner.hpp) or worker_waits() before doing anything a
  // worker rank must not do twice (write files, train). Other commands run on rank 0 only.
  bool spreads_over_ranks = false;
};

// Under MPI, on a worker rank in a command path that hands no work to the ranks: true, and the
// command returns at once (main lets the rank wait for rank 0 to finish). False on rank 0 or alone.
bool worker_waits();

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;      // bad input, failed simulation, I/O error
inline constexpr int kExitUsage = 2;      // bad command line
inline constexpr int kExitInterrupted = 130;

// Set by SIGINT/SIGTERM once installed; long jobs poll it and stop cleanly. A second Ctrl-C
// exits at once.
const std::atomic<bool>& interrupt_flag();
void install_interrupt_handler();

// Parses `args` with `visible` options and `positional` names; prints help and returns false for
// --help. Throws po::error on bad usage.
bool parse_command_line(const std::vector<std::string>& args, const std::string& usage, const po::options_description& visible,
                        const po::positional_options_description& positional, po::variables_map& vm);

// Runs `body` and turns exceptions into a message on stderr and an exit code.
int run_guarded(const std::string& command, const std::function<int()>& body);

// read_spec, and the spec's file named in the command's errors: a section parsed later (the
// inference options, the simulator's) reports its JSON path alone, and run_guarded puts the file
// before it, as read_spec does for the sections it parses itself.
Spec read_command_spec(const std::filesystem::path& path);

// A non-negative integer given on the command line ("-1", "2.5", "1e3" and "12abc" are refused, not
// wrapped to 2^64 − 1 as Boost would). Counts: simulations, samples, budgets. Seeds: any uint64.
struct Count {
  std::uint64_t value = 0;
};
struct Seed {
  std::uint64_t value = 0;
};
void validate(boost::any& out, const std::vector<std::string>& values, Count*, int);
void validate(boost::any& out, const std::vector<std::string>& values, Seed*, int);
// vm[name] as a count in [minimum, maximum]; po::error naming --name otherwise.
std::uint64_t count_option(const po::variables_map& vm, const std::string& name, std::uint64_t minimum,
                           std::uint64_t maximum = std::uint64_t{1} << 40);
std::optional<std::uint64_t> seed_option(const po::variables_map& vm);

// The flags that mean the same thing in every command that has them.
void add_quiet_flag(po::options_description& options);                      // --quiet, -q
void add_threads_flag(po::options_description& options);                    // --threads (0 = all cores)
void add_seed_flag(po::options_description& options, const char* what);     // --seed
bool quiet_flag(const po::variables_map& vm);
int threads_flag(const po::variables_map& vm);

// Progress bars on stderr for a long library call: one bar per stage reported through the callbacks
// (simulate, train, round k, ...), silent when quiet or stderr is not a terminal; Ctrl-C sets the
// callbacks' stop flag.
class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool quiet) : show_(ProgressBar::should_show(quiet)) {}
  TrainingCallbacks callbacks();
  void finish();

 private:
  void on_progress(const TrainingProgress& progress);
  bool show_;
  std::string stage_;
  std::unique_ptr<ProgressBar> bar_;
};

// The table a command trains on: one written by sbi++, or (for a spec without a simulator) a plain
// CSV of simulations made elsewhere, imported with the spec's prior naming its θ columns
// (sbi/simulation/imported_table.hpp; rows left out for non-finite data are reported on stderr).
ReferenceTable load_training_table(const std::filesystem::path& path, const Spec& spec);

// Registered subcommands (defined in the command_*.cpp files).
Command simulate_command();
Command infer_command();
Command sample_command();
Command diagnose_command();
Command abc_command();
Command compare_command();
Command stability_command();
Command causal_command();
Command table_command();

}  // namespace sbi::cli
