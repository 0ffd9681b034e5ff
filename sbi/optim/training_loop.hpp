#pragma once
// The training loop every neural method uses: optimisation steps, a validation check every
// `eval_every` steps, early stopping that restores the best weights, a progress callback, a stop
// flag (Ctrl-C keeps the best weights so far) and the training curve.
//
//   sbi::optim::TrainingLoop loop(options, {"loss"});
//   loop.track(network.parameters());                 // snapshotted at the best validation loss
//   auto outcome = loop.run({
//       .step = [&](int step, std::span<double> losses) { ...one update...; losses[0] = loss; },
//       .validate = [&] { return validation_loss(); }}, callbacks);
//   // the tracked parameters now hold the best weights; outcome.curve is the training curve
//
// A method that validates another set of weights than it trains (LFVI's averaged generator) swaps
// them in and out with the before/after_validation hooks; the snapshot is taken in between.
#include "sbi/core/types.hpp"
#include "sbi/nn/parameter.hpp"
#include "sbi/optim/checkpoint.hpp"

#include <atomic>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace sbi {

// What a long run reports while it works, and how it is stopped (shared by every method).
struct TrainingProgress {
  std::string stage{};         // "train", "simulate", "round 2/5", ...
  std::size_t done = 0;      // steps (or simulations) done in this stage
  std::size_t total = 0;     // the stage's maximum
  std::string unit = "step";
  std::string status{};        // a short text: current losses, tolerance, ...
};

struct TrainingCallbacks {
  std::function<void(const TrainingProgress&)> on_progress;
  // Set from outside (Ctrl-C): the method stops at the next check and returns the best it has.
  const std::atomic<bool>* stop = nullptr;
  // Optional: where training loops resume from and write checkpoints (sbi/optim/checkpoint.hpp), under
  // `checkpoint_key`. Methods whose loops cannot resume exactly ignore it.
  CheckpointStore* checkpoints = nullptr;
  std::string checkpoint_key = "train";
  bool stop_requested() const { return stop && stop->load(); }
  void report(const TrainingProgress& progress) const {
    if (on_progress) on_progress(progress);
  }
};

}  // namespace sbi

namespace sbi::optim {

struct TrainingLoopOptions {
  int max_steps = 20000;     // optimisation steps
  int min_steps = 0;         // no early stop before this many steps
  int eval_every = 100;      // steps between validation checks
  int patience = 20;         // checks without improvement before stopping
  double min_delta = 0.0;    // an improvement must lower the best validation loss by more than this
  std::string stage = "train";  // label for progress reports

  bool is_valid(std::string* why = nullptr) const;
};

// One row of the training curve: mean training losses since the previous check, the validation
// loss, the time since the start.
struct TrainingRecord {
  int step = 0;
  std::vector<double> losses{};
  double validation = 0;
  double seconds = 0;
};

struct TrainingCurve {
  std::vector<std::string> loss_names{};  // columns of TrainingRecord::losses
  std::vector<TrainingRecord> records{};
  // Columns: step, <loss names>, validation, seconds.
  Names columns() const;
  RowMatrix to_matrix() const;
  // The inverse of (columns(), to_matrix()); throws InputError when the columns do not fit.
  static TrainingCurve from_table(const Names& columns, const RowMatrix& values);
};

struct TrainingOutcome {
  TrainingCurve curve;
  int best_step = 0;
  double best_validation = 0;
  bool stopped_early = false;
  bool interrupted = false;
  bool gave_up = false;  // ended by TrainingHooks::give_up
  double seconds = 0;
};

// InputError "<what>: the validation loss was never finite ... (<hint>)" when a run that was not
// interrupted ended without one finite validation loss: training diverged, the weights are whatever
// the optimiser left, and sampling them would give NaN.
void require_finite_validation(double best_validation, bool interrupted, const std::string& what, const std::string& hint);
inline void require_finite_validation(const TrainingOutcome& outcome, const std::string& what, const std::string& hint) {
  require_finite_validation(outcome.best_validation, outcome.interrupted, what, hint);
}

struct TrainingHooks {
  // One optimisation step (1-based); writes its losses (one per loss name) into `losses`.
  std::function<void(int step, std::span<double> losses)> step;
  // The validation loss (lower is better; NaN never counts as an improvement).
  std::function<double()> validate;
  std::function<void()> before_validation;  // optional
  std::function<void()> after_validation;   // optional
  // Optional: called when `patience` checks have passed without improvement (before max_steps).
  // Returning true continues training from the best weights with the count reset (the method has
  // changed something, e.g. lowered its learning rate); false, or no hook, stops.
  std::function<bool()> on_plateau;
  // Optional: called after every regular check (not when stopping) with the curve so far, restored
  // records included; returning true ends training there as if patience had run out (the best
  // weights kept). Called on the last check too, where its answer changes nothing, so that a caller
  // can follow every check (flows::fit_best_density races candidates with it).
  std::function<bool(const TrainingCurve&)> give_up;
  // Optional: a short status text for the progress report from the latest record.
  std::function<std::string(const TrainingRecord&)> status;
  // Optional, together: the method's own state outside the tracked parameters (random streams,
  // optimiser step counts, averaged weights) for checkpoints. A loop without them never checkpoints.
  std::function<nlohmann::json()> save_state;
  std::function<void(const nlohmann::json&)> restore_state;
};

class TrainingLoop {
 public:
  // Throws InputError when the options are invalid.
  TrainingLoop(TrainingLoopOptions options, std::vector<std::string> loss_names);

  // Parameters whose values are snapshotted at the best validation loss and restored at the end
  // (and, with their optimiser slots, saved in checkpoints).
  void track(const nn::ParameterList<float>& parameters);

  // With callbacks.checkpoints and the state hooks: run() first resumes from the store's checkpoint
  // under callbacks.checkpoint_key when there is one (InputError when it does not fit these
  // parameters), and writes one every `every_checks` validation checks and when stopped. A resumed
  // run ends with the same weights, curve and outcome as one never interrupted (the curve's seconds
  // aside).

  TrainingOutcome run(const TrainingHooks& hooks, const TrainingCallbacks& callbacks = {});

 private:
  TrainingLoopOptions options_;
  std::vector<std::string> loss_names_{};
  nn::ParameterList<float> tracked_;
};

}  // namespace sbi::optim
