#include "sbi/stability/estimators.hpp"

#include "sbi/core/error.hpp"

#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>

namespace sbi::stability {

namespace {

void check_constant(double value, const char* name) {
  if (!(value >= 0) || !std::isfinite(value)) throw InputError(std::string("stability constants: ") + name + " must be a finite number ≥ 0");
}

double activation_lipschitz(nn::Activation a) {
  return a == nn::Activation::sigmoid ? 0.25 : 1.0;  // the others are 1-Lipschitz (leaky ReLU: slope ≤ 1)
}

}  // namespace

double generator_loss_smoothness(const GeneratorConstants& g, const DiscriminatorConstants& d) {
  check_constant(g.A, "A");
  check_constant(g.B, "B");
  check_constant(d.alpha, "alpha");
  check_constant(d.beta1, "beta1");
  check_constant(d.beta2, "beta2");
  return d.alpha * g.B + g.A * g.A * (d.beta1 + d.beta2);
}

double step_size_bound(const GeneratorConstants& g, const DiscriminatorConstants& d) {
  const double l = generator_loss_smoothness(g, d);
  if (!(l > 0)) throw InputError("stability constants: L = αB + A²(β1 + β2) is 0, so there is no finite step-size bound");
  return 1.0 / l;
}

double learnable_points_step_size(double alpha, double beta2) {
  check_constant(alpha, "alpha");
  check_constant(beta2, "beta2");
  if (!(7 * alpha + beta2 > 0)) throw InputError("stability constants: 7α + β2 is 0, so there is no finite step-size bound");
  return 1.0 / (7 * alpha + beta2);
}

template <class T>
double spectral_lipschitz_bound(const nn::BasicMlp<T>& network) {
  double bound = 1.0;
  const auto& standardizer = network.standardizer();
  if (!standardizer.empty()) bound /= static_cast<double>(standardizer.sd.minCoeff());
  const auto& options = network.options();
  const auto& layers = network.layers();
  for (std::size_t k = 0; k < layers.size(); ++k) {
    Eigen::MatrixXd w = layers[k].weight().value.template cast<double>();
    if (const auto* sn = layers[k].spectral_norm()) w *= sn->options().bound / static_cast<double>(sn->sigma(layers[k].weight().value));
    const double sigma = Eigen::JacobiSVD<Eigen::MatrixXd>(w).singularValues()(0);
    const bool last = k + 1 == layers.size();
    const double layer = sigma * activation_lipschitz(last ? options.output_activation : options.activation);
    const bool residual = !last && k > 0 && options.residual && w.rows() == w.cols();
    bound *= residual ? 1.0 + layer : layer;
  }
  return bound;
}

template <class T>
RowMatrix input_gradients(nn::BasicMlp<T>& network, const RowMatrix& points) {
  if (network.options().widths.back() != 1) throw InputError("input_gradients: the network must have one output");
  const bool was_training = network.training();
  network.eval();
  ad::Tape<T> tape;
  auto x = tape.variable(points.template cast<T>());
  auto g = tape.grad(ad::sum(network.forward(x)), std::span<const ad::Var<T>>(&x, 1))[0];
  RowMatrix out = g.value().template cast<double>();
  network.train(was_training);
  return out;
}

template <class T>
double empirical_lipschitz(nn::BasicMlp<T>& network, const RowMatrix& points, int interpolations, Rng& rng) {
  if (points.rows() < 1) throw InputError("empirical_lipschitz: no points");
  RowMatrix all(points.rows() + std::max(0, interpolations), points.cols());
  all.topRows(points.rows()) = points;
  for (int i = 0; i < interpolations; ++i) {
    const auto a = static_cast<Eigen::Index>(rng.uniform() * static_cast<double>(points.rows()));
    const auto b = static_cast<Eigen::Index>(rng.uniform() * static_cast<double>(points.rows()));
    const double t = rng.uniform();
    all.row(points.rows() + i) = t * points.row(a) + (1 - t) * points.row(b);
  }
  return input_gradients(network, all).rowwise().norm().maxCoeff();
}

template <class T>
double empirical_smoothness(nn::BasicMlp<T>& network, const RowMatrix& points, int pairs, Rng& rng, double close_distance) {
  if (points.rows() < 2 || pairs < 1) throw InputError("empirical_smoothness: need at least two points and one pair");
  const Eigen::Index d = points.cols();
  RowMatrix first(2 * pairs, d), second(2 * pairs, d);
  for (int i = 0; i < pairs; ++i) {
    const auto a = static_cast<Eigen::Index>(rng.uniform() * static_cast<double>(points.rows()));
    auto b = static_cast<Eigen::Index>(rng.uniform() * static_cast<double>(points.rows() - 1));
    if (b >= a) ++b;  // distinct points
    first.row(i) = points.row(a);
    second.row(i) = points.row(b);
    Vector u(d);
    for (Eigen::Index c = 0; c < d; ++c) u[c] = rng.normal();
    first.row(pairs + i) = points.row(a);
    second.row(pairs + i) = points.row(a) + close_distance * u.normalized().transpose();
  }
  const RowMatrix g1 = input_gradients(network, first), g2 = input_gradients(network, second);
  double worst = 0;
  for (Eigen::Index r = 0; r < first.rows(); ++r) {
    const double dx = (first.row(r) - second.row(r)).norm();
    if (dx > 0) worst = std::max(worst, (g1.row(r) - g2.row(r)).norm() / dx);
  }
  return worst;
}

template double spectral_lipschitz_bound(const nn::BasicMlp<float>&);
template double spectral_lipschitz_bound(const nn::BasicMlp<double>&);
template RowMatrix input_gradients(nn::BasicMlp<float>&, const RowMatrix&);
template RowMatrix input_gradients(nn::BasicMlp<double>&, const RowMatrix&);
template double empirical_lipschitz(nn::BasicMlp<float>&, const RowMatrix&, int, Rng&);
template double empirical_lipschitz(nn::BasicMlp<double>&, const RowMatrix&, int, Rng&);
template double empirical_smoothness(nn::BasicMlp<float>&, const RowMatrix&, int, Rng&, double);
template double empirical_smoothness(nn::BasicMlp<double>&, const RowMatrix&, int, Rng&, double);

}  // namespace sbi::stability
