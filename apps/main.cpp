// The `sbi` command-line program: one subcommand per job.
#include "apps/cli.hpp"

#include "sbi/autodiff/kernels.hpp"

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

}  // namespace

int main(int argc, char** argv) {
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
    std::cout << "sbi++ " SBI_VERSION_STRING "\nnetwork kernels: " << sbi::ad::kernels::describe() << "\n";
    return sbi::cli::kExitOk;
  }
  for (const auto& c : commands()) {
    if (c.name == first) {
      sbi::cli::install_interrupt_handler();
      return c.run(std::vector<std::string>(argv + 2, argv + argc));
    }
  }
  std::cerr << "sbi: unknown command \"" << first << "\" (sbi --help lists the commands)\n";
  return sbi::cli::kExitUsage;
}
