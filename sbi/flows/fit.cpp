#include "sbi/flows/fit.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/parallel/parallel_for.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace sbi::flows {

bool DensityFitOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (batch_size < 1) return fail("batch_size: must be at least 1");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) return fail("learning_rate: must be positive");
  if (!(validation_fraction > 0 && validation_fraction < 0.5)) return fail("validation_fraction: must be in (0, 0.5)");
  if (max_epochs < 1) return fail("max_epochs: must be at least 1");
  if (patience < 1) return fail("patience: must be at least 1");
  if (!(clip_grad_norm >= 0)) return fail("clip_grad_norm: must be ≥ 0");
  if (!(learning_rate_decay > 0 && learning_rate_decay <= 1)) return fail("learning_rate_decay: must be in (0, 1]");
  if (decays < 0) return fail("decays: must be ≥ 0");
  if (race_window < 0) return fail("race_window: must be ≥ 0");
  if (!(race_margin >= 0) || !std::isfinite(race_margin)) return fail("race_margin: must be ≥ 0");
  return true;
}

nlohmann::json DensityFitOptions::to_json() const {
  return {{"batch_size", batch_size},   {"learning_rate", learning_rate}, {"validation_fraction", validation_fraction},
          {"max_epochs", max_epochs},   {"patience", patience},           {"clip_grad_norm", clip_grad_norm},
          {"learning_rate_decay", learning_rate_decay}, {"decays", decays},
          {"race_window", race_window}, {"race_margin", race_margin},
          {"z_score_x", z_score_x},     {"z_score_c", z_score_c},         {"seed", seed}};
}

DensityFitOptions DensityFitOptions::from_json(const nlohmann::json& j, const std::string& path) {
  DensityFitOptions o;
  JsonObjectReader r(j, path);
  o.batch_size = r.optional_integer("batch_size", o.batch_size, 1, 1 << 20);
  o.learning_rate = r.optional_positive_number("learning_rate", o.learning_rate);
  o.validation_fraction = r.optional_number_in("validation_fraction", o.validation_fraction, 0.001, 0.499);
  o.max_epochs = static_cast<int>(r.optional_integer("max_epochs", o.max_epochs, 1, 100000000));
  o.patience = static_cast<int>(r.optional_integer("patience", o.patience, 1, 100000000));
  o.clip_grad_norm = r.optional_number_in("clip_grad_norm", o.clip_grad_norm, 0.0, 1e12);
  o.learning_rate_decay = r.optional_number_in("learning_rate_decay", o.learning_rate_decay, 1e-6, 1.0);
  o.decays = static_cast<int>(r.optional_integer("decays", o.decays, 0, 1000));
  o.race_window = static_cast<int>(r.optional_integer("race_window", o.race_window, 0, 100000000));
  o.race_margin = r.optional_number_in("race_margin", o.race_margin, 0.0, 1e6);
  o.z_score_x = r.optional_bool("z_score_x", o.z_score_x);
  o.z_score_c = r.optional_bool("z_score_c", o.z_score_c);
  o.seed = r.optional_seed("seed", o.seed);
  r.reject_unknown_keys();
  return o;
}

PlateauDecay::PlateauDecay(double initial_rate, double factor, int max_decays)
    : initial_rate_(initial_rate), factor_(factor), max_decays_(max_decays) {}

double PlateauDecay::rate() const { return initial_rate_ * std::pow(factor_, done_); }

bool PlateauDecay::decay() {
  if (!(factor_ < 1) || done_ >= max_decays_) return false;
  ++done_;
  return true;
}

bool PlateauDecay::decay(optim::Adam& adam) {
  if (!decay()) return false;
  adam.set_learning_rate(rate());
  return true;
}

nlohmann::json PlateauDecay::state() const { return {{"decays", done_}}; }

void PlateauDecay::restore(const nlohmann::json& state) {
  if (state.is_object() && state.contains("decays")) done_ = state.at("decays").get<int>();
}

std::string DensityFitResult::brief_report() const {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, "epochs %d (best %d%s), validation -log q %.4f, %lld/%lld rows, %.1f s", epochs, best_epoch,
                interrupted ? ", interrupted" : left_race ? ", left the race" : stopped_early ? ", stopped early" : "", best_validation,
                static_cast<long long>(training_rows), static_cast<long long>(validation_rows), seconds);
  return buffer;
}

nlohmann::json DensityFitResult::to_json() const {
  return {{"epochs", epochs},
          {"best_epoch", best_epoch},
          {"best_validation", best_validation},
          {"stopped_early", stopped_early},
          {"interrupted", interrupted},
          {"left_race", left_race},
          {"skipped_steps", skipped_steps},
          {"final_learning_rate", final_learning_rate},
          {"seconds", seconds},
          {"training_rows", training_rows},
          {"validation_rows", validation_rows}};
}

void column_statistics(const RowMatrix& data, const std::vector<Eigen::Index>& rows, Vector& mean, Vector& sd) {
  const Eigen::Index d = data.cols();
  const double n = static_cast<double>(rows.size());
  mean.setZero(d);
  sd.setZero(d);
  for (const auto r : rows) mean += data.row(r).transpose();
  mean /= n;
  for (const auto r : rows) sd.array() += (data.row(r).transpose() - mean).array().square();
  for (Eigen::Index j = 0; j < d; ++j) {
    const double s = std::sqrt(sd(j) / std::max(n - 1.0, 1.0));
    // A constant column is centred, not scaled (its sd would blow rounding noise up). Relative to
    // the column's own size, so that data measured in small units (1e-15 A) keep their information.
    sd(j) = s > 1e-12 * std::abs(mean(j)) ? s : 1.0;
  }
}

namespace {

// fit_density with the training loop's give_up hook (none: train to the end).
DensityFitResult fit_density_until(ConditionalDensity& density, const RowMatrix& x, const RowMatrix& c, const DensityFitOptions& options,
                                   const TrainingCallbacks& callbacks, const std::function<bool(const optim::TrainingCurve&)>& give_up) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("density fit: " + why);
  if (x.cols() != density.data_dim() || c.cols() != density.context_dim())
    throw InputError("density fit: the estimator takes " + std::to_string(density.data_dim()) + " data and " +
                     std::to_string(density.context_dim()) + " context columns, got " + std::to_string(x.cols()) + " and " +
                     std::to_string(c.cols()));
  if (x.rows() != c.rows())
    throw InputError("density fit: " + std::to_string(x.rows()) + " data rows but " + std::to_string(c.rows()) + " context rows");
  for (Eigen::Index r = 0; r < x.rows(); ++r)
    if (!x.row(r).allFinite() || !c.row(r).allFinite())
      throw InputError("density fit: row " + std::to_string(r) + " has a non-finite value");

  const optim::Split split = optim::train_validation_split(x.rows(), options.validation_fraction, options.seed);
  if (split.train.size() < 2 || split.validation.empty())
    throw InputError("density fit: " + std::to_string(x.rows()) + " rows are too few for a training and a validation set");

  Standardization standardization;
  if (options.z_score_x) column_statistics(x, split.train, standardization.x_mean, standardization.x_sd);
  if (options.z_score_c) column_statistics(c, split.train, standardization.c_mean, standardization.c_sd);
  density.set_standardization(standardization);
  const Mat zx = density.standardize_x(x), zc = density.standardize_c(c);
  const Mat validation_x = optim::gather_rows(zx, std::span<const Eigen::Index>(split.validation));
  const Mat validation_c = optim::gather_rows(zc, std::span<const Eigen::Index>(split.validation));
  const double log_scale = density.log_x_scale();

  const auto parameters = density.parameters();
  optim::Adam adam(parameters, {.learning_rate = options.learning_rate});
  PlateauDecay schedule(options.learning_rate, options.learning_rate_decay, options.decays);
  const auto train_rows = static_cast<Eigen::Index>(split.train.size());
  const Eigen::Index batch = std::min(options.batch_size, train_rows);
  const int steps_per_epoch = static_cast<int>((train_rows + batch - 1) / batch);

  optim::TrainingLoopOptions loop_options;
  loop_options.max_steps = static_cast<int>(std::min<long long>(static_cast<long long>(options.max_epochs) * steps_per_epoch,
                                                                std::numeric_limits<int>::max()));
  loop_options.eval_every = steps_per_epoch;
  loop_options.patience = options.patience;
  optim::TrainingLoop loop(loop_options, {"train_nll"});
  loop.track(parameters);

  Tape tape, validation_tape;
  std::vector<Eigen::Index> order;
  Mat batch_x, batch_c;
  DensityFitResult result;
  optim::TrainingHooks hooks;
  hooks.step = [&](int step, std::span<double> losses) {
    const int in_epoch = (step - 1) % steps_per_epoch;
    if (in_epoch == 0 || order.empty()) {  // a new epoch, or resuming mid-epoch from a checkpoint
      Rng rng = Rng::stream(options.seed, static_cast<std::uint64_t>((step - 1) / steps_per_epoch), 0xba7c);
      order = optim::permutation(train_rows, rng);
      for (auto& k : order) k = split.train[static_cast<std::size_t>(k)];
    }
    const Eigen::Index first = static_cast<Eigen::Index>(in_epoch) * batch;
    const std::span<const Eigen::Index> rows(order.data() + first, static_cast<std::size_t>(std::min(batch, train_rows - first)));
    optim::gather_rows(zx, rows, batch_x);
    optim::gather_rows(zc, rows, batch_c);
    auto scope = tape.scope();
    adam.zero_grad();
    const Var loss = ad::neg(ad::mean(density.standardized_log_prob(tape.constant(batch_x), tape.constant(batch_c))));
    const double value = static_cast<double>(loss.item());
    losses[0] = value + log_scale;
    if (!std::isfinite(value)) {
      ++result.skipped_steps;
      return;
    }
    tape.backward(loss);
    if (options.clip_grad_norm > 0) optim::clip_grad_norm(parameters, options.clip_grad_norm);
    adam.step();
  };
  hooks.validate = [&] {
    double total = 0;
    const Eigen::Index n = validation_x.rows(), chunk = 4096;
    for (Eigen::Index first = 0; first < n; first += chunk) {
      const Eigen::Index count = std::min(chunk, n - first);
      auto scope = validation_tape.scope();
      const Mat lp = density
                         .evaluate_standardized_log_prob(validation_tape, validation_tape.constant(validation_x.middleRows(first, count)),
                                                         validation_tape.constant(validation_c.middleRows(first, count)))
                         .value();
      total += lp.cast<double>().sum();
    }
    return -total / static_cast<double>(n) + log_scale;
  };
  hooks.on_plateau = [&] { return schedule.decay(adam); };
  hooks.status = [&](const optim::TrainingRecord& record) {
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "epoch %d, train %.4f, validation %.4f", record.step / steps_per_epoch, record.losses[0],
                  record.validation);
    return std::string(buffer);
  };
  // The minibatch order is a function of (seed, epoch): the optimiser's step count and the skipped
  // steps are all a checkpoint needs besides the weights and their Adam moments.
  hooks.save_state = [&] {
    return nlohmann::json{{"adam_steps", adam.steps_taken()}, {"skipped_steps", result.skipped_steps}, {"schedule", schedule.state()}};
  };
  hooks.restore_state = [&](const nlohmann::json& state) {
    adam.set_steps_taken(state.at("adam_steps").get<long>());
    result.skipped_steps = state.at("skipped_steps").get<int>();
    if (state.contains("schedule")) {
      schedule.restore(state.at("schedule"));
      adam.set_learning_rate(schedule.rate());
    }
  };
  hooks.give_up = give_up;
  const optim::TrainingOutcome outcome = loop.run(hooks, callbacks);

  result.curve = outcome.curve;
  result.epochs = outcome.curve.records.empty() ? 0 : (outcome.curve.records.back().step + steps_per_epoch - 1) / steps_per_epoch;
  result.best_epoch = outcome.best_step / steps_per_epoch;
  result.best_validation = outcome.best_validation;
  result.stopped_early = outcome.stopped_early;
  result.interrupted = outcome.interrupted;
  result.left_race = outcome.gave_up;
  result.final_learning_rate = schedule.rate();
  result.seconds = outcome.seconds;
  result.training_rows = train_rows;
  result.validation_rows = static_cast<Eigen::Index>(split.validation.size());
  return result;
}

// Candidates trained side by side and compared epoch by epoch. After each epoch a candidate posts
// its best validation loss so far and waits until every other candidate has posted the same epoch
// (or finished), so what it is compared with does not depend on timing: the same seed keeps the
// same candidates for any thread count. Compute slots bound how many candidates train at once; a
// waiting candidate gives its slot up, so one thread interleaves the candidates epoch by epoch.
//
// A candidate leaves when it trails the leader (the lowest best loss at that epoch, finished
// candidates included) by more than the margin and by more than kHorizon times what it gained on
// the leader over the last `window` epochs: at that pace it would not catch up within kHorizon more
// windows. The pace matters: a MAF can trail a spline flow by a nat for 50 epochs and then pass it
// (slcp at 10^5, bench/npe/RESULTS.md §8).
class CandidateRace {
 public:
  static constexpr double kHorizon = 3;

  CandidateRace(std::size_t candidates, int slots, int window, double margin)
      : best_(candidates), finished_(candidates, false), free_slots_(slots), window_(static_cast<std::size_t>(window)), margin_(margin) {}

  void take_slot() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return free_slots_ > 0; });
    --free_slots_;
  }
  void give_slot() {
    {
      std::lock_guard lock(mutex_);
      ++free_slots_;
    }
    changed_.notify_all();
  }

  // Candidate i's check curve.records.size() (its epoch): true when i should leave the race.
  bool trailing(std::size_t i, const optim::TrainingCurve& curve) {
    const std::size_t epoch = curve.records.size();
    std::unique_lock lock(mutex_);
    ++free_slots_;
    // A resumed fit posts its restored epochs at its first check.
    std::vector<double>& own = best_[i];
    for (std::size_t e = own.size(); e < epoch; ++e) {
      const double previous = e == 0 ? std::numeric_limits<double>::infinity() : own[e - 1];
      const double v = curve.records[e].validation;
      own.push_back(std::isfinite(v) ? std::min(previous, v) : previous);
    }
    changed_.notify_all();
    changed_.wait(lock, [&] {
      for (std::size_t j = 0; j < best_.size(); ++j)
        if (best_[j].size() < epoch && !finished_[j]) return false;
      return true;
    });
    bool leave = false;
    if (epoch > window_) {
      std::size_t leader = i;
      for (std::size_t j = 0; j < best_.size(); ++j)
        if (best_at(j, epoch) < best_at(leader, epoch)) leader = j;
      const double gap = best_at(i, epoch) - best_at(leader, epoch);
      const double gained = (best_at(i, epoch - window_) - best_at(i, epoch)) - (best_at(leader, epoch - window_) - best_at(leader, epoch));
      // An infinite gap (no finite loss yet) is left to patience; so is a NaN gain (∞ − ∞).
      leave = std::isfinite(gap) && gap > margin_ && gap > kHorizon * gained;
    }
    changed_.wait(lock, [&] { return free_slots_ > 0; });
    --free_slots_;
    return leave;
  }

  // The lowest-numbered candidate not finished (the count when all are).
  std::size_t first_running() {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::find(finished_.begin(), finished_.end(), false) - finished_.begin());
  }

  void finish(std::size_t i) {
    {
      std::lock_guard lock(mutex_);
      finished_[i] = true;
    }
    changed_.notify_all();
  }

 private:
  // Candidate j's best loss up to `epoch` (its last if it finished before); +∞ before its first.
  double best_at(std::size_t j, std::size_t epoch) const {
    const auto& b = best_[j];
    if (b.empty() || epoch == 0) return std::numeric_limits<double>::infinity();
    return b[std::min(epoch, b.size()) - 1];
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::vector<double>> best_;  // best_[i][e − 1]: candidate i's best validation loss up to epoch e
  std::vector<bool> finished_;
  int free_slots_;
  std::size_t window_;
  double margin_;
};

}  // namespace

void check_density_trained(const DensityFitResult& result, const DensityFitOptions& options) {
  optim::require_finite_validation(result.best_validation, result.interrupted, "density fit",
                                   "learning_rate " + format_number(options.learning_rate) + "; try a smaller one");
}

DensityFitResult fit_density(ConditionalDensity& density, const RowMatrix& x, const RowMatrix& c, const DensityFitOptions& options,
                             const TrainingCallbacks& callbacks) {
  DensityFitResult result = fit_density_until(density, x, c, options, callbacks, {});
  check_density_trained(result, options);
  return result;
}

}  // namespace sbi::flows

namespace sbi::flows {

SelectedDensity fit_best_density(const std::vector<DensityEstimatorOptions>& candidates, const RowMatrix& x, const RowMatrix& c,
                                 std::uint64_t seed, const DensityFitOptions& options, const TrainingCallbacks& callbacks, int threads) {
  if (candidates.empty()) throw std::invalid_argument("fit_best_density: no estimator to fit");
  const std::size_t k = candidates.size();
  // Built (and their options checked) before any training starts.
  std::vector<std::unique_ptr<ConditionalDensity>> densities;
  densities.reserve(k);
  for (const auto& candidate : candidates) densities.push_back(make_density(candidate, x.cols(), c.cols(), seed));
  std::vector<DensityFitResult> results(k);
  const int workers = threads < 1 ? hardware_threads() : threads;
  // Progress comes from one candidate: the first, or in a race the first still training.
  auto callbacks_for = [&](std::size_t i, CandidateRace* race) {
    TrainingCallbacks own;
    own.stop = callbacks.stop;
    own.checkpoints = callbacks.checkpoints;
    own.checkpoint_key = i == 0 ? callbacks.checkpoint_key : callbacks.checkpoint_key + "-alternative-" + std::to_string(i);
    if ((i == 0 || race) && callbacks.on_progress) {
      if (k == 1) {
        own.on_progress = callbacks.on_progress;
      } else {
        const std::string label = " (" + to_string(candidates[i].type) + "; " + std::to_string(k - 1) + " more estimator" + (k > 2 ? "s" : "") +
                                  (race ? " racing it)" : " beside it)");
        own.on_progress = [&callbacks, label, race, i](const TrainingProgress& p) {
          if (race && race->first_running() != i) return;
          TrainingProgress labelled = p;
          labelled.stage += label;
          callbacks.report(labelled);
        };
      }
    }
    return own;
  };
  if (k == 1 || options.race_window == 0) {
    parallel_for(k, workers, [&](std::size_t i, std::size_t) { results[i] = fit_density(*densities[i], x, c, options, callbacks_for(i, nullptr)); });
  } else {
    // Every candidate needs its own thread to wait on the others; the slots keep `workers` of them busy.
    CandidateRace race(k, std::min<int>(workers, static_cast<int>(k)), options.race_window, options.race_margin);
    std::vector<std::exception_ptr> errors(k);
    {
      std::vector<std::jthread> racers;
      racers.reserve(k);
      for (std::size_t i = 0; i < k; ++i)
        racers.emplace_back([&, i] {
          race.take_slot();
          try {
            results[i] = fit_density_until(*densities[i], x, c, options, callbacks_for(i, &race),
                                           [&race, i](const optim::TrainingCurve& curve) { return race.trailing(i, curve); });
          } catch (...) {
            errors[i] = std::current_exception();
          }
          race.give_slot();
          race.finish(i);
        });
    }  // joins
    for (const auto& error : errors)
      if (error) std::rethrow_exception(error);
  }
  std::size_t best = 0;
  for (std::size_t i = 1; i < k; ++i)
    // A non-finite validation loss never wins; ties keep the earlier candidate.
    if (std::isfinite(results[i].best_validation) &&
        (!std::isfinite(results[best].best_validation) || results[i].best_validation < results[best].best_validation))
      best = i;
  check_density_trained(results[best], options);
  SelectedDensity selected;
  if (k > 1)
    for (std::size_t i = 0; i < k; ++i) selected.trials.push_back({candidates[i], results[i], i == best});
  selected.training = std::move(results[best]);
  selected.density = std::move(densities[best]);
  return selected;
}

nlohmann::json density_training_summary(const DensityFitResult& result, const std::vector<EstimatorTrial>& trials) {
  nlohmann::json j = {{"epochs", result.epochs},
                      {"best_epoch", result.best_epoch},
                      {"best_validation_nll", result.best_validation},
                      {"stopped_early", result.stopped_early},
                      {"interrupted", result.interrupted},
                      {"skipped_steps", result.skipped_steps},
                      {"final_learning_rate", result.final_learning_rate},
                      {"training_rows", result.training_rows},
                      {"validation_rows", result.validation_rows},
                      {"seconds", result.seconds}};
  if (!trials.empty()) {
    nlohmann::json tried = nlohmann::json::array();
    for (const auto& t : trials)
      tried.push_back({{"estimator", t.estimator.to_json()},
                       {"best_validation_nll", t.result.best_validation},
                       {"epochs", t.result.epochs},
                       {"best_epoch", t.result.best_epoch},
                       {"seconds", t.result.seconds},
                       {"left_race", t.result.left_race},
                       {"kept", t.kept}});
    j["estimators"] = std::move(tried);
  }
  return j;
}

}  // namespace sbi::flows
