// The scheduler's cost per chunk (sbi/parallel/cluster.hpp), for bench/mpi/RESULTS.md:
//
//   mpirun -np K build/bench/mpi_chunk_overhead [CHUNKS] [RESULT_BYTES]
//
// Rank 0 hands out CHUNKS chunks of one index each to the K − 1 workers (it computes none itself);
// a chunk's work is nothing and its result RESULT_BYTES bytes. With one worker the time per chunk is
// the round trip (latency); with several it is how fast rank 0 can serve them (its throughput).
#include "sbi/parallel/cluster.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  sbi::cluster::initialize(&argc, &argv);
  if (!sbi::cluster::active()) {
    std::fprintf(stderr, "run under an MPI launcher with 2 or more ranks: mpirun -np K %s [CHUNKS] [RESULT_BYTES]\n", argv[0]);
    return 1;
  }
  const std::uint64_t chunks = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  const std::size_t result_bytes = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 0;
  sbi::cluster::register_handler("noop", [](const std::string& job) -> sbi::cluster::ChunkFunction {
    const std::size_t bytes = std::stoull(job);
    return [bytes](std::uint64_t, std::uint64_t, const std::string&) { return std::string(bytes, 'x'); };
  });
  if (sbi::cluster::is_worker()) {
    sbi::cluster::serve();
    sbi::cluster::finalize();
    return 0;
  }
  sbi::cluster::JobOptions options;
  options.first_chunk = options.max_chunk = 1;
  options.driver_computes = false;
  std::uint64_t received = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto stats = sbi::cluster::run_job(
      "noop", std::to_string(result_bytes), chunks, options, [](std::uint64_t, std::uint64_t, const std::string&) { return std::string(); },
      [&](std::uint64_t, std::uint64_t, std::string&& result) { received += result.size(); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("ranks %d (workers %d), chunks %llu, result %zu bytes: %.3f s, %.1f us per chunk, %.0f chunks/s\n", sbi::cluster::size(),
              sbi::cluster::size() - 1, static_cast<unsigned long long>(stats.chunks), result_bytes, seconds, 1e6 * seconds / static_cast<double>(stats.chunks),
              static_cast<double>(stats.chunks) / seconds);
  sbi::cluster::finalize();
  return received == chunks * result_bytes ? 0 : 1;
}
