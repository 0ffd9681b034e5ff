// NPE: the prior's bijection makes log q(θ | y) a normalised density on the support and every draw
// lies inside it; sampling is the same for any thread count; options and files.
#include "sbi/core/error.hpp"
#include "sbi/flows/density.hpp"
#include "sbi/inference/nle.hpp"
#include "sbi/inference/npe.hpp"
#include "sbi/inference/sequential.hpp"
#include "sbi/inference/snpe.hpp"
#include "sbi/priors/prior.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>

namespace {

sbi::flows::DensityEstimatorOptions small_nsf() {
  sbi::flows::DensityEstimatorOptions o;
  o.hidden = {16, 16};
  o.transforms = 2;
  o.bins = 6;
  return o;
}

// A posterior over the box [−1, 2] × [0.5, 1] from a randomised (untrained) estimator.
sbi::NpeFit random_fit(const sbi::Prior& prior, const sbi::flows::DensityEstimatorOptions& options) {
  std::shared_ptr<sbi::flows::ConditionalDensity> q = sbi::flows::make_density(options, 2, 3, 5);
  sbi::Rng rng(17);
  for (auto* p : q->parameters())
    for (Eigen::Index k = 0; k < p->value.size(); ++k) p->value.data()[k] = static_cast<float>(0.3 * rng.normal());
  sbi::flows::Standardization s;
  s.x_mean = Eigen::Vector2d(0.3, -1.0);
  s.x_sd = Eigen::Vector2d(1.5, 0.7);
  q->set_standardization(s);
  return sbi::NpeFit(std::move(q), prior.transforms(), sbi::NpeOptions{});
}

// θ ~ U([0, 1]²) and y = θ + N(0, 0.1²) noise, plus `pure_noise_columns` columns of N(0, 1) noise,
// all from one stream of `seed` (θ first, then each row's noise in column order).
void noisy_unit_square_table(const sbi::UniformPrior& prior, std::uint64_t seed, Eigen::Index n, int pure_noise_columns,
                             sbi::RowMatrix& theta, sbi::RowMatrix& y) {
  sbi::Rng rng(seed);
  theta = prior.sample_batch(rng, n);
  y.resize(n, 2 + pure_noise_columns);
  for (Eigen::Index r = 0; r < n; ++r) {
    y(r, 0) = theta(r, 0) + 0.1 * rng.normal();
    y(r, 1) = theta(r, 1) + 0.1 * rng.normal();
    for (int k = 0; k < pure_noise_columns; ++k) y(r, 2 + k) = rng.normal();
  }
}

}  // namespace

TEST_CASE("npe: log q(theta | y) integrates to one over a box prior and draws stay inside", "[npe]") {
  const sbi::UniformPrior prior(Eigen::Vector2d(-1.0, 0.5), Eigen::Vector2d(2.0, 1.0));
  for (const char* family : {"nsf", "maf", "mog"}) {
    INFO(family);
    auto options = small_nsf();
    options.type = std::string(family) == "maf" ? sbi::flows::DensityEstimatorOptions::Type::maf
                   : std::string(family) == "mog" ? sbi::flows::DensityEstimatorOptions::Type::mog
                                                  : sbi::flows::DensityEstimatorOptions::Type::nsf;
    const sbi::NpeFit fit = random_fit(prior, options);
    const Eigen::Vector3d y(0.2, -0.5, 1.0);
    // Midpoint rule on 600² cells of the box. The density in θ has integrable singular behaviour only
    // where q(u) has mass at |u| → ∞, which the logit squeezes to the edges; the cells there carry
    // mass of order (cell width)·(density near the edge), so |∫ − 1| < 5·10⁻³ is ample.
    const int grid = 600;
    sbi::RowMatrix theta(grid * grid, 2);
    for (int i = 0; i < grid; ++i)
      for (int j = 0; j < grid; ++j) {
        theta(i * grid + j, 0) = -1.0 + 3.0 * (i + 0.5) / grid;
        theta(i * grid + j, 1) = 0.5 + 0.5 * (j + 0.5) / grid;
      }
    const sbi::Vector lp = fit.log_prob(theta, y);
    CHECK(lp.array().exp().sum() * (3.0 / grid) * (0.5 / grid) == Approx(1.0).margin(5e-3));

    const sbi::RowMatrix draws = fit.sample(y, 5000, 3);
    for (Eigen::Index r = 0; r < draws.rows(); ++r) REQUIRE(prior.in_support(sbi::row_span(draws, r)));
    CHECK(fit.sample(y, 3000, 4, /*threads=*/1) == fit.sample(y, 3000, 4, /*threads=*/2));

    sbi::RowMatrix outside(3, 2);
    outside << -1.5, 0.7, 0.0, 1.0, 0.0, 0.75;
    const sbi::Vector lo = fit.log_prob(outside, y);
    CHECK(lo(0) == -std::numeric_limits<double>::infinity());
    CHECK(lo(1) == -std::numeric_limits<double>::infinity());  // on the boundary
    CHECK(std::isfinite(lo(2)));
  }
}

TEST_CASE("npe: trains on a table, keeps draws in the support, saves and loads exactly", "[npe]") {
  // y = θ + noise in 2 + 1 columns (the last one pure noise).
  const sbi::UniformPrior prior(Eigen::Vector2d(0.0, 0.0), Eigen::Vector2d(1.0, 1.0));
  sbi::RowMatrix theta, y;
  noisy_unit_square_table(prior, 3, 600, 1, theta, y);
  sbi::NpeOptions options;
  options.density_estimator = small_nsf();
  options.max_epochs = 5;
  const sbi::NpeFit fit = sbi::train_npe(theta, y, prior, options);
  CHECK(fit.training.epochs == 5);
  CHECK(fit.parameter_dim() == 2);
  CHECK(fit.data_dim() == 3);
  const Eigen::Vector3d observation(0.3, 0.8, 0.0);
  const sbi::RowMatrix draws = fit.sample(observation, 2000, 1);
  for (Eigen::Index r = 0; r < draws.rows(); ++r) REQUIRE(prior.in_support(sbi::row_span(draws, r)));

  const auto path = std::filesystem::temp_directory_path() / "sbi_npe_test.sbinn";
  fit.save_density(path);
  const sbi::NpeFit loaded = sbi::NpeFit::load(path, prior, options);
  CHECK(loaded.log_prob(draws, observation) == fit.log_prob(draws, observation));
  CHECK(loaded.sample(observation, 100, 9) == fit.sample(observation, 100, 9));
  std::filesystem::remove(path);

  sbi::RowMatrix outside = theta;
  outside(4, 0) = 1.5;
  CHECK_THROWS_WITH(sbi::train_npe(outside, y, prior, options), Catch::Contains("row 4"));
  CHECK_THROWS_AS(fit.sample(Eigen::Vector2d(0.1, 0.2), 10, 1), sbi::InputError);
}

TEST_CASE("npe options: spec section, defaults, errors with the JSON path", "[npe]") {
  const auto o = sbi::NpeOptions::from_json(
      nlohmann::json::parse(R"({"method": "npe", "simulations": 1000, "batch_size": 64,
                                "density_estimator": {"type": "maf", "transforms": 3}})"));
  CHECK(o.batch_size == 64);
  CHECK(o.density_estimator.type == sbi::flows::DensityEstimatorOptions::Type::maf);
  CHECK(sbi::NpeOptions::from_json(o.to_json()).to_json() == o.to_json());
  CHECK(sbi::NpeOptions{}.is_valid());
  CHECK_THROWS_WITH(sbi::NpeOptions::from_json({{"density_estimator", {{"bins", 100}}}}), Catch::Contains("inference.density_estimator.bins"));
  CHECK_THROWS_WITH(sbi::NpeOptions::from_json({{"patience", 0}}), Catch::Contains("inference.patience"));
  CHECK_THROWS_WITH(sbi::NpeOptions::from_json({{"learning_rat", 0.1}}), Catch::Contains("learning_rat"));
  // The candidates' race: on by default for NPE, its keys read and checked.
  CHECK(sbi::NpeOptions{}.fit_options().race_window > 0);
  const auto no_race = sbi::NpeOptions::from_json({{"race_window", 0}, {"race_margin", 0.5}});
  CHECK(no_race.fit_options().race_window == 0);
  CHECK(no_race.fit_options().race_margin == 0.5);
  CHECK_THROWS_WITH(sbi::NpeOptions::from_json({{"race_window", -1}}), Catch::Contains("inference.race_window"));
  CHECK_THROWS_WITH(sbi::NpeOptions::from_json({{"race_margin", "x"}}), Catch::Contains("inference.race_margin"));
}

TEST_CASE("npe options: alternatives default to two MAFs, keep the estimator's keys, and are refused by the sequential methods", "[npe]") {
  using Type = sbi::flows::DensityEstimatorOptions::Type;
  const sbi::NpeOptions defaults;
  REQUIRE(defaults.alternatives.size() == 2);
  CHECK(defaults.alternatives[0].type == Type::maf);
  CHECK(defaults.alternatives[1].type == Type::maf);
  CHECK(defaults.alternatives[1].activation == sbi::nn::Activation::tanh);
  CHECK(defaults.candidates().size() == 3);
  CHECK(defaults.candidates()[0].type == Type::nsf);
  CHECK(sbi::NpeOptions::from_json(nlohmann::json::parse(R"({"alternatives": []})")).candidates().size() == 1);
  // A tanh MAF named as the estimator, the default alternatives kept: the tanh MAF is not trained twice.
  const auto maf = sbi::NpeOptions::from_json(nlohmann::json::parse(R"({"density_estimator": {"type": "maf", "activation": "tanh"}})"));
  REQUIRE(maf.candidates().size() == 2);
  CHECK(maf.candidates()[0].activation == sbi::nn::Activation::tanh);
  CHECK(maf.candidates()[1].activation == sbi::nn::Activation::relu);
  // Keys an alternative leaves out keep the method's estimator's values; naming another type starts
  // from that family's defaults.
  const auto o = sbi::NpeOptions::from_json(nlohmann::json::parse(
      R"({"density_estimator": {"bins": 10}, "alternatives": [{"transforms": 2}, {"type": "maf", "hidden": [32]}]})"));
  REQUIRE(o.alternatives.size() == 2);
  CHECK(o.alternatives[0].type == Type::nsf);
  CHECK(o.alternatives[0].bins == 10);
  CHECK(o.alternatives[0].transforms == 2);
  CHECK(o.alternatives[1].type == Type::maf);
  CHECK(o.alternatives[1].hidden == std::vector<Eigen::Index>{32});
  CHECK(sbi::NpeOptions::from_json(o.to_json()).to_json() == o.to_json());
  CHECK_THROWS_WITH(sbi::NpeOptions::from_json(nlohmann::json::parse(R"({"alternatives": [{"bins": 100}]})")),
                    Catch::Contains("inference.alternatives[0].bins"));
  CHECK_THROWS_WITH(sbi::NpeOptions::from_json(nlohmann::json::parse(R"({"alternatives": {"type": "maf"}})")),
                    Catch::Contains("inference.alternatives: expected a list"));
  CHECK_THROWS_WITH(sbi::NpeOptions::from_json(nlohmann::json::parse(R"({"alternatives": [{}, {}, {}, {}, {}, {}, {}, {}, {}]})")),
                    Catch::Contains("at most 8"));
  CHECK_THROWS_WITH(sbi::SnpeOptions::from_json(nlohmann::json::parse(R"({"alternatives": [{"type": "maf"}]})")),
                    Catch::Contains("inference.alternatives: SNPE trains one estimator"));
  CHECK(sbi::SnpeOptions::from_json(nlohmann::json::object()).npe.alternatives.empty());
  // NLE's default: its MAF (ReLU) and a tanh MAF beside it; SNLE's: the MAF alone, also for a
  // library caller's default-constructed options; "alternatives": [] turns NLE's off.
  const auto nle = sbi::NleOptions::from_json(nlohmann::json::object());
  REQUIRE(nle.estimator.alternatives.size() == 1);
  CHECK(nle.estimator.alternatives[0].type == sbi::flows::DensityEstimatorOptions::Type::maf);
  CHECK(nle.estimator.alternatives[0].activation == sbi::nn::Activation::tanh);
  CHECK(nle.estimator.density_estimator.activation == sbi::nn::Activation::relu);
  CHECK(sbi::NleOptions::from_json(nlohmann::json::parse(R"({"alternatives": []})")).estimator.alternatives.empty());
  CHECK(sbi::SnleOptions::from_json(nlohmann::json::object()).nle.estimator.alternatives.empty());
  CHECK(sbi::SnleOptions{}.nle.estimator.alternatives.empty());
  CHECK(sbi::SnleOptions{}.nle.estimator.density_estimator.type == sbi::flows::DensityEstimatorOptions::Type::maf);
  CHECK_THROWS_WITH(sbi::SnleOptions::from_json(nlohmann::json::parse(R"({"alternatives": [{"type": "nsf"}]})")),
                    Catch::Contains("inference.alternatives: SNLE trains one estimator"));
}

TEST_CASE("npe: with an alternative, the estimator with the better validation log-likelihood is kept and reported", "[npe]") {
  const sbi::UniformPrior prior(Eigen::Vector2d(0.0, 0.0), Eigen::Vector2d(1.0, 1.0));
  sbi::RowMatrix theta, y;
  noisy_unit_square_table(prior, 5, 600, 0, theta, y);
  sbi::NpeOptions options;
  options.density_estimator = small_nsf();
  options.alternatives = {small_nsf()};
  options.alternatives[0].type = sbi::flows::DensityEstimatorOptions::Type::maf;
  options.max_epochs = 8;
  const sbi::NpeFit fit = sbi::train_npe(theta, y, prior, options, {}, /*threads=*/2);
  REQUIRE(fit.trials.size() == 2);
  const std::size_t kept = fit.trials[0].kept ? 0 : 1;
  CHECK(fit.trials[1 - kept].kept == false);
  CHECK(fit.trials[kept].result.best_validation <= fit.trials[1 - kept].result.best_validation);
  CHECK(fit.density().options().type == fit.trials[kept].estimator.type);
  CHECK(fit.training.best_validation == fit.trials[kept].result.best_validation);
  const sbi::NpeFit serial = sbi::train_npe(theta, y, prior, options, {}, /*threads=*/1);
  const Eigen::Vector2d observation(0.4, 0.6);
  CHECK(serial.sample(observation, 500, 3) == fit.sample(observation, 500, 3));
}
