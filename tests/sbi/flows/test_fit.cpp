// Maximum-likelihood fitting: the training loop's behaviour (curve, best weights, stop flag,
// determinism), normalisation after training, and accuracy on a known conditional Gaussian.
#include "flow_test_helpers.hpp"

#include "sbi/core/error.hpp"
#include "sbi/diagnostics/c2st.hpp"
#include "sbi/flows/fit.hpp"
#include "sbi/optim/training.hpp"

#include <catch2/catch.hpp>

#include <Eigen/Cholesky>

#include <algorithm>
#include <atomic>
#include <limits>
#include <numbers>

using namespace flow_tests;
using namespace sbi::flows;

namespace {

// x | c ~ N(A c + b, Σ), c ~ N(0, I₂): a conditional density every family can represent closely.
struct ConditionalGaussian {
  Eigen::Matrix2d A{{1.0, 0.5}, {-0.3, 0.8}};
  Eigen::Vector2d b{0.5, -1.0};
  Eigen::Matrix2d sigma{{0.25, 0.15}, {0.15, 0.2}};
  Eigen::Matrix2d L = sigma.llt().matrixL();

  void simulate(Eigen::Index n, std::uint64_t seed, RowMatrix& x, RowMatrix& c) const {
    c = normal_rows(n, 2, seed);
    const RowMatrix e = normal_rows(n, 2, seed + 1000);
    x.resize(n, 2);
    for (Eigen::Index r = 0; r < n; ++r) x.row(r) = (A * c.row(r).transpose() + b + L * e.row(r).transpose()).transpose();
  }
  RowMatrix sample(const Eigen::Vector2d& c, Eigen::Index n, std::uint64_t seed) const {
    const RowMatrix e = normal_rows(n, 2, seed);
    RowMatrix x(n, 2);
    for (Eigen::Index r = 0; r < n; ++r) x.row(r) = (A * c + b + L * e.row(r).transpose()).transpose();
    return x;
  }
  double log_prob(const Eigen::Vector2d& x, const Eigen::Vector2d& c) const {
    const Eigen::Vector2d z = L.triangularView<Eigen::Lower>().solve(x - A * c - b);
    return -0.5 * z.squaredNorm() - std::log(2 * std::numbers::pi) - std::log(L(0, 0) * L(1, 1));
  }
};

}  // namespace

TEST_CASE("fit: curve, best weights kept, integrates to one after training, same seed same bits", "[flows][fit]") {
  ConditionalGaussian truth;
  RowMatrix x, c;
  truth.simulate(1000, 1, x, c);
  DensityFitOptions options;
  options.max_epochs = 6;
  options.batch_size = 100;
  for (const auto& family : family_names()) {
    INFO(family);
    auto q = make_density(small_options(family), 2, 2, 31);
    const DensityFitResult result = fit_density(*q, x, c, options);
    CHECK(result.epochs == 6);
    CHECK(result.curve.records.size() == 6);
    CHECK(result.training_rows == 900);
    CHECK(result.validation_rows == 100);
    CHECK(std::isfinite(result.best_validation));
    // The kept weights are those of the best epoch: their validation loss is the recorded best
    // (recomputed here from the fitted estimator on the same validation rows).
    const auto split = sbi::optim::train_validation_split(1000, options.validation_fraction, options.seed);
    RowMatrix vx(100, 2), vc(100, 2);
    for (int k = 0; k < 100; ++k) {
      vx.row(k) = x.row(split.validation[static_cast<std::size_t>(k)]);
      vc.row(k) = c.row(split.validation[static_cast<std::size_t>(k)]);
    }
    CHECK(-q->log_prob(vx, vc).mean() == Approx(result.best_validation).epsilon(1e-5));
    double best = 1e300;
    for (const auto& record : result.curve.records) best = std::min(best, record.validation);
    CHECK(best == result.best_validation);
    // The standardisation is the training rows' (folded in); the density integrates to one in x's units.
    CHECK(q->standardization().x_mean.size() == 2);
    const Eigen::Vector2d c0(0.7, -0.4);
    const Eigen::Vector2d centre = truth.A * c0 + truth.b;
    CHECK(integrate_2d(*q, c0, centre.array() - 6.0, centre.array() + 6.0, 400) == Approx(1.0).margin(2e-3));

    auto again = make_density(small_options(family), 2, 2, 31);
    fit_density(*again, x, c, options);
    const auto pa = q->parameters(), pb = again->parameters();
    for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i]->value == pb[i]->value);
  }
}

TEST_CASE("column statistics scale a column by its own size: tiny units keep their information, rounding noise does not", "[flows][fit]") {
  RowMatrix data(4, 4);
  data << 1e-15, 3.0, 1000.0, 0.0,  //
      3e-15, 3.0, 1000.0 + 1e-10, 0.0, //
      2e-15, 3.0, 1000.0, 0.0,         //
      4e-15, 3.0, 1000.0, 0.0;
  const std::vector<Eigen::Index> rows = {0, 1, 2, 3};
  Vector mean, sd;
  column_statistics(data, rows, mean, sd);
  // Femtoampere-sized data: sd = sqrt(5/3) 1e-15, not mistaken for a constant.
  CHECK(sd(0) == Approx(std::sqrt(5.0 / 3.0) * 1e-15).epsilon(1e-9));
  // Constant, constant up to rounding (an sd of 5e-11 on 1000 is 5e-14 of it), and all zero: centred, not scaled.
  CHECK(sd(1) == 1.0);
  CHECK(sd(2) == 1.0);
  CHECK(sd(3) == 1.0);
  CHECK(mean(1) == 3.0);
}

TEST_CASE("fit: the stop flag ends training with the best weights, bad input is an InputError", "[flows][fit]") {
  ConditionalGaussian truth;
  RowMatrix x, c;
  truth.simulate(400, 2, x, c);
  auto q = make_density(small_options("mog"), 2, 2, 32);
  std::atomic<bool> stop{true};
  sbi::TrainingCallbacks callbacks;
  callbacks.stop = &stop;
  const auto result = fit_density(*q, x, c, {}, callbacks);
  CHECK(result.interrupted);
  CHECK(result.epochs <= 1);

  RowMatrix bad = x;
  bad(7, 1) = std::nan("");
  CHECK_THROWS_WITH(fit_density(*q, bad, c), Catch::Contains("row 7"));
  CHECK_THROWS_AS(fit_density(*q, x.topRows(3), c.topRows(3)), sbi::InputError);
  CHECK_THROWS_AS(fit_density(*q, x.leftCols(1), c), sbi::InputError);
}

TEST_CASE("plateau decay: when patience runs out, training goes on from the best weights at a lower rate", "[flows][fit]") {
  PlateauDecay schedule(0.01, 0.25, 2);
  CHECK(schedule.decay());
  CHECK(schedule.rate() == Approx(0.0025));
  PlateauDecay resumed(0.01, 0.25, 2);  // a resumed schedule continues exactly
  resumed.restore(schedule.state());
  CHECK(resumed.rate() == Approx(0.0025));
  CHECK(resumed.decay());
  CHECK(resumed.rate() == Approx(0.000625));
  CHECK_FALSE(resumed.decay());  // two decays at most
  CHECK(resumed.decays_done() == 2);
  PlateauDecay old(0.01, 0.25, 2);  // a state written before the schedule existed: the initial rate
  old.restore(nlohmann::json::object());
  CHECK(old.rate() == 0.01);
  PlateauDecay off(0.01, 1.0, 5);  // factor 1: patience stops training as before
  CHECK_FALSE(off.decay());

  DensityFitOptions bad;
  bad.learning_rate_decay = 1.5;
  CHECK_FALSE(bad.is_valid());
  CHECK_THROWS_WITH(DensityFitOptions::from_json(nlohmann::json::parse(R"({"learning_rate_decay": 0})")), Catch::Contains("learning_rate_decay"));
  CHECK(DensityFitOptions::from_json(nlohmann::json::parse(R"({"learning_rate_decay": 0.5, "decays": 3})")).decays == 3);

  // On a fit: the run with decays is the run without them up to its stop, then goes on and keeps
  // the best weights, so its best validation loss can only be lower or equal, never higher.
  ConditionalGaussian truth;
  RowMatrix x, c;
  truth.simulate(600, 4, x, c);
  DensityFitOptions plain;
  plain.batch_size = 50;
  plain.patience = 2;
  plain.max_epochs = 200;
  plain.learning_rate = 0.02;  // large, so plateaus come early
  DensityFitOptions decaying = plain;
  decaying.learning_rate_decay = 0.25;
  decaying.decays = 2;
  auto q_plain = make_density(small_options("maf"), 2, 2, 41);
  auto q_decay = make_density(small_options("maf"), 2, 2, 41);
  const DensityFitResult a = fit_density(*q_plain, x, c, plain);
  const DensityFitResult b = fit_density(*q_decay, x, c, decaying);
  REQUIRE(a.stopped_early);
  CHECK(a.final_learning_rate == 0.02);
  CHECK(b.final_learning_rate == Approx(0.02 * 0.25 * 0.25));
  CHECK(b.epochs > a.epochs);
  CHECK(b.best_validation <= a.best_validation);
  for (std::size_t k = 0; k < a.curve.records.size(); ++k) CHECK(b.curve.records[k].validation == a.curve.records[k].validation);
  // The kept weights are the best epoch's.
  double best = 1e300;
  for (const auto& record : b.curve.records) best = std::min(best, record.validation);
  CHECK(best == b.best_validation);
}

TEST_CASE("fit_best_density: each trial is what fit_density gives alone, the lowest validation loss is kept", "[flows][fit]") {
  // x | c = c + s·(1, 1) + N(0, 0.1²) noise with s = ±1 at random: two modes, which the families
  // below fit unequally well in a short training.
  const Eigen::Index n = 1000;
  const RowMatrix c = normal_rows(n, 2, 41);
  const RowMatrix noise = normal_rows(n, 2, 42, 0.1);
  sbi::Rng coin(43);
  RowMatrix x(n, 2);
  for (Eigen::Index r = 0; r < n; ++r) {
    const double s = coin.uniform() < 0.5 ? -1.0 : 1.0;
    x.row(r) = c.row(r) + noise.row(r) + RowMatrix::Constant(1, 2, s);
  }
  DensityEstimatorOptions one = small_options("mog"), three = small_options("mog");
  one.components = 1;
  three.components = 3;
  DensityFitOptions options;
  options.max_epochs = 30;
  options.batch_size = 50;
  const std::vector<DensityEstimatorOptions> candidates = {one, three, small_options("maf")};
  const SelectedDensity selected = fit_best_density(candidates, x, c, 7, options, {}, /*threads=*/2);
  REQUIRE(selected.trials.size() == 3);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < 3; ++i)
    if (selected.trials[i].kept) kept = i;
  for (std::size_t i = 0; i < 3; ++i) CHECK(selected.trials[kept].result.best_validation <= selected.trials[i].result.best_validation);
  CHECK(std::count_if(selected.trials.begin(), selected.trials.end(), [](const EstimatorTrial& t) { return t.kept; }) == 1);
  CHECK(selected.density->options().to_json() == candidates[kept].to_json());
  CHECK(selected.training.best_validation == selected.trials[kept].result.best_validation);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    INFO("candidate " << i);
    auto alone = make_density(candidates[i], 2, 2, 7);
    const DensityFitResult result = fit_density(*alone, x, c, options);
    CHECK(result.best_validation == selected.trials[i].result.best_validation);
    if (i == kept) {
      const auto pa = alone->parameters(), pb = selected.density->parameters();
      for (std::size_t k = 0; k < pa.size(); ++k) CHECK(pa[k]->value == pb[k]->value);
    }
  }
  // One thread or two: the same estimators, the same choice.
  const SelectedDensity serial = fit_best_density(candidates, x, c, 7, options, {}, /*threads=*/1);
  for (std::size_t i = 0; i < candidates.size(); ++i) CHECK(serial.trials[i].result.best_validation == selected.trials[i].result.best_validation);
  // A single candidate: no trials listed, the estimator fitted as by fit_density.
  const SelectedDensity single = fit_best_density({one}, x, c, 7, options);
  CHECK(single.trials.empty());
  CHECK(single.training.best_validation == selected.trials[0].result.best_validation);
  const nlohmann::json summary = density_training_summary(selected.training, selected.trials);
  REQUIRE(summary.at("estimators").size() == 3);
  CHECK(summary.at("estimators")[kept].at("kept") == true);
  CHECK_FALSE(density_training_summary(single.training, single.trials).contains("estimators"));
}

TEST_CASE("fit_best_density race: trailing candidates stop early, the rest is as without it, any thread count", "[flows][fit]") {
  // The two-mode data of the test above, on which a one-component mixture trails the others.
  const Eigen::Index n = 1000;
  const RowMatrix c = normal_rows(n, 2, 41);
  const RowMatrix noise = normal_rows(n, 2, 42, 0.1);
  sbi::Rng coin(43);
  RowMatrix x(n, 2);
  for (Eigen::Index r = 0; r < n; ++r) {
    const double s = coin.uniform() < 0.5 ? -1.0 : 1.0;
    x.row(r) = c.row(r) + noise.row(r) + RowMatrix::Constant(1, 2, s);
  }
  DensityEstimatorOptions one = small_options("mog"), three = small_options("mog");
  one.components = 1;
  three.components = 3;
  const std::vector<DensityEstimatorOptions> candidates = {one, three, small_options("maf")};
  DensityFitOptions options;
  options.max_epochs = 30;
  options.batch_size = 50;
  const SelectedDensity full = fit_best_density(candidates, x, c, 7, options, {}, /*threads=*/2);
  options.race_window = 3;
  options.race_margin = 0.05;
  const SelectedDensity raced = fit_best_density(candidates, x, c, 7, options, {}, /*threads=*/2);
  REQUIRE(raced.trials.size() == 3);

  auto best_up_to = [](const DensityFitResult& r, std::size_t epochs) {
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t e = 0; e < std::min(epochs, r.curve.records.size()); ++e) best = std::min(best, r.curve.records[e].validation);
    return best;
  };
  // The rule, from the curves: behind the leader by more than the margin, and by more than three
  // times what it gained on the leader over the last window (3 epochs).
  auto should_leave = [&](std::size_t i, std::size_t epoch) {
    std::size_t leader = 0;
    for (std::size_t j = 1; j < candidates.size(); ++j)
      if (best_up_to(raced.trials[j].result, epoch) < best_up_to(raced.trials[leader].result, epoch)) leader = j;
    const auto& mine = raced.trials[i].result;
    const auto& lead = raced.trials[leader].result;
    const double gap = best_up_to(mine, epoch) - best_up_to(lead, epoch);
    const double gained = (best_up_to(mine, epoch - 3) - best_up_to(mine, epoch)) - (best_up_to(lead, epoch - 3) - best_up_to(lead, epoch));
    return gap > 0.05 && gap > 3 * gained;
  };
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    INFO("candidate " << i);
    const DensityFitResult& r = raced.trials[i].result;
    const DensityFitResult& f = full.trials[i].result;
    // Up to where it stopped, a candidate trains as without the race.
    REQUIRE(r.curve.records.size() <= f.curve.records.size());
    for (std::size_t e = 0; e < r.curve.records.size(); ++e) CHECK(r.curve.records[e].validation == f.curve.records[e].validation);
    const std::size_t epochs = r.curve.records.size();
    // Never asked to leave before the window has passed, nor at an epoch the rule lets it stay.
    for (std::size_t e = 4; e < epochs; ++e) CHECK_FALSE(should_leave(i, e));
    if (!r.left_race) {
      CHECK(r.best_validation == f.best_validation);
      CHECK(epochs == f.curve.records.size());
      continue;
    }
    CHECK_FALSE(raced.trials[i].kept);
    CHECK(epochs >= 4);
    CHECK(epochs < f.curve.records.size());
    CHECK(should_leave(i, epochs));
  }
  CHECK(raced.trials[0].result.left_race);  // the one-component mixture cannot fit two modes
  // The kept candidate is the best of those that finished, never one that left (it trailed whoever
  // led then, and the leader's best only fell) — not always the full training's choice, since a
  // candidate that trails early and catches up late is lost: the risk the rule bounds.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (raced.trials[i].kept) kept = i;
  CHECK_FALSE(raced.trials[kept].result.left_race);
  for (const auto& t : raced.trials) CHECK(raced.training.best_validation <= t.result.best_validation);
  CHECK(raced.training.best_validation == full.trials[kept].result.best_validation);
  CHECK(density_training_summary(raced.training, raced.trials).at("estimators")[0].at("left_race") == true);
  // The same candidates stop at the same epochs on one, two or three threads.
  for (int threads : {1, 3}) {
    INFO(threads << " threads");
    const SelectedDensity again = fit_best_density(candidates, x, c, 7, options, {}, threads);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      CHECK(again.trials[i].result.curve.records.size() == raced.trials[i].result.curve.records.size());
      CHECK(again.trials[i].result.best_validation == raced.trials[i].result.best_validation);
    }
  }
  // An invalid race setting is an InputError.
  options.race_margin = -1;
  CHECK_THROWS_AS(fit_best_density(candidates, x, c, 7, options), sbi::InputError);
}

TEST_CASE("fit: every family learns a conditional Gaussian (KL and C2ST against exact samples)", "[flows][fit][.slow]") {
  // Tolerances. KL(p‖q) is estimated by the mean of log p − log q over 5,000 exact draws for one
  // context; we require < 0.05 nats. By Pinsker TV ≤ √(KL/2) = 0.158, so no classifier separates
  // the two beyond accuracy 0.5 + TV/2 = 0.579; C2ST on 2,000 + 2,000 draws adds sampling noise of
  // sd √(0.25/4000) ≈ 0.008, hence the bound 0.579 + 3·0.008 ≈ 0.60 on C2ST.
  ConditionalGaussian truth;
  RowMatrix x, c;
  truth.simulate(10000, 3, x, c);
  DensityFitOptions options;
  options.max_epochs = 200;
  options.batch_size = 128;
  options.learning_rate = 1e-3;
  const Eigen::Vector2d c0(0.7, -0.4);
  for (const auto& family : family_names()) {
    INFO(family);
    DensityEstimatorOptions o = small_options(family);
    o.hidden = {32, 32};
    auto q = make_density(o, 2, 2, 33);
    const auto result = fit_density(*q, x, c, options);
    INFO(result.brief_report());
    const RowMatrix exact = truth.sample(c0, 5000, 77);
    const Vector lq = q->log_prob(exact, RowMatrix(c0.transpose()));
    double kl = 0;
    for (Eigen::Index r = 0; r < exact.rows(); ++r) kl += truth.log_prob(exact.row(r).transpose(), c0) - lq(r);
    kl /= static_cast<double>(exact.rows());
    sbi::Rng rng = sbi::Rng::stream(9, 0);
    const RowMatrix drawn = q->sample(c0, 2000, rng);
    sbi::C2stOptions c2st_options;
    c2st_options.threads = 1;
    const double accuracy = sbi::c2st(exact.topRows(2000), drawn, c2st_options);
    INFO("KL " << kl << ", C2ST " << accuracy);
    CHECK(kl < 0.05);
    CHECK(accuracy < 0.60);
  }
}
