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

TrainingOutcome TrainingLoop::run(const TrainingHooks& hooks, const TrainingCallbacks& callbacks) {
  if (!hooks.step || !hooks.validate) throw std::invalid_argument("TrainingLoop::run: the step and validate hooks are required");
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  TrainingOutcome outcome;
  outcome.curve.loss_names = loss_names_;
  std::vector<ad::Matrix<float>> best_values;
  double best = std::numeric_limits<double>::infinity();
  int checks_since_best = 0;
  bool have_best = false;

  std::vector<double> step_losses(loss_names_.size()), loss_sums(loss_names_.size(), 0.0);
  int steps_since_record = 0;
  for (int step = 1; step <= options_.max_steps; ++step) {
    std::fill(step_losses.begin(), step_losses.end(), 0.0);
    hooks.step(step, step_losses);
    for (std::size_t k = 0; k < step_losses.size(); ++k) loss_sums[k] += step_losses[k];
    ++steps_since_record;

    const bool last = step == options_.max_steps;
    if (step % options_.eval_every != 0 && !last && !callbacks.stop_requested()) continue;
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
    if (callbacks.stop_requested()) {
      outcome.interrupted = true;
      break;
    }
    if (checks_since_best >= options_.patience && step >= options_.min_steps) {
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

}  // namespace sbi::optim
