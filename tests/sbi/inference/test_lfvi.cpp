#include "sbi/inference/lfvi.hpp"
#include "sbi/inference/mmd.hpp"
#include "models/methods.hpp"

#include "models/implicit_posterior.hpp"
#include "sbi/core/error.hpp"
#include "sbi/simulation/runner.hpp"
#include "simulators/gaussian.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>

using namespace sbi;

namespace {

// gaussian_linear in 2 dimensions: prior N(0, 0.1 I), y ~ N(θ, 0.1 I), posterior N(y/2, 0.05 I).
struct Problem {
  PriorPtr prior;
  Simulator simulator;
  RowMatrix theta, y;
};

Problem make_problem(std::size_t n) {
  simulators::GaussianLinearOptions options;
  options.dim = 2;
  Problem p{simulators::gaussian_linear_prior(options), simulators::make_gaussian_linear(options), {}, {}};
  SimulationOptions run;
  run.threads = 2;
  p.theta.resize(0, 2);
  p.y.resize(0, 2);
  simulate_from_prior(p.simulator, *p.prior, n, 3, 0, run, [&](const SimulationChunk& c) {
    const auto old = p.theta.rows();
    p.theta.conservativeResize(old + c.theta.rows(), Eigen::NoChange);
    p.y.conservativeResize(old + c.y.rows(), Eigen::NoChange);
    p.theta.bottomRows(c.theta.rows()) = c.theta;
    p.y.bottomRows(c.y.rows()) = c.y;
  });
  return p;
}

template <class Options>
void make_small(Options& o) {
  o.generator.hidden = {32, 32};
  o.generator.learning_rate = 1e-3;
  o.max_iterations = 1500;
  o.min_iterations = 1500;
  o.eval_every = 250;
  o.seed = 5;
}

MmdGeneratorOptions small_mmd_options() {
  MmdGeneratorOptions o;
  make_small(o);
  return o;
}

LfviOptions small_options() {
  LfviOptions o;
  o.generator.hidden = o.discriminator.hidden = {32, 32};
  o.generator.learning_rate = 1e-3;
  o.discriminator.learning_rate = 1e-3;
  o.max_iterations = 1500;
  o.min_iterations = 1500;
  o.eval_every = 250;
  o.seed = 5;
  return o;
}

// What a useful amortised posterior must get right here, in units of the true posterior sd
// √0.05 ≈ 0.224: every posterior mean within 0.5 sd of y/2 (the prior mean is off by |y|/2, up to
// 2 sd for the observations used), and every sd within a factor 1.5 of the truth (the prior's sd
// is √2 times larger; a collapsed generator has sd near 0). 4000 draws make the Monte Carlo error
// of these checks (0.016 sd for a mean, 1 % for an sd) negligible against the bounds.
void check_posterior(const Posterior& posterior, const Vector& observation) {
  const RowMatrix s = posterior.sample(observation, 4000, 11);
  const double true_sd = std::sqrt(0.05);
  for (Eigen::Index c = 0; c < 2; ++c) {
    const double mean = s.col(c).mean();
    const double sd = std::sqrt((s.col(c).array() - mean).square().sum() / 3999.0);
    INFO("coordinate " << c << ": mean " << mean << " (truth " << observation[c] / 2 << "), sd " << sd << " (truth " << true_sd << ")");
    CHECK(std::abs(mean - observation[c] / 2) < 0.5 * true_sd);
    CHECK(sd > true_sd / 1.5);
    CHECK(sd < true_sd * 1.5);
  }
}

PosteriorInfo info_for(const std::string& method) {
  PosteriorInfo info;
  info.method = method;
  info.provenance.method = method;
  return info;
}

Posterior train(const Problem& p, const LfviOptions& options) {
  return Posterior(std::make_shared<models::ImplicitPosterior>(train_lfvi(p.theta, p.y, *p.prior, options), p.prior, Names{"y1", "y2"},
                                                               info_for("lfvi"), options.refine_oversample));
}

Posterior train(const Problem& p, const MmdGeneratorOptions& options) {
  return Posterior(std::make_shared<models::ImplicitPosterior>(train_mmd_generator(p.theta, p.y, *p.prior, options), p.prior,
                                                               Names{"y1", "y2"}, info_for("mmd")));
}

}  // namespace

TEST_CASE("LFVI recovers the gaussian_linear posterior at a small budget", "[lfvi]") {
  const Problem p = make_problem(3000);
  auto posterior = train(p, small_options());
  for (const Vector& observation : {Vector(Vector::Constant(2, 0.0)), Vector((Vector(2) << 0.6, -0.4).finished())})
    check_posterior(posterior, observation);
}

TEST_CASE("the MMD generator recovers the gaussian_linear posterior at a small budget", "[lfvi]") {
  const Problem p = make_problem(3000);
  auto posterior = train(p, small_mmd_options());
  for (const Vector& observation : {Vector(Vector::Constant(2, 0.0)), Vector((Vector(2) << 0.6, -0.4).finished())})
    check_posterior(posterior, observation);
}

TEST_CASE("save, load and sample give bit-identical draws, training is reproducible", "[lfvi]") {
  const Problem p = make_problem(500);
  auto options = small_options();
  options.max_iterations = options.min_iterations = 200;
  options.eval_every = 50;
  options.refine_oversample = 3;
  auto posterior = train(p, options);
  const auto folder = std::filesystem::temp_directory_path() / ("sbi_posterior_" + std::to_string(::getpid()));
  posterior.save(folder);
  const Posterior loaded = load_posterior(folder);
  CHECK(loaded.kind() == "implicit_generator");
  CHECK(loaded.method() == "lfvi");
  const Vector observation = Vector::Constant(2, 0.3);
  const RowMatrix a = posterior.sample(observation, 500, 7);
  const RowMatrix b = loaded.sample(observation, 500, 7);
  CHECK((a.array() == b.array()).all());
  const auto* kind = loaded.model_as<models::ImplicitPosterior>();
  REQUIRE(kind != nullptr);
  CHECK(kind->training_curve().records.size() == posterior.model_as<models::ImplicitPosterior>()->training_curve().records.size());
  CHECK(kind->refine_oversample() == 3);
  CHECK_THROWS_AS(loaded.log_prob(a, observation), InputError);
  // The same data and seed train the same networks.
  auto again = train(p, options);
  CHECK((again.sample(observation, 500, 7).array() == a.array()).all());
  // A different sampling seed gives different draws.
  CHECK_FALSE((posterior.sample(observation, 500, 8).array() == a.array()).all());
  // Damage is reported.
  std::filesystem::remove(folder / "generator.sbinn");
  CHECK_THROWS_AS(load_posterior(folder), FileError);
  std::filesystem::remove_all(folder);
}

TEST_CASE("samples always lie in the prior's support", "[lfvi]") {
  // A box prior: the generator's output goes through the logit bijection.
  UniformPrior box(Vector::Constant(2, -1.0), Vector::Constant(2, 1.0));
  const auto prior = std::make_shared<UniformPrior>(box);
  Rng rng(1);
  RowMatrix theta = prior->sample_batch(rng, 400);
  RowMatrix y = theta + 0.1 * RowMatrix::Ones(400, 2);
  auto options = small_mmd_options();
  options.max_iterations = options.min_iterations = 100;
  models::ImplicitPosterior posterior(train_mmd_generator(theta, y, *prior, options), prior, {"y1", "y2"}, info_for("mmd"));
  const RowMatrix s = posterior.sample(Vector::Constant(2, 0.99), 2000, 3);
  for (Eigen::Index r = 0; r < s.rows(); ++r) CHECK(prior->in_support(row_span(s, r)));
}

TEST_CASE("bad LFVI settings in a spec get errors naming the JSON path", "[lfvi][spec]") {
  auto error_of = [](const char* text) {
    try {
      LfviOptions::from_json(nlohmann::json::parse(text));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(R"({"generator": {"learning_rate": 0}})") == "inference.generator.learning_rate: expected a positive number, got 0");
  CHECK(error_of(R"({"discriminator": {"hidden": [64, 0]}})") ==
        "inference.discriminator.hidden[1]: expected a layer width (integer in [1, 65536]), got 0");
  CHECK(error_of(R"({"discriminator_steps": 0})") == "inference.discriminator_steps: expected an integer in [1, 100], got 0");
  CHECK_THAT(error_of(R"({"seed": -1})"), Catch::StartsWith("inference.seed: expected a whole number"));
  CHECK_THAT(error_of(R"({"lerning_rate": 0.1})"), Catch::StartsWith("inference.lerning_rate: unknown key"));
  CHECK(error_of(R"({"simulations": 1000, "method": "lfvi"})") == "no error");
  // The MMD generator has no discriminator: its keys are unknown there.
  CHECK_THROWS_WITH(MmdGeneratorOptions::from_json(nlohmann::json::parse(R"({"refine_oversample": 4})")),
                    Catch::StartsWith("inference.refine_oversample: unknown key"));
}
