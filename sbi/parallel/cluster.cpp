// The parts of sbi/parallel/cluster.hpp that do not depend on the backend.
#include "sbi/parallel/cluster.hpp"

#include <cstdlib>
#include <iomanip>
#include <sstream>

namespace sbi::cluster {

bool report_stats() {
  const char* value = std::getenv("SBI_CLUSTER_STATS");
  return value != nullptr && *value != '\0' && std::string(value) != "0";
}

std::string describe(const JobStats& stats, const std::string& kind) {
  std::ostringstream out;
  out << "[sbi cluster] job " << kind << ": " << stats.completed << " indices in " << stats.chunks << " chunks, " << std::fixed
      << std::setprecision(3) << stats.seconds << " s (" << stats.sink_seconds << " s in the sink); chunks/indices per rank:";
  for (std::size_t r = 0; r < stats.chunks_per_rank.size(); ++r) out << ' ' << stats.chunks_per_rank[r] << '/' << stats.indices_per_rank[r];
  out << "; " << stats.bytes_received << " bytes received";
  if (stats.stopped) out << "; stopped";
  return out.str();
}

}  // namespace sbi::cluster
