// SNPE (sbi/inference/snpe.hpp): options, the truncated-prior proposal and its fallback, the rounds'
// record, same seed same bits, and a statistical check against a conjugate Gaussian posterior.
#include "sbi/core/error.hpp"
#include "sbi/inference/lfvi_flow.hpp"
#include "sbi/inference/nle.hpp"
#include "sbi/inference/sequential.hpp"
#include "sbi/inference/snpe.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/table.hpp"
#include "sequential_resume.hpp"
#include "simulators/gaussian.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>

using namespace sbi;

namespace {

// gaussian_linear in 2-D (y ~ N(θ, 0.1 I)) under a wider prior N(0, I): the posterior is
// N(y / 1.1, (1/11) I), sd 0.302, three times narrower than the prior, so that truncation matters.
constexpr double kPosteriorVariance = 1.0 / 11.0;

SequentialProblem narrow_problem(std::size_t simulations) {
  simulators::GaussianLinearOptions options;
  options.dim = 2;
  SequentialProblem problem;
  problem.simulator = simulators::make_gaussian_linear(options);
  problem.prior = std::make_shared<NormalPrior>(NormalPrior::diagonal(Vector::Zero(2), Vector::Ones(2), {"theta_1", "theta_2"}));
  problem.observation = (Vector(2) << 0.8, -0.5).finished();
  problem.simulations = simulations;
  problem.seed = 3;
  problem.threads = 2;
  return problem;
}

SnpeOptions small_options(int rounds, int max_epochs) {
  SnpeOptions o;
  o.npe.density_estimator.type = flows::DensityEstimatorOptions::Type::maf;
  o.npe.density_estimator.transforms = 3;
  o.npe.density_estimator.hidden = {32, 32};
  o.npe.max_epochs = max_epochs;
  o.sequential.rounds = rounds;
  o.hpd_samples = 2000;
  return o;
}

// log N(θ; y/1.1, I/11) per row.
Vector exact_log_posterior(const RowMatrix& theta, const Vector& y) {
  const Vector mean = y / 1.1;
  Vector out(theta.rows());
  for (Eigen::Index i = 0; i < theta.rows(); ++i)
    out(i) = -(theta.row(i).transpose() - mean).squaredNorm() / (2 * kPosteriorVariance) - std::log(2 * M_PI * kPosteriorVariance);
  return out;
}

}  // namespace

TEST_CASE("snpe options: defaults, round trip, errors with their JSON path", "[snpe]") {
  const SnpeOptions defaults = SnpeOptions::from_json(nlohmann::json::object());
  CHECK(defaults.loss == SnpeOptions::Loss::truncated);
  CHECK(defaults.truncation_quantile == 1e-4);
  CHECK(defaults.atoms == 10);
  CHECK(defaults.sequential.rounds == SequentialSettings{}.rounds);
  // SNPE keeps the MLP conditioner it was measured with; NPE's default is the residual one; a given
  // estimator is taken as given.
  using Conditioner = flows::DensityEstimatorOptions::Conditioner;
  CHECK(defaults.npe.density_estimator.conditioner == Conditioner::mlp);
  CHECK(SnpeOptions{}.npe.density_estimator.conditioner == Conditioner::mlp);
  CHECK(NpeOptions::from_json(nlohmann::json::object()).density_estimator.conditioner == Conditioner::residual);
  CHECK(SnpeOptions::from_json({{"density_estimator", {{"type", "nsf"}, {"conditioner", "residual"}}}}).npe.density_estimator.conditioner ==
        Conditioner::residual);
  // A partial estimator section changes only what it names: NPE keeps its residual conditioner, SNPE
  // its MLP one, NLE its 5 × [50, 50] MAF (a section naming only the activation used to give NSF).
  CHECK(NpeOptions::from_json({{"density_estimator", {{"bins", 10}}}}).density_estimator.conditioner == Conditioner::residual);
  CHECK(SnpeOptions::from_json({{"density_estimator", {{"bins", 10}}}}).npe.density_estimator.conditioner == Conditioner::mlp);
  const NleOptions tanh_nle = NleOptions::from_json({{"density_estimator", {{"activation", "tanh"}}}});
  CHECK(tanh_nle.estimator.density_estimator.type == flows::DensityEstimatorOptions::Type::maf);
  CHECK(tanh_nle.estimator.density_estimator.hidden == std::vector<Eigen::Index>{50, 50});
  CHECK(tanh_nle.estimator.density_estimator.activation == nn::Activation::tanh);
  // The spec parser and the library agree on NLE's batch size.
  CHECK(NleOptions::from_json(nlohmann::json::object()).estimator.batch_size == NleOptions{}.estimator.batch_size);
  // NLE trains with NPE's learning-rate decay, from a spec and from the library, and so does LFVI's
  // surrogate likelihood; SNLE keeps the estimator its rounds were measured with (no decay).
  CHECK(NleOptions{}.estimator.learning_rate_decay == NpeOptions{}.learning_rate_decay);
  CHECK(NleOptions::from_json(nlohmann::json::object()).estimator.learning_rate_decay == NpeOptions{}.learning_rate_decay);
  CHECK(NpeOptions{}.learning_rate_decay < 1.0);
  CHECK(LfviFlowOptions{}.likelihood.estimator.learning_rate_decay == NpeOptions{}.learning_rate_decay);
  CHECK(SnleOptions{}.nle.estimator.learning_rate_decay == 1.0);
  CHECK(SnleOptions::from_json(nlohmann::json::object()).nle.estimator.learning_rate_decay == 1.0);
  CHECK(SnleOptions::from_json({{"learning_rate_decay", 0.5}}).nle.estimator.learning_rate_decay == 0.5);
  // Naming another family starts from the library's defaults for it (not NPE's residual conditioner).
  const NpeOptions maf_npe = NpeOptions::from_json({{"density_estimator", {{"type", "maf"}}}});
  CHECK(maf_npe.density_estimator.hidden == flows::DensityEstimatorOptions{}.hidden);
  CHECK(NleOptions::from_json({{"density_estimator", {{"type", "nsf"}}}}).estimator.density_estimator.conditioner == Conditioner::mlp);
  const SnpeOptions atomic = SnpeOptions::from_json({{"loss", "atomic"}, {"atoms", 5}, {"rounds", 3}, {"max_epochs", 7}});
  CHECK(atomic.loss == SnpeOptions::Loss::atomic);
  CHECK(atomic.atoms == 5);
  CHECK(atomic.sequential.rounds == 3);
  CHECK(atomic.npe.max_epochs == 7);
  const SnpeOptions again = SnpeOptions::from_json(atomic.to_json());
  CHECK(again.to_json() == atomic.to_json());
  CHECK_THROWS_WITH(SnpeOptions::from_json({{"loss", "apt"}}), Catch::StartsWith("inference.loss"));
  CHECK_THROWS_WITH(SnpeOptions::from_json({{"atoms", 1}}), Catch::StartsWith("inference.atoms"));
  CHECK_THROWS_WITH(SnpeOptions::from_json({{"truncation_quantile", 0.7}}), Catch::StartsWith("inference.truncation_quantile"));
  CHECK_THROWS_WITH(SnpeOptions::from_json({{"rounds", 0}}), Catch::StartsWith("inference.rounds"));
  CHECK_THROWS_WITH(SnpeOptions::from_json({{"atom", 4}}), Catch::StartsWith("inference.atom: unknown key"));
  // One section, one list: SNPE's own keys and NPE's, sorted.
  CHECK_THROWS_WITH(SnpeOptions::from_json({{"atom", 4}}),
                    Catch::Contains("atoms, batch_size") && Catch::Contains("rounds") && Catch::Contains("truncation_quantile"));
  // A nested object's unknown key keeps its own list.
  CHECK_THROWS_WITH(SnpeOptions::from_json({{"density_estimator", {{"bins", 8}, {"binz", 3}}}}),
                    Catch::StartsWith("inference.density_estimator.binz: unknown key") && !Catch::Contains("rounds"));
}

TEST_CASE("snpe: the truncated prior stays inside q's HPD region, and the fallback says so", "[snpe]") {
  // A one-round fit (plain NPE on prior simulations) gives a q to truncate with.
  SequentialProblem problem = narrow_problem(600);
  SequentialRecord record;
  const auto fit = run_snpe(problem, small_options(1, 30), record);
  REQUIRE(fit);
  const SnpeOptions options = small_options(1, 30);
  const TruncatedProposal plenty = truncated_prior_proposal(*fit, *problem.prior, problem.observation, 500, options, 11, 2);
  REQUIRE(plenty.theta.rows() == 500);
  CHECK(plenty.accepted == 500);
  CHECK(plenty.resampled == 0);
  // Every row lies in the region; the region is a strict part of the prior's mass (the posterior is
  // 3× narrower per axis: its 1 − 1e-4 region is a disc of radius ≈ 4.3 posterior sds ≈ 1.3, which
  // holds well under all of N(0, I)'s mass).
  CHECK((fit->log_prob(plenty.theta, problem.observation).array() >= plenty.threshold).all());
  CHECK(plenty.prior_draws > 500);
  CHECK_THAT(plenty.description, Catch::StartsWith("truncated prior") && !Catch::Contains("fallback"));
  // The same seed gives the same rows.
  const TruncatedProposal same = truncated_prior_proposal(*fit, *problem.prior, problem.observation, 500, options, 11, 1);
  CHECK((same.theta.array() == plenty.theta.array()).all());

  // One prior draw per row is not enough: the rest come from importance resampling, and it says so.
  SnpeOptions stingy = options;
  stingy.max_prior_draws = 1;
  const TruncatedProposal fallback = truncated_prior_proposal(*fit, *problem.prior, problem.observation, 500, stingy, 11, 2);
  REQUIRE(fallback.theta.rows() == 500);
  CHECK(fallback.prior_draws == 500);
  CHECK(fallback.accepted < 500);
  CHECK(fallback.resampled == 500 - fallback.accepted);
  CHECK(fallback.accepted + fallback.resampled == 500);
  CHECK_THAT(fallback.description, Catch::Contains("fallback"));
  CHECK((fit->log_prob(fallback.theta, problem.observation).array() >= fallback.threshold).all());
  // The resampled rows follow the truncated prior, not q: their spread is the region's under π,
  // wider than q's own (sd ≈ 0.30); under q, rows this spread out would be rare. Loose: > 0.3.
  const RowMatrix resampled = fallback.theta.bottomRows(static_cast<Eigen::Index>(fallback.resampled));
  const double sd = std::sqrt((resampled.col(0).array() - resampled.col(0).mean()).square().mean());
  CHECK(sd > 0.3);
}

TEST_CASE("snpe: rounds are recorded, the budget is exact, the same seed gives the same bits", "[snpe]") {
  for (const auto loss : {SnpeOptions::Loss::truncated, SnpeOptions::Loss::atomic}) {
    INFO("loss " << to_string(loss));
    SnpeOptions options = small_options(3, 4);
    options.loss = loss;
    options.atoms = 4;
    SequentialProblem problem = narrow_problem(601);
    SequentialRecord a, b;
    const auto fit_a = run_snpe(problem, options, a);
    problem.threads = 1;
    const auto fit_b = run_snpe(problem, options, b);
    REQUIRE(fit_a);
    REQUIRE(fit_b);
    CHECK(a.simulations == std::vector<std::size_t>{201, 200, 200});
    REQUIRE(a.proposals.size() == 3);
    CHECK(a.proposals[0] == "prior");
    CHECK_THAT(a.proposals[1], Catch::StartsWith(loss == SnpeOptions::Loss::truncated ? "truncated prior" : "posterior estimate"));
    CHECK(a.round_of_row.size() == static_cast<std::size_t>(a.theta.rows()));
    CHECK(a.round_of_row.back() == 2);
    CHECK(a.to_json()["proposals"].size() == 3);
    CHECK((a.theta.array() == b.theta.array()).all());
    CHECK((a.y.array() == b.y.array()).all());
    const RowMatrix da = fit_a->sample(problem.observation, 100, 5), db = fit_b->sample(problem.observation, 100, 5);
    CHECK((da.array() == db.array()).all());
  }
}

TEST_CASE("snpe: a stop request ends the run after the round in progress", "[snpe]") {
  SequentialProblem problem = narrow_problem(600);
  testing::StopAtProposal cut(2, 3);
  SequentialRecord record;
  const auto fit = run_snpe(problem, small_options(3, 4), record, cut.callbacks);
  REQUIRE(fit);  // round 1's fit
  CHECK(record.interrupted);
  CHECK(record.round_seconds.size() == 1);
}

TEST_CASE("snpe recovers a conjugate Gaussian posterior (truncated and atomic)", "[snpe][statistical]") {
  // KL(q ‖ p) = E_q[log q − log p] is estimated from 4000 draws of q: q's log_prob is exact and
  // normalised, p's is known. KL < 0.1 nats bounds the total variation by √(KL/2) = 0.22 (Pinsker),
  // so an optimal classifier tells q from p with accuracy at most 0.5 + TV/2 = 0.61 (C2ST ≤ 0.61).
  // The prior, had nothing been learnt, is KL ≈ 11.7 nats away; the Monte Carlo error of the estimate
  // (sd of the log ratio, < 1 here, over √4000) is below 0.02.
  for (const auto loss : {SnpeOptions::Loss::truncated, SnpeOptions::Loss::atomic}) {
    INFO("loss " << to_string(loss));
    SnpeOptions options = small_options(3, 200);
    options.loss = loss;
    const SequentialProblem problem = narrow_problem(2100);
    SequentialRecord record;
    const auto fit = run_snpe(problem, options, record);
    REQUIRE(fit);
    const RowMatrix draws = fit->sample(problem.observation, 4000, 7);
    const Vector log_q = fit->log_prob(draws, problem.observation);
    const Vector log_p = exact_log_posterior(draws, problem.observation);
    const double kl = (log_q - log_p).mean();
    INFO("KL(q || p) ≈ " << kl << ", proposals: " << record.to_json()["proposals"].dump());
    CHECK(kl < 0.1);
    CHECK(kl > -0.05);  // a KL is ≥ 0; below −0.05 would mean log_prob is not normalised
    const Vector mean = draws.colwise().mean().transpose();
    CHECK((mean - problem.observation / 1.1).norm() < 0.1);
  }
}

TEST_CASE("snpe: an interrupted run resumes after its last finished round, with the same result and nothing simulated twice", "[snpe][resume]") {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("sbi_snpe_resume_" + std::to_string(::getpid()));
  fs::remove_all(base);
  const SnpeOptions options = small_options(3, 4);
  SequentialProblem problem = narrow_problem(600);

  // Uninterrupted, keeping its rounds.
  problem.checkpoint = base / "whole";
  SequentialRecord whole;
  const auto fit_whole = run_snpe(problem, options, whole);
  REQUIRE(fit_whole);
  CHECK(whole.resumed_rounds == 0);

  // Interrupted once round 3's proposal is drawn (before it simulates): rounds 1 and 2 are kept.
  problem.checkpoint = base / "split";
  testing::StopAtProposal cut(3, 3);
  SequentialRecord first;
  REQUIRE(run_snpe(problem, options, first, cut.callbacks));
  CHECK(first.interrupted);
  CHECK(fs::exists(problem.checkpoint / "round_1.sbt"));
  CHECK_FALSE(fs::exists(problem.checkpoint / "round_2.sbt"));

  // Rerun: rounds 1 and 2 are read back, round 3 runs, and the result is the uninterrupted one.
  SequentialRecord second;
  const auto fit_second = run_snpe(problem, options, second);
  REQUIRE(fit_second);
  testing::check_resumed_as_whole(second, whole, 2);
  const RowMatrix a = fit_whole->sample(problem.observation, 200, 4), b = fit_second->sample(problem.observation, 200, 4);
  CHECK((a.array() == b.array()).all());

  // The round tables hold every simulation once, each row's round and proposal in their metadata.
  std::vector<std::uint64_t> indices;
  for (int round = 0; round < 3; ++round) {
    const ReferenceTable table = read_table(problem.checkpoint / ("round_" + std::to_string(round) + ".sbt"));
    CHECK(table.metadata.sequential["round"] == round);
    CHECK(table.metadata.sequential["proposal"] == whole.proposals[static_cast<std::size_t>(round)]);
    indices.insert(indices.end(), table.indices.begin(), table.indices.end());
  }
  CHECK(indices.size() == 600);
  for (std::size_t i = 0; i < indices.size(); ++i) CHECK(indices[i] == i);

  // A folder from another run is refused.
  SnpeOptions other = options;
  other.atoms = 7;
  SequentialRecord refused;
  CHECK_THROWS_WITH(run_snpe(problem, other, refused), Catch::Contains("holds the rounds of another run"));
  fs::remove_all(base);
}
