// sbi/parallel/cluster.hpp without MPI (SBI_MPI=OFF or MPI not found): always one process.
#include "sbi/parallel/cluster.hpp"

#include <stdexcept>

namespace sbi::cluster {

bool built_with_mpi() { return false; }
void initialize(int*, char***) {}
void finalize() {}
bool active() { return false; }
int rank() { return 0; }
int size() { return 1; }
bool can_run_job() { return false; }

JobStats run_job(const std::string& kind, const std::string&, std::uint64_t, const JobOptions&, const ChunkFunction&, const ChunkSink&,
                 const PayloadFunction&) {
  throw std::logic_error("cluster::run_job(\"" + kind + "\"): this build has no MPI backend (check can_run_job() first)");
}

void register_handler(const std::string&, JobHandler) {}
void serve(const std::string&) {}
bool served() { return false; }

}  // namespace sbi::cluster
