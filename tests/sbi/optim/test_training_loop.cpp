// The shared training loop (sbi/optim/training_loop.hpp): checks, early stopping with the best
// weights restored, the stop flag, NaN handling and the training curve.
#include "sbi/optim/training_loop.hpp"

#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace sbi;

namespace {

// A "network" of one scalar parameter whose value after step s is s, and a scripted validation loss
// per check: the loop's bookkeeping can then be checked exactly.
struct Scripted {
  nn::Parameter parameter;
  std::vector<double> validation_losses;
  std::size_t checks = 0;

  Scripted() { parameter.value = ad::Matrix<float>::Zero(1, 1); }
  optim::TrainingHooks hooks() {
    optim::TrainingHooks h;
    h.step = [this](int step, std::span<double> losses) {
      parameter.value(0, 0) = static_cast<float>(step);
      losses[0] = 2.0 * step;
    };
    h.validate = [this] { return validation_losses.at(checks++); };
    return h;
  }
};

}  // namespace

TEST_CASE("the training loop stops after `patience` checks without improvement and restores the best weights", "[optim][training_loop]") {
  Scripted s;
  // Checks at steps 10, 20, ...: the best loss is at step 30; patience 2 stops at step 50.
  s.validation_losses = {5, 4, 1, 2, 3, 0.5, 0.1};
  optim::TrainingLoop loop({.max_steps = 1000, .min_steps = 0, .eval_every = 10, .patience = 2}, {"loss"});
  loop.track({&s.parameter});
  const auto outcome = loop.run(s.hooks());
  CHECK(outcome.best_step == 30);
  CHECK(outcome.best_validation == 1.0);
  CHECK(outcome.stopped_early);
  CHECK_FALSE(outcome.interrupted);
  CHECK(s.parameter.value(0, 0) == 30.0f);  // restored
  REQUIRE(outcome.curve.records.size() == 5);
  CHECK(outcome.curve.records.back().step == 50);
  // The mean training loss over steps 41..50 is 2 · 45.5.
  CHECK(outcome.curve.records.back().losses[0] == Approx(91.0));
  CHECK(outcome.curve.columns() == Names{"step", "loss", "validation", "seconds"});
}

TEST_CASE("the training loop honours min_steps, never counts NaN as an improvement, and checks at the last step", "[optim][training_loop]") {
  Scripted s;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  s.validation_losses = {nan, 3, nan, nan, nan, 2.9, 2.5};
  optim::TrainingLoop loop({.max_steps = 65, .min_steps = 60, .eval_every = 10, .patience = 1}, {"loss"});
  loop.track({&s.parameter});
  const auto outcome = loop.run(s.hooks());
  // Patience would stop at step 30, but min_steps keeps it going to 60, where the loss improves;
  // step 65 is the last (an extra check).
  CHECK(outcome.curve.records.size() == 7);
  CHECK(outcome.curve.records.back().step == 65);
  CHECK(outcome.best_step == 65);
  CHECK(s.parameter.value(0, 0) == 65.0f);
  CHECK_FALSE(outcome.stopped_early);
}

TEST_CASE("the stop flag ends training at the next step with the best weights so far", "[optim][training_loop]") {
  Scripted s;
  s.validation_losses = {3, 1, 2, 2, 2};
  std::atomic<bool> stop{false};
  optim::TrainingLoop loop({.max_steps = 1000, .eval_every = 10, .patience = 100}, {"loss"});
  loop.track({&s.parameter});
  auto hooks = s.hooks();
  const auto plain_step = hooks.step;
  hooks.step = [&](int step, std::span<double> losses) {
    plain_step(step, losses);
    if (step == 24) stop = true;  // between checks: the loop checks at once
  };
  std::vector<std::size_t> reported;
  TrainingCallbacks callbacks;
  callbacks.stop = &stop;
  callbacks.on_progress = [&](const TrainingProgress& p) { reported.push_back(p.done); };
  const auto outcome = loop.run(hooks, callbacks);
  CHECK(outcome.interrupted);
  CHECK(outcome.curve.records.back().step == 24);
  CHECK(s.parameter.value(0, 0) == 20.0f);
  CHECK(reported == std::vector<std::size_t>{10, 20, 24});
}

TEST_CASE("give_up sees every check's curve and ends training there with the best weights", "[optim][training_loop]") {
  Scripted s;
  s.validation_losses = {5, 4, 1, 2, 3, 0.5, 0.1};
  optim::TrainingLoop loop({.max_steps = 1000, .min_steps = 0, .eval_every = 10, .patience = 100}, {"loss"});
  loop.track({&s.parameter});
  auto hooks = s.hooks();
  std::vector<std::size_t> seen;
  hooks.give_up = [&](const optim::TrainingCurve& curve) {
    seen.push_back(curve.records.size());
    return curve.records.size() == 4;
  };
  const auto outcome = loop.run(hooks);
  CHECK(seen == std::vector<std::size_t>{1, 2, 3, 4});
  CHECK(outcome.gave_up);
  CHECK(outcome.stopped_early);
  CHECK(outcome.best_step == 30);
  CHECK(s.parameter.value(0, 0) == 30.0f);
  // At the last check give_up is still asked, but the run ends as it would have: not given up.
  Scripted t;
  t.validation_losses = {3, 2, 1};
  optim::TrainingLoop short_loop({.max_steps = 30, .min_steps = 0, .eval_every = 10, .patience = 100}, {"loss"});
  short_loop.track({&t.parameter});
  auto short_hooks = t.hooks();
  int asked = 0;
  short_hooks.give_up = [&](const optim::TrainingCurve&) { return ++asked == 3; };
  const auto full = short_loop.run(short_hooks);
  CHECK(asked == 3);
  CHECK_FALSE(full.gave_up);
  CHECK_FALSE(full.stopped_early);
}

TEST_CASE("the training curve round-trips through its table form, and bad options are refused", "[optim][training_loop]") {
  optim::TrainingCurve curve;
  curve.loss_names = {"a", "b"};
  curve.records = {{10, {1.0, 2.0}, 0.5, 0.1}, {20, {0.5, 1.5}, 0.25, 0.2}};
  const auto back = optim::TrainingCurve::from_table(curve.columns(), curve.to_matrix());
  CHECK(back.loss_names == curve.loss_names);
  REQUIRE(back.records.size() == 2);
  CHECK(back.records[1].losses[1] == 1.5);
  CHECK(back.records[1].validation == 0.25);
  CHECK_THROWS_AS(optim::TrainingCurve::from_table({"step", "validation"}, RowMatrix::Zero(1, 2)), InputError);
  CHECK_THROWS_AS(optim::TrainingCurve::from_table(curve.columns(), RowMatrix::Zero(1, 3)), InputError);
  CHECK_THROWS_WITH(optim::TrainingLoop({.max_steps = 0}, {}), "training loop: max_steps: must be at least 1");
  CHECK_THROWS_WITH(optim::TrainingLoop({.patience = 0}, {}), "training loop: patience: must be at least 1");
}
