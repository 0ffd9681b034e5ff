// SNRE (sbi/inference/sequential.hpp): its options, continuing each round from the last round's
// classifier, and an interrupted run that resumes with the uninterrupted run's result.
#include "sbi/core/error.hpp"
#include "sbi/inference/nre.hpp"
#include "sbi/inference/sequential.hpp"
#include "sbi/nn/serialize.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/table.hpp"
#include "sequential_resume.hpp"
#include "simulators/gaussian.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace sbi;

namespace {

// gaussian_linear in 2-D (y ~ N(θ, 0.1 I)) under the prior N(0, I).
SequentialProblem gaussian_problem(std::size_t simulations) {
  simulators::GaussianLinearOptions options;
  options.dim = 2;
  SequentialProblem problem;
  problem.simulator = simulators::make_gaussian_linear(options);
  problem.prior = std::make_shared<NormalPrior>(NormalPrior::diagonal(Vector::Zero(2), Vector::Ones(2), {"theta_1", "theta_2"}));
  problem.observation = (Vector(2) << 0.8, -0.5).finished();
  problem.simulations = simulations;
  problem.seed = 5;
  problem.threads = 2;
  return problem;
}

SnreOptions small_options(int rounds) {
  SnreOptions o;
  o.nre.classifier.hidden = {32, 32};
  o.nre.classifier.batch_size = 64;
  o.nre.atoms = 5;
  o.nre.max_epochs = 6;
  o.nre.mcmc.chains = 4;
  o.nre.mcmc.warmup = 60;
  o.nre.mcmc.init_candidates = 200;
  o.sequential.rounds = rounds;
  return o;
}

// θ ~ N(0, 1), y ~ N(θ, 0.3²), n rows.
std::pair<RowMatrix, RowMatrix> conjugate_rows(Eigen::Index n, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix theta(n, 1), y(n, 1);
  for (Eigen::Index i = 0; i < n; ++i) {
    theta(i, 0) = rng.normal();
    y(i, 0) = theta(i, 0) + 0.3 * rng.normal();
  }
  return {theta, y};
}

}  // namespace

TEST_CASE("snre options: continuing is the default, retrain_from_scratch round-trips, bad values name their path", "[snre]") {
  const SnreOptions defaults = SnreOptions::from_json(nlohmann::json::object());
  CHECK_FALSE(defaults.retrain_from_scratch);
  CHECK(defaults.to_json().at("retrain_from_scratch") == false);
  const SnreOptions scratch = SnreOptions::from_json({{"retrain_from_scratch", true}, {"rounds", 3}});
  CHECK(scratch.retrain_from_scratch);
  CHECK(scratch.sequential.rounds == 3);
  CHECK(SnreOptions::from_json(scratch.to_json()).retrain_from_scratch);
  CHECK_THROWS_WITH(SnreOptions::from_json({{"retrain_from_scratch", "yes"}}), Catch::Contains("inference.retrain_from_scratch"));
  CHECK_THROWS_WITH(SnreOptions::from_json({{"retrain_from_scrath", true}}),
                    Catch::StartsWith("inference.retrain_from_scrath: unknown key") && Catch::Contains("retrain_from_scratch") && Catch::Contains("rounds"));
}

TEST_CASE("train_nre continues from given weights: the first epoch starts near the earlier fit, not at chance", "[snre][nre]") {
  const auto [theta, y] = conjugate_rows(2000, 11);
  const PriorPtr prior = std::make_shared<NormalPrior>(NormalPrior::diagonal(Vector::Zero(1), Vector::Ones(1), {"theta"}));
  NreOptions options;
  options.classifier.hidden = {32, 32};
  options.atoms = 5;
  options.max_epochs = 40;
  const NreFit trained = train_nre(theta, y, *prior, options);
  const double trained_best = trained.training.best_validation;

  options.max_epochs = 1;
  const NreFit fresh = train_nre(theta, y, *prior, options);
  const NreFit continued = train_nre(theta, y, *prior, options, {}, 0, &trained.classifier);
  const double fresh_first = fresh.training.curve.records.front().validation;
  const double continued_first = continued.training.curve.records.front().validation;
  // Chance for 5 atoms plus the independent class is log 6 ≈ 1.79; the trained fit is well below it.
  REQUIRE(trained_best < fresh_first);
  // One more epoch from the trained weights on the same rows stays near their optimum: closer to it
  // than to a fresh network's first epoch (a margin of half the gap, not a tuned constant).
  CHECK(std::abs(continued_first - trained_best) < 0.5 * (fresh_first - trained_best));

  NreOptions wider = options;
  wider.classifier.hidden = {16};
  CHECK_THROWS_WITH(train_nre(theta, y, *prior, wider, {}, 0, &trained.classifier), Catch::Contains("another architecture"));
}

TEST_CASE("snre: continuing and retraining from scratch differ after round 1, each reproducible", "[snre]") {
  const SequentialProblem problem = gaussian_problem(400);
  SnreOptions options = small_options(2);
  SequentialRecord a, b, c;
  const auto continued = run_snre(problem, options, a);
  const auto again = run_snre(problem, options, b);
  options.retrain_from_scratch = true;
  const auto scratch = run_snre(problem, options, c);
  REQUIRE(continued);
  REQUIRE(again);
  REQUIRE(scratch);
  // Round 1 is the same either way (its proposal and so the rows are the same); round 2's fit differs.
  CHECK((a.theta.array() == c.theta.array()).all());
  const auto& w_continued = continued->classifier.layers().front().weight().value;
  CHECK((w_continued.array() == again->classifier.layers().front().weight().value.array()).all());
  CHECK_FALSE((w_continued.array() == scratch->classifier.layers().front().weight().value.array()).all());
}

TEST_CASE("snre: an interrupted run resumes after its last finished round, with the same result and nothing simulated twice", "[snre][resume]") {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("sbi_snre_resume_" + std::to_string(::getpid()));
  fs::remove_all(base);
  const SnreOptions options = small_options(3);
  SequentialProblem problem = gaussian_problem(600);

  problem.checkpoint = base / "whole";
  SequentialRecord whole;
  const auto fit_whole = run_snre(problem, options, whole);
  REQUIRE(fit_whole);
  CHECK(whole.resumed_rounds == 0);

  // Interrupted once round 3's proposal is being drawn: rounds 1 and 2 are kept.
  problem.checkpoint = base / "split";
  testing::StopAtProposal cut(3, 3);

  SequentialRecord first;
  REQUIRE(run_snre(problem, options, first, cut.callbacks));
  CHECK(first.interrupted);
  // The stop reached the proposal's MCMC chains, which ended before their first iteration.
  CHECK(cut.proposal_chain_iterations == 0);
  CHECK(first.proposals.size() == 2);
  CHECK(fs::exists(problem.checkpoint / "round_1.sbt"));
  CHECK_FALSE(fs::exists(problem.checkpoint / "round_2.sbt"));

  // Rerun: rounds 1 and 2 come back (classifier, standardisation, rows); round 3 continues from
  // round 2's weights and proposes from its posterior, as the uninterrupted run did.
  SequentialRecord second;
  const auto fit_second = run_snre(problem, options, second);
  REQUIRE(fit_second);
  testing::check_resumed_as_whole(second, whole, 2);
  RowMatrix grid(50, 2);
  for (Eigen::Index i = 0; i < grid.rows(); ++i) grid.row(i) << -1.0 + 0.04 * static_cast<double>(i), 0.5 - 0.02 * static_cast<double>(i);
  const Vector r_whole = fit_whole->log_ratio(grid, problem.observation, *problem.prior);
  const Vector r_second = fit_second->log_ratio(grid, problem.observation, *problem.prior);
  CHECK((r_whole.array() == r_second.array()).all());

  // A damaged kept state is refused with the file named, not read as a fit.
  {
    std::ofstream(problem.checkpoint / "state_2.bin", std::ios::binary | std::ios::trunc) << "not a network";
  }
  SequentialRecord damaged;
  CHECK_THROWS_WITH(run_snre(problem, options, damaged), Catch::Contains("state_2.bin"));

  // A folder from another run (here: retraining from scratch) is refused.
  SnreOptions other = options;
  other.retrain_from_scratch = true;
  SequentialRecord refused;
  CHECK_THROWS_WITH(run_snre(problem, other, refused), Catch::Contains("holds the rounds of another run"));
  fs::remove_all(base);
}
