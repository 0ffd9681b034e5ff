// sbi infer SPEC -o DIR: simulate (or read) a reference table, train LFVI or the MMD generator,
// save the posterior, draw samples for the spec's observation and summarise them.
#include "apps/cli.hpp"
#include "apps/prior_table.hpp"

#include "models/implicit_posterior.hpp"
#include "sbi/core/error.hpp"
#include "sbi/diagnostics/summaries.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/util/progress.hpp"
#include "simulators/from_spec.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace sbi::cli {

namespace {

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

int run_infer(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("spec", po::value<std::string>(), "the JSON spec (simulator, prior, observation, inference settings)")
      ("output,o", po::value<std::string>(), "folder for the posterior, samples.csv and the table")
      ("table", po::value<std::string>(), "train on this reference table instead of simulating (else the spec's inference.table)")
      ("threads", po::value<int>()->default_value(0), "simulation threads (0 = all cores)")
      ("samples,n", po::value<std::size_t>(), "posterior samples to draw (default: the spec's output.samples, 10000)")
      ("quiet,q", po::bool_switch(), "no progress bars");
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi infer SPEC -o DIR [options]", options, positional, vm)) return kExitOk;
  if (!vm.count("spec")) throw po::error("the spec is required: sbi infer SPEC -o DIR");
  if (!vm.count("output")) throw po::error("the output folder is required: -o DIR");
  const bool quiet = vm["quiet"].as<bool>();
  const std::filesystem::path folder = vm["output"].as<std::string>();
  const std::filesystem::path spec_path = vm["spec"].as<std::string>();

  const Spec spec = read_spec(spec_path);
  const auto model = simulators::build_spec_model(spec);
  LfviOptions lfvi = LfviOptions::from_json(spec.inference, "inference");
  if (!spec.inference.contains("seed")) lfvi.seed = spec.seed;
  JsonObjectReader inference(spec.inference, "inference");
  const auto simulations = static_cast<std::size_t>(inference.optional_integer("simulations", 10000, 20, 100000000));
  std::string table_source = vm.count("table") ? vm["table"].as<std::string>() : inference.optional_string("table", "");
  const std::size_t n_samples = vm.count("samples") ? vm["samples"].as<std::size_t>() : spec.output_samples;

  std::filesystem::create_directories(folder);
  ReferenceTable table;
  double simulation_seconds = 0;
  if (!table_source.empty()) {
    std::filesystem::path path = table_source;
    if (!vm.count("table") && path.is_relative()) path = spec.directory / path;
    table = read_table(path);
    if (table.metadata.parameter_names.size() != model.simulator.parameter_dim() ||
        table.metadata.data_names.size() != model.simulator.data_dim())
      throw InputError(path.string() + ": the table's columns (" + std::to_string(table.metadata.parameter_names.size()) + " parameters, " +
                       std::to_string(table.metadata.data_names.size()) + " data) do not fit simulator \"" + model.simulator.name() + "\"");
    if (!quiet) std::fprintf(stderr, "training on %lld rows of %s\n", static_cast<long long>(table.rows()), path.string().c_str());
    table_source = path.string();
  } else {
    table = simulate_prior_table(model, spec, simulations, spec.seed, vm["threads"].as<int>(), quiet, simulation_seconds, folder / "table.sbt");
    table_source = "simulated";
  }

  ProgressBar bar("train " + to_string(lfvi.method), static_cast<std::size_t>(lfvi.max_iterations), ProgressBar::should_show(quiet), "step");
  LfviCallbacks callbacks;
  callbacks.stop = &interrupt_flag();
  callbacks.on_record = [&](const TrainingRecord& r, int) {
    char status[160];
    if (lfvi.method == LfviOptions::Method::lfvi)
      std::snprintf(status, sizeof status, "D %.3f G %.3f val-MMD² %.4g", r.discriminator_loss, r.generator_loss, r.validation_mmd2);
    else
      std::snprintf(status, sizeof status, "MMD² %.4g val-MMD² %.4g", r.generator_loss, r.validation_mmd2);
    bar.set_status(status);
    bar.update(static_cast<std::size_t>(r.iteration));
  };
  LfviFit fit = train_lfvi(table.theta, table.y, *model.prior, lfvi, callbacks);
  bar.finish();
  if (fit.interrupted) std::fprintf(stderr, "training interrupted at step %d; keeping the best generator so far\n", fit.curve.back().iteration);
  const double training_seconds = fit.seconds;
  const int best = fit.best_iteration;
  const bool early = fit.stopped_early;

  models::Provenance provenance;
  provenance.method = to_string(lfvi.method);
  provenance.simulator = model.simulator.name();
  provenance.simulator_options = model.simulator.info().options;
  provenance.spec = spec.document;
  provenance.seed = spec.seed;
  provenance.simulations = static_cast<std::size_t>(table.rows());
  provenance.table = table_source;
  provenance.training_seconds = training_seconds;
  provenance.simulation_seconds = simulation_seconds;
  provenance.created = utc_now();
  provenance.sbi_version = SBI_VERSION_STRING;
  models::ImplicitPosterior posterior(std::move(fit), model.prior, model.simulator.info().data_names, lfvi, provenance);
  posterior.save(folder);

  std::printf("posterior saved to %s (%s, %lld simulations, trained %.1f s, best validation at step %d%s)\n", folder.string().c_str(),
              provenance.method.c_str(), static_cast<long long>(table.rows()), training_seconds, best, early ? ", stopped early" : "");
  if (!spec.observation) {
    std::printf("the spec has no observation: draw samples with sbi sample %s --observation FILE\n", folder.string().c_str());
    return kExitOk;
  }
  models::SamplingReport report;
  const RowMatrix samples = posterior.sample(*spec.observation, static_cast<Eigen::Index>(n_samples), spec.seed, -1, &report);
  write_csv(folder / "samples.csv", posterior.parameter_names(), samples);
  std::printf("%zu samples for the spec's observation in %s", n_samples, (folder / "samples.csv").string().c_str());
  if (lfvi.refine_oversample > 0) std::printf(" (refined from %zu candidates, ESS %.0f)", report.candidates, report.effective_sample_size);
  std::printf("\n\n%s", format_summary_table(summarise(samples, posterior.parameter_names()),
                                           spec.true_parameters ? &*spec.true_parameters : nullptr).c_str());
  return fit.interrupted ? kExitInterrupted : kExitOk;
}

int run_sample(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("posterior", po::value<std::string>(), "a posterior folder written by sbi infer")
      ("observation", po::value<std::string>(), "CSV with a header line and one row (as sbibm's observation.csv)")
      ("samples,n", po::value<std::size_t>()->default_value(10000), "number of samples")
      ("output,o", po::value<std::string>(), "CSV to write (header = parameter names)")
      ("seed", po::value<std::uint64_t>()->default_value(1), "sampling seed")
      ("refine", po::value<int>()->default_value(-1), "importance-resampling oversampling factor (-1 = as trained, 0 = off)");
  po::positional_options_description positional;
  positional.add("posterior", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi sample DIR --observation FILE -n N -o FILE", options, positional, vm)) return kExitOk;
  if (!vm.count("posterior")) throw po::error("the posterior folder is required: sbi sample DIR ...");
  if (!vm.count("observation")) throw po::error("--observation FILE is required");
  if (!vm.count("output")) throw po::error("-o FILE is required");
  auto posterior = models::ImplicitPosterior::load(vm["posterior"].as<std::string>());
  const Vector observation = read_observation_csv(vm["observation"].as<std::string>());
  const auto samples = posterior.sample(observation, static_cast<Eigen::Index>(vm["samples"].as<std::size_t>()),
                                        vm["seed"].as<std::uint64_t>(), vm["refine"].as<int>());
  write_csv(vm["output"].as<std::string>(), posterior.parameter_names(), samples);
  std::printf("%lld samples written to %s\n\n%s", static_cast<long long>(samples.rows()), vm["output"].as<std::string>().c_str(),
              format_summary_table(summarise(samples, posterior.parameter_names())).c_str());
  return kExitOk;
}

}  // namespace

Command infer_command() {
  return {"infer", "train an amortised posterior (LFVI or MMD) from a spec and sample it",
          [](const std::vector<std::string>& args) { return run_guarded("infer", [&] { return run_infer(args); }); }};
}

Command sample_command() {
  return {"sample", "draw posterior samples for an observation from a saved posterior",
          [](const std::vector<std::string>& args) { return run_guarded("sample", [&] { return run_sample(args); }); }};
}

}  // namespace sbi::cli
