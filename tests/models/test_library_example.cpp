// The library example quoted in README.md ("Using the library from C++"); compiled and run here so
// that the README never lies. Keep the two in step.
#include "models/methods.hpp"
#include "sbi/workflows/prior_table.hpp"

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

  // 4000 simulations on all cores; the same table for any thread count (seed 1).
  sbi::ReferenceTable table = sbi::simulate_prior_table(simulator, *prior, {.simulations = 4000, .seed = 1}).table;
  // Any registered method by name (sbi infer --list-methods); its options as JSON, checked.
  sbi::Posterior posterior = sbi::infer("mmd", table, prior, {{"generator", {{"hidden", {32, 32}}}}, {"max_iterations", 1500}});
  sbi::RowMatrix samples = posterior.sample(sbi::Vector::Constant(1, 1.0), 2000, /*seed=*/7);
  posterior.save("noisy_identity_posterior");  // sbi::load_posterior("noisy_identity_posterior") reads it back
  // --- README example ends ---

  // Posterior for y = 1: N(1, 0.5²) truncated to [−3, 3] (negligibly), mean 1, sd 0.5. Bounds as
  // in tests/sbi/inference/test_lfvi.cpp: mean within half a posterior sd, sd within a factor 1.5.
  const double mean = samples.col(0).mean();
  const double sd = std::sqrt((samples.col(0).array() - mean).square().sum() / (samples.rows() - 1));
  CHECK(std::abs(mean - 1.0) < 0.25);
  CHECK(sd > 0.5 / 1.5);
  CHECK(sd < 0.5 * 1.5);
  const sbi::Posterior loaded = sbi::load_posterior("noisy_identity_posterior");
  CHECK((loaded.sample(sbi::Vector::Constant(1, 1.0), 2000, 7).array() == samples.array()).all());
  std::filesystem::remove_all("noisy_identity_posterior");
}
