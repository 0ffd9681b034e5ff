// Neural ratio estimation: every variant learns the ratio of a conjugate Gaussian model well enough
// that the posterior it implies matches the exact one; options are checked with JSON paths.
#include "sbi/inference/nre.hpp"

#include "sbi/core/error.hpp"
#include "sbi/priors/prior.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace sbi;

namespace {

// θ ~ N(0, 1), y ~ N(θ, 0.5²): the posterior for y is N(0.8 y, 0.2).
struct Conjugate {
  PriorPtr prior = std::make_shared<NormalPrior>(NormalPrior::diagonal(Vector::Zero(1), Vector::Ones(1), {"theta"}));
  RowMatrix theta, y;
  explicit Conjugate(Eigen::Index n) {
    Rng rng(17);
    theta.resize(n, 1);
    y.resize(n, 1);
    for (Eigen::Index i = 0; i < n; ++i) {
      theta(i, 0) = rng.normal();
      y(i, 0) = theta(i, 0) + 0.5 * rng.normal();
    }
  }
};

// Mean and sd of the density ∝ π(θ) exp(r(θ, y)) on a fine grid over ±6 prior sds.
std::pair<double, double> implied_posterior(const NreFit& fit, const Prior& prior, double y) {
  const Eigen::Index m = 1201;
  RowMatrix grid(m, 1);
  for (Eigen::Index i = 0; i < m; ++i) grid(i, 0) = -6.0 + 12.0 * static_cast<double>(i) / static_cast<double>(m - 1);
  const Vector r = fit.log_ratio(grid, Vector::Constant(1, y), prior);
  Vector log_w(m);
  for (Eigen::Index i = 0; i < m; ++i) log_w[i] = prior.log_prob(row_span(grid, i)) + r[i];
  const Vector w = (log_w.array() - log_w.maxCoeff()).exp();
  const double total = w.sum();
  const double mean = (w.array() * grid.col(0).array()).sum() / total;
  const double var = (w.array() * (grid.col(0).array() - mean).square()).sum() / total;
  return {mean, std::sqrt(var)};
}

}  // namespace

TEST_CASE("NRE-A, -B, -C and BNRE learn the ratio of a conjugate Gaussian model", "[nre][inference]") {
  const Conjugate data(4000);
  for (const std::string variant : {"nre_a", "nre_b", "nre_c"}) {
    for (const double balance : {0.0, 100.0}) {
      if (balance > 0 && variant != "nre_a") continue;
      INFO(variant << " balance " << balance);
      NreOptions options;
      options.variant = variant;
      options.atoms = 5;
      options.balance = balance;
      options.classifier.hidden = {32, 32};
      options.classifier.learning_rate = 2e-3;
      options.classifier.batch_size = 128;
      options.max_epochs = 60;
      options.patience = 10;
      options.seed = 3;
      const NreFit fit = train_nre(data.theta, data.y, *data.prior, options);
      CHECK(fit.training.curve.records.size() >= 2);
      // The exact posterior sd is √0.2 ≈ 0.447. A useful estimate has its mean within a quarter of
      // that and its sd within 30 % (the prior's sd, 1, is more than twice as wide; a classifier
      // that learnt nothing gives the prior back). 4000 simulations put the estimate well inside.
      for (const double y : {-1.0, 0.5, 1.5}) {
        const auto [mean, sd] = implied_posterior(fit, *data.prior, y);
        INFO("y = " << y << ": mean " << mean << " (exact " << 0.8 * y << "), sd " << sd << " (exact 0.447)");
        CHECK(std::abs(mean - 0.8 * y) < 0.25 * std::sqrt(0.2));
        CHECK(sd > std::sqrt(0.2) / 1.3);
        CHECK(sd < std::sqrt(0.2) * 1.3);
      }
    }
  }
}

TEST_CASE("NRE training is reproducible and its options are checked with JSON paths", "[nre][inference]") {
  const Conjugate data(400);
  NreOptions options;
  options.classifier.hidden = {8};
  options.max_epochs = 5;
  const NreFit a = train_nre(data.theta, data.y, *data.prior, options);
  const NreFit b = train_nre(data.theta, data.y, *data.prior, options);
  RowMatrix grid(3, 1);
  grid << -1, 0, 1;
  CHECK((a.log_ratio(grid, Vector::Constant(1, 0.3), *data.prior).array() == b.log_ratio(grid, Vector::Constant(1, 0.3), *data.prior).array()).all());

  auto error_of = [](const char* text) {
    try {
      NreOptions::from_json(nlohmann::json::parse(text));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(R"({"variant": "nre_d"})") == "inference.variant: expected one of \"nre_a\", \"nre_b\" or \"nre_c\", got \"nre_d\"");
  CHECK(error_of(R"({"variant": "nre_c", "balance": 10})") == "inference.balance: the BNRE balancing term needs \"variant\": \"nre_a\"");
  CHECK(error_of(R"({"atoms": 300, "classifier": {"batch_size": 100}})") ==
        "inference.classifier.batch_size: must exceed the atoms per row (301; they come from the minibatch)");
  CHECK(error_of(R"({"method": "nre", "simulations": 100, "seed": 4, "ensemble": 3})") == "no error");
  CHECK_THAT(error_of(R"({"atom": 4})"), Catch::StartsWith("inference.atom: unknown key"));
}

TEST_CASE("the ratio estimator is flat beyond the parameters it was trained on", "[nre][inference]") {
  // Uniform prior on (−1, 1): u = T⁻¹(θ) is unbounded, the training rows cover a finite range, and
  // beyond it r would be the network's extrapolation. r must stay at its value on the edge of the
  // training range, with a zero gradient, so that π(θ)·exp r keeps the prior's tails.
  const PriorPtr prior = std::make_shared<UniformPrior>(Vector::Constant(1, -1.0), Vector::Constant(1, 1.0), Names{"theta"});
  Rng rng(5);
  RowMatrix theta(400, 1), y(400, 1);
  for (Eigen::Index i = 0; i < theta.rows(); ++i) {
    theta(i, 0) = rng.uniform(-1.0, 1.0);
    y(i, 0) = theta(i, 0) + 0.3 * rng.normal();
  }
  NreOptions options;
  options.classifier.hidden = {16};
  options.max_epochs = 5;
  const NreFit fit = train_nre(theta, y, *prior, options);
  const Standardization& s = fit.standardization;
  REQUIRE(s.u_tilde_low.size() == 1);
  const RowMatrix u = prior->to_unconstrained(theta);
  const double u_low = u.col(0).minCoeff(), u_high = u.col(0).maxCoeff();
  // The range is that of the training rows (the validation rows are a tenth of the table).
  CHECK(s.u_tilde_low[0] >= (u_low - s.u_mean[0]) / s.u_sd[0] - 1e-5);
  CHECK(s.u_tilde_high[0] <= (u_high - s.u_mean[0]) / s.u_sd[0] + 1e-5);
  const double edge = s.u_mean[0] + s.u_sd[0] * s.u_tilde_high[0];
  RowMatrix probe(3, 1);
  probe << edge, edge + 5, edge + 500;
  const Vector observation = Vector::Constant(1, 0.9);
  const Vector r = fit.log_ratio_unconstrained(probe, observation);
  CHECK(r[1] == r[0]);
  CHECK(r[2] == r[0]);
  Vector value(3);
  RowMatrix gradient(3, 1);
  fit.log_ratio_gradient_unconstrained(probe.bottomRows(2).eval(), observation, {}, value.head(2), gradient.topRows(2));
  CHECK(gradient(0, 0) == 0.0);
  CHECK(gradient(1, 0) == 0.0);
  // Inside the range the gradient is the network's own (not zeroed).
  RowMatrix inside(1, 1);
  inside << s.u_mean[0];
  Vector v1(1);
  RowMatrix g1(1, 1);
  fit.log_ratio_gradient_unconstrained(inside, observation, {}, v1, g1);
  CHECK(g1(0, 0) != 0.0);
  // On a tape (LFVI's flow generator trains against it): the same values, and no gradient beyond
  // the range, so a generator gains nothing by moving mass there.
  {
    ad::Tape<float> tape;
    RowMatrix at(4, 1);
    at << s.u_mean[0], edge, edge + 5, s.u_mean[0] + s.u_sd[0] * (s.u_tilde_low[0] - 3);
    ad::Matrix<float> u_tilde(4, 1);
    for (Eigen::Index i = 0; i < 4; ++i) u_tilde(i, 0) = static_cast<float>((at(i, 0) - s.u_mean[0]) / s.u_sd[0]);
    const Vector y_tilde = s.standardize_data(observation);
    const auto input = tape.variable(u_tilde);
    const auto r_tape = fit.log_ratio_on_tape(tape, input, y_tilde.cast<float>().transpose().replicate(4, 1));
    tape.backward(ad::sum(r_tape));
    const Vector expected = fit.log_ratio_unconstrained(at, observation);
    for (Eigen::Index i = 0; i < 4; ++i) CHECK(r_tape.value()(i, 0) == Approx(expected[i]).margin(1e-5));
    const ad::Matrix<float>& g = tape.gradient(input);
    CHECK(g(0, 0) != 0.0f);
    CHECK(g(0, 0) == Approx(g1(0, 0) * s.u_sd[0]).epsilon(1e-4));  // the gradient path: ∂r/∂u = ∂r/∂ũ / u_sd
    CHECK(g(2, 0) == 0.0f);
    CHECK(g(3, 0) == 0.0f);
  }
  // The range is saved with the statistics; statistics saved without it load unclamped.
  const Standardization loaded = Standardization::from_json(s.to_json());
  CHECK(loaded.u_tilde_high[0] == s.u_tilde_high[0]);
  nlohmann::json old = s.to_json();
  old.erase("u_tilde_low");
  old.erase("u_tilde_high");
  CHECK(Standardization::from_json(old).u_tilde_low.size() == 0);
  old["u_tilde_low"] = {0.5};
  old["u_tilde_high"] = {0.1};
  CHECK_THROWS_AS(Standardization::from_json(old), InputError);
}

TEST_CASE("temperature scaling: the exact log ratio needs no scale, and steeper logits get a proportionally smaller one", "[nre][inference]") {
  // Logits that are the exact log ratio of the conjugate model, log N(y; θ, 0.5²) − log N(y; 0, 1.25),
  // arranged as NRE's atoms (atom k pairs y_i with θ_{i+k}): every variant's loss is a negative
  // log-likelihood whose population minimiser is the exact ratio (Hermans et al. 2020; Durkan et al.
  // 2020; Miller et al. 2022), so the best scale is 1 up to sampling error. That error's sd is
  // 1/√(curvature of the summed loss at the minimum) (the MLE's asymptotics), taken numerically.
  const Eigen::Index n = 20000;
  const Conjugate data(n);
  auto exact = [](double theta, double y) {
    return -0.5 * (y - theta) * (y - theta) / 0.25 - std::log(0.5) + 0.5 * y * y / 1.25 + 0.5 * std::log(1.25);
  };
  for (const std::string variant : {"nre_a", "nre_b", "nre_c"}) {
    INFO(variant);
    NreOptions options;
    options.variant = variant;
    options.atoms = 5;
    const int passes = variant == "nre_a" ? 2 : variant == "nre_b" ? 5 : 6;
    std::vector<std::vector<Vector>> blocks;
    const Eigen::Index block_rows = 1000;
    for (Eigen::Index begin = 0; begin < n; begin += block_rows) {
      blocks.emplace_back();
      for (int a = 0; a < passes; ++a) {
        Vector logits(block_rows);
        for (Eigen::Index i = 0; i < block_rows; ++i)
          logits[i] = exact(data.theta(begin + (i + a) % block_rows, 0), data.y(begin + i, 0));
        blocks.back().push_back(logits);
      }
    }
    const double best = detail::best_logit_scale(blocks, options);
    auto summed = [&](double s) {
      double total = 0;
      for (const auto& b : blocks) total += detail::scaled_nre_loss(b, options, s) * static_cast<double>(block_rows);
      return total;
    };
    const double h = 0.01;
    const double curvature = (summed(best + h) - 2 * summed(best) + summed(best - h)) / (h * h);
    REQUIRE(curvature > 0);
    const double sd = 1 / std::sqrt(curvature);
    INFO("best scale " << best << ", sampling sd " << sd);
    CHECK(std::abs(best - 1) < 5 * sd + 1e-3);  // 1e-3: the search's resolution
    CHECK(summed(best) <= summed(1.0) + 1e-9);
    // Logits twice as steep: the loss depends on s·logits only, so the best scale halves.
    auto steep = blocks;
    for (auto& b : steep)
      for (auto& l : b) l *= 2.0;
    CHECK(std::abs(detail::best_logit_scale(steep, options) - best / 2) < 1.5e-3);
  }
}

TEST_CASE("a ratio estimator trained with scale_to_validation scales its value and gradient, and says so in JSON", "[nre][inference]") {
  const Conjugate data(2000);
  NreOptions options;
  options.atoms = 5;
  options.classifier.hidden = {32, 32};
  options.classifier.batch_size = 128;
  options.max_epochs = 20;
  options.seed = 3;
  options.scale_to_validation = true;
  CHECK(NreOptions::from_json(options.to_json(), "inference").scale_to_validation);
  CHECK_THROWS_WITH(NreOptions::from_json({{"scale_to_validation", 2}}, "inference"), Catch::Contains("inference.scale_to_validation"));
  NreFit fit = train_nre(data.theta, data.y, *data.prior, options);
  const double scale = fit.logit_scale;
  CHECK(scale >= 0.05);
  CHECK(scale <= 2.0);
  CHECK(scale != 1.0);
  RowMatrix u(3, 1);
  u << -0.5, 0.2, 1.1;
  const Vector y = Vector::Constant(1, 0.7);
  Vector value_a(3), value_b(3);
  RowMatrix gradient_a(3, 1), gradient_b(3, 1);
  const Vector a = fit.log_ratio_unconstrained(u, y);
  fit.log_ratio_gradient_unconstrained(u, y, {}, value_a, gradient_a);
  fit.logit_scale = 1.0;  // the classifier's own output
  const Vector b = fit.log_ratio_unconstrained(u, y);
  fit.log_ratio_gradient_unconstrained(u, y, {}, value_b, gradient_b);
  for (Eigen::Index i = 0; i < 3; ++i) {
    CHECK(a[i] == Approx(scale * b[i]).epsilon(1e-6));
    CHECK(value_a[i] == Approx(a[i]).epsilon(1e-5));
    CHECK(gradient_a(i, 0) == Approx(scale * gradient_b(i, 0)).epsilon(1e-5));
  }
}

TEST_CASE("a table of 100 rows (SNRE's first round at 10^3 in 10 rounds) holds out enough rows for 10 atoms", "[nre][inference]") {
  // 10 % of 100 rows is 10 validation rows, fewer than NRE-C's 11 atoms: more are held out instead.
  const Conjugate data(100);
  NreOptions options;
  options.classifier.hidden = {16};
  options.classifier.batch_size = 32;
  options.max_epochs = 3;
  const NreFit fit = train_nre(data.theta, data.y, *data.prior, options);
  CHECK(fit.training.curve.records.size() >= 1);
  // 20 rows (NRE's minimum) cannot be split into two parts of more than 11 rows each: a clear error.
  const Conjugate tiny(20);
  CHECK_THROWS_WITH(train_nre(tiny.theta, tiny.y, *tiny.prior, options), Catch::Contains("NRE:") && Catch::Contains("atoms"));
}

TEST_CASE("minimum_nre_rows is the smallest table train_nre accepts, for each variant", "[nre][inference]") {
  for (const char* variant : {"nre_a", "nre_b", "nre_c"}) {
    INFO(variant);
    NreOptions options;
    options.variant = variant;
    options.classifier.hidden = {8};
    options.classifier.batch_size = 32;
    options.max_epochs = 1;
    const std::size_t least = minimum_nre_rows(options);
    CHECK(least >= 20);
    const Conjugate enough(static_cast<Eigen::Index>(least));
    CHECK_NOTHROW(train_nre(enough.theta, enough.y, *enough.prior, options));
    if (least > 20) {
      const Conjugate short_by_one(static_cast<Eigen::Index>(least) - 1);
      CHECK_THROWS_AS(train_nre(short_by_one.theta, short_by_one.y, *short_by_one.prior, options), InputError);
    }
  }
  // NRE-C's 10 atoms plus the independent class need more than 11 rows on each side: 24 of 20 + 4.
  NreOptions defaults;
  CHECK(minimum_nre_rows(defaults) == 24);
  // A batch no larger than the atoms per row could never train: is_valid says so by name.
  defaults.classifier.batch_size = 11;
  std::string why;
  CHECK_FALSE(defaults.is_valid(&why));
  CHECK_THAT(why, Catch::Contains("classifier.batch_size") && Catch::Contains("11"));
}
