#include "sbi/autodiff/ops.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/sgd.hpp"
#include "sbi/optim/training.hpp"

#include <catch2/catch.hpp>

#include <numeric>
#include <set>

namespace {
using Mat = sbi::ad::Matrix<double>;
using sbi::ad::Tape;

// f(w) = Σ c_k (w_k - t_k)²: an ill-conditioned quadratic with its minimum at t.
template <class Optimizer>
Mat minimise_quadratic(Optimizer make, int steps) {
  sbi::nn::BasicParameter<double> w;
  w.value = Mat::Zero(1, 3);
  const Mat target{{1.0, -2.0, 0.5}};
  const Mat curvature{{1.0, 10.0, 100.0}};
  auto optimizer = make(sbi::nn::ParameterList<double>{&w});
  Tape<double> tape;
  for (int k = 0; k < steps; ++k) {
    auto scope = tape.scope();
    optimizer.zero_grad();
    const auto diff = sbi::ad::sub(w.on(tape), tape.constant(target));
    tape.backward(sbi::ad::sum(sbi::ad::mul(tape.constant(curvature), sbi::ad::square(diff))));
    optimizer.step();
  }
  return w.value - target;
}
}  // namespace

TEST_CASE("Adam, AdamW and SGD with momentum converge on a quadratic", "[optim]") {
  const Mat adam_error = minimise_quadratic(
      [](auto params) { return sbi::optim::BasicAdam<double>(params, {.learning_rate = 0.05}); }, 2000);
  CHECK(adam_error.cwiseAbs().maxCoeff() < 1e-4);
  const Mat adamw_error = minimise_quadratic(
      [](auto params) { return sbi::optim::BasicAdamW<double>(params, {.learning_rate = 0.05, .weight_decay = 0.0}); }, 2000);
  CHECK(adamw_error.cwiseAbs().maxCoeff() < 1e-4);
  const Mat sgd_error = minimise_quadratic(
      [](auto params) { return sbi::optim::BasicSgd<double>(params, {.learning_rate = 0.004, .momentum = 0.9}); }, 2000);
  CHECK(sgd_error.cwiseAbs().maxCoeff() < 1e-6);
}

TEST_CASE("AdamW decays weights without a gradient, options are validated", "[optim]") {
  sbi::nn::BasicParameter<double> w;
  w.value = Mat::Constant(1, 1, 2.0);
  sbi::optim::BasicAdamW<double> adamw({&w}, {.learning_rate = 0.1, .weight_decay = 0.5});
  adamw.zero_grad();
  adamw.step();
  CHECK(w.value(0, 0) == Approx(2.0 * (1 - 0.05)));
  CHECK_THROWS_WITH(sbi::optim::BasicAdam<double>({&w}, {.beta1 = 1.0}), Catch::Contains("beta1"));
  std::string why;
  CHECK_FALSE(sbi::optim::AdamOptions{.learning_rate = -1}.is_valid(&why));
  CHECK(why.find("learning_rate") != std::string::npos);
}

TEST_CASE("gradient-norm clipping and learning-rate schedules", "[optim]") {
  sbi::nn::BasicParameter<double> a, b;
  a.value = Mat::Zero(1, 2);
  b.value = Mat::Zero(1, 1);
  a.grad = (Mat(1, 2) << 3.0, 0.0).finished();
  b.grad = (Mat(1, 1) << 4.0).finished();
  CHECK(sbi::optim::clip_grad_norm<double>({&a, &b}, 1.0) == Approx(5.0));
  CHECK(a.grad(0, 0) == Approx(0.6));
  CHECK(b.grad(0, 0) == Approx(0.8));
  CHECK(sbi::optim::clip_grad_norm<double>({&a, &b}, 10.0) == Approx(1.0));
  CHECK(b.grad(0, 0) == Approx(0.8));

  using Schedule = sbi::optim::LearningRateSchedule;
  CHECK(Schedule::constant(0.1).rate(1000) == 0.1);
  const auto step = Schedule::step(1.0, 10, 0.5);
  CHECK(step.rate(9) == 1.0);
  CHECK(step.rate(10) == 0.5);
  CHECK(step.rate(25) == 0.25);
  const auto cosine = Schedule::cosine(1.0, 100, 0.1);
  CHECK(cosine.rate(0) == Approx(1.0));
  CHECK(cosine.rate(50) == Approx(0.55));
  CHECK(cosine.rate(100) == Approx(0.1));
  CHECK(cosine.rate(500) == Approx(0.1));
  CHECK_FALSE(Schedule::step(1.0, 0, 0.5).is_valid());
}

TEST_CASE("early stopping stops after patience and restores the best weights", "[optim]") {
  sbi::nn::BasicParameter<double> w;
  w.value = Mat::Zero(2, 2);
  sbi::optim::BasicEarlyStopping<double> stopper({&w}, {.patience = 3});
  const std::vector<double> losses = {5.0, 4.0, 2.0, 2.5, 3.0, 2.1, 9.0};
  int stopped_at = -1;
  for (int epoch = 0; epoch < static_cast<int>(losses.size()); ++epoch) {
    w.value.setConstant(epoch);  // "training" changes the weights every epoch
    if (stopper.update(losses[static_cast<std::size_t>(epoch)])) {
      stopped_at = epoch;
      break;
    }
  }
  CHECK(stopped_at == 5);
  CHECK(stopper.best_epoch() == 2);
  CHECK(stopper.best_loss() == 2.0);
  stopper.restore_best();
  CHECK(w.value == Mat::Constant(2, 2, 2.0));
}

TEST_CASE("seeded shuffling and splits are reproducible and complete", "[optim]") {
  sbi::Rng r1 = sbi::Rng::stream(42, 0), r2 = sbi::Rng::stream(42, 0), r3 = sbi::Rng::stream(43, 0);
  const auto a = sbi::optim::shuffled_batches(103, 10, r1);
  const auto b = sbi::optim::shuffled_batches(103, 10, r2);
  const auto c = sbi::optim::shuffled_batches(103, 10, r3);
  CHECK(a == b);
  CHECK(a != c);
  REQUIRE(a.size() == 11);
  CHECK(a.back().size() == 3);
  std::set<Eigen::Index> seen;
  for (const auto& batch : a) seen.insert(batch.begin(), batch.end());
  CHECK(seen.size() == 103);
  CHECK(sbi::optim::shuffled_batches(103, 10, r1, /*drop_last=*/true).size() == 10);
  // The next epoch draws a different order from the same stream.
  CHECK(sbi::optim::shuffled_batches(103, 10, r2) != a);

  const auto s1 = sbi::optim::train_validation_split(1000, 0.2, 7);
  const auto s2 = sbi::optim::train_validation_split(1000, 0.2, 7);
  CHECK(s1.train == s2.train);
  CHECK(s1.validation == s2.validation);
  CHECK(s1.validation.size() == 200);
  CHECK(s1.train.size() == 800);
  std::vector<Eigen::Index> all = s1.train;
  all.insert(all.end(), s1.validation.begin(), s1.validation.end());
  std::sort(all.begin(), all.end());
  std::vector<Eigen::Index> expected(1000);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(all == expected);
  CHECK(sbi::optim::train_validation_split(1000, 0.2, 8).validation != s1.validation);

  // The smallest n whose split has the asked-for counts: checked against the split itself.
  for (const double fraction : {0.01, 0.1, 0.25, 0.5, 0.9}) {
    for (const auto& [train, validation] : {std::pair<Eigen::Index, Eigen::Index>{2, 1}, {12, 12}, {1, 30}}) {
      INFO("fraction " << fraction << ", train " << train << ", validation " << validation);
      const Eigen::Index n = sbi::optim::minimum_rows_for_split(fraction, train, validation);
      const auto fits = [&](Eigen::Index rows) {
        const auto split = sbi::optim::train_validation_split(rows, fraction, 1);
        return static_cast<Eigen::Index>(split.train.size()) >= train && static_cast<Eigen::Index>(split.validation.size()) >= validation;
      };
      CHECK(fits(n));
      CHECK_FALSE(fits(n - 1));
    }
  }
  CHECK(sbi::optim::minimum_rows_for_split(0.1, 2, 1) == 5);  // llround(0.5) = 1 validation row

  const Mat data = (Mat(3, 2) << 1, 2, 3, 4, 5, 6).finished();
  const std::vector<Eigen::Index> rows = {2, 0};
  CHECK(sbi::optim::gather_rows(data, rows) == (Mat(2, 2) << 5, 6, 1, 2).finished());
}

TEST_CASE("an MLP classifier learns a separable problem, reproducibly", "[optim][nn]") {
  auto train = [](std::uint64_t seed) {
    sbi::Rng data_rng = sbi::Rng::stream(seed, 1);
    Eigen::MatrixXf x(512, 2), y(512, 1);
    for (int i = 0; i < 512; ++i) {
      x(i, 0) = static_cast<float>(data_rng.normal());
      x(i, 1) = static_cast<float>(data_rng.normal());
      y(i, 0) = x(i, 0) * x(i, 0) + x(i, 1) * x(i, 1) < 1.0f ? 1.0f : 0.0f;  // a disc: not linearly separable
    }
    sbi::nn::MlpOptions options;
    options.widths = {2, 32, 32, 1};
    options.activation = sbi::nn::Activation::elu;
    sbi::nn::Mlp net(options, seed);
    sbi::optim::Adam adam(net.parameters(), {.learning_rate = 1e-2});
    Tape<float> tape;
    sbi::Rng rng = sbi::Rng::stream(seed, 2);
    Eigen::MatrixXf xb, yb;
    float last = 0;
    for (int epoch = 0; epoch < 60; ++epoch)
      for (const auto& batch : sbi::optim::shuffled_batches(512, 64, rng)) {
        auto step = tape.scope();
        adam.zero_grad();
        sbi::optim::gather_rows(x, batch, xb);
        sbi::optim::gather_rows(y, batch, yb);
        const auto loss = sbi::nn::bce_with_logits(net.forward(tape.constant(xb)), tape.constant(yb));
        last = loss.item();
        tape.backward(loss);
        adam.step();
      }
    const Eigen::MatrixXf logits = net.predict(x);
    const float accuracy = ((logits.array() > 0).cast<float>() == y.array()).cast<float>().mean();
    return std::pair(accuracy, last);
  };
  const auto [accuracy, loss] = train(1);
  CHECK(accuracy > 0.95f);
  const auto again = train(1);
  CHECK(again.second == loss);  // same seed, same bits
}
