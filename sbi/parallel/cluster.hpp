#pragma once
// Work spread over the processes (ranks) of an MPI job.
//
// The same program runs alone or under an MPI launcher (mpirun, mpiexec, srun). Under a launcher,
// rank 0 (the driver) runs the program as it would alone; every other rank (a worker) serves the
// jobs the driver hands out and otherwise waits. A job cuts the indices [0, n) into chunks of
// consecutive indices; the driver hands chunks out one at a time to whichever rank asks next
// (dynamic scheduling, so ranks whose chunks take longer simply take fewer), runs chunks itself on a
// thread of its own, and receives the finished chunks in index order on its calling thread, whatever
// the order in which they finished. Work whose randomness comes from (seed, index) alone therefore
// gives the same bits on any number of ranks.
//
// No MPI type appears here. Without MPI (built with SBI_MPI=OFF or MPI not found, or not started by
// a launcher) there is one process: active() is false and nothing is ever handed out.
//
// Threads: only the thread that called initialize() talks to MPI (MPI_THREAD_FUNNELED). run_job()
// called from any other thread (or while a job is running) reports that it cannot spread the work
// (can_run_job() is false); callers then run the work themselves, with the same results.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sbi::cluster {

// True when this build has the MPI backend.
bool built_with_mpi();
// Starts MPI when the process was started by an MPI launcher (recognised from its environment:
// OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK, PMI_SIZE; SBI_NO_MPI=1 turns it off). Call once from
// main() before any other thread starts; does nothing otherwise or without MPI.
void initialize(int* argc, char*** argv);
// On the driver: tells the workers to leave serve(). Then, on every rank, shuts MPI down. Safe to
// call more than once and without initialize().
void finalize();

bool active();     // initialised with more than one rank
int rank();        // this process's rank (0 when alone)
int size();        // ranks in the job (1 when alone)
inline bool is_driver() { return rank() == 0; }
inline bool is_worker() { return rank() != 0; }

// Runs one chunk [begin, end) of a job and returns its result as bytes. `payload` is what the
// driver sent with the chunk (empty unless the job has a payload function).
using ChunkFunction = std::function<std::string(std::uint64_t begin, std::uint64_t end, const std::string& payload)>;
// Bytes the driver sends with chunk [begin, end) (e.g. the parameters to simulate).
using PayloadFunction = std::function<std::string(std::uint64_t begin, std::uint64_t end)>;
// Receives finished chunks on the driver's calling thread, in index order: chunk after chunk,
// [begin, end) following the previous one's end.
using ChunkSink = std::function<void(std::uint64_t begin, std::uint64_t end, std::string&& result)>;

struct JobOptions {
  // Chunk sizes: each rank starts at first_chunk indices and doubles its chunks while one takes less
  // than target_seconds, up to max_chunk; near the end no chunk exceeds a rank's share of what is left.
  std::uint64_t first_chunk = 1;
  std::uint64_t max_chunk = 1 << 20;
  double target_seconds = 0.25;
  // Set from outside (Ctrl-C): no more chunks are handed out; the chunks in flight are finished and
  // delivered.
  const std::atomic<bool>* stop = nullptr;
  // The driver runs chunks too, on a thread of its own (its main thread only talks to MPI). The
  // environment variable SBI_RANK0_COMPUTES=0 turns this off for every job (rank 0 then only hands
  // out chunks and receives them, e.g. on a large cluster where it has much to write).
  bool driver_computes = true;
};

struct JobStats {
  std::uint64_t completed = 0;               // indices delivered to the sink, from 0 on
  std::uint64_t chunks = 0;                  // chunks delivered
  std::vector<std::uint64_t> chunks_per_rank;
  std::vector<std::uint64_t> indices_per_rank;
  std::uint64_t bytes_received = 0;          // chunk results received from workers
  double seconds = 0;
  double sink_seconds = 0;                   // of which the driver spent in the sink (e.g. writing rows)
  bool stopped = false;                      // options.stop ended the job before n
};

// True when run_job() would spread a job over ranks: active(), on the driver, on the thread that
// called initialize(), and no job running.
bool can_run_job();

// Driver: runs the job `kind` over [0, n). `job` is sent to every worker, whose handler for `kind`
// (register_handler) turns it into the function that runs its chunks; `local` runs the driver's own
// chunks. If the sink throws, a chunk function throws on any rank or a worker cannot take the job, no
// more chunks are handed out, the chunks in flight are awaited (their results discarded), and the
// first error is rethrown (a worker's as std::runtime_error naming the rank). Logic error if
// !can_run_job().
JobStats run_job(const std::string& kind, const std::string& job, std::uint64_t n, const JobOptions& options,
                 const ChunkFunction& local, const ChunkSink& sink, const PayloadFunction& payload = {});

// Worker: how to run the jobs of `kind` (called with the job's bytes once per job; may throw, and the
// driver then reports the error). Registering a kind again replaces its handler.
using JobHandler = std::function<ChunkFunction(const std::string& job)>;
void register_handler(const std::string& kind, JobHandler handler);

// Worker: serves the driver's jobs until the driver calls finalize(). With `setup_error` not empty,
// every job is refused with that message (the worker could not set up what the command needs).
void serve(const std::string& setup_error = {});
// Whether serve() has run on this rank.
bool served();

// Prints one line per job to stderr on the driver (chunks and indices per rank, seconds) when the
// environment variable SBI_CLUSTER_STATS is set: for the benchmarks.
bool report_stats();
std::string describe(const JobStats& stats, const std::string& kind);

}  // namespace sbi::cluster
