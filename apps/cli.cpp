#include "apps/cli.hpp"

#include "sbi/core/error.hpp"
#include "sbi/parallel/cluster.hpp"
#include "simulators/from_spec.hpp"

#include <cctype>
#include <charconv>
#include <cstring>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
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

bool worker_waits() { return cluster::active() && cluster::is_worker(); }

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

namespace {
std::string g_command_spec;  // the spec read_command_spec read, for run_guarded's messages

// The message of an error about a spec field, with the spec's file before its JSON path when the
// message starts with one (a top-level key of the spec) and does not name the file already.
std::string with_spec_file(const std::string& message) {
  if (g_command_spec.empty() || message.rfind(g_command_spec, 0) == 0) return message;
  for (const char* key : {"simulator", "prior", "observation", "seed", "simulation", "inference", "output", "true_parameters",
                          "reference_posterior", "description"}) {
    const std::size_t n = std::strlen(key);
    if (message.size() > n && message.compare(0, n, key) == 0 && std::strchr(".[:", message[n]) != nullptr)
      return g_command_spec + ": " + message;
  }
  return message;
}
}  // namespace

Spec read_command_spec(const std::filesystem::path& path) {
  g_command_spec = path.string();
  return read_spec(path);
}

int run_guarded(const std::string& command, const std::function<int()>& body) {
  try {
    return body();
  } catch (const po::error& e) {
    std::cerr << "sbi " << command << ": " << e.what() << "\n(see sbi " << command << " --help)\n";
    return kExitUsage;
  } catch (const Interrupted& e) {
    // Work stopped on Ctrl-C that the command did not say more about.
    std::cerr << "sbi " << command << ": interrupted: " << e.what() << "\n";
    return kExitInterrupted;
  } catch (const InputError& e) {
    std::cerr << "sbi " << command << ": error: " << with_spec_file(e.what()) << "\n";
  } catch (const SimulationError& e) {
    std::cerr << "sbi " << command << ": simulation error: " << e.what() << "\n";
  } catch (const FileError& e) {
    std::cerr << "sbi " << command << ": file error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "sbi " << command << ": error: out of memory: the run needs more memory than this machine has "
              << "(too many samples, simulations or rows at once? ask for fewer)\n";
  } catch (const std::exception& e) {
    std::cerr << "sbi " << command << ": error: " << e.what() << "\n";
  }
  return kExitError;
}

namespace {
std::uint64_t parse_unsigned(boost::any& out, const std::vector<std::string>& values, const char* what) {
  po::validators::check_first_occurrence(out);
  const std::string& text = po::validators::get_single_string(values);
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front())) || ec != std::errc() || ptr != end)
    // The parser adds the option's name to an error_with_option_name ("%canonical_option%").
    throw po::error_with_option_name("%canonical_option%: expected " + std::string(what) + ", got \"" + text + "\"");
  return value;
}
}  // namespace

void validate(boost::any& out, const std::vector<std::string>& values, Count*, int) {
  out = Count{parse_unsigned(out, values, "a whole number ≥ 0")};
}

void validate(boost::any& out, const std::vector<std::string>& values, Seed*, int) {
  out = Seed{parse_unsigned(out, values, "a seed (a whole number from 0 to 18446744073709551615)")};
}

std::uint64_t count_option(const po::variables_map& vm, const std::string& name, std::uint64_t minimum, std::uint64_t maximum) {
  const std::uint64_t value = vm[name].as<Count>().value;
  if (value < minimum || value > maximum)
    throw po::error("--" + name + " must be between " + std::to_string(minimum) + " and " + std::to_string(maximum) + ", got " +
                    std::to_string(value));
  return value;
}

std::optional<std::uint64_t> seed_option(const po::variables_map& vm) {
  if (!vm.count("seed")) return std::nullopt;
  return vm["seed"].as<Seed>().value;
}

void add_quiet_flag(po::options_description& options) { options.add_options()("quiet,q", po::bool_switch(), "no progress bars"); }

void add_threads_flag(po::options_description& options) {
  options.add_options()("threads", po::value<Count>()->default_value(Count{0}, "0"), "worker threads (0 = all cores; results do not depend on it)");
}

void add_seed_flag(po::options_description& options, const char* what) { options.add_options()("seed", po::value<Seed>(), what); }

bool quiet_flag(const po::variables_map& vm) { return vm.count("quiet") && vm["quiet"].as<bool>(); }

int threads_flag(const po::variables_map& vm) {
  if (!vm.count("threads")) return 0;
  return static_cast<int>(count_option(vm, "threads", 0, 4096));
}

TrainingCallbacks ProgressDisplay::callbacks() {
  TrainingCallbacks callbacks;
  callbacks.stop = &interrupt_flag();
  callbacks.on_progress = [this](const TrainingProgress& progress) { on_progress(progress); };
  return callbacks;
}

void ProgressDisplay::on_progress(const TrainingProgress& progress) {
  if (!show_) return;
  if (!bar_ || progress.stage != stage_) {
    if (bar_) bar_->finish();
    stage_ = progress.stage;
    bar_ = std::make_unique<ProgressBar>(progress.stage, progress.total, true, progress.unit);
  }
  bar_->set_status(progress.status);
  bar_->update(progress.done);
}

void ProgressDisplay::finish() {
  if (bar_) bar_->finish();
  bar_.reset();
}

ReferenceTable load_training_table(const std::filesystem::path& path, const Spec& spec) {
  ImportedTable imported = simulators::load_spec_table(spec, path);
  if (imported.dropped > 0)  // said even with --quiet (which silences progress): it changes what is trained on
    std::fprintf(stderr, "%s: %zu row%s with NaN or infinite data left out (failed simulations)\n", path.string().c_str(), imported.dropped,
                 imported.dropped == 1 ? "" : "s");
  return std::move(imported.table);
}

}  // namespace sbi::cli
