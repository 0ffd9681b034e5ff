#pragma once
// Shared pieces of the `sbi` command-line program.
#include <boost/program_options.hpp>

#include <atomic>
#include <functional>
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
};

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
