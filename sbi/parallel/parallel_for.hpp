#pragma once
// Runs tasks 0..n−1 on a number of threads that pull tasks from a shared counter. Which thread runs
// which task varies from run to run, so tasks must not depend on it: results stay reproducible
// when each task draws from its own random stream.
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace sbi {

// Hardware threads, at least 1.
int hardware_threads();

// Calls task(i, worker) for every i in [0, n) on up to `threads` threads (the calling thread is
// worker 0); `worker` < threads identifies the thread, for per-thread scratch space. The first
// exception thrown by a task is rethrown here after all threads have stopped.
template <class Task>
void parallel_for(std::size_t n, int threads, const Task& task) {
  const std::size_t workers = std::min<std::size_t>(n, static_cast<std::size_t>(threads < 1 ? 1 : threads));
  if (workers <= 1) {
    for (std::size_t i = 0; i < n; ++i) task(i, std::size_t{0});
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&](std::size_t worker) {
    for (std::size_t i = next.fetch_add(1); i < n && !failed.load(std::memory_order_relaxed); i = next.fetch_add(1)) {
      try {
        task(i, worker);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::jthread> pool;
  pool.reserve(workers - 1);
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  pool.clear();  // joins
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace sbi
