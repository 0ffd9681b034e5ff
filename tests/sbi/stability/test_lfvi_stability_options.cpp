// The stability regularisers as LFVI options: parsing, γ0, and a short training run using them.
#include "sbi/core/error.hpp"
#include "sbi/inference/lfvi.hpp"
#include "sbi/priors/prior.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace sbi;

namespace {

std::string error_of(const char* text) {
  try {
    LfviOptions::from_json(nlohmann::json::parse(text));
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("LFVI reads the stability options", "[stability][lfvi][spec]") {
  const auto o = LfviOptions::from_json(nlohmann::json::parse(
      R"({"spectral_norm": true, "spectral_bound": 2, "discriminator": {"hidden": [16, 16]}, "gradient_penalty_mode": "one_sided",
          "gradient_penalty_target": 0.5, "rkhs_beta2": 3, "rkhs_support": 32, "generator_learning_rate_gamma0_multiple": 10})"));
  CHECK(o.gradient_penalty_mode == stability::GradientPenaltyMode::one_sided);
  CHECK(o.gradient_penalty_target == 0.5);
  CHECK(o.rkhs_beta2 == 3);
  CHECK(o.rkhs_support == 32);
  // α = 2³ (three layers of bound 2), β2 = 3: γ0 = 1/(7·8 + 3) = 1/59.
  CHECK(lfvi_gamma0(o) == Approx(1.0 / 59));
  CHECK(effective_generator_learning_rate(o) == Approx(10.0 / 59));
  const auto round_trip = LfviOptions::from_json(o.to_json());
  CHECK(round_trip.to_json() == o.to_json());

  // Without spectral normalisation, a two-sided penalty's target is the Lipschitz bound.
  const auto gp = LfviOptions::from_json(nlohmann::json::parse(R"({"gradient_penalty": 1, "gradient_penalty_mode": "two_sided", "gradient_penalty_target": 2})"));
  CHECK(lfvi_gamma0(gp) == Approx(1.0 / 14));
  CHECK(effective_generator_learning_rate(gp) == gp.generator.learning_rate);  // multiple off

  CHECK(error_of(R"({"gradient_penalty_mode": "sideways"})") ==
        "inference.gradient_penalty_mode: expected one of \"zero_centred\", \"two_sided\" or \"one_sided\", got \"sideways\"");
  CHECK(error_of(R"({"rkhs_beta2": -1})").rfind("inference.rkhs_beta2:", 0) == 0);
  CHECK(error_of(R"({"gradient_penalty_target": 0})").rfind("inference.gradient_penalty_target:", 0) == 0);
  CHECK(error_of(R"({"generator_learning_rate_gamma0_multiple": 2})").rfind("inference.generator_learning_rate_gamma0_multiple: γ0 needs a Lipschitz bound", 0) == 0);
  const LfviOptions defaults;
  CHECK_THROWS_AS(lfvi_gamma0(defaults), InputError);  // default: zero-centred penalty, no bound
}

TEST_CASE("LFVI trains with spectral normalisation, the RKHS penalty and a two-sided penalty", "[stability][lfvi]") {
  // θ ~ N(0, I₂), y = θ + noise: a few dozen steps must run and give finite validation MMD².
  NormalPrior prior(Vector::Zero(2), Matrix::Identity(2, 2));
  Rng rng(3);
  RowMatrix theta = prior.sample_batch(rng, 200), y(200, 2);
  for (Eigen::Index r = 0; r < 200; ++r)
    for (Eigen::Index c = 0; c < 2; ++c) y(r, c) = theta(r, c) + 0.3 * rng.normal();
  LfviOptions o;
  o.generator.hidden = o.discriminator.hidden = {16};
  o.generator.batch_size = o.discriminator.batch_size = 32;
  o.spectral_norm = true;
  o.rkhs_beta2 = 1;
  o.rkhs_support = 16;
  o.gradient_penalty_mode = stability::GradientPenaltyMode::two_sided;
  o.penalty_every = 1;
  o.generator_learning_rate_gamma0_multiple = 0.01;
  o.max_iterations = 40;
  o.min_iterations = 40;
  o.eval_every = 20;
  const auto fit = train_lfvi(theta, y, prior, o);
  REQUIRE(fit.training.curve.records.size() == 2);
  for (const auto& record : fit.training.curve.records) {
    CHECK(std::isfinite(record.validation));
    CHECK(std::isfinite(record.losses[0]));  // the discriminator's
  }
}
