#include "sbi/nn/threading.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <thread>

namespace sbi::nn {
namespace {
// Eigen's own default is "all cores" under OpenMP; networks here are small enough that one core
// is often faster, so start at 1 and let the caller opt in.
struct SingleThreadDefault {
  SingleThreadDefault() { Eigen::setNbThreads(1); }
} const single_thread_default;
}  // namespace

void set_num_threads(int threads) {
  const int available = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  Eigen::setNbThreads(std::clamp(threads, 1, available));
}

int num_threads() { return Eigen::nbThreads(); }

bool parallel_available() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace sbi::nn
