// sbi/parallel/cluster.hpp on MPI (the C API; compiled only when the build found MPI, SBI_MPI).
//
// Protocol. Every message is a header of five uint64 (type, job id, begin, end, extra) and a body.
// The driver sends JOB (body: kind, chunk sizing, the job's bytes) to every worker when a job starts;
// each worker answers READY (extra: the chunk size it wants) or ERROR (body: why). From then on
// every message from a worker is answered by exactly one CHUNK [begin, end) (body: the payload) or
// END_JOB, and every CHUNK by one RESULT (body: the result; extra: the next chunk size it wants) or
// ERROR. So a worker and the driver alternate strictly and no send can wait for another. SHUTDOWN
// (sent by finalize()) ends serve().
//
// Waiting ranks poll (MPI_Iprobe) and sleep between polls, up to a millisecond or two: a blocking
// receive would spin a core at 100% for as long as a worker waits (e.g. while rank 0 trains a
// network), which on a shared node would take the core from the ranks doing the work.
#include "sbi/parallel/bytes.hpp"
#include "sbi/parallel/cluster.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

namespace sbi::cluster {

namespace {

using Clock = std::chrono::steady_clock;

enum MessageType : std::uint64_t {
  kJob = 1,
  kChunk = 2,
  kEndJob = 3,
  kShutdown = 4,  // driver → worker
  kReady = 11,
  kResult = 12,
  kError = 13,  // worker → driver
};
constexpr int kTagToWorker = 17;
constexpr int kTagToDriver = 18;

struct State {
  bool initialized = false;
  bool finalized = false;
  int rank = 0;
  int size = 1;
  std::thread::id main_thread;
  bool job_running = false;
  bool served = false;
  std::uint64_t job_id = 0;
  std::map<std::string, JobHandler> handlers;
};

State& state() {
  static State s;
  return s;
}

bool launched_by_mpi() {
  if (const char* off = std::getenv("SBI_NO_MPI"); off && *off && std::string(off) != "0") return false;
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

// Sleeps between polls: not at all at first, then doubling up to `cap`.
class Backoff {
 public:
  explicit Backoff(std::chrono::microseconds cap) : cap_(cap) {}
  void reset() { polls_ = 0, wait_ = std::chrono::microseconds(10); }
  void pause() {
    if (++polls_ < 32) return;  // a few quick polls first: answers often arrive within microseconds
    std::this_thread::sleep_for(wait_);
    wait_ = std::min(cap_, wait_ * 2);
  }

 private:
  std::chrono::microseconds cap_;
  std::chrono::microseconds wait_{10};
  int polls_ = 0;
};

struct Message {
  std::uint64_t type = 0, job = 0, begin = 0, end = 0, extra = 0;
  std::string body;
  int source = 0;
};

constexpr std::size_t kHeaderBytes = 5 * sizeof(std::uint64_t);

void send(int destination, int tag, std::uint64_t type, std::uint64_t job, std::uint64_t begin, std::uint64_t end, std::uint64_t extra,
          const std::string& body = {}) {
  std::string bytes;
  bytes.reserve(kHeaderBytes + body.size());
  for (std::uint64_t v : {type, job, begin, end, extra}) bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  bytes += body;
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::runtime_error("cluster: a message of " + std::to_string(bytes.size()) + " bytes is too large for MPI (use smaller chunks)");
  MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, destination, tag, MPI_COMM_WORLD);
}

Message receive(const MPI_Status& status) {
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  std::string bytes(static_cast<std::size_t>(count), '\0');
  MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (bytes.size() < kHeaderBytes) throw std::runtime_error("cluster: a message of " + std::to_string(count) + " bytes has no header");
  Message m;
  std::uint64_t header[5];
  std::memcpy(header, bytes.data(), kHeaderBytes);
  m.type = header[0], m.job = header[1], m.begin = header[2], m.end = header[3], m.extra = header[4];
  m.body = bytes.substr(kHeaderBytes);
  m.source = status.MPI_SOURCE;
  return m;
}

bool poll(int source, int tag, MPI_Status& status) {
  int flag = 0;
  MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, &status);
  return flag != 0;
}

Message wait_for(int source, int tag) {
  Backoff backoff(std::chrono::microseconds(2000));
  MPI_Status status;
  while (!poll(source, tag, status)) backoff.pause();
  return receive(status);
}

std::uint64_t next_chunk_size(std::uint64_t current, double seconds, const JobOptions& options) {
  if (seconds < options.target_seconds && current < options.max_chunk) return std::min(options.max_chunk, current * 2);
  return current;
}

std::string describe_exception(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

bool built_with_mpi() { return true; }

void initialize(int* argc, char*** argv) {
  State& s = state();
  if (s.initialized || !launched_by_mpi()) return;
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &s.size);
  s.main_thread = std::this_thread::get_id();
  s.initialized = true;
}

void finalize() {
  State& s = state();
  if (!s.initialized || s.finalized) return;
  if (s.rank == 0)
    for (int r = 1; r < s.size; ++r) send(r, kTagToWorker, kShutdown, 0, 0, 0, 0);
  MPI_Finalize();
  s.finalized = true;
}

bool active() { return state().initialized && !state().finalized && state().size > 1; }
int rank() { return state().rank; }
int size() { return state().size; }

bool can_run_job() {
  const State& s = state();
  return active() && s.rank == 0 && std::this_thread::get_id() == s.main_thread && !s.job_running;
}

JobStats run_job(const std::string& kind, const std::string& job, std::uint64_t n, const JobOptions& options, const ChunkFunction& local,
                 const ChunkSink& sink, const PayloadFunction& payload) {
  if (!can_run_job())
    throw std::logic_error("cluster::run_job(\"" + kind + "\"): only on rank 0's main thread of an MPI job, one job at a time");
  State& s = state();
  s.job_running = true;
  struct Running {
    State& s;
    ~Running() { s.job_running = false; }
  } running{s};
  const std::uint64_t id = ++s.job_id;
  const auto start = Clock::now();
  JobStats stats;
  stats.chunks_per_rank.assign(static_cast<std::size_t>(s.size), 0);
  stats.indices_per_rank.assign(static_cast<std::size_t>(s.size), 0);
  const std::uint64_t first_chunk = std::max<std::uint64_t>(1, options.first_chunk);
  JobOptions sizing = options;
  if (const char* computes = std::getenv("SBI_RANK0_COMPUTES"); computes && std::string(computes) == "0") sizing.driver_computes = false;
  sizing.first_chunk = first_chunk;
  sizing.max_chunk = std::max(first_chunk, options.max_chunk);

  {
    ByteWriter w;
    w.put_string(kind).put(sizing.first_chunk).put(sizing.max_chunk).put(sizing.target_seconds).put_string(job);
    const std::string body = w.take();
    for (int r = 1; r < s.size; ++r) send(r, kTagToWorker, kJob, id, 0, n, 0, body);
  }

  // The scheduler: the next index to hand out. Shared by the MPI loop and the driver's compute thread.
  std::mutex scheduler_mutex;
  std::uint64_t next = 0;
  bool halted = false;
  auto halt = [&] {
    std::lock_guard lock(scheduler_mutex);
    halted = true;
  };
  auto take = [&](std::uint64_t wanted) -> std::optional<std::pair<std::uint64_t, std::uint64_t>> {
    std::lock_guard lock(scheduler_mutex);
    if (halted || next >= n) return std::nullopt;
    if (options.stop && options.stop->load()) {
      stats.stopped = true;
      return std::nullopt;
    }
    const std::uint64_t remaining = n - next;
    const std::uint64_t share = (remaining + static_cast<std::uint64_t>(s.size) - 1) / static_cast<std::uint64_t>(s.size);
    const std::uint64_t rows = std::min({std::max<std::uint64_t>(1, wanted), share, remaining});
    const std::uint64_t begin = next;
    next += rows;
    return std::pair{begin, next};
  };

  struct Finished {
    std::uint64_t begin, end;
    std::string result;
    int rank;
  };
  std::mutex finished_mutex;
  std::vector<Finished> local_finished;
  std::exception_ptr local_error;
  std::atomic<bool> local_running{sizing.driver_computes};
  std::jthread compute;
  if (sizing.driver_computes) {
    compute = std::jthread([&] {
      std::uint64_t wanted = sizing.first_chunk;
      while (auto range = take(wanted)) {
        const auto chunk_start = Clock::now();
        try {
          std::string result = local(range->first, range->second, payload ? payload(range->first, range->second) : std::string());
          wanted = next_chunk_size(wanted, std::chrono::duration<double>(Clock::now() - chunk_start).count(), sizing);
          std::lock_guard lock(finished_mutex);
          local_finished.push_back({range->first, range->second, std::move(result), 0});
        } catch (...) {
          {
            std::lock_guard lock(finished_mutex);
            local_error = std::current_exception();
          }
          halt();
          break;
        }
      }
      local_running = false;
    });
  }

  // Finished chunks wait here until every chunk before them has been delivered.
  std::map<std::uint64_t, Finished> pending;
  std::uint64_t delivered = 0;
  std::exception_ptr error;
  auto deliver = [&](Finished&& f) {
    stats.chunks_per_rank[static_cast<std::size_t>(f.rank)] += 1;
    stats.indices_per_rank[static_cast<std::size_t>(f.rank)] += f.end - f.begin;
    const std::uint64_t begin = f.begin;
    pending.emplace(begin, std::move(f));
    while (!pending.empty() && pending.begin()->first == delivered) {
      auto node = pending.extract(pending.begin());
      Finished& chunk = node.mapped();
      delivered = chunk.end;
      if (error) continue;
      try {
        const auto sink_start = Clock::now();
        sink(chunk.begin, chunk.end, std::move(chunk.result));
        stats.sink_seconds += std::chrono::duration<double>(Clock::now() - sink_start).count();
        stats.completed = delivered;
        ++stats.chunks;
      } catch (...) {
        error = std::current_exception();
        halt();
      }
    }
  };
  auto drain_local = [&] {
    std::vector<Finished> batch;
    {
      std::lock_guard lock(finished_mutex);
      batch.swap(local_finished);
    }
    for (auto& f : batch) deliver(std::move(f));
    return !batch.empty();
  };

  int workers_in_job = s.size - 1;
  Backoff backoff(std::chrono::microseconds(1000));
  try {
    while (workers_in_job > 0 || local_running.load()) {
      bool progressed = drain_local();
      MPI_Status status;
      while (poll(MPI_ANY_SOURCE, kTagToDriver, status)) {
        progressed = true;
        Message m = receive(status);
        if (m.job != id) continue;  // cannot happen: every message of a job is answered before the next job
        if (m.type == kResult) {
          stats.bytes_received += m.body.size();
          deliver({m.begin, m.end, std::move(m.body), m.source});
        } else if (m.type == kError) {
          if (!error) error = std::make_exception_ptr(std::runtime_error("rank " + std::to_string(m.source) + ": " + m.body));
          halt();
        }
        if (auto range = take(m.extra)) {
          send(m.source, kTagToWorker, kChunk, id, range->first, range->second, 0,
               payload ? payload(range->first, range->second) : std::string());
        } else {
          send(m.source, kTagToWorker, kEndJob, id, 0, 0, 0);
          --workers_in_job;
        }
      }
      if (progressed) backoff.reset();
      else backoff.pause();
    }
  } catch (...) {
    // An MPI-level failure (a payload that cannot be encoded, a message too large): the job cannot
    // be finished cleanly, so the process stops; MPI_Abort ends the other ranks too.
    halt();
    if (compute.joinable()) compute.join();
    std::fprintf(stderr, "sbi: cluster job %s failed on rank 0: %s\n", kind.c_str(), describe_exception(std::current_exception()).c_str());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (compute.joinable()) compute.join();
  drain_local();
  if (local_error && !error) error = local_error;
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (report_stats()) std::fprintf(stderr, "%s\n", describe(stats, kind).c_str());
  if (error) std::rethrow_exception(error);
  return stats;
}

void register_handler(const std::string& kind, JobHandler handler) { state().handlers[kind] = std::move(handler); }

bool served() { return state().served; }

void serve(const std::string& setup_error) {
  State& s = state();
  s.served = true;
  if (!active() || s.rank == 0) return;
  ChunkFunction chunk_function;
  JobOptions sizing;
  std::uint64_t wanted = 1;
  for (;;) {
    Message m = wait_for(0, kTagToWorker);
    switch (m.type) {
      case kShutdown:
        return;
      case kJob: {
        chunk_function = {};
        std::string why = setup_error;
        std::string kind;
        try {
          ByteReader r(m.body);
          kind = r.get_string();
          sizing.first_chunk = r.get<std::uint64_t>();
          sizing.max_chunk = r.get<std::uint64_t>();
          sizing.target_seconds = r.get<double>();
          const std::string job = r.get_string();
          wanted = sizing.first_chunk;
          if (why.empty()) {
            const auto handler = s.handlers.find(kind);
            if (handler == s.handlers.end())
              why = "cannot run a job of kind \"" + kind + "\" (this command does not hand such work to other ranks)";
            else
              chunk_function = handler->second(job);
          }
        } catch (const std::exception& e) {
          why = e.what();
        }
        if (why.empty()) send(0, kTagToDriver, kReady, m.job, 0, 0, wanted);
        else send(0, kTagToDriver, kError, m.job, 0, 0, 0, why);
        break;
      }
      case kChunk: {
        const auto chunk_start = Clock::now();
        std::string result;
        std::string why;
        try {
          if (!chunk_function) throw std::runtime_error("a chunk arrived outside a job");
          result = chunk_function(m.begin, m.end, m.body);
        } catch (const std::exception& e) {
          why = e.what();
        } catch (...) {
          why = "unknown error";
        }
        if (why.empty()) {
          wanted = next_chunk_size(wanted, std::chrono::duration<double>(Clock::now() - chunk_start).count(), sizing);
          send(0, kTagToDriver, kResult, m.job, m.begin, m.end, wanted, result);
        } else {
          send(0, kTagToDriver, kError, m.job, m.begin, m.end, 0, why);
        }
        break;
      }
      case kEndJob:
        chunk_function = {};
        break;
      default:
        std::fprintf(stderr, "sbi: rank %d: unexpected message type %llu from rank 0\n", s.rank, static_cast<unsigned long long>(m.type));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
}

}  // namespace sbi::cluster
