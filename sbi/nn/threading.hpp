#pragma once
// How many cores the network code may use. Eigen parallelises its large matrix products with
// OpenMP when the library is compiled with it (see bench/RESULTS.md); without OpenMP these calls
// are accepted and everything runs on one thread.
//
// Default: 1 thread. With one thread every result is bit-identical run to run. With more, Eigen
// splits each product into column blocks computed by the same kernel, so results are also
// identical run to run for a fixed thread count.
namespace sbi::nn {

void set_num_threads(int threads);  // clamped to [1, hardware threads]
int num_threads();
bool parallel_available();          // compiled with OpenMP

}  // namespace sbi::nn
