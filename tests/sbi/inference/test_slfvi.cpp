// Sequential LFVI (sbi/inference/slfvi.hpp): options, the ellipsoidal truncated prior and its
// fallback, and the rounds on a conjugate Gaussian model.
#include "sbi/core/error.hpp"
#include "sbi/inference/slfvi.hpp"
#include "sbi/simulation/simulator.hpp"
#include "sbi/priors/prior.hpp"
#include "simulators/gaussian.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace sbi;

namespace {

// A stand-in for q(θ | y_o): N(c, 0.1² I) in 2-D, drawn from the seed.
GeneratorSampler gaussian_sampler(const Vector& centre) {
  return [centre](const Vector&, Eigen::Index n, std::uint64_t seed) {
    Rng rng(seed);
    RowMatrix theta(n, centre.size());
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index j = 0; j < centre.size(); ++j) theta(i, j) = centre(j) + 0.1 * rng.normal();
    return theta;
  };
}

}  // namespace

TEST_CASE("slfvi options: defaults, round trip, errors with their JSON path", "[slfvi]") {
  const SlfviOptions defaults = SlfviOptions::from_json(nlohmann::json::object());
  CHECK(defaults.inflation == 1.5);
  CHECK(defaults.truncation_quantile == 1e-4);
  const SlfviOptions o = SlfviOptions::from_json({{"rounds", 4}, {"inflation", 2}, {"max_iterations", 50}});
  CHECK(o.sequential.rounds == 4);
  CHECK(o.inflation == 2);
  CHECK(o.lfvi.max_iterations == 50);
  CHECK(SlfviOptions::from_json(o.to_json()).to_json() == o.to_json());
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"inflation", 0.5}}), Catch::StartsWith("inference.inflation"));
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"inflaton", 2}}), Catch::StartsWith("inference.inflaton: unknown key"));
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"inflaton", 2}}),
                    Catch::Contains("inflation") && Catch::Contains("retrain_from_scratch") && Catch::Contains("rounds") && Catch::Contains("noise_dim"));
  CHECK(defaults.retrain_from_scratch);
  const SlfviOptions continuing = SlfviOptions::from_json({{"retrain_from_scratch", false}});
  CHECK_FALSE(continuing.retrain_from_scratch);
  CHECK_FALSE(SlfviOptions::from_json(continuing.to_json()).retrain_from_scratch);
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"retrain_from_scratch", 1}}), Catch::StartsWith("inference.retrain_from_scratch"));
}

TEST_CASE("slfvi options with the flow generator: its keys, refinement on by default, errors with their JSON path", "[slfvi]") {
  const SlfviOptions flow = SlfviOptions::from_json({{"generator", "flow"}, {"rounds", 3}, {"inflation", 2}, {"max_iterations", 50}});
  REQUIRE(flow.flow);
  CHECK(flow.sequential.rounds == 3);
  CHECK(flow.inflation == 2);
  CHECK(flow.flow->max_iterations == 50);
  CHECK(flow.flow->refine.steps == SlfviOptions::default_flow_refine_steps);
  CHECK(flow.region == SlfviOptions::Region::hpd);
  CHECK(flow.flow->iw_samples == SlfviOptions::default_flow_iw_samples);
  CHECK(SlfviOptions::from_json({{"generator", "flow"}, {"iw_samples", 1}}).flow->iw_samples == 1);
  CHECK(SlfviOptions::from_json({{"generator", "flow"}, {"region", "ellipsoid"}}).region == SlfviOptions::Region::ellipsoid);
  CHECK(SlfviOptions::from_json(nlohmann::json::object()).region == SlfviOptions::Region::ellipsoid);
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"region", "hpd"}}), Catch::StartsWith("inference.region: \"hpd\" needs the flow generator"));
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"generator", "flow"}, {"region", "box"}}), Catch::StartsWith("inference.region"));
  CHECK(flow.to_json()["generator"] == "flow");
  CHECK(SlfviOptions::from_json(flow.to_json()).to_json() == flow.to_json());
  // Refinement given is refinement kept, off included.
  CHECK(SlfviOptions::from_json({{"generator", "flow"}, {"refine", {{"steps", 0}}}}).flow->refine.steps == 0);
  CHECK_FALSE(SlfviOptions::from_json({{"generator", "implicit"}}).flow);
  CHECK_FALSE(SlfviOptions::from_json(nlohmann::json::object()).flow);
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"generator", "flows"}}), Catch::StartsWith("inference.generator: expected \"flow\""));
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"generator", "flow"}, {"retrain_from_scratch", false}}),
                    Catch::StartsWith("inference.retrain_from_scratch"));
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"generator", "flow"}, {"flow", {{"type", "mog"}}}}), Catch::Contains("inference.flow") && Catch::Contains("mixture"));
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"generator", "flow"}, {"ratio", {{"atoms", 1}}}}), Catch::StartsWith("inference.ratio.atoms"));
  // An unknown key lists the flow's keys and the sequential ones.
  CHECK_THROWS_WITH(SlfviOptions::from_json({{"generator", "flow"}, {"inflaton", 2}}),
                    Catch::StartsWith("inference.inflaton: unknown key") && Catch::Contains("inflation") && Catch::Contains("rounds") &&
                        Catch::Contains("iw_samples"));
}

TEST_CASE("lfvi: training can start from an earlier fit's networks (SLFVI's continuing rounds)", "[slfvi][lfvi]") {
  const auto prior = simulators::gaussian_linear_prior({.dim = 2});
  const Simulator simulator = simulators::make_gaussian_linear({.dim = 2});
  Rng rng(5);
  const RowMatrix theta = prior->sample_batch(rng, 200);
  RowMatrix y(200, 2);
  std::vector<std::uint64_t> seeds(200);
  for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = 100 + i;
  std::vector<SimulationOutcome> outcomes(200);
  simulator.simulate_batch(theta, y, seeds, outcomes);
  // Learning rates so small that 20 steps move no weight visibly: a fit is its starting networks.
  LfviOptions options;
  options.generator.hidden = {16};
  options.discriminator.hidden = {16};
  options.generator.learning_rate = options.discriminator.learning_rate = 1e-12;
  options.max_iterations = 20;
  options.min_iterations = 0;
  options.eval_every = 10;
  ImplicitGeneratorFit first = train_lfvi(theta, y, *prior, options);
  options.seed = 2;  // other fresh weights
  ImplicitGeneratorFit fresh = train_lfvi(theta, y, *prior, options);
  ImplicitGeneratorFit continued = train_lfvi(theta, y, *prior, options, {}, &first);
  ad::Matrix<float> input = ad::Matrix<float>::Random(50, 2 + first.noise_dim);
  const auto output = [&](ImplicitGeneratorFit& fit) { return fit.generator.predict(input); };
  CHECK((output(continued) - output(first)).cwiseAbs().maxCoeff() < 1e-5f);
  CHECK((output(fresh) - output(first)).cwiseAbs().maxCoeff() > 1e-2f);
  // Networks of another layout are refused.
  options.generator.hidden = {8};
  CHECK_THROWS_WITH(train_lfvi(theta, y, *prior, options, {}, &first), Catch::Contains("other networks"));
}

TEST_CASE("slfvi: the ellipsoidal truncated prior, and the fallback that says so", "[slfvi]") {
  const NormalPrior prior = NormalPrior::diagonal(Vector::Zero(2), Vector::Ones(2));
  const Vector centre = (Eigen::Vector2d() << 0.5, -0.3).finished();
  SlfviOptions options;
  options.region_samples = 4000;
  const EllipsoidProposal a = ellipsoid_prior_proposal(gaussian_sampler(centre), prior, Vector::Zero(2), 300, options, 5);
  REQUIRE(a.theta.rows() == 300);
  CHECK(a.accepted == 300);
  CHECK((a.centre - centre).norm() < 0.02);  // 4000 draws of sd 0.1: the mean's error is ~0.002
  // The radius: the draws' largest squared distance (≈ 2·ln 4000 ≈ 17 for a 2-D Gaussian) times 1.5².
  CHECK(a.radius2 > 10 * 2.25);
  CHECK(a.radius2 < 30 * 2.25);
  // Every row within the ellipsoid: |θ − c| ≤ 0.1·√radius2 (identity bijection, covariance ≈ 0.01 I), with
  // 5 % slack for the estimated covariance.
  for (Eigen::Index i = 0; i < a.theta.rows(); ++i) CHECK((a.theta.row(i).transpose() - centre).norm() < 0.105 * std::sqrt(a.radius2));
  // The region is small beside N(0, I): a disc of area π·radius2·0.01 ≤ π·0.675 = 2.1 where the prior's
  // density is below 1/(2π), so it holds under 34 % of the prior's mass and 300 rows take over 880 draws.
  CHECK(a.prior_draws > 880);
  CHECK_THAT(a.description, !Catch::Contains("fallback"));
  SlfviOptions stingy = options;
  stingy.max_prior_draws = 1;
  const EllipsoidProposal b = ellipsoid_prior_proposal(gaussian_sampler(centre), prior, Vector::Zero(2), 300, stingy, 5);
  REQUIRE(b.theta.rows() == 300);
  CHECK(b.accepted < 300);
  CHECK(b.resampled == 300 - b.accepted);
  CHECK_THAT(b.description, Catch::Contains("fallback"));
  for (Eigen::Index i = 0; i < b.theta.rows(); ++i) CHECK((b.theta.row(i).transpose() - centre).norm() < 0.105 * std::sqrt(b.radius2));
}
