#include "sbi/workflows/prior_table.hpp"

#include "sbi/core/error.hpp"

#include <memory>

namespace sbi {

PriorTableRun simulate_prior_table(const Simulator& simulator, const Prior& prior, const PriorTableSettings& settings,
                                   const TrainingCallbacks& callbacks) {
  check_prior_fits(prior, simulator, "simulation");
  TableMetadata metadata = TableMetadata::for_simulator(simulator.info(), settings.seed, settings.failure_policy);
  metadata.prior = prior_record(prior);
  SimulationOptions options;
  options.threads = settings.threads;
  options.failure_policy = settings.failure_policy;
  options.max_redraws = settings.max_redraws;
  options.stop = callbacks.stop;
  options.on_progress = [&](std::size_t done, std::size_t total) { callbacks.report({"simulate", done, total, "sim", ""}); };
  PriorTableRun run;
  run.table.metadata = metadata;
  std::uint64_t first_index = 0;
  SimulationSummary before;  // the counts of an interrupted run's table this one continues
  const bool continuing = settings.continue_existing && !settings.write_to.empty() && std::filesystem::exists(settings.write_to);
  if (continuing) {
    run.table = read_table(settings.write_to);
    check_table_fits(run.table.metadata, simulator.info(), settings.write_to);
    if (run.table.metadata.seed != settings.seed)
      throw InputError(settings.write_to.string() + ": was simulated with seed " + std::to_string(run.table.metadata.seed) + ", this run's seed is " +
                       std::to_string(settings.seed));
    const TableMetadata& m = run.table.metadata;
    first_index = m.next_index;
    before.kept = static_cast<std::size_t>(run.table.rows());
    before.failed = m.failed;
    before.non_finite = m.non_finite;
    before.dropped = m.dropped;
    before.redraws = m.redraws;
  }
  const std::size_t remaining = first_index >= settings.simulations ? 0 : settings.simulations - static_cast<std::size_t>(first_index);
  std::unique_ptr<TableWriter> writer;
  if (!settings.write_to.empty() && (!continuing || remaining > 0))
    writer = std::make_unique<TableWriter>(settings.write_to, TableFormat::binary, metadata, continuing ? &settings.write_to : nullptr);
  if (remaining > 0 || !continuing)
    run.summary = simulate_from_prior(simulator, prior, remaining, settings.seed, first_index, options, [&](const SimulationChunk& chunk) {
      if (writer) writer->write(chunk);
      run.table.append(chunk);
    });
  else
    run.summary.next_index = first_index;
  if (writer) writer->finish(run.summary);
  run.summary.requested = settings.simulations;
  run.summary.kept += before.kept;
  run.summary.failed += before.failed;
  run.summary.non_finite += before.non_finite;
  run.summary.dropped += before.dropped;
  run.summary.redraws += before.redraws;
  run.table.metadata.next_index = run.summary.next_index;
  run.table.metadata.failed = run.summary.failed;
  run.table.metadata.non_finite = run.summary.non_finite;
  run.table.metadata.dropped = run.summary.dropped;
  run.table.metadata.redraws = run.summary.redraws;
  return run;
}

}  // namespace sbi
