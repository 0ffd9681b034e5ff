#include "sbi/optim/training_loop.hpp"

#include "sbi/core/error.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sbi::optim {

bool TrainingLoopOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (max_steps < 1) return fail("max_steps: must be at least 1");
  if (min_steps < 0) return fail("min_steps: must be ≥ 0");
  if (eval_every < 1) return fail("eval_every: must be at least 1");
  if (patience < 1) return fail("patience: must be at least 1");
  if (!(min_delta >= 0)) return fail("min_delta: must be ≥ 0");
  return true;
}

Names TrainingCurve::columns() const {
  Names names{"step"};
  names.insert(names.end(), loss_names.begin(), loss_names.end());
  names.push_back("validation");
  names.push_back("seconds");
  return names;
}

RowMatrix TrainingCurve::to_matrix() const {
  const auto width = static_cast<Eigen::Index>(loss_names.size() + 3);
  RowMatrix m(static_cast<Eigen::Index>(records.size()), width);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    const auto& record = records[i];
    m(r, 0) = record.step;
    for (std::size_t k = 0; k < loss_names.size(); ++k)
      m(r, static_cast<Eigen::Index>(k) + 1) = k < record.losses.size() ? record.losses[k] : std::numeric_limits<double>::quiet_NaN();
    m(r, width - 2) = record.validation;
    m(r, width - 1) = record.seconds;
  }
  return m;
}

TrainingCurve TrainingCurve::from_table(const Names& columns, const RowMatrix& values) {
  if (columns.size() < 3 || columns.front() != "step" || columns[columns.size() - 2] != "validation" || columns.back() != "seconds")
    throw InputError("training curve: expected the columns step, <losses...>, validation, seconds");
  if (values.cols() != static_cast<Eigen::Index>(columns.size()))
    throw InputError("training curve: " + std::to_string(values.cols()) + " values per row for " + std::to_string(columns.size()) + " columns");
  TrainingCurve curve;
  curve.loss_names.assign(columns.begin() + 1, columns.end() - 2);
  for (Eigen::Index r = 0; r < values.rows(); ++r) {
    TrainingRecord record;
    record.step = static_cast<int>(values(r, 0));
    for (std::size_t k = 0; k < curve.loss_names.size(); ++k) record.losses.push_back(values(r, static_cast<Eigen::Index>(k) + 1));
    record.validation = values(r, values.cols() - 2);
    record.seconds = values(r, values.cols() - 1);
    curve.records.push_back(std::move(record));
  }
  return curve;
}

TrainingLoop::TrainingLoop(TrainingLoopOptions options, std::vector<std::string> loss_names)
    : options_(std::move(options)), loss_names_(std::move(loss_names)) {
  std::string why;
  if (!options_.is_valid(&why)) throw InputError("training loop: " + why);
}

void TrainingLoop::track(const nn::ParameterList<float>& parameters) {
  tracked_.insert(tracked_.end(), parameters.begin(), parameters.end());
}

namespace {

ad::Matrix<float> copy_or_empty(const std::vector<ad::Matrix<float>>& values, std::size_t i) {
  return i < values.size() ? values[i] : ad::Matrix<float>();
}

}  // namespace

TrainingOutcome TrainingLoop::run(const TrainingHooks& hooks, const TrainingCallbacks& callbacks) {
  if (!hooks.step || !hooks.validate) throw std::invalid_argument("TrainingLoop::run: the step and validate hooks are required");
  const auto start = std::chrono::steady_clock::now();
  double seconds_before = 0;  // training time of the run this one resumes
  auto elapsed = [&] { return seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  TrainingOutcome outcome;
  outcome.curve.loss_names = loss_names_;
  std::vector<ad::Matrix<float>> best_values;
  double best = std::numeric_limits<double>::infinity();
  int checks_since_best = 0;
  bool have_best = false;
  std::vector<double> step_losses(loss_names_.size()), loss_sums(loss_names_.size(), 0.0);
  int steps_since_record = 0;
  int first_step = 1;

  CheckpointStore* const store = hooks.save_state && hooks.restore_state ? callbacks.checkpoints : nullptr;
  const std::string& key = callbacks.checkpoint_key;
  if (store) {
    if (std::optional<TrainingCheckpoint> c = store->load(key)) {
      auto refuse = [&](const std::string& why) {
        throw InputError("training checkpoint \"" + key + "\": " + why + " (was the spec or the method's options changed since it was written?)");
      };
      if (c->loss_names != loss_names_) refuse("it records other losses than this method's");
      if (c->parameters.size() != tracked_.size())
        refuse("it holds " + std::to_string(c->parameters.size()) + " parameter tensors, the network has " + std::to_string(tracked_.size()));
      for (std::size_t i = 0; i < tracked_.size(); ++i) {
        const auto& saved = c->parameters[i];
        const auto& value = tracked_[i]->value;
        if (saved.name != tracked_[i]->name || saved.value.rows() != value.rows() || saved.value.cols() != value.cols() ||
            (c->have_best && (saved.best.rows() != value.rows() || saved.best.cols() != value.cols())))
          refuse("its tensor " + std::to_string(i) + " (\"" + saved.name + "\") does not fit the network's \"" + tracked_[i]->name + "\"");
        for (const auto& slot : saved.slots)
          if (slot.rows() != value.rows() || slot.cols() != value.cols()) refuse("the optimiser state of \"" + saved.name + "\" has another shape");
      }
      if (c->step >= options_.max_steps) refuse("it is at step " + std::to_string(c->step) + ", beyond this run's " + std::to_string(options_.max_steps));
      for (std::size_t i = 0; i < tracked_.size(); ++i) {
        tracked_[i]->value = c->parameters[i].value;
        tracked_[i]->state = c->parameters[i].slots;
      }
      if (c->have_best) {
        best_values.resize(tracked_.size());
        for (std::size_t i = 0; i < tracked_.size(); ++i) best_values[i] = c->parameters[i].best;
      }
      have_best = c->have_best;
      best = c->have_best ? c->best_validation : best;
      outcome.best_step = c->best_step;
      checks_since_best = c->checks_since_best;
      steps_since_record = c->steps_since_record;
      loss_sums = c->loss_sums;
      seconds_before = c->seconds;
      for (std::size_t r = 0; r < c->record_steps.size(); ++r)
        outcome.curve.records.push_back({c->record_steps[r], c->record_losses[r], c->record_validation[r], c->record_seconds[r]});
      hooks.restore_state(c->method_state);
      first_step = c->step + 1;
    }
  }
  auto save_checkpoint = [&](int step) {
    TrainingCheckpoint c;
    c.step = step;
    c.have_best = have_best;
    c.best_validation = have_best ? best : 0.0;
    c.best_step = outcome.best_step;
    c.checks_since_best = checks_since_best;
    c.steps_since_record = steps_since_record;
    c.loss_sums = loss_sums;
    c.seconds = elapsed();
    c.loss_names = loss_names_;
    for (const auto& record : outcome.curve.records) {
      c.record_steps.push_back(record.step);
      c.record_losses.push_back(record.losses);
      c.record_validation.push_back(record.validation);
      c.record_seconds.push_back(record.seconds);
    }
    for (std::size_t i = 0; i < tracked_.size(); ++i)
      c.parameters.push_back({tracked_[i]->name, tracked_[i]->value, tracked_[i]->state, copy_or_empty(best_values, i)});
    c.method_state = hooks.save_state();
    store->save(key, c);
  };

  for (int step = first_step; step <= options_.max_steps; ++step) {
    std::fill(step_losses.begin(), step_losses.end(), 0.0);
    hooks.step(step, step_losses);
    for (std::size_t k = 0; k < step_losses.size(); ++k) loss_sums[k] += step_losses[k];
    ++steps_since_record;

    const bool last = step == options_.max_steps;
    const bool regular_check = step % options_.eval_every == 0 || last;
    if (!regular_check) {
      if (!callbacks.stop_requested()) continue;
      // Stopped between checks: the checkpoint is taken before the extra check below, so that a
      // resumed run sees the same checks (and early stopping) as one never stopped.
      if (store) save_checkpoint(step);
    }
    TrainingRecord record;
    record.step = step;
    for (double& sum : loss_sums) {
      record.losses.push_back(sum / steps_since_record);
      sum = 0;
    }
    steps_since_record = 0;
    if (hooks.before_validation) hooks.before_validation();
    record.validation = hooks.validate();
    // A NaN validation loss never improves; a first finite value always does.
    const bool improved = std::isfinite(record.validation) && (!have_best || record.validation < best - options_.min_delta);
    if (improved) {
      best = record.validation;
      have_best = true;
      outcome.best_step = step;
      checks_since_best = 0;
      best_values.resize(tracked_.size());
      for (std::size_t i = 0; i < tracked_.size(); ++i) best_values[i] = tracked_[i]->value;
    } else {
      ++checks_since_best;
    }
    if (hooks.after_validation) hooks.after_validation();
    record.seconds = elapsed();
    outcome.curve.records.push_back(record);

    TrainingProgress progress{options_.stage, static_cast<std::size_t>(step), static_cast<std::size_t>(options_.max_steps), "step",
                              hooks.status ? hooks.status(record) : std::string()};
    callbacks.report(progress);
    const bool stopping = callbacks.stop_requested();
    bool finished = last || (checks_since_best >= options_.patience && step >= options_.min_steps);
    if (finished && !last && !stopping && hooks.on_plateau && hooks.on_plateau()) {
      if (have_best)
        for (std::size_t i = 0; i < tracked_.size(); ++i) tracked_[i]->value = best_values[i];
      checks_since_best = 0;
      finished = false;
    }
    if (hooks.give_up && regular_check && !stopping && hooks.give_up(outcome.curve) && !finished) {
      finished = true;
      outcome.gave_up = true;
    }
    if (store && regular_check && !finished &&
        (stopping || outcome.curve.records.size() % static_cast<std::size_t>(std::max(1, store->every_checks)) == 0))
      save_checkpoint(step);
    if (stopping) {
      outcome.interrupted = true;
      break;
    }
    if (finished) {
      outcome.stopped_early = !last;
      break;
    }
  }
  if (have_best)
    for (std::size_t i = 0; i < tracked_.size(); ++i) tracked_[i]->value = best_values[i];
  outcome.best_validation = have_best ? best : std::numeric_limits<double>::quiet_NaN();
  outcome.seconds = elapsed();
  return outcome;
}

void require_finite_validation(double best_validation, bool interrupted, const std::string& what, const std::string& hint) {
  if (interrupted || std::isfinite(best_validation)) return;
  throw InputError(what + ": the validation loss was never finite, so no weights are worth keeping: training diverged" +
                   (hint.empty() ? std::string() : " (" + hint + ")"));
}

}  // namespace sbi::optim
