#pragma once
// One long library call made from Python (simulate, train, compare): progress goes to a Python
// callable, and Ctrl-C stops the call cleanly.
//
// Python's own SIGINT handler only sets a flag; the interpreter acts on it when Python code runs,
// which it does not while the library works with the GIL released. So every progress report (on the
// calling thread, at most ten a second unless the stage changes or ends) takes the GIL, forwards
// the report and calls PyErr_CheckSignals: a KeyboardInterrupt then sets the library's stop flag,
// and the library finishes the work in flight and returns what it has (the finished simulations,
// the best weights so far). The caller then sees interrupted() and raises sbipp.Interrupted with
// that partial result. Any other exception from the progress callable or a signal handler also
// stops the call and is raised again afterwards (rethrow_pending()).
//
// A Python simulator running inside the call (python/src/python_simulator.hpp) sees Ctrl-C as a
// KeyboardInterrupt in its own code: it asks the active context to stop and finishes its batch;
// a second Ctrl-C raises at once.
#include "python/src/common.hpp"
#include "sbi/optim/training_loop.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

namespace sbipp {

class CallContext {
 public:
  // `progress`: None, or a callable (stage, done, total, unit, status). Construct with the GIL held.
  explicit CallContext(py::object progress);
  ~CallContext();
  CallContext(const CallContext&) = delete;
  CallContext& operator=(const CallContext&) = delete;

  // Callbacks for the library call; valid while this context lives.
  sbi::TrainingCallbacks callbacks();
  const std::atomic<bool>* stop_flag() const { return &stop_; }

  // Asks the library to stop after the work in flight (first Ctrl-C). Returns false when a stop was
  // already requested (so a second Ctrl-C should end the call at once).
  bool request_stop();
  bool interrupted() const { return stop_.load(); }
  // With the GIL held, after the library call: raises the stored exception if it is not a
  // KeyboardInterrupt (those are reported through interrupted()).
  void rethrow_pending();

  // The context of the call in progress on this thread, or nullptr.
  static CallContext* active();
  // For a Python simulator whose code caught Ctrl-C (a KeyboardInterrupt): asks the active context
  // to stop after the work in flight and says so. False when there is none or a stop was already
  // requested: then the KeyboardInterrupt should end the call at once.
  static bool stop_active_call();

 private:
  void on_progress(const sbi::TrainingProgress& progress);
  // With the GIL held: stores the Python error in flight and requests a stop.
  void keep_error(py::error_already_set&& error);

  py::object progress_;
  std::atomic<bool> stop_{false};
  std::thread::id caller_;
  std::string last_stage_;
  std::chrono::steady_clock::time_point last_report_{};
  std::optional<py::error_already_set> pending_;
  CallContext* previous_ = nullptr;
};

}  // namespace sbipp
