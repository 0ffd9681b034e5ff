#include "sbi/parallel/parallel_for.hpp"

namespace sbi {

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

}  // namespace sbi
