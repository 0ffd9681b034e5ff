// Flows with "direction": "sampling" (the layers run from noise to data; the generator of lfvi with
// "generator": "flow"): the reparameterised draw is differentiable (parameter gradients against
// finite differences), agrees with sample() and with log_prob at the drawn point, log_prob (by
// inversion) is normalised, and the options refuse what cannot work.
#include "flow_test_helpers.hpp"

#include "sbi/core/error.hpp"
#include "sbi/flows/density.hpp"
#include "sbi/flows/network.hpp"

#include <catch2/catch.hpp>

using namespace flow_tests;

namespace {

std::vector<std::string> flow_families() { return {"maf", "nsf_coupling", "nsf_autoregressive", "nsf_coupling_linear"}; }

DensityEstimatorOptions sampling_options(const std::string& family) {
  DensityEstimatorOptions o = small_options(family);
  o.direction = DensityEstimatorOptions::Direction::sampling;
  return o;
}

sbi::flows::Standardization standardization_2d() {
  sbi::flows::Standardization s;
  s.x_mean = Eigen::Vector2d(1.0, -2.0);
  s.x_sd = Eigen::Vector2d(2.0, 0.5);
  s.c_mean = Eigen::Vector3d(0.5, 0.0, -1.0);
  s.c_sd = Eigen::Vector3d(1.0, 3.0, 0.2);
  return s;
}

}  // namespace

TEST_CASE("flows (sampling direction): the reparameterised draw has exact parameter and input gradients", "[flows]") {
  // Loss = mean over rows of (Σ_j R_j z̃_j + log q̃(z̃)), z̃ = g(ε; h): it depends on the weights both
  // through the draw and through its density, so it checks the whole sample path. Tolerances as in
  // test_density.cpp's check (float difference quotients with h = 10⁻², one-sided where a spline knot
  // crosses a point).
  using sbi::flows::Mat;
  using sbi::flows::Tape;
  for (const auto& family : flow_families()) {
    INFO(family);
    DensityEstimatorOptions options = sampling_options(family);
    options.activation = sbi::nn::Activation::tanh;
    auto q = sbi::flows::make_density(options, 2, 3, 21);
    randomize(*q, 0.12, 5);
    REQUIRE(q->has_rsample());
    Mat zc = normal_rows(8, 3, 7).cast<float>();  // perturbed in place below
    const Mat noise = normal_rows(8, 2, 8).cast<float>();
    Mat projection(1, 2);
    projection << 0.7f, -1.3f;
    auto objective = [&](Tape& tape, const sbi::flows::ConditionalDensity::Draw& draw) {
      const auto linear = sbi::ad::sum_rows(sbi::ad::mul(draw.z_x, sbi::ad::broadcast(tape.constant(projection), draw.z_x.rows(), 2)));
      return sbi::ad::mean(sbi::ad::add(linear, draw.log_prob));
    };
    auto loss_value = [&] {
      Tape eval;
      return static_cast<double>(objective(eval, q->evaluate_standardized_rsample(eval, eval.constant(zc), noise)).item());
    };
    auto parameters = q->parameters();
    sbi::nn::zero_grad(parameters);
    Tape tape;
    const auto context = tape.variable(zc);
    const auto loss = objective(tape, q->standardized_rsample(context, noise));
    tape.backward(loss);
    sbi::Rng pick = sbi::Rng::stream(4, 4);
    DifferenceQuotients quotients{loss_value};
    quotients.compare_parameters(parameters, pick, 4);
    // The context enters through the conditioners: d loss / d z_c as well.
    quotients.compare_entries(zc, tape.gradient(context), pick, 6, "context");
    CHECK(quotients.checked > 8);
    CHECK(quotients.one_sided * 5 <= quotients.checked);
  }
}

TEST_CASE("flows (sampling direction): draws match sample() and log_prob at the drawn points", "[flows]") {
  for (const auto& family : flow_families()) {
    INFO(family);
    auto q = sbi::flows::make_density(sampling_options(family), 2, 3, 22);
    randomize(*q, 0.15, 6);
    q->set_standardization(standardization_2d());
    const RowMatrix contexts = normal_rows(50, 3, 9);
    // The same noise stream: sample_each draws ε row by row exactly as standard_normal does.
    sbi::Rng rng_a = sbi::Rng::stream(31, 0), rng_b = sbi::Rng::stream(31, 0);
    const RowMatrix drawn = q->sample_each(contexts, rng_a);
    const sbi::flows::Mat noise = sbi::flows::standard_normal(50, 2, rng_b);
    sbi::flows::Tape tape;
    const auto draw = q->evaluate_standardized_rsample(tape, tape.constant(q->standardize_c(contexts)), noise);
    const auto& sd = q->standardization().x_sd;
    const auto& mean = q->standardization().x_mean;
    double largest_gap = 0, largest_density_gap = 0;
    const Vector lp = q->log_prob(drawn, contexts);
    for (Eigen::Index r = 0; r < 50; ++r) {
      for (Eigen::Index j = 0; j < 2; ++j)
        largest_gap = std::max(largest_gap, std::abs(drawn(r, j) - (mean(j) + sd(j) * draw.z_x.value()(r, j))));
      // log_prob inverts the layers in float and runs them forward again: agreement to float
      // rounding of a few layers (values O(1–10), ε ≈ 6·10⁻⁸ relative per operation).
      largest_density_gap = std::max(largest_density_gap, std::abs(lp(r) - (draw.log_prob.value()(r, 0) - q->log_x_scale())));
    }
    CHECK(largest_gap < 1e-5);
    CHECK(largest_density_gap < 2e-3);
  }
}

TEST_CASE("flows (sampling direction): log_prob by inversion integrates to one", "[flows]") {
  // As test_density.cpp's normalisation test (midpoint rule over mean ± 7 sd, margin 10⁻³), on a
  // coarser 400² grid (h = 0.035 sd), resolving these weights' features as well on these seeds.
  const Eigen::Vector2d low(1.0 - 14.0, -2.0 - 3.5), high(1.0 + 14.0, -2.0 + 3.5);
  for (const auto& family : flow_families()) {
    INFO(family);
    auto q = sbi::flows::make_density(sampling_options(family), 2, 3, 23);
    randomize(*q, 0.12, 7);
    q->set_standardization(standardization_2d());
    const Vector context = normal_rows(1, 3, 20).row(0).transpose();
    CHECK(integrate_2d(*q, context, low, high, 400) == Approx(1.0).margin(1e-3));
  }
}

TEST_CASE("flows (sampling direction): spline coupling log_prob is differentiable (maximum likelihood), values as by plain inversion", "[flows]") {
  // Loss = mean log q̃(z̃ | h) at given points: the layers inverted on the tape (a Newton step at each
  // layer's root). Its value equals evaluate_standardized_log_prob's (plain inversion, then a forward
  // pass) to float rounding of a few layers; its gradients in the weights, the points and the context
  // match difference quotients with the tolerances of the reparameterised-draw test above. Points
  // beyond the tail bound (identity tails) are among them.
  using sbi::flows::Mat;
  using sbi::flows::Tape;
  for (const std::string family : {"nsf_coupling", "nsf_coupling_residual"}) {
    INFO(family);
    DensityEstimatorOptions options = sampling_options(family);
    options.activation = sbi::nn::Activation::tanh;
    auto q = sbi::flows::make_density(options, 2, 3, 24);
    randomize(*q, 0.12, 9);
    Mat points = normal_rows(8, 2, 10).cast<float>();
    points(0, 0) = 3.6f;  // outside [−3, 3] in the first layer's input
    Mat zc = normal_rows(8, 3, 11).cast<float>();
    auto loss_value = [&] {
      Tape eval;
      return static_cast<double>(sbi::ad::mean(q->evaluate_standardized_log_prob(eval, eval.constant(points), eval.constant(zc))).item());
    };
    auto parameters = q->parameters();
    sbi::nn::zero_grad(parameters);
    Tape tape;
    const auto x = tape.variable(points), context = tape.variable(zc);
    const auto loss = sbi::ad::mean(q->standardized_log_prob(x, context));
    CHECK(static_cast<double>(loss.item()) == Approx(loss_value()).margin(1e-4));
    tape.backward(loss);
    sbi::Rng pick = sbi::Rng::stream(5, 5);
    DifferenceQuotients quotients{loss_value};
    quotients.compare_parameters(parameters, pick, 4);
    quotients.compare_entries(points, tape.gradient(x), pick, 6, "point");
    quotients.compare_entries(zc, tape.gradient(context), pick, 6, "context");
    CHECK(quotients.checked > 8);
    CHECK(quotients.one_sided * 5 <= quotients.checked);
  }
}

TEST_CASE("flows (sampling direction): refused where it cannot work", "[flows]") {
  // A mixture has no reparameterised sampler.
  nlohmann::json spec = {{"type", "mog"}, {"direction", "sampling"}};
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json(spec, "inference.flow"), Catch::Contains("inference.flow.direction"));
  spec = {{"type", "maf"}, {"direction", "upwards"}};
  CHECK_THROWS_WITH(DensityEstimatorOptions::from_json(spec, "inference.flow"), Catch::Contains("inference.flow.direction"));
  // The density direction has no reparameterised draw; the sampling direction a trainable log_prob
  // with spline coupling layers only (autoregressive layers are inverted pass by pass, off the tape).
  auto density_way = sbi::flows::make_density(small_options("maf"), 2, 3, 1);
  CHECK_FALSE(density_way->has_rsample());
  sbi::flows::Tape tape;
  const sbi::flows::Mat zc = normal_rows(4, 3, 1).cast<float>(), noise = normal_rows(4, 2, 2).cast<float>();
  CHECK_THROWS_AS(density_way->standardized_rsample(tape.constant(zc), noise), sbi::InputError);
  auto sampling_way = sbi::flows::make_density(sampling_options("maf"), 2, 3, 1);
  CHECK_THROWS_AS(sampling_way->standardized_log_prob(tape.constant(noise), tape.constant(zc)), sbi::InputError);
  // The option round-trips through JSON; both directions are written.
  CHECK(DensityEstimatorOptions::from_json(sampling_options("maf").to_json()).direction == DensityEstimatorOptions::Direction::sampling);
  CHECK(small_options("maf").to_json().at("direction") == "density");
}
