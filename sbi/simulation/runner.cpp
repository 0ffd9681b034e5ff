#include "sbi/simulation/runner.hpp"

#include "sbi/parallel/parallel_for.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

namespace sbi {

FailurePolicy failure_policy_from_string(const std::string& text) {
  if (text == "drop") return FailurePolicy::drop;
  if (text == "redraw") return FailurePolicy::redraw;
  if (text == "fail") return FailurePolicy::fail;
  throw InputError("failure policy: expected \"drop\", \"redraw\" or \"fail\", got \"" + text + "\"");
}

std::string to_string(FailurePolicy policy) {
  switch (policy) {
    case FailurePolicy::drop: return "drop";
    case FailurePolicy::redraw: return "redraw";
    case FailurePolicy::fail: return "fail";
  }
  return "?";
}

bool SimulationOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (threads < 0) return fail("threads: expected 0 (all cores) or a positive number");
  if (batch_size < 1) return fail("batch_size: expected at least 1");
  if (max_redraws < 1) return fail("max_redraws: expected at least 1");
  return true;
}

int simulation_threads(const Simulator& simulator, int threads) {
  if (simulator.runs_own_workers()) return 1;
  if (threads == 0 && !simulator.thread_safe()) return 1;
  return resolve_thread_count(threads);
}

int resolve_thread_count(int threads) { return threads <= 0 ? hardware_threads() : threads; }

std::string SimulationSummary::brief_report() const {
  std::ostringstream out;
  out << kept << " of " << requested << " simulations kept";
  if (failed || non_finite) out << "; " << failed << " failed, " << non_finite << " non-finite";
  if (dropped) out << "; " << dropped << " dropped";
  if (redraws) out << "; " << redraws << " redrawn";
  if (interrupted) out << "; interrupted";
  out << "; " << std::fixed;
  out.precision(2);
  out << seconds << " s";
  if (seconds > 0) out << " (" << std::llround(static_cast<double>(kept + dropped) / seconds) << " simulations/s)";
  return out.str();
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Per-thread scratch for one batch: no allocation per simulation.
struct BatchScratch {
  RowMatrix theta, y;
  std::vector<std::uint64_t> seeds, indices;
  std::vector<SimulationOutcome> outcomes;
  void resize(Eigen::Index rows, Eigen::Index theta_dim, Eigen::Index data_dim) {
    theta.resize(rows, theta_dim);
    y.resize(rows, data_dim);
    seeds.resize(static_cast<std::size_t>(rows));
    indices.resize(static_cast<std::size_t>(rows));
    outcomes.resize(static_cast<std::size_t>(rows));
  }
};

// Marks outputs with NaN or ±inf as non-finite.
void check_finite(const RowMatrix& y, std::span<SimulationOutcome> outcomes) {
  for (Eigen::Index r = 0; r < y.rows(); ++r) {
    auto& o = outcomes[static_cast<std::size_t>(r)];
    if (o.ok() && !y.row(r).allFinite()) o = {SimulationStatus::non_finite, "non-finite output"};
  }
}

// The state of one chunk of consecutive simulation indices while it is being simulated.
struct ChunkWork {
  std::uint64_t first_index = 0;
  RowMatrix theta, y;
  std::vector<SimulationOutcome> outcomes;  // final outcome per row
  std::vector<std::size_t> failures;        // failed attempts per row (all attempts)
  std::vector<std::size_t> non_finite;      // non-finite attempts per row
  std::vector<std::size_t> attempts;        // attempts used per row
};

class ChunkSimulator {
 public:
  ChunkSimulator(const Simulator& simulator, const Prior* prior, std::uint64_t seed, const SimulationOptions& options)
      : simulator_(simulator), prior_(prior), seed_(seed), options_(options), threads_(simulation_threads(simulator, options.threads)) {
    if (threads_ > 1 && !simulator_.thread_safe())
      throw InputError("simulator \"" + simulator_.name() + "\" is not thread-safe, so it cannot run on " +
                       std::to_string(threads_) + " threads; run it with --threads 1 (threads: 1)");
  }

  int threads() const { return threads_; }

  // Simulates rows [begin, end) of `work` (θ already set unless drawing from the prior).
  void run_rows(ChunkWork& work, std::size_t begin, std::size_t end, BatchScratch& scratch) const {
    const auto rows = static_cast<Eigen::Index>(end - begin);
    const auto theta_dim = static_cast<Eigen::Index>(simulator_.parameter_dim());
    const auto data_dim = static_cast<Eigen::Index>(simulator_.data_dim());
    scratch.resize(rows, theta_dim, data_dim);
    for (Eigen::Index r = 0; r < rows; ++r) {
      const std::size_t row = begin + static_cast<std::size_t>(r);
      const std::uint64_t index = work.first_index + row;
      if (prior_) {
        Rng rng = Rng::stream(seed_, index, 0);
        prior_->sample(rng, row_span(scratch.theta, r));
      } else {
        scratch.theta.row(r) = work.theta.row(static_cast<Eigen::Index>(row));
      }
      scratch.seeds[static_cast<std::size_t>(r)] = stream_seed(seed_, index, 1);
      scratch.indices[static_cast<std::size_t>(r)] = index;
    }
    simulator_.simulate_batch(scratch.theta, scratch.y, scratch.seeds, scratch.indices, scratch.outcomes);
    check_finite(scratch.y, scratch.outcomes);
    for (Eigen::Index r = 0; r < rows; ++r) {
      const std::size_t row = begin + static_cast<std::size_t>(r);
      auto& outcome = scratch.outcomes[static_cast<std::size_t>(r)];
      work.attempts[row] = 1;
      if (!outcome.ok() && options_.failure_policy == FailurePolicy::redraw && prior_)
        redraw(work, row, scratch.theta, scratch.y, r, outcome);
      work.theta.row(static_cast<Eigen::Index>(row)) = scratch.theta.row(r);
      work.y.row(static_cast<Eigen::Index>(row)) = scratch.y.row(r);
      tally(work, row, outcome);
      work.outcomes[row] = std::move(outcome);
    }
  }

  void simulate_chunk(ChunkWork& work, std::size_t rows) const {
    work.theta.conservativeResize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(simulator_.parameter_dim()));
    work.y.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(simulator_.data_dim()));
    work.outcomes.assign(rows, {});
    work.failures.assign(rows, 0);
    work.non_finite.assign(rows, 0);
    work.attempts.assign(rows, 0);
    const std::size_t batch = std::max<std::size_t>(1, std::min(options_.batch_size, (rows + threads_ - 1) / threads_));
    const std::size_t batches = (rows + batch - 1) / batch;
    scratch_.resize(static_cast<std::size_t>(threads_));
    parallel_for(batches, threads_, [&](std::size_t b, std::size_t worker) {
      run_rows(work, b * batch, std::min(rows, (b + 1) * batch), scratch_[worker]);
    });
  }

 private:
  // Further attempts for one index, each from its own pair of streams (seed, index, 2k) for θ and
  // (seed, index, 2k+1) for the simulation.
  void redraw(ChunkWork& work, std::size_t row, RowMatrix& theta_batch, RowMatrix& y_batch, Eigen::Index r,
              SimulationOutcome& outcome) const {
    const std::uint64_t index = work.first_index + row;
    RowMatrix theta(1, theta_batch.cols()), y(1, y_batch.cols());
    for (int attempt = 1; attempt <= options_.max_redraws && !outcome.ok(); ++attempt) {
      tally(work, row, outcome);
      Rng rng = Rng::stream(seed_, index, 2 * static_cast<std::uint64_t>(attempt));
      prior_->sample(rng, row_span(theta, 0));
      std::uint64_t seed = stream_seed(seed_, index, 2 * static_cast<std::uint64_t>(attempt) + 1);
      simulator_.simulate_batch(theta, y, {&seed, 1}, {&index, 1}, {&outcome, 1});
      check_finite(y, {&outcome, 1});
      ++work.attempts[row];
      theta_batch.row(r) = theta.row(0);
      y_batch.row(r) = y.row(0);
    }
  }

  static void tally(ChunkWork& work, std::size_t row, const SimulationOutcome& outcome) {
    if (outcome.status == SimulationStatus::failed) ++work.failures[row];
    if (outcome.status == SimulationStatus::non_finite) ++work.non_finite[row];
  }

  const Simulator& simulator_;
  const Prior* prior_;
  std::uint64_t seed_;
  const SimulationOptions& options_;
  int threads_;
  mutable std::vector<BatchScratch> scratch_;  // one per worker thread, kept across chunks
};

std::string failure_message(const Simulator& simulator, ConstRow theta, std::uint64_t index, const SimulationOutcome& outcome) {
  return simulator.name() + ": simulation " + std::to_string(index) + " failed at " +
         describe_theta(simulator.info().parameter_names, theta) + ": " + outcome.message;
}

void validate_options(const SimulationOptions& options) {
  if (std::string problem; !options.is_valid(&problem)) throw InputError("simulation options: " + problem);
}

}  // namespace

SimulationSummary simulate_from_prior(const Simulator& simulator, const Prior& prior, std::size_t n, std::uint64_t seed,
                                      std::uint64_t first_index, const SimulationOptions& options,
                                      const std::function<void(const SimulationChunk&)>& sink) {
  validate_options(options);
  if (prior.dim() != simulator.parameter_dim())
    throw InputError("prior has " + std::to_string(prior.dim()) + " parameters but simulator \"" + simulator.name() +
                     "\" expects " + std::to_string(simulator.parameter_dim()));
  const auto start = Clock::now();
  ChunkSimulator runner(simulator, &prior, seed, options);
  SimulationSummary summary;
  summary.requested = n;
  summary.next_index = first_index;

  // Chunks grow until one takes about a quarter of a second: quick progress and Ctrl-C for slow
  // simulators, little overhead for fast ones. Chunk boundaries never affect the results.
  std::size_t chunk_rows = static_cast<std::size_t>(runner.threads()) * 4;
  const std::size_t max_chunk_rows = std::max<std::size_t>(chunk_rows, options.batch_size * runner.threads() * 8);
  ChunkWork work;
  SimulationChunk chunk;
  std::size_t done = 0;
  while (done < n) {
    if (options.stop && options.stop->load()) {
      summary.interrupted = true;
      break;
    }
    const std::size_t rows = std::min(chunk_rows, n - done);
    work.first_index = first_index + done;
    const auto chunk_start = Clock::now();
    runner.simulate_chunk(work, rows);
    const double chunk_seconds = seconds_since(chunk_start);

    chunk.indices.clear();
    chunk.failed = chunk.non_finite = chunk.dropped = chunk.redraws = 0;
    std::vector<Eigen::Index> keep;
    keep.reserve(rows);
    std::size_t stop_at = rows;
    for (std::size_t r = 0; r < rows; ++r) {
      chunk.failed += work.failures[r];
      chunk.non_finite += work.non_finite[r];
      chunk.redraws += work.attempts[r] > 0 ? work.attempts[r] - 1 : 0;
      const auto& outcome = work.outcomes[r];
      if (!outcome.ok() && summary.first_failure.empty())
        summary.first_failure = failure_message(simulator, row_span(work.theta, static_cast<Eigen::Index>(r)), work.first_index + r, outcome);
      if (outcome.ok()) {
        keep.push_back(static_cast<Eigen::Index>(r));
      } else if (options.failure_policy == FailurePolicy::fail) {
        stop_at = r;
        break;
      } else {
        ++chunk.dropped;
      }
    }
    summary.failed += chunk.failed;
    summary.non_finite += chunk.non_finite;
    summary.redraws += chunk.redraws;
    summary.dropped += chunk.dropped;
    chunk.indices.reserve(keep.size());
    chunk.theta.resize(static_cast<Eigen::Index>(keep.size()), work.theta.cols());
    chunk.y.resize(static_cast<Eigen::Index>(keep.size()), work.y.cols());
    for (std::size_t k = 0; k < keep.size(); ++k) {
      chunk.indices.push_back(work.first_index + static_cast<std::uint64_t>(keep[k]));
      chunk.theta.row(static_cast<Eigen::Index>(k)) = work.theta.row(keep[k]);
      chunk.y.row(static_cast<Eigen::Index>(k)) = work.y.row(keep[k]);
    }
    summary.kept += keep.size();
    summary.next_index = work.first_index + stop_at;
    chunk.next_index = summary.next_index;
    sink(chunk);
    if (stop_at < rows) {
      summary.seconds = seconds_since(start);
      throw SimulationError(failure_message(simulator, row_span(work.theta, static_cast<Eigen::Index>(stop_at)),
                                            work.first_index + stop_at, work.outcomes[stop_at]) +
                            " (failure policy \"fail\"; " + std::to_string(summary.kept) + " simulations before it were kept)");
    }
    done += rows;
    if (options.on_progress) options.on_progress(done, n);
    if (chunk_seconds < 0.25 && chunk_rows < max_chunk_rows) chunk_rows = std::min(max_chunk_rows, chunk_rows * 2);
  }
  summary.seconds = seconds_since(start);
  return summary;
}

RowMatrix simulate_given(const Simulator& simulator, const RowMatrix& theta, std::uint64_t seed, std::uint64_t first_index,
                         const SimulationOptions& options, std::vector<SimulationOutcome>* outcomes) {
  validate_options(options);
  if (options.failure_policy == FailurePolicy::redraw)
    throw InputError("failure policy \"redraw\" needs a prior; simulate_given has fixed parameters");
  if (static_cast<std::size_t>(theta.cols()) != simulator.parameter_dim())
    throw InputError("simulate_given: θ has " + std::to_string(theta.cols()) + " columns but simulator \"" +
                     simulator.name() + "\" expects " + std::to_string(simulator.parameter_dim()));
  ChunkSimulator runner(simulator, nullptr, seed, options);
  ChunkWork work;
  work.first_index = first_index;
  work.theta = theta;
  runner.simulate_chunk(work, static_cast<std::size_t>(theta.rows()));
  if (options.failure_policy == FailurePolicy::fail) {
    for (std::size_t r = 0; r < work.outcomes.size(); ++r)
      if (!work.outcomes[r].ok())
        throw SimulationError(failure_message(simulator, row_span(work.theta, static_cast<Eigen::Index>(r)), first_index + r, work.outcomes[r]));
  }
  if (outcomes) *outcomes = std::move(work.outcomes);
  return std::move(work.y);
}

}  // namespace sbi
