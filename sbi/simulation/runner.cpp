#include "sbi/simulation/runner.hpp"

#include "sbi/parallel/bytes.hpp"
#include "sbi/parallel/cluster.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/util/clock.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
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

// ------------------------------------------------------------------------------------------------
// Simulations spread over the ranks of an MPI job (sbi/parallel/cluster.hpp). Rank 0 hands out
// chunks of indices; a worker rank simulates a chunk with its own copy of the simulator (registered
// by serve_simulator_if_worker) and sends back θ (prior draws), y and the outcomes; rank 0 receives
// the chunks in index order and treats them exactly as its own. Every row depends on (seed, index)
// alone, so the result is the same as on one process.

constexpr const char* kSimulateJob = "simulate";

// The simulators every rank of the job can run (the same on every rank: each registers what its
// copy of the command built).
std::vector<Simulator>& served_simulators() {
  static std::vector<Simulator> list;
  return list;
}

const Simulator* find_served(const std::string& name, const std::string& options_hash, std::size_t parameter_dim, std::size_t data_dim) {
  for (const auto& s : served_simulators())
    if (s.name() == name && simulator_options_hash(s.info()) == options_hash && s.parameter_dim() == parameter_dim && s.data_dim() == data_dim)
      return &s;
  return nullptr;
}

struct SimulationJob {
  bool from_prior = true;
  std::string simulator, options_hash;
  std::uint64_t parameter_dim = 0, data_dim = 0;
  std::uint64_t seed = 0, first_index = 0;
  SimulationOptions options;
  std::string prior;  // JSON (prior draws only)

  // What every rank needs to run `simulator` on indices from `first_index` (progress and the stop
  // flag stay with rank 0).
  static SimulationJob for_simulator(const Simulator& simulator, bool from_prior, std::uint64_t seed, std::uint64_t first_index,
                                     const SimulationOptions& options) {
    SimulationJob job;
    job.from_prior = from_prior;
    job.simulator = simulator.name();
    job.options_hash = simulator_options_hash(simulator.info());
    job.parameter_dim = simulator.parameter_dim();
    job.data_dim = simulator.data_dim();
    job.seed = seed;
    job.first_index = first_index;
    job.options = options;
    job.options.on_progress = nullptr;
    job.options.stop = nullptr;
    return job;
  }

  std::string encode() const {
    cluster::ByteWriter w;
    w.put(from_prior).put_string(simulator).put_string(options_hash).put(parameter_dim).put(data_dim).put(seed).put(first_index);
    w.put(options.threads).put<std::uint64_t>(options.batch_size).put(options.failure_policy).put(options.max_redraws);
    w.put_string(prior);
    return w.take();
  }
  static SimulationJob decode(const std::string& bytes) {
    cluster::ByteReader r(bytes);
    SimulationJob job;
    job.from_prior = r.get<bool>();
    job.simulator = r.get_string();
    job.options_hash = r.get_string();
    job.parameter_dim = r.get<std::uint64_t>();
    job.data_dim = r.get<std::uint64_t>();
    job.seed = r.get<std::uint64_t>();
    job.first_index = r.get<std::uint64_t>();
    job.options.threads = r.get<int>();
    job.options.batch_size = r.get<std::uint64_t>();
    job.options.failure_policy = r.get<FailurePolicy>();
    job.options.max_redraws = r.get<int>();
    job.prior = r.get_string();
    return job;
  }
};

// Whether this call can spread its simulations over ranks, and the prior's JSON for the workers
// (prior draws only; a prior that does not survive the trip through JSON is simulated locally).
bool spread_over_ranks(const Simulator& simulator, const Prior* prior, std::string* prior_json) {
  if (!cluster::can_run_job()) return false;
  if (!find_served(simulator.name(), simulator_options_hash(simulator.info()), simulator.parameter_dim(), simulator.data_dim())) return false;
  if (!prior) return true;
  const auto json = portable_prior_json(*prior);
  if (json) *prior_json = *json;
  return json.has_value();
}

void put_matrix_rows(cluster::ByteWriter& w, const RowMatrix& m, Eigen::Index rows) {
  w.put_raw(m.data(), static_cast<std::size_t>(rows * m.cols()) * sizeof(double));
}

void get_matrix_rows(cluster::ByteReader& r, RowMatrix& m, Eigen::Index rows, Eigen::Index cols) {
  m.resize(rows, cols);
  r.get_raw(m.data(), static_cast<std::size_t>(rows * cols) * sizeof(double));
}

// A finished chunk as bytes: θ (prior draws only), y, and per row its outcome and counts.
std::string encode_work(const ChunkWork& work, std::size_t rows, bool with_theta) {
  cluster::ByteWriter w;
  const auto n = static_cast<Eigen::Index>(rows);
  if (with_theta) put_matrix_rows(w, work.theta, n);
  put_matrix_rows(w, work.y, n);
  for (std::size_t r = 0; r < rows; ++r) {
    w.put(work.outcomes[r].status).put_string(work.outcomes[r].message);
    w.put<std::uint64_t>(work.failures[r]).put<std::uint64_t>(work.non_finite[r]).put<std::uint64_t>(work.attempts[r]);
  }
  return w.take();
}

// Decodes into `work`; given parameters (with_theta false) are left as they are in work.theta.
void decode_work(const std::string& bytes, ChunkWork& work, std::size_t rows, bool with_theta, Eigen::Index theta_dim, Eigen::Index data_dim) {
  cluster::ByteReader r(bytes);
  const auto n = static_cast<Eigen::Index>(rows);
  if (with_theta) get_matrix_rows(r, work.theta, n, theta_dim);
  get_matrix_rows(r, work.y, n, data_dim);
  work.outcomes.resize(rows);
  work.failures.resize(rows);
  work.non_finite.resize(rows);
  work.attempts.resize(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    work.outcomes[i].status = r.get<SimulationStatus>();
    work.outcomes[i].message = r.get_string();
    work.failures[i] = r.get<std::uint64_t>();
    work.non_finite[i] = r.get<std::uint64_t>();
    work.attempts[i] = r.get<std::uint64_t>();
  }
  if (!r.done()) throw std::runtime_error("simulation chunk: unexpected bytes after the rows");
}

std::string encode_theta_rows(const RowMatrix& theta, std::uint64_t begin, std::uint64_t end) {
  cluster::ByteWriter w;
  w.put_raw(theta.row(static_cast<Eigen::Index>(begin)).data(), static_cast<std::size_t>(end - begin) * static_cast<std::size_t>(theta.cols()) * sizeof(double));
  return w.take();
}

cluster::JobOptions chunk_sizing(int threads, const SimulationOptions& options) {
  cluster::JobOptions sizing;
  sizing.first_chunk = static_cast<std::uint64_t>(threads) * 4;
  sizing.max_chunk = std::max<std::uint64_t>(sizing.first_chunk, options.batch_size * static_cast<std::uint64_t>(threads) * 8);
  sizing.target_seconds = 0.25;
  sizing.stop = options.stop;
  return sizing;
}

// What a worker rank runs for a simulation job: its own simulator, prior and chunk simulator.
struct WorkerSimulation {
  SimulationJob job;
  Simulator simulator;
  PriorPtr prior;
  std::unique_ptr<ChunkSimulator> runner;
};

cluster::ChunkFunction start_worker_simulation(const std::string& bytes) {
  auto state = std::make_shared<WorkerSimulation>();
  state->job = SimulationJob::decode(bytes);
  const Simulator* simulator = find_served(state->job.simulator, state->job.options_hash, state->job.parameter_dim, state->job.data_dim);
  if (!simulator)
    throw InputError("has no simulator \"" + state->job.simulator + "\" with options " + state->job.options_hash +
                     " (every rank must run the same command with the same spec)");
  state->simulator = *simulator;
  if (state->job.from_prior) state->prior = prior_from_json(nlohmann::json::parse(state->job.prior));
  state->runner = std::make_unique<ChunkSimulator>(state->simulator, state->prior.get(), state->job.seed, state->job.options);
  return [state](std::uint64_t begin, std::uint64_t end, const std::string& payload) {
    const auto rows = static_cast<std::size_t>(end - begin);
    ChunkWork work;
    work.first_index = state->job.first_index + begin;
    if (!state->job.from_prior) {
      cluster::ByteReader r(payload);
      get_matrix_rows(r, work.theta, static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(state->job.parameter_dim));
    }
    state->runner->simulate_chunk(work, rows);
    return encode_work(work, rows, state->job.from_prior);
  };
}

}  // namespace

std::string prior_misfit(const Prior& prior, const Simulator& simulator) {
  return prior_order_misfit(prior, simulator.info().parameter_names, "simulator \"" + simulator.name() + "\"");
}

void check_prior_fits(const Prior& prior, const Simulator& simulator, const std::string& context) {
  if (const std::string misfit = prior_misfit(prior, simulator); !misfit.empty()) throw InputError(context + ": the prior " + misfit);
}

SimulationSummary simulate_from_prior(const Simulator& simulator, const Prior& prior, std::size_t n, std::uint64_t seed,
                                      std::uint64_t first_index, const SimulationOptions& options,
                                      const std::function<void(const SimulationChunk&)>& sink) {
  validate_options(options);
  check_prior_fits(prior, simulator, "simulation");
  const auto start = Clock::now();
  ChunkSimulator runner(simulator, &prior, seed, options);
  SimulationSummary summary;
  summary.requested = n;
  summary.next_index = first_index;

  // Chunks grow until one takes about a quarter of a second: quick progress and Ctrl-C for slow
  // simulators, little overhead for fast ones. Chunk boundaries never affect the results.
  std::size_t chunk_rows = static_cast<std::size_t>(runner.threads()) * 4;
  const std::size_t max_chunk_rows = std::max<std::size_t>(chunk_rows, options.batch_size * runner.threads() * 8);
  SimulationChunk chunk;
  std::size_t done = 0;

  // Passes the finished simulations [0, rows) of `work` to the sink, in index order; under
  // FailurePolicy::fail stops with SimulationError at the first failure, after passing on the rows before it.
  auto emit = [&](const ChunkWork& work, std::size_t rows) {
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
  };

  if (std::string prior_json; spread_over_ranks(simulator, &prior, &prior_json)) {
    SimulationJob job = SimulationJob::for_simulator(simulator, true, seed, first_index, options);
    job.prior = std::move(prior_json);
    const auto theta_dim = static_cast<Eigen::Index>(simulator.parameter_dim());
    const auto data_dim = static_cast<Eigen::Index>(simulator.data_dim());
    ChunkWork received;
    const cluster::JobStats stats = cluster::run_job(
        kSimulateJob, job.encode(), n, chunk_sizing(runner.threads(), options),
        [&](std::uint64_t begin, std::uint64_t end, const std::string&) {
          ChunkWork work;  // on rank 0's compute thread: its own work, the runner's scratch
          work.first_index = first_index + begin;
          runner.simulate_chunk(work, static_cast<std::size_t>(end - begin));
          return encode_work(work, static_cast<std::size_t>(end - begin), true);
        },
        [&](std::uint64_t begin, std::uint64_t end, std::string&& bytes) {
          received.first_index = first_index + begin;
          decode_work(bytes, received, static_cast<std::size_t>(end - begin), true, theta_dim, data_dim);
          emit(received, static_cast<std::size_t>(end - begin));
        });
    summary.interrupted = stats.completed < n;
    summary.seconds = seconds_since(start);
    return summary;
  }

  ChunkWork work;
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
    emit(work, rows);
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
  const auto rows = static_cast<std::size_t>(theta.rows());
  if (std::string unused; rows > 0 && spread_over_ranks(simulator, nullptr, &unused)) {
    const SimulationJob job = SimulationJob::for_simulator(simulator, false, seed, first_index, options);
    work.y.resize(theta.rows(), static_cast<Eigen::Index>(simulator.data_dim()));
    work.outcomes.assign(rows, {});
    work.failures.assign(rows, 0);
    work.non_finite.assign(rows, 0);
    work.attempts.assign(rows, 0);
    ChunkWork received;
    cluster::JobOptions sizing = chunk_sizing(runner.threads(), options);
    sizing.stop = nullptr;  // the caller needs every row
    cluster::run_job(
        kSimulateJob, job.encode(), rows, sizing,
        [&](std::uint64_t begin, std::uint64_t end, const std::string&) {
          ChunkWork part;
          part.first_index = first_index + begin;
          part.theta = theta.middleRows(static_cast<Eigen::Index>(begin), static_cast<Eigen::Index>(end - begin));
          runner.simulate_chunk(part, static_cast<std::size_t>(end - begin));
          return encode_work(part, static_cast<std::size_t>(end - begin), false);
        },
        [&](std::uint64_t begin, std::uint64_t end, std::string&& bytes) {
          decode_work(bytes, received, static_cast<std::size_t>(end - begin), false, theta.cols(), work.y.cols());
          const auto b = static_cast<Eigen::Index>(begin), count = static_cast<Eigen::Index>(end - begin);
          work.y.middleRows(b, count) = received.y;
          for (std::size_t r = 0; r < end - begin; ++r) work.outcomes[begin + r] = std::move(received.outcomes[r]);
        },
        [&](std::uint64_t begin, std::uint64_t end) { return encode_theta_rows(theta, begin, end); });
  } else {
    runner.simulate_chunk(work, rows);
  }
  if (options.failure_policy == FailurePolicy::fail) {
    for (std::size_t r = 0; r < work.outcomes.size(); ++r)
      if (!work.outcomes[r].ok())
        throw SimulationError(failure_message(simulator, row_span(work.theta, static_cast<Eigen::Index>(r)), first_index + r, work.outcomes[r]));
  }
  if (outcomes) *outcomes = std::move(work.outcomes);
  return std::move(work.y);
}

bool serve_simulator_if_worker(const Simulator& simulator) {
  if (!cluster::active()) return false;
  if (simulator) served_simulators().push_back(simulator);
  if (cluster::is_driver()) return false;
  cluster::register_handler(kSimulateJob, start_worker_simulation);
  cluster::serve();
  return true;
}

}  // namespace sbi
