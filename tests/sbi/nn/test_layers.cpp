// Layers and networks: derivatives (first and second order), the gradient penalty's exact
// double-backward, spectral normalisation, standardisation and initialisation.
#include "sbi/autodiff/gradient_check.hpp"
#include "sbi/core/error.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/nn/mlp.hpp"

#include <Eigen/SVD>
#include <catch2/catch.hpp>

namespace {

using Mat = sbi::ad::Matrix<double>;
using sbi::ad::Tape;
using sbi::ad::Var;
using sbi::nn::Activation;
using sbi::nn::BasicMlp;
using sbi::nn::MlpOptions;

Mat random(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream, double scale = 1.0) {
  sbi::Rng rng = sbi::Rng::stream(77, stream);
  Mat m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = scale * rng.normal();
  return m;
}

std::vector<sbi::ad::ParameterRef> refs(sbi::nn::ParameterList<double> parameters) {
  std::vector<sbi::ad::ParameterRef> list;
  for (auto* p : parameters) list.push_back({&p->value, &p->grad});
  return list;
}

// Perturb biases away from zero so that the test does not sit on symmetric points.
void randomize_biases(BasicMlp<double>& net) {
  std::uint64_t stream = 100;
  for (auto& layer : net.layers()) layer.bias().value = random(1, layer.outputs(), stream++, 0.3);
}

}  // namespace

TEST_CASE("Linear and MLP layers: derivatives to second order", "[nn]") {
  for (const Activation activation : {Activation::tanh, Activation::elu, Activation::softplus, Activation::sigmoid,
                                      Activation::relu, Activation::leaky_relu}) {
    for (const bool residual : {false, true}) {
      INFO(sbi::nn::to_string(activation) << (residual ? " residual" : ""));
      MlpOptions options;
      options.widths = {3, 5, 5, 2};
      options.activation = activation;
      options.residual = residual;
      BasicMlp<double> net(options, 11);
      randomize_biases(net);
      net.set_standardizer(sbi::nn::BasicStandardizer<double>::fit(random(10, 3, 3)));
      // Through the inputs, to first and second order.
      const auto result = sbi::ad::check_gradients(
          [&net](Tape<double>&, const std::vector<Var<double>>& in) { return net.forward(in[0]); }, {random(4, 3, 1)});
      INFO(result.report);
      CHECK(result.ok);
      // Through the parameters.
      const Mat x = random(4, 3, 2);
      const auto parameter_result = sbi::ad::check_parameter_gradients(
          [&](Tape<double>& tape) { return sbi::ad::sum(sbi::ad::square(net.forward(tape.constant(x)))); },
          refs(net.parameters()));
      INFO(parameter_result.report);
      CHECK(parameter_result.ok);
    }
  }
}

TEST_CASE("gradient penalty: d/dθ of a function of ∇ₓD(x) is exact for smooth activations", "[nn][autodiff]") {
  for (const Activation activation : {Activation::tanh, Activation::elu, Activation::softplus, Activation::sigmoid}) {
    INFO(sbi::nn::to_string(activation));
    MlpOptions options;
    options.widths = {3, 6, 6, 1};
    options.activation = activation;
    BasicMlp<double> discriminator(options, 5);
    randomize_biases(discriminator);
    const Mat x = random(5, 3, 9);
    // WGAN-GP style: mean over the batch of (‖∇ₓD(x)‖ - 1)², plus the data term.
    const auto penalty_loss = [&](Tape<double>& tape) {
      const auto input = tape.variable(x);
      const auto d = discriminator.forward(input);
      const auto gradient = sbi::ad::grad(sbi::ad::sum(d), {input}, /*create_graph=*/true)[0];
      const auto norms = sbi::ad::sqrt(sbi::ad::sum_rows(sbi::ad::square(gradient)));
      const auto penalty = sbi::ad::mean(sbi::ad::square(sbi::ad::add_scalar(norms, -1.0)));
      return sbi::ad::add(sbi::ad::mean(d), sbi::ad::mul_scalar(penalty, 10.0));
    };
    const auto result = sbi::ad::check_parameter_gradients(penalty_loss, refs(discriminator.parameters()));
    INFO(result.report);
    CHECK(result.ok);
    CHECK(result.checked_entries == 3 * 6 + 6 + 6 * 6 + 6 + 6 + 1);
  }
}

TEST_CASE("spectral normalisation converges to the largest singular value and bounds the Lipschitz constant", "[nn]") {
  sbi::Rng rng = sbi::Rng::stream(3, 0);
  for (const double bound : {1.0, 0.5, 2.0}) {
    INFO("bound " << bound);
    sbi::nn::BasicLinear<double> layer(7, 5, Activation::relu, rng);
    layer.weight().value = random(7, 5, 40, 2.0);
    sbi::nn::SpectralNormOptions sn_options;
    sn_options.bound = bound;
    layer.enable_spectral_norm(sn_options, rng);
    Tape<double> tape;
    const Mat x = random(4, 7, 41);
    for (int step = 0; step < 100; ++step) {
      auto scope = tape.scope();
      layer.forward(tape.constant(x), /*training=*/true);
    }
    const Eigen::JacobiSVD<Mat> svd(layer.weight().value);
    const double largest = svd.singularValues()(0);
    CHECK(layer.spectral_norm()->sigma(layer.weight().value) == Approx(largest).epsilon(1e-6));
    // The weight the layer actually uses.
    auto scope = tape.scope();
    const auto normalized = layer.spectral_norm()->normalize(layer.weight().on(tape), /*update=*/false);
    const Eigen::JacobiSVD<Mat> normalized_svd(normalized.value());
    CHECK(normalized_svd.singularValues()(0) <= bound * (1 + 1e-6));
    CHECK(normalized_svd.singularValues()(0) == Approx(bound).epsilon(1e-6));
  }
}

TEST_CASE("spectrally normalised MLP has exact gradients", "[nn]") {
  MlpOptions options;
  options.widths = {3, 4, 2};
  options.activation = Activation::tanh;
  options.spectral_norm = true;
  options.spectral.bound = 1.5;
  BasicMlp<double> net(options, 2);
  net.eval();  // fixed u, v: a pure function of the weights
  const Mat x = random(4, 3, 50);
  const auto result = sbi::ad::check_parameter_gradients(
      [&](Tape<double>& tape) { return sbi::ad::sum(sbi::ad::square(net.forward(tape.constant(x)))); },
      refs(net.parameters()));
  INFO(result.report);
  CHECK(result.ok);
}

TEST_CASE("standardizer centres and scales, keeping constant columns finite", "[nn]") {
  Mat data = random(50, 3, 60);
  data.col(0) = data.col(0) * 4.0 + Mat::Constant(50, 1, 7.0);
  data.col(2).setConstant(3.0);
  const auto s = sbi::nn::BasicStandardizer<double>::fit(data);
  const Mat z = s.apply(data);
  CHECK(z.col(0).mean() == Approx(0.0).margin(1e-12));
  CHECK(std::sqrt((z.col(0).array() - z.col(0).mean()).square().sum() / 49) == Approx(1.0));
  CHECK(s.sd(0, 2) == 1.0);
  CHECK(z.col(2).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("initialisation follows the activation", "[nn]") {
  sbi::Rng rng = sbi::Rng::stream(9, 0);
  sbi::nn::BasicLinear<double> he(400, 300, Activation::relu, rng);
  sbi::nn::BasicLinear<double> glorot(400, 300, Activation::tanh, rng);
  auto sd = [](const Mat& m) { return std::sqrt((m.array() - m.mean()).square().mean()); };
  CHECK(sd(he.weight().value) == Approx(std::sqrt(2.0 / 400)).epsilon(0.02));
  CHECK(sd(glorot.weight().value) == Approx(std::sqrt(2.0 / 700)).epsilon(0.02));  // U(±√(6/700)) has sd √(2/700)
  CHECK(he.bias().value.isZero());
  // Same seed, same network.
  MlpOptions options;
  options.widths = {4, 8, 1};
  CHECK(BasicMlp<double>(options, 5).layers()[0].weight().value == BasicMlp<double>(options, 5).layers()[0].weight().value);
  CHECK(BasicMlp<double>(options, 5).layers()[0].weight().value != BasicMlp<double>(options, 6).layers()[0].weight().value);
}

TEST_CASE("MLP options are validated and round-trip through JSON", "[nn]") {
  MlpOptions options;
  std::string why;
  CHECK_FALSE(options.is_valid(&why));
  CHECK(why.find("widths") != std::string::npos);
  options.widths = {3, 16, 1};
  options.activation = Activation::elu;
  options.residual = true;
  const auto copy = MlpOptions::from_json(options.to_json());
  CHECK(copy.widths == options.widths);
  CHECK(copy.activation == Activation::elu);
  CHECK(copy.residual);
  CHECK_THROWS_AS(sbi::nn::activation_from_string("gelu"), sbi::InputError);
}
