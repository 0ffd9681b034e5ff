// sbi abc SPEC --method rejection|smc -o DIR: approximate Bayesian computation for the spec's
// observation; writes DIR/samples.csv and DIR/summary.json and prints a summary.
#include "apps/abc_methods.hpp"
#include "apps/cli.hpp"
#include "apps/prior_table.hpp"

#include "sbi/core/error.hpp"
#include "sbi/diagnostics/summaries.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/util/progress.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

namespace sbi::cli {

Vector observation_for(const simulators::SpecModel& model, const Spec& spec, const std::string& observation_file) {
  if (!observation_file.empty()) {
    Vector observation = read_observation_csv(observation_file);
    if (static_cast<std::size_t>(observation.size()) != model.simulator.data_dim())
      throw InputError(observation_file + ": " + std::to_string(observation.size()) + " values, but simulator \"" +
                       model.simulator.name() + "\" produces " + std::to_string(model.simulator.data_dim()));
    return observation;
  }
  if (spec.observation) return *spec.observation;
  throw InputError("the spec has no observation; give one with --observation FILE");
}

std::size_t spec_simulation_budget(const Spec& spec, std::size_t minimum) {
  JsonObjectReader inference(spec.inference, "inference");
  return static_cast<std::size_t>(inference.optional_integer("simulations", 10000, static_cast<std::int64_t>(minimum)));
}

AbcRun run_abc_method(const simulators::SpecModel& model, const Spec& spec, const Vector& observation, const AbcRunSettings& settings,
                      const ReferenceTable* table) {
  AbcRun run;
  if (settings.method == "rejection") {
    ReferenceTable simulated;
    if (!table) {
      simulated = simulate_prior_table(model, spec, settings.budget, settings.seed, settings.threads, settings.quiet, run.simulation_seconds);
      table = &simulated;
    }
    const auto start = std::chrono::steady_clock::now();
    const Eigen::Index rows = std::min<Eigen::Index>(table->rows(), static_cast<Eigen::Index>(settings.budget));
    run.result = rejection_abc(table->theta.topRows(rows), table->y.topRows(rows), observation, *model.prior, settings.rejection);
    // Simulations spent: the table's indices count every attempt, dropped failures included.
    run.result.simulations = static_cast<std::size_t>(rows);
    if (!table->indices.empty() && rows > 0) run.result.simulations = static_cast<std::size_t>(table->indices[static_cast<std::size_t>(rows - 1)] + 1);
    run.result.generations.front().simulations = run.result.simulations;
    run.result.samples = resample_particles(run.result.particles, run.result.weights, static_cast<Eigen::Index>(settings.samples),
                                            *model.prior, settings.resample, &run.result.kde_bandwidth);
    run.result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() + run.simulation_seconds;
  } else if (settings.method == "smc") {
    SmcAbcOptions options = settings.smc;
    options.budget = settings.budget;
    options.seed = settings.seed;
    options.threads = settings.threads;
    options.failure_policy = spec.failure_policy;
    ProgressBar bar("smc-abc", settings.budget, ProgressBar::should_show(settings.quiet), "sim");
    SmcAbcCallbacks callbacks;
    callbacks.stop = &interrupt_flag();
    callbacks.on_progress = [&](std::size_t used, std::size_t) { bar.update(used); };
    std::size_t generation = 0;
    callbacks.on_generation = [&](const AbcGeneration& g) {
      char status[120];
      std::snprintf(status, sizeof status, "gen %zu eps %.4g acc %.3f", generation++, g.epsilon, g.acceptance_rate);
      bar.set_status(status);
    };
    const auto start = std::chrono::steady_clock::now();
    run.result = smc_abc(model.simulator, *model.prior, observation, options, callbacks);
    bar.finish();
    run.result.samples = resample_particles(run.result.particles, run.result.weights, static_cast<Eigen::Index>(settings.samples),
                                            *model.prior, settings.resample, &run.result.kde_bandwidth);
    run.result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } else {
    throw InputError("unknown ABC method \"" + settings.method + "\" (expected rejection or smc)");
  }
  return run;
}

namespace {

int run_abc(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("spec", po::value<std::string>(), "the JSON spec (simulator, prior, observation)")
      ("method,m", po::value<std::string>()->default_value("rejection"), "rejection | smc")
      ("output,o", po::value<std::string>(), "folder for samples.csv and summary.json")
      ("budget", po::value<std::size_t>(), "simulations (default: the spec's inference.simulations, else 10000)")
      ("keep", po::value<long long>(), "rejection: accept the K nearest simulations (default 100, as sbibm)")
      ("quantile", po::value<double>(), "rejection: accept this fraction of the nearest simulations")
      ("epsilon", po::value<double>(), "rejection: accept simulations within this distance")
      ("regression", po::bool_switch(), "rejection: Beaumont et al. 2002 regression adjustment")
      ("table", po::value<std::string>(), "rejection: use the first BUDGET rows of this reference table instead of simulating")
      ("scale", po::value<std::string>()->default_value("mad"), "statistic scale for distances: mad | sd")
      ("population", po::value<std::size_t>()->default_value(0), "smc: particles per generation (0 = 100, or 300 above 10^4 simulations)")
      ("epsilon-quantile", po::value<double>()->default_value(0.5), "smc: next epsilon = this quantile of the previous distances")
      ("kernel-scale", po::value<double>()->default_value(2.0), "smc: perturbation covariance = this × weighted population covariance")
      ("min-acceptance", po::value<double>()->default_value(0.0), "smc: stop below this acceptance rate (0 = off)")
      ("final-epsilon", po::value<double>()->default_value(0.0), "smc: stop after reaching this epsilon (0 = off)")
      ("observation", po::value<std::string>(), "observation CSV (header + one row) instead of the spec's")
      ("samples,n", po::value<std::size_t>(), "posterior draws to write (default: the spec's output.samples, 10000)")
      ("resample", po::value<std::string>()->default_value("kde"), "how draws come from the particles: kde | multinomial")
      ("seed", po::value<std::uint64_t>(), "seed (default: the spec's)")
      ("threads", po::value<int>()->default_value(0), "simulation threads (0 = all cores; results do not depend on it)")
      ("quiet,q", po::bool_switch(), "no progress bar");
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi abc SPEC --method rejection|smc [--budget N] -o DIR [options]", options, positional, vm)) return kExitOk;
  if (!vm.count("spec")) throw po::error("the spec is required: sbi abc SPEC --method rejection|smc -o DIR");
  if (!vm.count("output")) throw po::error("the output folder is required: -o DIR");
  const std::string method = vm["method"].as<std::string>();
  if (method != "rejection" && method != "smc") throw po::error("unknown method \"" + method + "\" for --method (expected rejection or smc)");
  const int acceptance_options = static_cast<int>(vm.count("keep") + vm.count("quantile") + vm.count("epsilon"));
  if (acceptance_options > 1) throw po::error("give at most one of --keep, --quantile, --epsilon");
  if (method == "smc" && (acceptance_options || vm["regression"].as<bool>() || vm.count("table")))
    throw po::error("--keep, --quantile, --epsilon, --regression and --table apply to --method rejection only");

  const std::filesystem::path folder = vm["output"].as<std::string>();
  const Spec spec = read_spec(vm["spec"].as<std::string>());
  const auto model = simulators::build_spec_model(spec);

  AbcRunSettings settings;
  settings.method = method;
  settings.quiet = vm["quiet"].as<bool>();
  settings.threads = vm["threads"].as<int>();
  settings.seed = vm.count("seed") ? vm["seed"].as<std::uint64_t>() : spec.seed;
  settings.samples = vm.count("samples") ? vm["samples"].as<std::size_t>() : spec.output_samples;
  if (settings.samples == 0) throw po::error("--samples must be positive");
  settings.budget = vm.count("budget") ? vm["budget"].as<std::size_t>() : spec_simulation_budget(spec, 4);
  if (settings.budget < 4) throw po::error("--budget must be at least 4 simulations");
  settings.rejection.scale = scale_kind_from_string(vm["scale"].as<std::string>());
  settings.rejection.regression = vm["regression"].as<bool>();
  if (vm.count("quantile")) {
    settings.rejection.quantile = vm["quantile"].as<double>();
  } else if (vm.count("epsilon")) {
    settings.rejection.epsilon = vm["epsilon"].as<double>();
    if (!(settings.rejection.epsilon > 0)) throw po::error("--epsilon must be positive");
  } else {
    const long long keep = vm.count("keep") ? vm["keep"].as<long long>() : 100;
    if (keep < 1) throw po::error("--keep must be at least 1");
    settings.rejection.keep = static_cast<Eigen::Index>(keep);
  }
  std::string why;
  if (!settings.rejection.is_valid(&why)) throw po::error(why);
  settings.smc.scale = settings.rejection.scale;
  settings.smc.population = vm["population"].as<std::size_t>();
  settings.smc.epsilon_quantile = vm["epsilon-quantile"].as<double>();
  settings.smc.kernel_scale = vm["kernel-scale"].as<double>();
  settings.smc.min_acceptance_rate = vm["min-acceptance"].as<double>();
  settings.smc.final_epsilon = vm["final-epsilon"].as<double>();
  settings.smc.budget = settings.budget;
  if (method == "smc" && !settings.smc.is_valid(&why)) throw po::error(why);
  settings.resample.method = resample_method_from_string(vm["resample"].as<std::string>());
  settings.resample.seed = settings.seed;

  const bool own_observation = vm.count("observation") > 0;
  const Vector observation =
      observation_for(model, spec, own_observation ? vm["observation"].as<std::string>() : std::string());

  std::optional<ReferenceTable> table;
  std::string table_source = "simulated";
  if (vm.count("table")) {
    table_source = vm["table"].as<std::string>();
    table = read_table(table_source);
    if (table->metadata.parameter_names.size() != model.simulator.parameter_dim() ||
        table->metadata.data_names.size() != model.simulator.data_dim())
      throw InputError(table_source + ": the table's columns (" + std::to_string(table->metadata.parameter_names.size()) + " parameters, " +
                       std::to_string(table->metadata.data_names.size()) + " data) do not fit simulator \"" + model.simulator.name() + "\"");
    if (static_cast<std::size_t>(table->rows()) < settings.budget)
      throw InputError(table_source + " has " + std::to_string(table->rows()) + " rows, fewer than the budget of " + std::to_string(settings.budget));
  }

  std::filesystem::create_directories(folder);
  const AbcRun run = run_abc_method(model, spec, observation, settings, table ? &*table : nullptr);
  const AbcResult& result = run.result;
  const Names& names = model.prior->names();
  write_csv(folder / "samples.csv", names, result.samples);

  const auto summaries = summarise(result.samples, names);
  const Vector* truth = !own_observation && spec.true_parameters ? &*spec.true_parameters : nullptr;
  nlohmann::json summary;
  summary["method"] = result.method;
  summary["spec"] = vm["spec"].as<std::string>();
  summary["observation"] = std::vector<double>(observation.data(), observation.data() + observation.size());
  summary["observation_source"] = own_observation ? vm["observation"].as<std::string>() : "spec";
  summary["seed"] = settings.seed;
  summary["budget"] = settings.budget;
  summary["table"] = method == "rejection" ? nlohmann::json(table_source) : nlohmann::json(nullptr);
  summary["samples"] = result.samples.rows();
  summary["resample"] = to_string(settings.resample.method);
  summary["scale"] = to_string(settings.rejection.scale);
  if (method == "rejection") {
    summary["acceptance"] = settings.rejection.keep > 0      ? nlohmann::json{{"keep", settings.rejection.keep}}
                            : settings.rejection.epsilon > 0 ? nlohmann::json{{"epsilon", settings.rejection.epsilon}}
                                                             : nlohmann::json{{"quantile", settings.rejection.quantile}};
    summary["regression"] = settings.rejection.regression;
  } else {
    summary["smc"] = {{"population", settings.smc.resolved_population()},
                      {"epsilon_quantile", settings.smc.epsilon_quantile},
                      {"kernel_scale", settings.smc.kernel_scale},
                      {"ess_fraction", settings.smc.ess_fraction},
                      {"min_acceptance_rate", settings.smc.min_acceptance_rate},
                      {"final_epsilon", settings.smc.final_epsilon}};
  }
  summary["diagnostics"] = result.to_json();
  summary["simulation_seconds"] = run.simulation_seconds;
  summary["seconds"] = result.seconds;
  summary["summaries"] = to_json(summaries);
  if (truth) summary["true_parameters"] = std::vector<double>(truth->data(), truth->data() + truth->size());
  write_file_atomically(folder / "summary.json", summary.dump(2) + "\n");

  std::printf("%s", result.full_report().c_str());
  std::printf("%lld draws (%s) in %s; diagnostics in %s\n\n%s", static_cast<long long>(result.samples.rows()),
              to_string(settings.resample.method).c_str(), (folder / "samples.csv").string().c_str(),
              (folder / "summary.json").string().c_str(), format_summary_table(summaries, truth).c_str());
  return result.interrupted ? kExitInterrupted : kExitOk;
}

}  // namespace

Command abc_command() {
  return {"abc", "approximate Bayesian computation: rejection ABC (+ regression) or SMC-ABC",
          [](const std::vector<std::string>& args) { return run_guarded("abc", [&] { return run_abc(args); }); }};
}

}  // namespace sbi::cli
