// The library example quoted in README.md ("Using the library from C++"); compiled and run here so
// that the README never lies. Keep the two in step.
#include "models/implicit_posterior.hpp"
#include "sbi/inference/lfvi.hpp"
#include "sbi/simulation/table.hpp"

#include <catch2/catch.hpp>

#include <cmath>

TEST_CASE("README example: from a user's simulator to posterior samples", "[example]") {
  // --- README example begins ---
  // y ~ N(θ, 0.5²) for one parameter θ with prior U(−3, 3).
  sbi::Simulator simulator = sbi::make_simulator(
      {.name = "noisy_identity", .parameter_names = {"theta"}, .data_names = {"y"}},
      [](sbi::ConstRow theta, sbi::MutableRow y, sbi::Rng& rng) { y[0] = theta[0] + 0.5 * rng.normal(); });
  auto prior = std::make_shared<sbi::UniformPrior>(sbi::Vector::Constant(1, -3.0), sbi::Vector::Constant(1, 3.0),
                                                   sbi::Names{"theta"});

  sbi::ReferenceTable table;  // 4000 simulations on all cores, reproducible for seed 1
  sbi::simulate_from_prior(simulator, *prior, 4000, /*seed=*/1, /*first_index=*/0, {},
                           [&](const sbi::SimulationChunk& chunk) { table.append(chunk); });

  sbi::LfviOptions options;  // defaults, made smaller for a quick example
  options.method = sbi::LfviOptions::Method::mmd;
  options.generator.hidden = {32, 32};
  options.max_iterations = options.min_iterations = 1500;
  sbi::models::ImplicitPosterior posterior(sbi::train_lfvi(table.theta, table.y, *prior, options), prior, {"y"}, options, {});
  sbi::RowMatrix samples = posterior.sample(sbi::Vector::Constant(1, 1.0), 2000, /*seed=*/7);
  // --- README example ends ---

  // Posterior for y = 1: N(1, 0.5²) truncated to [−3, 3] (negligibly), mean 1, sd 0.5. Bounds as
  // in tests/sbi/inference/test_lfvi.cpp: mean within half a posterior sd, sd within a factor 1.5.
  const double mean = samples.col(0).mean();
  const double sd = std::sqrt((samples.col(0).array() - mean).square().sum() / (samples.rows() - 1));
  CHECK(std::abs(mean - 1.0) < 0.25);
  CHECK(sd > 0.5 / 1.5);
  CHECK(sd < 0.5 * 1.5);
}
