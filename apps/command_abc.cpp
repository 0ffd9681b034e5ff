// sbi abc SPEC --method rejection|smc -o DIR: approximate Bayesian computation for the spec's
// observation, through the method registry (the same as `sbi infer` with method rejection or smc, with
// the ABC settings as flags); writes the posterior, DIR/samples.csv and DIR/summary.json.
#include "apps/cli.hpp"

#include "models/abc_posterior.hpp"
#include "models/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/diagnostics/summaries.hpp"
#include "sbi/io/csv.hpp"
#include "simulators/from_spec.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace sbi::cli {

namespace {

int run_abc(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("spec", po::value<std::string>(), "the JSON spec (simulator, prior, observation)")
      ("method,m", po::value<std::string>()->default_value("rejection"), "rejection | smc")
      ("output,o", po::value<std::string>(), "folder for the posterior, samples.csv and summary.json")
      ("budget", po::value<Count>(), "simulations (default: the spec's inference.simulations, else 10000)")
      ("keep", po::value<Count>(), "rejection: accept the K nearest simulations (default 100, as sbibm)")
      ("quantile", po::value<double>(), "rejection: accept this fraction of the nearest simulations")
      ("epsilon", po::value<double>(), "rejection: accept simulations within this distance")
      ("regression", po::bool_switch(), "rejection: Beaumont et al. 2002 regression adjustment")
      ("table", po::value<std::string>(), "rejection: use the first BUDGET rows of this table instead of simulating (without --budget: the spec's inference.simulations, else all); with a spec without a simulator, a plain CSV of simulations made elsewhere")
      ("scale", po::value<std::string>()->default_value("mad"), "statistic scale for distances: mad | sd")
      ("population", po::value<Count>(), "smc: particles per generation (default 100, or 300 above 10^4 simulations)")
      ("epsilon-quantile", po::value<double>(), "smc: next epsilon = this quantile of the previous distances (default 0.5)")
      ("kernel-scale", po::value<double>(), "smc: perturbation covariance = this × weighted population covariance (default 2)")
      ("min-acceptance", po::value<double>(), "smc: stop below this acceptance rate (default 0 = off)")
      ("final-epsilon", po::value<double>(), "smc: stop after reaching this epsilon (default 0 = off)")
      ("observation", po::value<std::string>(), "observation CSV (header + one row) instead of the spec's")
      ("samples,n", po::value<Count>(), "posterior draws to write (default: the spec's output.samples, 10000)")
      ("resample", po::value<std::string>()->default_value("kde"), "how draws come from the particles: kde | multinomial")
      ("force", po::bool_switch(), "replace a posterior already saved in the output folder");
  add_seed_flag(options, "seed (default: the spec's)");
  add_threads_flag(options);
  add_quiet_flag(options);
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi abc SPEC --method rejection|smc [--budget N] -o DIR [options]", options, positional, vm)) return kExitOk;
  if (!vm.count("spec")) throw po::error("the spec is required: sbi abc SPEC --method rejection|smc -o DIR");
  if (!vm.count("output")) throw po::error("the output folder is required: -o DIR");
  const std::string method_name = vm["method"].as<std::string>();
  if (method_name != "rejection" && method_name != "smc") throw po::error("unknown method \"" + method_name + "\" for --method (expected rejection or smc)");
  const int acceptance_options = static_cast<int>(vm.count("keep") + vm.count("quantile") + vm.count("epsilon"));
  if (acceptance_options > 1) throw po::error("give at most one of --keep, --quantile, --epsilon");
  const bool smc = method_name == "smc";
  if (smc && (acceptance_options || vm["regression"].as<bool>() || vm.count("table")))
    throw po::error("--keep, --quantile, --epsilon, --regression and --table apply to --method rejection only");
  for (const char* flag : {"population", "epsilon-quantile", "kernel-scale", "min-acceptance", "final-epsilon"})
    if (!smc && vm.count(flag)) throw po::error(std::string("--") + flag + " applies to --method smc only");

  // The flags become the method's options (checked, with the flag's name, by the method's parser).
  nlohmann::json method_options = {{"scale", vm["scale"].as<std::string>()}, {"resample", vm["resample"].as<std::string>()}};
  if (vm.count("keep")) method_options["keep"] = count_option(vm, "keep", 1);
  if (vm.count("quantile")) method_options["quantile"] = vm["quantile"].as<double>();
  if (vm.count("epsilon")) method_options["epsilon"] = vm["epsilon"].as<double>();
  if (!smc) method_options["regression"] = vm["regression"].as<bool>();
  if (vm.count("population")) method_options["population"] = count_option(vm, "population", 1);
  if (vm.count("epsilon-quantile")) method_options["epsilon_quantile"] = vm["epsilon-quantile"].as<double>();
  if (vm.count("kernel-scale")) method_options["kernel_scale"] = vm["kernel-scale"].as<double>();
  if (vm.count("min-acceptance")) method_options["min_acceptance_rate"] = vm["min-acceptance"].as<double>();
  if (vm.count("final-epsilon")) method_options["final_epsilon"] = vm["final-epsilon"].as<double>();
  const Method& method = builtin_methods().at(method_name);
  parse_method_options(method, method_options, "flags");

  const std::filesystem::path folder = vm["output"].as<std::string>();
  const Spec spec = read_command_spec(vm["spec"].as<std::string>());
  const bool own_observation = vm.count("observation") > 0;
  const std::string observation_file = own_observation ? vm["observation"].as<std::string>() : "";
  std::optional<ReferenceTable> table;
  InferenceProblem problem;
  if (spec.has_simulator()) {
    problem = simulators::problem_from_spec(spec, observation_file);
  } else {
    // Simulations made elsewhere: rejection ABC on them (SMC-ABC simulates as it goes).
    if (smc || !vm.count("table"))
      throw InputError("simulator: missing: give a simulator, or run rejection ABC on simulations made elsewhere with --table FILE (a CSV "
                       "whose header names the prior's parameters and the data, one row per simulation)");
    table = load_training_table(vm["table"].as<std::string>(), spec);
    problem = simulators::problem_from_table_spec(spec, table->metadata, observation_file);
  }
  if (!problem.observation) throw InputError("the spec has no observation; give one with --observation FILE");
  if (serve_simulator_if_worker(problem.simulator)) return kExitOk;  // under MPI, a worker rank (apps/main.cpp)
  RunSettings settings;
  settings.seed = seed_option(vm).value_or(spec.seed);
  settings.threads = threads_flag(vm);
  // Without --budget: the spec's inference.simulations, else all the rows of a given table.
  settings.simulations = vm.count("budget")                        ? count_option(vm, "budget", 4)
                         : table && !spec.inference.contains("simulations") ? static_cast<std::size_t>(table->rows())
                                                                            : spec_simulations(spec, 4);
  const std::size_t n_samples = vm.count("samples") ? count_option(vm, "samples", 1) : spec.output_samples;
  if (std::filesystem::exists(folder / "posterior.json") && !vm["force"].as<bool>())
    throw InputError(folder.string() + ": already holds a saved posterior; use --force to replace it, or another -o folder");

  if (vm.count("table")) {
    settings.table_source = vm["table"].as<std::string>();
    if (!table) table = load_training_table(settings.table_source, spec);
    if (static_cast<std::size_t>(table->rows()) < settings.simulations)
      throw InputError(settings.table_source + " has " + std::to_string(table->rows()) + " rows, fewer than the budget of " +
                       std::to_string(settings.simulations));
    table->truncate(static_cast<Eigen::Index>(settings.simulations));
    settings.table = &*table;
  }
  std::filesystem::create_directories(folder);

  ProgressDisplay progress(quiet_flag(vm));
  const MethodRun run = run_method(method, method_options, problem, settings, progress.callbacks());
  progress.finish();
  if (!run.posterior) {
    std::fprintf(stderr, "sbi abc: interrupted while simulating\n");
    return kExitInterrupted;
  }
  const Posterior& posterior = run.posterior;
  posterior.save(folder);
  const RowMatrix samples = posterior.sample(*problem.observation, static_cast<Eigen::Index>(n_samples), settings.seed);
  const Names& names = posterior.parameter_names();
  write_csv(folder / "samples.csv", names, samples);

  const auto* abc = posterior.model_as<models::AbcPosterior>();
  const AbcResult& result = abc->result();
  const auto summaries = summarise(samples, names);
  const Vector* truth = !own_observation && spec.true_parameters ? &*spec.true_parameters : nullptr;
  nlohmann::json summary;
  summary["method"] = posterior.diagnostics().value("method", method_name);
  summary["spec"] = vm["spec"].as<std::string>();
  summary["observation"] = std::vector<double>(problem.observation->data(), problem.observation->data() + problem.observation->size());
  summary["observation_source"] = own_observation ? vm["observation"].as<std::string>() : "spec";
  summary["seed"] = settings.seed;
  summary["budget"] = settings.simulations;
  summary["table"] = smc ? nlohmann::json(nullptr) : nlohmann::json(vm.count("table") ? settings.table_source : "simulated");
  summary["samples"] = samples.rows();
  summary["options"] = posterior.info().options;
  summary["kde_bandwidth"] = abc->resample_options().bandwidth;
  summary["diagnostics"] = posterior.diagnostics();
  summary["simulation_seconds"] = run.simulation_seconds;
  summary["seconds"] = run.simulation_seconds + run.training_seconds;
  summary["summaries"] = to_json(summaries);
  if (truth) summary["true_parameters"] = std::vector<double>(truth->data(), truth->data() + truth->size());
  write_file_atomically(folder / "summary.json", summary.dump(2) + "\n");

  std::printf("%s", result.full_report().c_str());
  std::printf("%lld draws (%s) in %s; diagnostics in %s; posterior saved to %s\n\n%s", static_cast<long long>(samples.rows()),
              vm["resample"].as<std::string>().c_str(), (folder / "samples.csv").string().c_str(), (folder / "summary.json").string().c_str(),
              folder.string().c_str(), format_summary_table(summaries, truth).c_str());
  return run.interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace

Command abc_command() {
  return {"abc", "approximate Bayesian computation: rejection ABC (+ regression) or SMC-ABC",
          [](const std::vector<std::string>& args) { return run_guarded("abc", [&] { return run_abc(args); }); },
          /*spreads_over_ranks=*/true};
}

}  // namespace sbi::cli
