#include "apps/cli.hpp"

#include "sbi/core/error.hpp"

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

namespace sbi::cli {

namespace {
std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int signal) {
  if (g_interrupted.exchange(true)) {
    // Second request: leave now; files already published stay intact (they are only ever renamed
    // into place).
    std::_Exit(128 + signal);
  }
  const char message[] = "\n[sbi] interrupted: finishing the work in flight and saving what is done (Ctrl-C again to quit now)\n";
  [[maybe_unused]] auto ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
}
}  // namespace

const std::atomic<bool>& interrupt_flag() { return g_interrupted; }

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool parse_command_line(const std::vector<std::string>& args, const std::string& usage, const po::options_description& visible,
                        const po::positional_options_description& positional, po::variables_map& vm) {
  po::options_description all;
  all.add(visible);
  all.add_options()("help,h", "show this help");
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::cout << "Usage: " << usage << "\n\n" << visible << "  -h [ --help ]                show this help\n";
    return false;
  }
  po::notify(vm);
  return true;
}

int run_guarded(const std::string& command, const std::function<int()>& body) {
  try {
    return body();
  } catch (const po::error& e) {
    std::cerr << "sbi " << command << ": " << e.what() << "\n(see sbi " << command << " --help)\n";
    return kExitUsage;
  } catch (const InputError& e) {
    std::cerr << "sbi " << command << ": error: " << e.what() << "\n";
  } catch (const SimulationError& e) {
    std::cerr << "sbi " << command << ": simulation error: " << e.what() << "\n";
  } catch (const FileError& e) {
    std::cerr << "sbi " << command << ": file error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "sbi " << command << ": error: " << e.what() << "\n";
  }
  return kExitError;
}

}  // namespace sbi::cli
