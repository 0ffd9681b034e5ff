#include "sbi/util/allocator.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sbi {

bool configure_allocator() {
#if defined(__GLIBC__)
  constexpr int kMmapThreshold = 32 << 20;  // the largest glibc accepts on 64-bit
  constexpr int kTrimThreshold = 1 << 30;    // no trimming after every release
  constexpr int kTopPad = 64 << 20;
  bool ok = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1 && ok;
  ok = mallopt(M_TOP_PAD, kTopPad) == 1 && ok;
  return ok;
#else
  return false;
#endif
}

}  // namespace sbi
