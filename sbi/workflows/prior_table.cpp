#include "sbi/workflows/prior_table.hpp"

#include "sbi/core/error.hpp"

#include <memory>

namespace sbi {

PriorTableRun simulate_prior_table(const Simulator& simulator, const Prior& prior, const PriorTableSettings& settings,
                                   const TrainingCallbacks& callbacks) {
  if (prior.dim() != simulator.parameter_dim())
    throw InputError("the prior has " + std::to_string(prior.dim()) + " parameters, simulator \"" + simulator.name() + "\" takes " +
                     std::to_string(simulator.parameter_dim()));
  const TableMetadata metadata = TableMetadata::for_simulator(simulator.info(), settings.seed, settings.failure_policy);
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

}  // namespace sbi
