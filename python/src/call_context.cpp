#include "python/src/call_context.hpp"

namespace sbipp {

namespace {

thread_local CallContext* active_context = nullptr;

// Reports closer together than this are dropped (the bars redraw at most ten times a second), unless
// a stage starts or ends.
constexpr auto kReportInterval = std::chrono::milliseconds(100);

void say_stopping() {
  PySys_WriteStderr("\n[sbipp] interrupted: finishing the work in flight and keeping what is done (Ctrl-C again to stop at once)\n");
}

}  // namespace

CallContext::CallContext(py::object progress) : progress_(std::move(progress)), caller_(std::this_thread::get_id()) {
  previous_ = active_context;
  active_context = this;
}

CallContext::~CallContext() { active_context = previous_; }

CallContext* CallContext::active() { return active_context; }

sbi::TrainingCallbacks CallContext::callbacks() {
  sbi::TrainingCallbacks callbacks;
  callbacks.stop = &stop_;
  callbacks.on_progress = [this](const sbi::TrainingProgress& progress) { on_progress(progress); };
  return callbacks;
}

bool CallContext::request_stop() { return !stop_.exchange(true); }

void CallContext::keep_error(py::error_already_set&& error) {
  const bool keyboard = error.matches(PyExc_KeyboardInterrupt);
  if (keyboard && interrupted()) throw std::move(error);  // the second Ctrl-C: stop at once
  if (!pending_) pending_.emplace(std::move(error));
  if (request_stop() && keyboard) say_stopping();
}

void CallContext::on_progress(const sbi::TrainingProgress& progress) {
  // Python's signal handlers run on the main thread only, and the bars belong to the caller.
  if (std::this_thread::get_id() != caller_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool new_stage = progress.stage != last_stage_;
  const bool stage_done = progress.total > 0 && progress.done >= progress.total;
  if (!new_stage && !stage_done && now - last_report_ < kReportInterval) return;
  last_stage_ = progress.stage;
  last_report_ = now;
  py::gil_scoped_acquire gil;
  if (!progress_.is_none() && !pending_) {
    try {
      progress_(progress.stage, progress.done, progress.total, progress.unit, progress.status);
    } catch (py::error_already_set& error) {
      keep_error(std::move(error));
      return;
    }
  }
  if (PyErr_CheckSignals() != 0) keep_error(py::error_already_set());
}

void CallContext::rethrow_pending() {
  if (!pending_) return;
  py::error_already_set error = std::move(*pending_);
  pending_.reset();
  if (error.matches(PyExc_KeyboardInterrupt)) return;  // reported as interrupted()
  throw std::move(error);
}

bool CallContext::stop_active_call() {
  CallContext* context = CallContext::active();
  if (!context || !context->request_stop()) return false;
  say_stopping();
  return true;
}

}  // namespace sbipp
