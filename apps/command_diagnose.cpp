// sbi diagnose SAMPLES.csv --reference REF.csv: how far posterior samples are from reference samples
// (C2ST as sbibm computes it, MMD², per-parameter summaries of both sets).
// sbi diagnose POSTERIOR_DIR --calibration N: SBC, expected coverage and TARP of a saved posterior on
// N prior-predictive draws of its own simulator (sbi/diagnostics/calibration.hpp).
#include "apps/cli.hpp"

#include "models/mcmc_posterior.hpp"
#include "models/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/diagnostics/calibration.hpp"
#include "sbi/diagnostics/calibration_report.hpp"
#include "sbi/spec/spec.hpp"
#include "sbi/workflows/run.hpp"
#include "simulators/from_spec.hpp"
#include "sbi/diagnostics/summaries.hpp"
#include "sbi/io/csv.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace sbi::cli {

// Declared here until apps/cli.hpp lists it with the other commands.
Command diagnose_command();

namespace {


RowMatrix finite_rows(const RowMatrix& x, Eigen::Index& dropped) {
  std::vector<Eigen::Index> keep;
  for (Eigen::Index i = 0; i < x.rows(); ++i)
    if (x.row(i).allFinite()) keep.push_back(i);
  dropped = x.rows() - static_cast<Eigen::Index>(keep.size());
  RowMatrix out(static_cast<Eigen::Index>(keep.size()), x.cols());
  for (std::size_t k = 0; k < keep.size(); ++k) out.row(static_cast<Eigen::Index>(k)) = x.row(keep[k]);
  return out;
}

// The simulator a saved posterior was trained on: from --spec, else from the spec it records
// (relative paths in it, such as an external simulator's command, resolve against the current folder).
simulators::SpecModel posterior_spec_model(const Posterior& posterior, const po::variables_map& vm, const std::string& folder) {
  if (vm.count("spec")) return simulators::build_spec_model(read_command_spec(vm["spec"].as<std::string>()));
  const auto& recorded = posterior.info().provenance.spec;
  if (recorded.is_null())
    throw InputError(folder + ": the posterior records no spec (it was trained from a table or in C++); give the simulator's spec with --spec FILE");
  if (recorded.is_object() && !recorded.contains("simulator"))
    throw InputError(folder + ": the posterior was trained on simulations made elsewhere (" + posterior.info().provenance.table +
                     "), and a calibration check simulates new cases: give a spec with the simulator that made them with --spec FILE");
  return simulators::build_spec_model(parse_spec(recorded, std::filesystem::current_path()));
}

int run_calibration_check(const po::variables_map& vm) {
  const std::string folder = vm["samples"].as<std::string>();
  // The simulated cases run in parallel, so an MCMC kind's chains for one case take one thread (two
  // levels of threads would oversubscribe the cores; the samples do not depend on it).
  const Posterior posterior = models::with_mcmc_sampling(load_posterior(folder), [](McmcOptions o) {
    o.threads = 1;
    return o;
  });
  const bool quiet = quiet_flag(vm);
  CalibrationOptions options;
  options.draws = count_option(vm, "calibration", 1);
  if (vm.count("posterior-samples")) options.posterior_samples = static_cast<Eigen::Index>(count_option(vm, "posterior-samples", 2));
  options.seed = seed_option(vm).value_or(1);
  options.threads = threads_flag(vm);
  if (std::string why; !options.is_valid(&why)) throw InputError("--calibration: " + why);
  const simulators::SpecModel model = posterior_spec_model(posterior, vm, folder);
  const Simulator& simulator = model.simulator;
  // A one-observation posterior is checked by re-running its method for every simulated observation.
  InferenceProblem problem;
  problem.simulator = simulator;
  problem.prior = posterior.prior_ptr();
  problem.failure_policy = FailurePolicy::drop;
  const nlohmann::json method_options = posterior.info().options;
  const std::size_t budget = posterior.info().provenance.simulations;
  PosteriorForObservation posterior_for;
  if (!posterior.info().amortized && vm["rerun"].as<bool>()) {
    const Method& method = builtin_methods().at(posterior.method());
    posterior_for = [&problem, &method, &method_options, budget](const Vector& observation, std::uint64_t seed) {
      InferenceProblem for_this = problem;
      for_this.observation = observation;
      RunSettings settings;
      settings.simulations = budget;
      settings.seed = seed;
      settings.threads = 1;  // the draws already run in parallel
      // Ctrl-C stops a re-run in its rounds or chains; its case is then left out, as the cases not begun.
      TrainingCallbacks callbacks;
      callbacks.stop = &interrupt_flag();
      MethodRun run = run_method(method, method_options, for_this, settings, callbacks);
      if (run.interrupted || !run.posterior) throw Interrupted("calibration: a re-run of " + method.name + " was interrupted");
      return std::move(run.posterior);
    };
  }
  // Under MPI every rank holds the posterior (and can re-run its method): rank 0 hands out the pairs
  // and each rank evaluates its share.
  share_posterior_for_calibration(posterior);
  if (posterior_for) share_rerun_for_calibration(posterior, simulator, posterior_for);
  if (serve_simulator_if_worker(simulator)) return kExitOk;  // under MPI, a worker rank (apps/main.cpp)
  if (simulator.info().parameter_names != posterior.parameter_names() || simulator.info().data_names != posterior.data_names())
    throw InputError(folder + ": the spec's simulator \"" + simulator.name() + "\" does not have the posterior's parameters and data columns");

  ProgressDisplay progress(quiet);
  CalibrationResult result;
  if (posterior.info().amortized) {
    result = run_calibration(posterior, simulator, options, progress.callbacks());
  } else {
    if (!posterior_for)
      throw InputError(folder + ": this " + posterior.method() + " posterior was made for one observation, so calibrating it re-runs " +
                       posterior.method() + " for each of the " + std::to_string(options.draws) + " simulated observations (" +
                       std::to_string(options.draws) + " runs of " + std::to_string(budget) + " simulations; the original took " +
                       std::to_string(static_cast<long long>(posterior.info().provenance.training_seconds + 0.5)) +
                       " s). Add --rerun to accept that cost, with a small N (e.g. --calibration 50), or check an amortised method (npe, nle, nre, lfvi) instead");
    result = run_calibration(posterior_for, simulator, posterior.prior(), options, progress.callbacks());
  }
  progress.finish();
  const std::filesystem::path out = vm.count("output") ? std::filesystem::path(vm["output"].as<std::string>())
                                                       : std::filesystem::path(folder) / "calibration";
  const auto files = write_calibration_report(result, out, posterior.method() + " posterior in " + folder);
  // The full report begins with the brief one.
  std::printf("%s\n\n%s\nreport: %s", result.plain_summary().c_str(), result.full_report().c_str(),
              files.markdown.string().c_str());
  for (const auto& picture : files.pictures) std::printf(", %s", (out / picture).string().c_str());
  std::printf("\n");
  for (const auto& note : files.notes) std::fprintf(stderr, "sbi diagnose: note: %s\n", note.c_str());
  return result.interrupted ? kExitInterrupted : kExitOk;
}

int run_diagnose(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("samples", po::value<std::string>(), "the samples to judge (CSV: header + rows)")
      ("reference,r", po::value<std::string>(), "reference posterior samples (CSV; its header names the parameters)")
      ("n", po::value<std::size_t>()->default_value(10000), "use the first N rows of each file (0 = all)")
      ("mmd-samples", po::value<std::size_t>()->default_value(5000), "rows of each set used for MMD² (quadratic cost; 0 = all)")
      ("json", po::bool_switch(), "print one JSON object instead of the report")
      ("no-c2st", po::bool_switch(), "skip the classifier two-sample test")
      ("calibration", po::value<Count>(), "POSTERIOR_DIR mode: SBC, expected coverage and TARP on N prior-predictive draws")
      ("posterior-samples,L", po::value<Count>(), "calibration: posterior draws per simulated observation (default 1000)")
      ("spec", po::value<std::string>(), "calibration: the simulator's spec (default: the spec the posterior records)")
      ("rerun", po::bool_switch(), "calibration of a one-observation posterior (ABC): re-run the method per draw")
      ("output,o", po::value<std::string>(), "calibration: report folder (default POSTERIOR_DIR/calibration)");
  add_seed_flag(options, "C2ST seed: cross-validation folds, initial weights, minibatches (default 1)");
  add_threads_flag(options);
  add_quiet_flag(options);
  po::positional_options_description positional;
  positional.add("samples", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi diagnose SAMPLES.csv --reference REF.csv [options]\n       sbi diagnose POSTERIOR_DIR --calibration N [-o DIR]",
                          options, positional, vm))
    return kExitOk;
  if (vm.count("calibration")) {
    if (!vm.count("samples")) throw po::error("the posterior folder is required: sbi diagnose POSTERIOR_DIR --calibration N");
    if (vm.count("reference")) throw po::error("--calibration checks a posterior folder and needs no --reference");
    return run_calibration_check(vm);
  }
  if (worker_waits()) return kExitOk;  // C2ST and MMD run on rank 0 alone
  if (!vm.count("samples")) throw po::error("the samples file is required: sbi diagnose SAMPLES.csv --reference REF.csv");
  if (!vm.count("reference")) throw po::error("the reference file is required: --reference REF.csv");
  const std::string samples_path = vm["samples"].as<std::string>();
  const std::string reference_path = vm["reference"].as<std::string>();
  const auto n = vm["n"].as<std::size_t>();
  const bool json = vm["json"].as<bool>();
  const bool run_c2st = !vm["no-c2st"].as<bool>();

  const CsvTable samples = read_csv(samples_path, n);
  const CsvTable reference = read_csv(reference_path, n);
  const Names& names = reference.header;
  ColumnMatch match = ColumnMatch::same;
  const RowMatrix samples_in_order = columns_in_order(samples, names, samples_path, reference_path, &match);
  if (match == ColumnMatch::by_name)
    std::cerr << "sbi diagnose: note: the columns of " << samples_path << " (" << comma_separated(samples.header) << ") are matched by name to "
              << reference_path << "'s order (" << comma_separated(names) << ")\n";
  if (match == ColumnMatch::by_position)
    std::cerr << "sbi diagnose: note: the columns of " << samples_path << " (" << comma_separated(samples.header) << ") are taken to be "
              << comma_separated(names) << ", in that order\n";

  Eigen::Index dropped_samples = 0, dropped_reference = 0;
  const RowMatrix finite_samples = finite_rows(samples_in_order, dropped_samples);
  const RowMatrix finite_reference = finite_rows(reference.values, dropped_reference);
  if (dropped_samples) std::cerr << "sbi diagnose: warning: dropping " << dropped_samples << " non-finite rows of " << samples_path << "\n";
  if (dropped_reference)
    std::cerr << "sbi diagnose: warning: dropping " << dropped_reference << " non-finite rows of " << reference_path << "\n";
  if (finite_samples.rows() < 2 || finite_reference.rows() < 2)
    throw InputError("need at least two finite rows in each file (" + samples_path + ": " + std::to_string(finite_samples.rows()) +
                     ", " + reference_path + ": " + std::to_string(finite_reference.rows()) + ")");

  C2stResult c2st_result;
  C2stOptions c2st_options;
  c2st_options.max_samples = static_cast<Eigen::Index>(n);
  c2st_options.seed = seed_option(vm).value_or(1);
  c2st_options.threads = threads_flag(vm);
  if (run_c2st) c2st_result = c2st_test(finite_reference, finite_samples, c2st_options);

  MmdOptions mmd_options;
  mmd_options.max_samples = static_cast<Eigen::Index>(vm["mmd-samples"].as<std::size_t>());
  const MmdResult mmd = mmd2(finite_reference, finite_samples, mmd_options);
  const auto sample_summary = summarise(finite_samples, names);
  const auto reference_summary = summarise(finite_reference, names);

  if (json) {
    nlohmann::json out;
    out["samples"] = samples_path;
    out["reference"] = reference_path;
    out["parameters"] = names;
    out["n_samples"] = finite_samples.rows();
    out["n_reference"] = finite_reference.rows();
    out["dropped_samples"] = dropped_samples;
    out["dropped_reference"] = dropped_reference;
    if (run_c2st) {
      out["c2st"] = c2st_result.accuracy;
      out["c2st_folds"] = c2st_result.fold_accuracies();
      out["c2st_seed"] = c2st_options.seed;
      out["c2st_seconds"] = c2st_result.seconds;
      std::vector<int> epochs;
      for (const auto& fold : c2st_result.folds) epochs.push_back(fold.epochs);
      out["c2st_epochs"] = epochs;
    } else {
      out["c2st"] = nullptr;
      out["c2st_folds"] = nlohmann::json::array();
    }
    out["mmd2"] = mmd.mmd2;
    out["mmd_bandwidth"] = mmd.bandwidth;
    out["summaries"] = {{"samples", to_json(sample_summary)}, {"reference", to_json(reference_summary)}};
    std::cout << out.dump() << "\n";
    return kExitOk;
  }

  std::printf("samples   %s: %lld rows\nreference %s: %lld rows\nparameters: %s\n\n", samples_path.c_str(),
              static_cast<long long>(finite_samples.rows()), reference_path.c_str(), static_cast<long long>(finite_reference.rows()),
              comma_separated(names).c_str());
  if (run_c2st) {
    std::printf("C2ST accuracy  %.4f   (0.5 = indistinguishable, 1 = separable; sbibm protocol, seed %llu)\n", c2st_result.accuracy,
                static_cast<unsigned long long>(c2st_options.seed));
    std::printf("  folds        ");
    for (std::size_t k = 0; k < c2st_result.folds.size(); ++k) std::printf("%s%.4f", k ? ", " : "", c2st_result.folds[k].accuracy);
    std::printf("   (%.1f s)\n", c2st_result.seconds);
  }
  const Eigen::Index mmd_rows_s = mmd_options.max_samples > 0 ? std::min(mmd_options.max_samples, finite_samples.rows()) : finite_samples.rows();
  const Eigen::Index mmd_rows_r = mmd_options.max_samples > 0 ? std::min(mmd_options.max_samples, finite_reference.rows()) : finite_reference.rows();
  std::printf("MMD²           %.6g   (unbiased, Gaussian kernel, bandwidth %.5g = median distance within the reference; %lld vs %lld rows)\n\n",
              mmd.mmd2, mmd.bandwidth, static_cast<long long>(mmd_rows_s), static_cast<long long>(mmd_rows_r));
  std::printf("samples:\n%s\n", format_summary_table(sample_summary).c_str());
  std::printf("reference:\n%s\n", format_summary_table(reference_summary).c_str());
  return kExitOk;
}

}  // namespace

Command diagnose_command() {
  return {"diagnose", "compare posterior samples with reference samples (C2ST, MMD²), or check a posterior's calibration (--calibration N)",
          [](const std::vector<std::string>& args) { return run_guarded("diagnose", [&] { return run_diagnose(args); }); },
          /*spreads_over_ranks=*/true};
}

}  // namespace sbi::cli
