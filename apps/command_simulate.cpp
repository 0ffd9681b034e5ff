// sbi simulate SPEC -n N -o TABLE: a reference table of (θ, y) pairs drawn from the prior.
#include "apps/cli.hpp"

#include "models/methods.hpp"
#include "sbi/core/error.hpp"
#include "sbi/workflows/run.hpp"
#include "sbi/simulation/table.hpp"
#include "sbi/spec/spec.hpp"
#include "sbi/util/progress.hpp"
#include "simulators/from_spec.hpp"
#include "simulators/registry.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace sbi::cli {

namespace {

void print_column_summary(const std::string& title, const Names& names, const RowMatrix& values) {
  if (values.rows() == 0) return;
  std::printf("%s\n  %-16s %12s %12s %12s %12s\n", title.c_str(), "column", "mean", "sd", "min", "max");
  for (Eigen::Index c = 0; c < values.cols(); ++c) {
    const auto col = values.col(c);
    const double mean = col.mean();
    const double sd = values.rows() > 1 ? std::sqrt((col.array() - mean).square().sum() / static_cast<double>(values.rows() - 1)) : 0.0;
    std::printf("  %-16s %12.5g %12.5g %12.5g %12.5g\n", names[static_cast<std::size_t>(c)].c_str(), mean, sd, col.minCoeff(), col.maxCoeff());
  }
}

int run_simulate(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()
      ("spec", po::value<std::string>(), "the JSON spec (simulator, prior, seed, failure policy)")
      ("simulations,n", po::value<Count>()->default_value(Count{10000}, "10000"), "number of simulations")
      ("output,o", po::value<std::string>(), "the table to write (.csv, or .sbt for binary)")
      ("format", po::value<std::string>(), "csv or bin (default: from the file name; .sbt/.bin = bin)")
      ("batch-size", po::value<Count>()->default_value(Count{256}, "256"), "simulations handed to a worker at a time (results do not depend on it)")
      ("append", po::bool_switch(), "add rows to an existing table, continuing its simulation indices")
      ("force", po::bool_switch(), "overwrite an existing table")
      ("list", po::bool_switch(), "list the built-in simulators and exit");
  add_threads_flag(options);
  add_seed_flag(options, "override the spec's seed");
  add_quiet_flag(options);
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command_line(args, "sbi simulate SPEC -n N -o TABLE [options]", options, positional, vm)) return kExitOk;

  if (vm["list"].as<bool>()) {
    // With each simulator's parameters and data at its default options: a spec's prior lists the
    // parameters in this order.
    std::printf("Built-in simulators, with their parameters (a spec's prior lists them in this order) and data at the default options:\n");
    for (const auto& s : simulators::builtin_simulators()) {
      const SimulatorInfo info = s.make(nlohmann::json::object(), "simulator.options").info();
      std::printf("  %-26s %s\n  %-26s   parameters: %s\n", s.name.c_str(), s.description.c_str(), "", comma_separated(info.parameter_names).c_str());
      if (info.data_dim() <= 12) std::printf("  %-26s   data: %s\n", "", comma_separated(info.data_names).c_str());
      else std::printf("  %-26s   data: %zu values (%s, ..., %s)\n", "", info.data_dim(), info.data_names.front().c_str(), info.data_names.back().c_str());
    }
    return kExitOk;
  }
  if (!vm.count("spec")) throw po::error("the spec is required: sbi simulate SPEC -n N -o TABLE");
  if (!vm.count("output")) throw po::error("the output table is required: -o TABLE");
  const std::filesystem::path output = vm["output"].as<std::string>();
  const bool append = vm["append"].as<bool>();
  const bool quiet = quiet_flag(vm);
  if (append && vm["force"].as<bool>()) throw po::error("--append and --force exclude each other");
  const TableFormat format = vm.count("format") ? table_format_from_string(vm["format"].as<std::string>()) : table_format_for_path(output);

  const Spec spec = read_command_spec(vm["spec"].as<std::string>());
  const auto model = simulators::build_spec_model(spec);
  // The inference section is checked too, so that a misspelt key is found before hours of simulation.
  parse_method_options(builtin_methods().at(spec_method(spec)), spec.inference);
  if (serve_simulator_if_worker(model.simulator)) return kExitOk;  // under MPI, a worker rank (apps/main.cpp)
  const std::optional<std::uint64_t> seed_given = seed_option(vm);
  std::uint64_t seed = seed_given.value_or(spec.seed);

  TableMetadata metadata;
  metadata.simulator = model.simulator.name();
  metadata.simulator_options = model.simulator.info().options;
  metadata.parameter_names = model.simulator.info().parameter_names;
  metadata.data_names = model.simulator.info().data_names;
  metadata.failure_policy = to_string(spec.failure_policy);
  metadata.prior = prior_record(*model.prior);

  std::uint64_t first_index = 0;
  const bool exists = std::filesystem::exists(output);
  if (append && exists) {
    const ReferenceTable existing = read_table(output);
    if (seed_given && seed != existing.metadata.seed)
      throw InputError(output.string() + ": the table was made with seed " + std::to_string(existing.metadata.seed) +
                       "; appending continues that seed's streams, so --seed " + std::to_string(seed) + " cannot be used");
    seed = existing.metadata.seed;
    first_index = existing.metadata.next_index;
  } else if (exists && !vm["force"].as<bool>()) {
    throw InputError(output.string() + ": already exists; use --append to add simulations to it or --force to replace it");
  }
  metadata.seed = seed;

  SimulationOptions sim_options;
  sim_options.threads = threads_flag(vm);
  sim_options.batch_size = vm.count("batch-size") ? count_option(vm, "batch-size", 1, 1 << 24) : 256;
  sim_options.failure_policy = spec.failure_policy;
  sim_options.max_redraws = spec.max_redraws;
  sim_options.stop = &interrupt_flag();
  const std::size_t n = vm.count("simulations") ? count_option(vm, "simulations", 1) : 10000;
  ProgressBar bar("simulate", n, ProgressBar::should_show(quiet), "sim");
  sim_options.on_progress = [&](std::size_t done, std::size_t) { bar.update(done); };

  const std::filesystem::path* existing_path = append && exists ? &output : nullptr;
  TableWriter writer(output, format, metadata, existing_path);
  SimulationSummary summary;
  std::string failure;
  try {
    summary = simulate_from_prior(model.simulator, *model.prior, n, seed, first_index, sim_options,
                                  [&](const SimulationChunk& chunk) { writer.write(chunk); });
  } catch (const SimulationError& e) {
    // Failure policy "fail": keep the rows finished before the failing simulation.
    failure = e.what();
    summary.kept = writer.rows_written();
    summary.requested = n;
  }
  bar.finish();
  if (!failure.empty()) {
    // The index of the failed simulation is not consumed, so an append re-runs it after a fix.
    summary.next_index = first_index + summary.kept;
    writer.finish(summary);
    std::cerr << "sbi simulate: simulation error: " << failure << "\n"
              << "sbi simulate: " << writer.rows_written() << " finished rows saved to " << output.string() << "\n";
    return kExitError;
  }
  writer.finish(summary);

  std::printf("%s: %s\n", output.string().c_str(), summary.brief_report().c_str());
  std::printf("simulator %s, seed %llu, indices %llu..%llu, failure policy %s\n", model.simulator.name().c_str(),
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(first_index),
              static_cast<unsigned long long>(summary.next_index ? summary.next_index - 1 : 0), to_string(spec.failure_policy).c_str());
  if (!summary.first_failure.empty()) std::printf("first failure: %s\n", summary.first_failure.c_str());
  if (!quiet) {
    const ReferenceTable table = read_table(output);
    print_column_summary("parameters (whole table):", table.metadata.parameter_names, table.theta);
    print_column_summary("data (whole table):", table.metadata.data_names, table.y);
  }
  if (summary.interrupted) {
    std::cerr << "sbi simulate: interrupted after " << summary.kept << " simulations; the table holds them and --append continues\n";
    return kExitInterrupted;
  }
  return kExitOk;
}

}  // namespace

Command simulate_command() {
  return {"simulate", "simulate a reference table of (θ, y) pairs from a spec",
          [](const std::vector<std::string>& args) { return run_guarded("simulate", [&] { return run_simulate(args); }); },
          /*spreads_over_ranks=*/true};
}

}  // namespace sbi::cli
