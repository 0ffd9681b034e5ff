#include "sbi/workflows/prior_table.hpp"

#include "sbi/core/error.hpp"

#include <memory>

namespace sbi {

TableMetadata table_metadata_for(const Simulator& simulator, std::uint64_t seed, FailurePolicy policy) {
  TableMetadata metadata;
  metadata.simulator = simulator.name();
  metadata.simulator_options = simulator.info().options;
  metadata.parameter_names = simulator.info().parameter_names;
  metadata.data_names = simulator.info().data_names;
  metadata.seed = seed;
  metadata.failure_policy = to_string(policy);
  return metadata;
}

PriorTableRun simulate_prior_table(const Simulator& simulator, const Prior& prior, const PriorTableSettings& settings,
                                   const TrainingCallbacks& callbacks) {
  if (prior.dim() != simulator.parameter_dim())
    throw InputError("the prior has " + std::to_string(prior.dim()) + " parameters, simulator \"" + simulator.name() + "\" takes " +
                     std::to_string(simulator.parameter_dim()));
  const TableMetadata metadata = table_metadata_for(simulator, settings.seed, settings.failure_policy);
  SimulationOptions options;
  options.threads = settings.threads;
  options.failure_policy = settings.failure_policy;
  options.max_redraws = settings.max_redraws;
  options.stop = callbacks.stop;
  options.on_progress = [&](std::size_t done, std::size_t total) { callbacks.report({"simulate", done, total, "sim", ""}); };
  std::unique_ptr<TableWriter> writer;
  if (!settings.write_to.empty()) writer = std::make_unique<TableWriter>(settings.write_to, TableFormat::binary, metadata);
  PriorTableRun run;
  run.table.metadata = metadata;
  run.summary = simulate_from_prior(simulator, prior, settings.simulations, settings.seed, 0, options, [&](const SimulationChunk& chunk) {
    if (writer) writer->write(chunk);
    run.table.append(chunk);
  });
  if (writer) writer->finish(run.summary);
  run.table.metadata.next_index = run.summary.next_index;
  run.table.metadata.failed = run.summary.failed;
  run.table.metadata.non_finite = run.summary.non_finite;
  run.table.metadata.dropped = run.summary.dropped;
  run.table.metadata.redraws = run.summary.redraws;
  return run;
}

void check_table_fits(const TableMetadata& metadata, const SimulatorInfo& simulator, const std::string& where) {
  auto list = [](const Names& names) {
    std::string text;
    for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
    return text;
  };
  if (metadata.parameter_names != simulator.parameter_names || metadata.data_names != simulator.data_names)
    throw InputError(where + ": the table's columns (parameters " + list(metadata.parameter_names) + "; data " + list(metadata.data_names) +
                     ") do not fit simulator \"" + simulator.name + "\" (parameters " + list(simulator.parameter_names) + "; data " +
                     list(simulator.data_names) + ")");
  if (!metadata.simulator.empty() && metadata.simulator != simulator.name)
    throw InputError(where + ": the table was simulated by \"" + metadata.simulator + "\", not by \"" + simulator.name + "\"");
}

}  // namespace sbi
