#include "apps/prior_table.hpp"

#include "apps/cli.hpp"
#include "sbi/core/error.hpp"
#include "sbi/util/progress.hpp"

#include <cstdio>
#include <memory>

namespace sbi::cli {

ReferenceTable simulate_prior_table(const simulators::SpecModel& model, const Spec& spec, std::size_t n, std::uint64_t seed,
                                    int threads, bool quiet, double& seconds, const std::filesystem::path& write_to) {
  TableMetadata metadata;
  metadata.simulator = model.simulator.name();
  metadata.simulator_options = model.simulator.info().options;
  metadata.parameter_names = model.simulator.info().parameter_names;
  metadata.data_names = model.simulator.info().data_names;
  metadata.seed = seed;
  metadata.failure_policy = to_string(spec.failure_policy);
  SimulationOptions options;
  options.threads = threads == 0 && !model.simulator.thread_safe() ? 1 : threads;
  options.failure_policy = spec.failure_policy;
  options.max_redraws = spec.max_redraws;
  options.stop = &interrupt_flag();
  ProgressBar bar("simulate", n, ProgressBar::should_show(quiet), "sim");
  options.on_progress = [&](std::size_t done, std::size_t) { bar.update(done); };
  std::unique_ptr<TableWriter> writer;
  if (!write_to.empty()) writer = std::make_unique<TableWriter>(write_to, TableFormat::binary, metadata);
  ReferenceTable table;
  table.metadata = metadata;
  const auto summary = simulate_from_prior(model.simulator, *model.prior, n, seed, 0, options, [&](const SimulationChunk& chunk) {
    if (writer) writer->write(chunk);
    table.append(chunk);
  });
  bar.finish();
  if (writer) writer->finish(summary);
  seconds = summary.seconds;
  if (!quiet) std::fprintf(stderr, "simulated: %s\n", summary.brief_report().c_str());
  if (summary.interrupted) {
    if (writer)
      throw InputError("interrupted while simulating; the finished rows are in " + write_to.string() + " (use --table to train on them)");
    throw InputError("interrupted while simulating");
  }
  return table;
}

}  // namespace sbi::cli
