// sbi infer SPEC -o DIR: run the spec's inference method (any registered one), save the posterior,
// draw samples for the spec's observation and summarise them. sbi sample DIR: draw from a saved one.
#include "apps/cli.hpp"

#include "models/ensemble_training.hpp"
#include "models/implicit_posterior.hpp"
#include "models/mcmc_posterior.hpp"
#include "models/resampled_posterior.hpp"
#include "models/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/diagnostics/calibration.hpp"
#include "sbi/diagnostics/calibration_report.hpp"
#include "sbi/diagnostics/summaries.hpp"
#include "sbi/io/checkpoint_files.hpp"
#include "sbi/io/checksum.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/simulation/table.hpp"
#include "simulators/from_spec.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

namespace sbi::cli {

namespace {

// Draws n samples, with what the kind reports about how: implicit generators their refinement,
// MCMC kinds their chains' R-hat and ESS (and a warning when the chains have not mixed).
// MCMC chains show their progress and stop on Ctrl-C (sbi::Interrupted) through `progress`.
RowMatrix draw_samples(const Posterior& posterior, const Vector& observation, Eigen::Index n, std::uint64_t seed, int refine, std::string& note,
                       ProgressDisplay& progress) {
  const TrainingCallbacks callbacks = progress.callbacks();
  if (const auto* implicit = posterior.model_as<models::ImplicitPosterior>()) {
    models::SamplingReport report;
    RowMatrix samples = implicit->sample(observation, n, seed, refine, &report);
    if (report.candidates > 0 && report.candidates != static_cast<std::size_t>(n))
      note = "refined from " + std::to_string(report.candidates) + " candidates, ESS " + std::to_string(static_cast<long long>(report.effective_sample_size));
    return samples;
  }
  if (const auto* mcmc = posterior.model_as<models::McmcPosterior>()) {
    McmcResult result = mcmc->sample_with_report(observation, n, seed, callbacks);
    progress.finish();
    note = "MCMC: " + result.brief_report();
    if (!result.diagnostics.converged())
      note += "\nwarning: the chains have not mixed (R-hat above 1.01 or a small ESS); more warm-up or chains may help (inference.mcmc)";
    return std::move(result.samples);
  }
  RowMatrix samples = posterior.sample(observation, n, seed, callbacks);
  progress.finish();
  if (const auto* resampled = posterior.model_as<models::ImportanceResampledPosterior>()) {
    // How far the flow is from its target: Kish's ESS over the K·n weights. Below n effective
    // proposals the n draws repeat one another's information (a few heavy weights carry them).
    const auto last = posterior.diagnostics().value("last_sample", nlohmann::json::object());
    const double efficiency = last.value("ess_fraction", 0.0);
    const double effective = efficiency * static_cast<double>(n) * resampled->proposals_per_draw();
    char line[160];
    std::snprintf(line, sizeof line, "importance resampling: each draw one of %d flow draws; ESS %.0f of %lld proposals (%.3f)",
                  resampled->proposals_per_draw(), effective, static_cast<long long>(n) * resampled->proposals_per_draw(), efficiency);
    note = line;
    if (resampled->moves() > 0) {
      std::snprintf(line, sizeof line, "\nthen %d slice sweeps per draw on the target (%.0f evaluations per draw)", resampled->moves(),
                    last.value("move_evaluations_per_draw", 0.0));
      note += line;
    }
    if (effective < static_cast<double>(n))
      note += "\nwarning: fewer effective proposals than draws: the flow misses part of its target; more proposals per draw "
              "(inference.importance_resampling), slice moves after them (inference.resample_moves) or a longer refinement may help";
  }
  return samples;
}

// "estimator kept by validation -log q: maf (tanh) -0.679 (nsf -0.440 left the race at epoch 11, maf -0.616)"
// from a training summary's "estimators" list (flows::density_training_summary).
std::string describe_estimator_choice(const nlohmann::json& estimators) {
  std::string kept, others;
  char value[32];
  for (const auto& e : estimators) {
    std::snprintf(value, sizeof value, " %.3f", e.value("best_validation_nll", 0.0));
    const auto& estimator = e.at("estimator");
    const std::string activation = estimator.value("activation", std::string("relu"));
    std::string entry = estimator.value("type", std::string("?")) + (activation == "relu" ? "" : " (" + activation + ")") + value;
    if (e.value("left_race", false)) entry += " left the race at epoch " + std::to_string(e.value("epochs", 0));
    if (e.value("kept", false)) kept = entry;
    else others += (others.empty() ? "" : ", ") + entry;
  }
  return "estimator kept by validation -log q: " + kept + " (" + others + ")";
}

// C2ST (sbibm protocol) of the samples against the spec's reference posterior: 0.5 is perfect.
void report_reference_c2st(const std::filesystem::path& reference_file, const RowMatrix& samples, const Posterior& posterior, std::uint64_t seed) {
  // Matched by name where the file names the posterior's parameters; sbibm's files name them in
  // LaTeX ($\alpha$, ...) and are taken in the posterior's order, as `sbi diagnose` does.
  const RowMatrix reference = columns_in_order(read_csv(reference_file, 10000), posterior.parameter_names(), reference_file.string(),
                                               "the posterior");
  C2stOptions options;
  options.seed = seed;
  const Eigen::Index n = std::min<Eigen::Index>(samples.rows(), reference.rows());
  const RowMatrix own = samples.topRows(n);
  const RowMatrix ref = reference.topRows(n);
  const auto result = c2st_test(ref, own, options);
  std::printf("\nC2ST against the reference posterior %s: %.3f (0.5 = indistinguishable, 1 = separable; %lld samples each)\n",
              reference_file.string().c_str(), result.accuracy, static_cast<long long>(n));
}

// A quick calibration check of an amortised posterior (N = L = 300; sbi/diagnostics/calibration.hpp),
// so that an over-confident posterior does not pass unnoticed: a few seconds for direct samplers,
// tens of seconds for MCMC kinds (one short MCMC run per simulated case). One-observation posteriors
// would need a method run per case: those are left to `sbi diagnose DIR --calibration N --rerun`,
// and the user is told so.
constexpr std::size_t kQuickCheckWarmup = 100;
void quick_calibration(const Posterior& posterior, const InferenceProblem& problem, const std::filesystem::path& folder,
                       std::uint64_t seed, bool quiet) {
  const std::string full_check = "sbi diagnose " + folder.string() + " --calibration 1000";
  if (!posterior.info().amortized) {
    std::printf("\ncalibration: not checked by default: this %s posterior was made for one observation, so a check re-runs %s per "
                "simulated case (sbi diagnose %s --calibration 20 --rerun)\n",
                posterior.method().c_str(), posterior.method().c_str(), folder.string().c_str());
    return;
  }
  if (!problem.simulator) {
    // Trained on simulations made elsewhere: a check needs new simulations, so a spec with a simulator.
    std::printf("\ncalibration: not checked: without a simulator there are no new simulations to check on; given a spec with the "
                "simulator that made the table: %s --spec SPEC\n", full_check.c_str());
    return;
  }
  CalibrationOptions options = CalibrationOptions::quick();
  options.seed = seed;
  // MCMC kinds run chains per simulated case: a shorter warm-up (at most kQuickCheckWarmup) keeps
  // the check near ten seconds on two_moons, and one thread per case's chains keeps the cases, which
  // run in parallel, from oversubscribing the cores. Observed (2026-12-03, 10^4 simulations, N = L =
  // 300): the verdicts of two_moons' NLE and NRE and slcp's NLE were those of the saved warm-up of
  // 200 in two thirds of the time or less (bench/calibration/RESULTS.md).
  std::optional<std::size_t> mcmc_warmup;  // set when the posterior samples by MCMC
  const Posterior checked = models::with_mcmc_sampling(posterior, [&mcmc_warmup](McmcOptions o) {
    o.warmup = std::min(o.warmup, kQuickCheckWarmup);
    mcmc_warmup = o.warmup;
    o.threads = 1;
    return o;
  });
  ProgressDisplay progress(quiet);
  const CalibrationResult result = run_calibration(checked, problem.simulator, options, progress.callbacks());
  progress.finish();
  if (result.interrupted) return;
  const std::string how = mcmc_warmup ? "quick check, MCMC warm-up " + std::to_string(*mcmc_warmup) : std::string("quick check");
  const auto files = write_calibration_report(result, folder / "calibration", posterior.method() + " posterior (" + how + ")");
  std::printf("\ncalibration (%s, %zu simulated cases, %.1f s): %s\n  report: %s; a finer check: %s\n", how.c_str(), result.draws,
              result.timings.total, result.plain_summary().c_str(), files.markdown.string().c_str(), full_check.c_str());
}

// What an `sbi infer` run was asked to do, saved as <output>/run.json when it starts, so that
// `sbi infer --resume DIR` continues it with the same spec, method, seed and files (paths absolute).
struct InferRequest {
  std::filesystem::path spec{};
  std::string spec_checksum{};   // of the spec file's bytes: a resumed run refuses a changed spec
  std::filesystem::path output{};
  std::string method{};          // empty: the spec's
  std::filesystem::path table{};   // --table (empty: the spec's or simulated)
  std::filesystem::path observation{};
  std::optional<std::size_t> samples{};
  std::optional<std::uint64_t> seed{};
  bool no_check = false;
  std::string state = "started";  // started → training → finished, or interrupted

  nlohmann::json to_json() const {
    nlohmann::json j{{"spec", spec.string()}, {"spec_checksum", spec_checksum}, {"method", method}, {"table", table.string()},
                     {"observation", observation.string()}, {"no_check", no_check}, {"state", state}};
    j["samples"] = samples ? nlohmann::json(*samples) : nlohmann::json(nullptr);
    j["seed"] = seed ? nlohmann::json(*seed) : nlohmann::json(nullptr);
    return j;
  }
  static InferRequest from_file(const std::filesystem::path& folder) {
    const std::filesystem::path file = folder / "run.json";
    if (!std::filesystem::is_regular_file(file))
      throw InputError(folder.string() + ": no run.json, so nothing to resume (sbi infer writes it when a run starts)");
    InferRequest r;
    try {
      const nlohmann::json j = nlohmann::json::parse(read_text_file(file));
      r.spec = j.at("spec").get<std::string>();
      r.spec_checksum = j.at("spec_checksum").get<std::string>();
      r.method = j.at("method").get<std::string>();
      r.table = j.at("table").get<std::string>();
      r.observation = j.at("observation").get<std::string>();
      r.no_check = j.at("no_check").get<bool>();
      r.state = j.at("state").get<std::string>();
      if (!j.at("samples").is_null()) r.samples = j.at("samples").get<std::size_t>();
      if (!j.at("seed").is_null()) r.seed = j.at("seed").get<std::uint64_t>();
    } catch (const nlohmann::json::exception& e) {
      throw InputError(file.string() + ": damaged run record (" + e.what() + ")");
    }
    r.output = folder;
    return r;
  }
  void save() const { write_file_atomically(output / "run.json", to_json().dump(2) + "\n"); }
};

std::string file_checksum(const std::filesystem::path& path) { return hex64(fnv1a64(read_text_file(path))); }

int execute_infer(InferRequest request, bool resume, bool force, int threads, bool quiet) {
  const std::filesystem::path& folder = request.output;
  const Spec spec = read_command_spec(request.spec);
  const std::string checksum = file_checksum(request.spec);
  if (resume && checksum != request.spec_checksum)
    throw InputError(request.spec.string() + ": the spec changed since the run in " + folder.string() +
                     " started; resuming would mix two runs (start a new one with -o, or --force)");
  request.spec_checksum = checksum;
  const Method& method = builtin_methods().at(request.method.empty() ? spec_method(spec) : request.method);
  // The training table: --table, or the spec's inference.table (relative to the spec).
  const std::filesystem::path table_path = !request.table.empty() ? request.table : simulators::spec_table_path(spec);
  if (!table_path.empty() && method.needs != MethodNeeds::table)
    throw InputError("method \"" + method.name + "\" simulates by itself and does not train on a table");
  std::optional<ReferenceTable> table;
  InferenceProblem problem;
  if (spec.has_simulator()) {
    problem = simulators::problem_from_spec(spec, request.observation.string());
  } else {
    if (table_path.empty())
      throw InputError("simulator: missing: give a simulator, or train on simulations made elsewhere with \"inference\": {\"table\": FILE} "
                       "or --table FILE (a CSV whose header names the prior's parameters and the data, one row per simulation)");
    table = load_training_table(table_path, spec);
    problem = simulators::problem_from_table_spec(spec, table->metadata, request.observation.string());
  }
  const nlohmann::json parsed_options = parse_method_options(method, spec.inference);  // a bad field fails before anything is simulated
  // Under MPI the posterior is trained on rank 0; the quick calibration check sends it to the workers.
  if (!request.no_check) ship_posteriors_for_calibration(models::posterior_to_bytes, models::posterior_from_bytes);
  if (serve_simulator_if_worker(problem.simulator)) return kExitOk;  // under MPI, a worker rank (apps/main.cpp)
  RunSettings settings;
  settings.seed = request.seed.value_or(spec.seed);
  settings.threads = threads;
  settings.simulations = spec_simulations(spec, 20);
  const std::size_t n_samples = request.samples.value_or(spec.output_samples);
  DirectoryCheckpoints checkpoints(folder / "checkpoints");
  if (!resume && !force) {
    if (std::filesystem::exists(folder / "posterior.json"))
      throw InputError(folder.string() + ": already holds a saved posterior; use --force to replace it, or another -o folder");
    if (std::filesystem::exists(folder / "run.json"))
      throw InputError(folder.string() + ": holds an unfinished run; sbi infer --resume " + folder.string() + " continues it, --force starts over");
  }
  if (resume && request.state == "finished")
    throw InputError(folder.string() + ": the run there finished; nothing to resume (sbi sample " + folder.string() + " draws from it)");

  if (!table_path.empty()) {
    if (!table) table = load_training_table(table_path, spec);
    settings.table = &*table;
    settings.table_source = table_path.string();
    if (!quiet) std::fprintf(stderr, "training on %lld rows of %s\n", static_cast<long long>(table->rows()), table_path.string().c_str());
  } else if (method.needs == MethodNeeds::table) {
    settings.write_table_to = folder / "table.sbt";
    settings.continue_table = resume;  // an interrupted run's rows are kept, the missing ones simulated
  } else if (!method.amortized) {
    // Sequential methods keep their finished rounds in DIR/rounds (a table per round); --resume
    // continues after them, a new run (or --force) starts afresh.
    settings.checkpoint = folder / "rounds";
  }
  // A budget (or table) too small for the method fails before the folder is claimed.
  check_simulation_budget(method, parsed_options, table ? static_cast<std::size_t>(table->rows()) : settings.simulations,
                          table ? settings.table_source + " (rows)" : "inference.simulations");
  if (!settings.checkpoint.empty() && !resume) std::filesystem::remove_all(settings.checkpoint);
  if (!spec.reference_posterior.empty() && !std::filesystem::is_regular_file(spec.reference_posterior))
    throw InputError("reference_posterior: " + spec.reference_posterior.string() + " is not a file");
  const bool folder_existed = std::filesystem::exists(folder);
  std::filesystem::create_directories(folder);
  if (!resume) checkpoints.remove_all();  // --force: a new run does not continue an old one's training
  if (resume && !quiet) {
    if (method.needs != MethodNeeds::table)
      std::fprintf(stderr, "resuming %s: method %s continues after its last finished round (%s)\n", folder.string().c_str(),
                   method.name.c_str(), std::filesystem::exists(settings.checkpoint / "rounds.json") ? "kept in rounds/" : "none was finished");
    else if (!checkpoints.empty())
      std::fprintf(stderr, "resuming %s: the table's finished rows are kept; training continues from its checkpoint\n", folder.string().c_str());
    else
      std::fprintf(stderr, "resuming %s: the table's finished rows are kept; training starts from the beginning (no checkpoint: %s)\n",
                   folder.string().c_str(), request.state == "started" ? "it had not started" : "this method does not write them");
  }
  request.state = "started";
  request.save();

  ProgressDisplay progress(quiet);
  TrainingCallbacks callbacks = progress.callbacks();
  callbacks.checkpoints = &checkpoints;
  MethodRun run;
  try {
    run = run_method(method, spec.inference, problem, settings, callbacks);
  } catch (...) {
    // A run that failed before keeping anything (no table rows, no finished round, no training
    // checkpoint) leaves no "unfinished run" behind: there is nothing for --resume to continue, and
    // the folder is as it was.
    const bool kept_something = (!settings.write_table_to.empty() && std::filesystem::exists(settings.write_table_to)) ||
                                (!settings.checkpoint.empty() && std::filesystem::exists(settings.checkpoint / "rounds.json")) ||
                                !checkpoints.empty();
    if (!resume && !kept_something) {
      std::error_code ignored;
      std::filesystem::remove(folder / "run.json", ignored);
      if (!settings.checkpoint.empty()) std::filesystem::remove_all(settings.checkpoint, ignored);
      if (!folder_existed && std::filesystem::is_empty(folder, ignored)) std::filesystem::remove(folder, ignored);
    }
    throw;
  }
  progress.finish();
  if (run.simulation && !quiet) std::fprintf(stderr, "simulated: %s\n", run.simulation->brief_report().c_str());
  if (!run.posterior) {
    request.state = "interrupted";
    request.save();
    std::fprintf(stderr, "sbi infer: interrupted while simulating; the finished rows are in %s; sbi infer --resume %s continues\n",
                 settings.write_table_to.string().c_str(), folder.string().c_str());
    return kExitInterrupted;
  }
  if (run.interrupted && !settings.checkpoint.empty() && std::filesystem::exists(settings.checkpoint / "rounds.json")) {
    request.state = "interrupted";
    request.save();
    std::fprintf(stderr, "sbi infer: interrupted; the finished rounds are kept in %s: sbi infer --resume %s continues after them\n",
                 settings.checkpoint.string().c_str(), folder.string().c_str());
    return kExitInterrupted;
  }
  if (run.interrupted)
    std::fprintf(stderr, "training interrupted; keeping the best posterior so far%s\n",
                 checkpoints.empty() ? "" : ("; sbi infer --resume " + folder.string() + " continues the training").c_str());
  const Posterior& posterior = run.posterior;
  posterior.save(folder);
  request.state = run.interrupted ? "interrupted" : "finished";
  request.save();
  if (!run.interrupted) checkpoints.remove_all();

  const auto& info = posterior.info();
  std::printf("posterior saved to %s (%s, %zu simulations, trained %.1f s", folder.string().c_str(), method.name.c_str(),
              info.provenance.simulations, run.training_seconds);
  // An importance-resampled posterior reports its flow's training under "proposal".
  const auto all_diagnostics = posterior.diagnostics();
  const auto& diagnostics = posterior.model_as<models::ImportanceResampledPosterior>() ? all_diagnostics["proposal"] : all_diagnostics;
  if (diagnostics.contains("best_step"))
    std::printf(", best validation at step %d%s", diagnostics["best_step"].get<int>(), diagnostics.value("stopped_early", false) ? ", stopped early" : "");
  std::printf(")\n");
  if (diagnostics.contains("estimators")) std::printf("%s\n", describe_estimator_choice(diagnostics.at("estimators")).c_str());
  if (diagnostics.contains("refinement") && diagnostics["refinement"].is_object()) {
    // lfvi's refinement for the observation (sbi/inference/lfvi_flow.hpp): what it did to the bound.
    const auto& r = diagnostics["refinement"];
    std::printf("refined for the observation: -bound %.4f -> %.4f (best at step %d of %d); kept the %s flow\n",
                r.value("negative_bound_before", 0.0), r.value("best_negative_bound", 0.0), r.value("best_step", 0), r.value("steps", 0),
                r.value("kept", std::string("?")).c_str());
  }
  if (!problem.observation) {
    std::printf("the spec has no observation: draw samples with sbi sample %s --observation FILE\n", folder.string().c_str());
    return run.interrupted ? kExitInterrupted : kExitOk;
  }
  const bool given_observation = !request.observation.empty();
  std::string note;
  RowMatrix samples;
  try {
    samples = draw_samples(posterior, *problem.observation, static_cast<Eigen::Index>(n_samples), settings.seed, -1, note, progress);
  } catch (const Interrupted&) {
    progress.finish();
    std::fprintf(stderr, "sbi infer: interrupted while drawing samples; the posterior is saved in %s: sbi sample %s --observation FILE -o FILE "
                 "draws them\n", folder.string().c_str(), folder.string().c_str());
    return kExitInterrupted;
  }
  write_csv(folder / "samples.csv", posterior.parameter_names(), samples);
  std::printf("%zu samples for the %s observation in %s", n_samples, given_observation ? "given" : "spec's", (folder / "samples.csv").string().c_str());
  if (!note.empty()) std::printf("\n%s", note.c_str());
  const Vector* truth = !given_observation && spec.true_parameters ? &*spec.true_parameters : nullptr;
  std::printf("\n\n%s", format_summary_table(summarise(samples, posterior.parameter_names()), truth).c_str());
  if (!given_observation && !spec.reference_posterior.empty()) report_reference_c2st(spec.reference_posterior, samples, posterior, settings.seed);
  if (!run.interrupted && !request.no_check) quick_calibration(posterior, problem, folder, settings.seed, quiet);
  return run.interrupted ? kExitInterrupted : kExitOk;
}

std::filesystem::path absolute_path(const std::string& path) { return std::filesystem::absolute(path).lexically_normal(); }

int run_infer(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("spec", po::value<std::string>(), "the JSON spec (simulator, prior, observation, inference settings)")
      ("output,o", po::value<std::string>(), "folder for the posterior, samples.csv and the table")
      ("method,m", po::value<std::string>(), "a registered method (default: the spec's inference.method, else npe)")
      ("table", po::value<std::string>(), "train on this table instead of simulating (else the spec's inference.table): one written by sbi simulate, or, with a spec without a simulator, a plain CSV of simulations made elsewhere")
      ("observation", po::value<std::string>(), "observation CSV (header + one row) instead of the spec's")
      ("samples,n", po::value<Count>(), "posterior samples to draw (default: the spec's output.samples, 10000)")
      ("force", po::bool_switch(), "replace a posterior (or an unfinished run) already in the output folder")
      ("resume", po::value<std::string>(), "continue the interrupted run in this folder: its table's finished rows are kept and "
                                           "training continues from its last checkpoint (the run's own spec and options)")
      ("no-check", po::bool_switch(), "skip the quick calibration check (SBC, coverage, TARP on 300 simulated cases)")
      ("list-methods", po::bool_switch(), "list the registered methods and exit");
  add_threads_flag(options);
  add_seed_flag(options, "seed of the run (default: the spec's seed)");
  add_quiet_flag(options);
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi infer SPEC -o DIR [options] | sbi infer --resume DIR", options, positional, vm)) return kExitOk;
  if (vm["list-methods"].as<bool>()) {
    std::printf("%s", builtin_methods().listing().c_str());
    return kExitOk;
  }
  const bool quiet = quiet_flag(vm);
  if (vm.count("resume")) {
    for (const char* other : {"spec", "output", "method", "table", "observation", "samples", "seed"})
      if (vm.count(other)) throw po::error(std::string("--resume takes the run's own settings; --") + other + " cannot be given with it");
    if (vm["force"].as<bool>()) throw po::error("--resume and --force exclude each other");
    if (vm["no-check"].as<bool>()) throw po::error("--resume takes the run's own settings; --no-check cannot be given with it");
    const std::filesystem::path folder = vm["resume"].as<std::string>();
    return execute_infer(InferRequest::from_file(folder), true, false, threads_flag(vm), quiet);
  }
  if (!vm.count("spec")) throw po::error("the spec is required: sbi infer SPEC -o DIR");
  if (!vm.count("output")) throw po::error("the output folder is required: -o DIR");
  InferRequest request;
  request.spec = absolute_path(vm["spec"].as<std::string>());
  request.output = vm["output"].as<std::string>();
  if (vm.count("method")) request.method = vm["method"].as<std::string>();
  if (vm.count("table")) request.table = absolute_path(vm["table"].as<std::string>());
  if (vm.count("observation")) request.observation = absolute_path(vm["observation"].as<std::string>());
  if (vm.count("samples")) request.samples = count_option(vm, "samples", 1);
  request.seed = seed_option(vm);
  request.no_check = vm["no-check"].as<bool>();
  return execute_infer(std::move(request), false, vm["force"].as<bool>(), threads_flag(vm), quiet);
}

int run_sample(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("posterior", po::value<std::string>(), "a posterior folder written by sbi infer")
      ("observation", po::value<std::string>(), "CSV with a header line and one row (as sbibm's observation.csv)")
      ("samples,n", po::value<Count>(), "number of samples (default 10000)")
      ("output,o", po::value<std::string>(), "CSV to write (header = parameter names)")
      ("refine", po::value<int>()->default_value(-1), "implicit generators: importance-resampling oversampling factor (-1 = as trained, 0 = off)")
      ("proposals", po::value<Count>(), "importance-resampled posteriors: flow draws per sample, 2 to 4096 (default: as trained)")
      ("moves", po::value<Count>(), "importance-resampled posteriors: slice sweeps per sample after the resampling, 0 to 1000 (default: as trained)");
  add_seed_flag(options, "sampling seed (default 1)");
  add_quiet_flag(options);
  po::positional_options_description positional;
  positional.add("posterior", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi sample DIR --observation FILE -n N -o FILE", options, positional, vm)) return kExitOk;
  if (!vm.count("posterior")) throw po::error("the posterior folder is required: sbi sample DIR ...");
  if (!vm.count("observation")) throw po::error("--observation FILE is required");
  if (!vm.count("output")) throw po::error("-o FILE is required");
  Posterior posterior = load_posterior(vm["posterior"].as<std::string>());
  if (vm.count("proposals") || vm.count("moves")) {
    // Another K or M needs no retraining: the saved flow and target are resampled differently.
    const auto* resampled = posterior.model_as<models::ImportanceResampledPosterior>();
    if (!resampled)
      throw po::error("--proposals and --moves apply to importance-resampled posteriors (lfvi with importance_resampling) only; this one is of kind \"" +
                      posterior.kind() + "\"");
    const auto proposals = vm.count("proposals") ? static_cast<int>(count_option(vm, "proposals", 2, 4096)) : resampled->proposals_per_draw();
    const auto moves = vm.count("moves") ? static_cast<int>(count_option(vm, "moves", 0, models::kMaxResampleMoves)) : resampled->moves();
    posterior = resampled->with_counts(proposals, moves);
  }
  const Vector observation = read_observation_csv(vm["observation"].as<std::string>(), posterior.data_names());
  const auto n = static_cast<Eigen::Index>(vm.count("samples") ? count_option(vm, "samples", 1) : 10000);
  const std::uint64_t seed = seed_option(vm).value_or(1);
  const int refine = vm["refine"].as<int>();
  if (!posterior.model_as<models::ImplicitPosterior>() && !vm["refine"].defaulted())
    throw po::error("--refine applies to implicit-generator posteriors (lfvi) only");
  std::string note;
  ProgressDisplay progress(quiet_flag(vm));
  RowMatrix samples;
  try {
    samples = draw_samples(posterior, observation, n, seed, refine, note, progress);
  } catch (const Interrupted&) {
    progress.finish();
    std::fprintf(stderr, "sbi sample: interrupted while drawing samples; nothing was written\n");
    return kExitInterrupted;
  }
  write_csv(vm["output"].as<std::string>(), posterior.parameter_names(), samples);
  std::printf("%lld samples written to %s\n%s%s\n%s", static_cast<long long>(samples.rows()), vm["output"].as<std::string>().c_str(),
              note.c_str(), note.empty() ? "" : "\n", format_summary_table(summarise(samples, posterior.parameter_names())).c_str());
  return kExitOk;
}

}  // namespace

Command infer_command() {
  return {"infer", "run an inference method from a spec (sbi infer --list-methods), save the posterior and sample it",
          [](const std::vector<std::string>& args) { return run_guarded("infer", [&] { return run_infer(args); }); },
          /*spreads_over_ranks=*/true};
}

Command sample_command() {
  return {"sample", "draw posterior samples for an observation from a saved posterior",
          [](const std::vector<std::string>& args) { return run_guarded("sample", [&] { return run_sample(args); }); }};
}

}  // namespace sbi::cli
