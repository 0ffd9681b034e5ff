#include "sbi/workflows/run.hpp"

#include "sbi/core/error.hpp"
#include "sbi/util/clock.hpp"
#include "sbi/util/version.hpp"

#include <chrono>

namespace sbi {

nlohmann::json parse_method_options(const Method& method, const nlohmann::json& options, const std::string& path) {
  if (!options.is_null() && !options.is_object()) throw InputError(path + ": expected an object");
  return method.parse_options(options.is_null() ? nlohmann::json::object() : options, path);
}

MethodRun run_method(const Method& method, const nlohmann::json& options, const InferenceProblem& problem, const RunSettings& settings,
                     const TrainingCallbacks& callbacks) {
  if (!problem.prior) throw InputError("run_method: the problem has no prior");
  const nlohmann::json parsed = parse_method_options(method, options);
  const bool amortized = method.amortized && !(method.one_observation_with && method.one_observation_with(parsed));
  if (!amortized && !problem.observation)
    throw InputError("method \"" + method.name + "\" runs for one observation" + (method.amortized ? " with these options" : "") +
                     ", and none was given (the spec's \"observation\" or --observation)");
  // Whole numbers arrive as unsigned from JSON text and as signed when built in C++.
  auto whole_number_at_least = [](const nlohmann::json& v, std::int64_t minimum) {
    return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= minimum);
  };
  if (options.is_object() && options.contains("seed") && !whole_number_at_least(options.at("seed"), 0))
    throw InputError("inference.seed: expected a whole number ≥ 0, got " + options.at("seed").dump());
  int ensemble = 1;
  if (options.is_object() && options.contains("ensemble")) {
    const auto& k = options.at("ensemble");
    if (!whole_number_at_least(k, 1) || k.get<std::uint64_t>() < 1 || k.get<std::uint64_t>() > 1000)
      throw InputError("inference.ensemble: expected a number of members from 1 to 1000, got " + k.dump());
    ensemble = k.get<int>();
    if (ensemble > 1 && !amortized)
      throw InputError("inference.ensemble: method \"" + method.name + "\" runs for one observation" +
                       (method.amortized ? " with these options" : "") + "; ensembles are for amortised methods");
  }

  MethodRun run;
  TrainingInput input;
  input.prior = problem.prior;
  input.simulator = problem.simulator;
  input.observation = problem.observation;
  // A "seed" in the method's options (the spec's inference.seed) seeds the training; the run's seed the simulations.
  input.seed = options.is_object() && options.contains("seed") ? options.at("seed").get<std::uint64_t>() : settings.seed;
  input.threads = settings.threads;
  input.simulation.threads = settings.threads;
  input.simulation.failure_policy = problem.failure_policy;
  input.simulation.max_redraws = problem.max_redraws;
  input.simulation.stop = callbacks.stop;
  input.budget = settings.simulations;
  input.ensemble = ensemble;
  input.checkpoint = settings.checkpoint;

  Provenance& provenance = input.provenance;
  provenance.method = method.name;
  provenance.spec = problem.spec;
  provenance.seed = settings.seed;
  provenance.created = utc_timestamp();
  provenance.sbi_version = version();
  if (problem.simulator) {
    provenance.simulator = problem.simulator.name();
    provenance.simulator_options = problem.simulator.info().options;
  }

  // A budget too small for the method fails here, before anything is simulated.
  if (method.needs == MethodNeeds::simulator || !settings.table) check_simulation_budget(method, parsed, settings.simulations, "inference.simulations");

  std::optional<PriorTableRun> simulated;
  if (method.needs == MethodNeeds::table) {
    if (settings.table) {
      const std::string source = settings.table_source.empty() ? "the table" : settings.table_source;
      if (problem.simulator) check_table_fits(settings.table->metadata, problem.simulator.info(), source);
      const std::string owner = source == "the table" || source == "given" ? "the table" : "the table (" + source + ")";
      if (const std::string misfit = prior_order_misfit(*problem.prior, settings.table->metadata.parameter_names, owner); !misfit.empty())
        throw InputError("the prior " + misfit);
      const nlohmann::json& drawn_from = settings.table->metadata.prior;
      if (method.posterior_under_table_prior && !drawn_from.is_null()) {
        const nlohmann::json wanted = prior_record(*problem.prior);
        if (!wanted.is_null() && wanted != drawn_from)
          throw InputError(source + ": its θ were drawn from another prior (" + drawn_from.dump() + ") than this run's; method \"" +
                           method.name + "\" learns the posterior under the prior the table was drawn from — simulate a table from this " +
                           "prior, or use nle or nre, which apply the prior afterwards");
      }
      input.table = settings.table;
      provenance.table = settings.table_source.empty() ? "given" : settings.table_source;
      if (provenance.simulator.empty()) {
        // The table's simulator, with its options (a built-in simulator is not identified by its name alone).
        provenance.simulator = settings.table->metadata.simulator;
        provenance.simulator_options = settings.table->metadata.simulator_options;
      }
    } else {
      if (!problem.simulator) throw InputError("method \"" + method.name + "\" needs a table or a simulator to simulate one");
      simulated = simulate_prior_table(problem.simulator, *problem.prior,
                                       {.simulations = settings.simulations, .seed = settings.seed, .threads = settings.threads,
                                        .failure_policy = problem.failure_policy, .max_redraws = problem.max_redraws,
                                        .write_to = settings.write_table_to, .continue_existing = settings.continue_table},
                                       callbacks);
      run.simulation = simulated->summary;
      run.simulation_seconds = simulated->summary.seconds;
      provenance.simulation_seconds = run.simulation_seconds;
      provenance.table = "simulated";
      if (simulated->summary.interrupted) {
        run.interrupted = true;
        return run;
      }
      input.table = &simulated->table;
    }
    const auto& table = *input.table;
    if (table.rows() < 1) throw InputError("the training table has no rows (every simulation failed?)");
    check_simulation_budget(method, parsed, static_cast<std::size_t>(table.rows()),
                            settings.table ? (settings.table_source.empty() ? "the table" : settings.table_source) + " (rows)"
                                           : "the simulated table (rows kept)");
    // Simulations spent: the table's indices count every attempt, dropped failures included.
    provenance.simulations = table.indices.empty() ? static_cast<std::size_t>(table.rows()) : static_cast<std::size_t>(table.indices.back() + 1);
  } else {
    if (!problem.simulator) throw InputError("method \"" + method.name + "\" simulates by itself and needs a simulator");
    provenance.simulations = settings.simulations;
  }

  // Checkpoints are for the one training loop of a table method (or one per ensemble member); a
  // simulator method runs a loop per round, which a single key cannot tell apart.
  TrainingCallbacks training_callbacks = callbacks;
  if (method.needs != MethodNeeds::table) training_callbacks.checkpoints = nullptr;
  const auto start = std::chrono::steady_clock::now();
  run.posterior = method.train(input, parsed, training_callbacks);
  run.training_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.simulations = run.posterior ? run.posterior.info().provenance.simulations : 0;
  run.interrupted = callbacks.stop_requested();
  return run;
}

}  // namespace sbi
