// The `sbi` command-line program: one subcommand per job.
#include "apps/cli.hpp"

#include "sbi/autodiff/kernels.hpp"
#include "sbi/parallel/cluster.hpp"
#include "sbi/util/allocator.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace {

const std::vector<sbi::cli::Command>& commands() {
  static const std::vector<sbi::cli::Command> list = {sbi::cli::simulate_command(), sbi::cli::infer_command(),
                                                           sbi::cli::sample_command(), sbi::cli::diagnose_command(),
                                                           sbi::cli::abc_command(), sbi::cli::compare_command(),
                                                           sbi::cli::stability_command(), sbi::cli::causal_command(),
                                                           sbi::cli::table_command()};
  return list;
}

void print_help() {
  std::cout << "sbi++ " SBI_VERSION_STRING " — simulation-based inference\n\n"
               "Usage: sbi <command> [options]   (sbi <command> --help for its options)\n\nCommands:\n";
  for (const auto& c : commands()) {
    std::cout << "  " << c.name << std::string(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ') << c.summary << "\n";
  }
  std::cout << "\nOptions:\n  -h [ --help ]      show this help\n  --version          print the version\n";
}

// A worker rank of an MPI job prints nothing: rank 0 reports for the job (SBI_WORKER_OUTPUT=1 keeps a
// worker's output, for debugging).
void silence_worker_output() {
  if (const char* keep = std::getenv("SBI_WORKER_OUTPUT"); keep && *keep && std::string(keep) != "0") return;
  const int null = ::open("/dev/null", O_WRONLY);
  if (null < 0) return;
  std::cout.flush();
  ::dup2(null, STDOUT_FILENO);
  ::dup2(null, STDERR_FILENO);
  ::close(null);
}

int run(int argc, char** argv) {
  if (argc < 2) {
    print_help();
    return sbi::cli::kExitUsage;
  }
  const std::string first = argv[1];
  if (first == "-h" || first == "--help" || first == "help") {
    print_help();
    return sbi::cli::kExitOk;
  }
  if (first == "--version") {
    // The network kernels chosen for this CPU (SBI_KERNELS can pin one; see sbi/autodiff/kernels.hpp).
    std::cout << "sbi++ " SBI_VERSION_STRING "\nnetwork kernels: " << sbi::ad::kernels::describe() << "\nMPI: "
              << (sbi::cluster::built_with_mpi() ? "built in (mpirun -np K sbi ...; README: On a cluster)" : "not built in") << "\n";
    return sbi::cli::kExitOk;
  }
  for (const auto& c : commands()) {
    if (c.name == first) {
      sbi::cli::install_interrupt_handler();
      // Under MPI a command that spreads nothing runs on rank 0 alone; the others wait for its end.
      if (sbi::cli::worker_waits() && !c.spreads_over_ranks) return sbi::cli::kExitOk;
      return c.run(std::vector<std::string>(argv + 2, argv + argc));
    }
  }
  std::cerr << "sbi: unknown command \"" << first << "\" (sbi --help lists the commands)\n";
  return sbi::cli::kExitUsage;
}

}  // namespace

// Alone, `sbi` runs the command. Under an MPI launcher (mpirun, srun; sbi/parallel/cluster.hpp) every
// rank runs it: rank 0 as alone, handing simulations to the others; a worker rank builds what the
// command simulates, serves rank 0, and ends when rank 0 ends.
int main(int argc, char** argv) {
  sbi::configure_allocator();  // before any thread starts (sbi/util/allocator.hpp)
  sbi::cluster::initialize(&argc, &argv);
  if (sbi::cli::worker_waits()) silence_worker_output();
  const int code = run(argc, argv);
  if (sbi::cli::worker_waits() && !sbi::cluster::served()) {
    // The command returned before serving (a path that spreads nothing, or an error that rank 0 will
    // most likely report too): wait for rank 0, refusing any job it sends.
    sbi::cluster::serve(code == sbi::cli::kExitOk ? std::string()
                                                  : "stopped before it could take work (exit code " + std::to_string(code) +
                                                        "); run the command on one process to see why");
  }
  const bool worker = sbi::cluster::active() && sbi::cluster::is_worker();
  sbi::cluster::finalize();
  return worker ? sbi::cli::kExitOk : code;
}
