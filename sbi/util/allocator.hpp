#pragma once
// Keeps freed memory in the process instead of handing it back to the kernel after every call.
//
// The autodiff core allocates a fresh matrix per operation. With glibc's defaults a matrix above the
// mmap threshold (128 KB at first, e.g. 1000 rows × 64 floats = 256 KB) is mapped on allocation and
// unmapped on release, and the heap is trimmed as soon as its free top exceeds the trim threshold, so
// a loop of mid-sized evaluations — a calibration check draws and scores 1000 rows per simulated case,
// from several threads — spends most of its time in page faults and zeroing new pages. Measured on the
// NPE posterior of two_moons (`sbi diagnose DIR --calibration 100 -L 1000 --threads 1`, 2-core AMD
// EPYC, 2026-12-02, by glibc's MALLOC_*_ environment variables): 14.9 s with the defaults, 0.88 s with
// the settings below, the same report apart from its times (bench/calibration/RESULTS.md).
//
// configure_allocator() raises the trim threshold to 1 GB, the top padding (what the heap grows by
// beyond a request) to 64 MB and the mmap threshold to 32 MB, so that such memory is reused. Each of the
// first two alone removes most of the cost (same command, glibc's variables one at a time on the binary
// before this function existed, load ≈ 2: trim threshold 1.66 s, top padding 0.72 s; a higher mmap
// threshold alone 14.2 s). The price: memory freed after a peak stays with the process until it exits.
// `sbi` and the Python module call it at start-up; a C++ program embedding the library may call it
// once before starting threads. It does nothing on other C libraries, and it changes no results.
namespace sbi {

// Returns true when the settings were applied (glibc).
bool configure_allocator();

}  // namespace sbi
