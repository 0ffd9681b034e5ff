#include "sbi/autodiff/gradient_check.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>

namespace {
using Mat = sbi::ad::Matrix<double>;
using sbi::ad::Tape;
using sbi::ad::Var;
using Inputs = std::vector<Var<double>>;

Mat random(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream, double scale = 1.0) {
  sbi::Rng rng = sbi::Rng::stream(88, stream);
  Mat m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = scale * rng.normal();
  return m;
}

// MMD² by the definition, with explicit loops over pairs.
double mmd2_direct(const Mat& x, const Mat& y, const std::vector<double>& bandwidths, bool unbiased) {
  auto k = [&](const auto& a, const auto& b) {
    double total = 0;
    for (double h : bandwidths) total += std::exp(-(a - b).squaredNorm() / (2 * h * h));
    return total;
  };
  const auto n = x.rows(), m = y.rows();
  double xx = 0, yy = 0, xy = 0;
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < n; ++j)
      if (!unbiased || i != j) xx += k(x.row(i), x.row(j));
  for (Eigen::Index i = 0; i < m; ++i)
    for (Eigen::Index j = 0; j < m; ++j)
      if (!unbiased || i != j) yy += k(y.row(i), y.row(j));
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < m; ++j) xy += k(x.row(i), y.row(j));
  const double nn = unbiased ? double(n * (n - 1)) : double(n * n);
  const double mm = unbiased ? double(m * (m - 1)) : double(m * m);
  return xx / nn + yy / mm - 2 * xy / double(n * m);
}
}  // namespace

TEST_CASE("binary cross-entropy on logits is exact, stable at ±1000 and differentiable twice", "[nn][losses]") {
  Tape<double> tape;
  const Mat logits = (Mat(1, 4) << 1000.0, -1000.0, 1000.0, 0.5).finished();
  const Mat targets = (Mat(1, 4) << 1.0, 0.0, 0.0, 1.0).finished();
  const auto z = tape.variable(logits);
  const auto loss = sbi::nn::bce_with_logits(z, targets);
  // Terms: 0, 0, 1000, log(1 + e^-0.5)
  CHECK(loss.item() == Approx((1000.0 + std::log1p(std::exp(-0.5))) / 4));
  tape.backward(loss);
  const Mat g = tape.gradient(z);
  CHECK(g.allFinite());
  CHECK(g(0, 0) == Approx(0.0).margin(1e-12));
  CHECK(g(0, 2) == Approx(0.25));
  // Float too.
  Tape<float> float_tape;
  const auto zf = float_tape.variable(logits.cast<float>());
  const auto lf = sbi::nn::bce_with_logits(zf, Eigen::MatrixXf(targets.cast<float>()));
  CHECK(std::isfinite(lf.item()));
  float_tape.backward(lf);
  CHECK(float_tape.gradient(zf).allFinite());

  const Mat y = (random(6, 1, 1).array() > 0).cast<double>().matrix();
  const auto result = sbi::ad::check_gradients(
      [&](Tape<double>& t, const Inputs& in) { return sbi::nn::bce_with_logits(in[0], t.constant(y)); }, {random(6, 1, 2)});
  INFO(result.report);
  CHECK(result.ok);
}

TEST_CASE("mean squared error", "[nn][losses]") {
  Tape<double> tape;
  const Mat a = random(3, 2, 3), b = random(3, 2, 4);
  CHECK(sbi::nn::mse(tape.constant(a), b).item() == Approx((a - b).squaredNorm() / 6));
  const auto result = sbi::ad::check_gradients(
      [](Tape<double>&, const Inputs& in) { return sbi::nn::mse(in[0], in[1]); }, {a, b});
  INFO(result.report);
  CHECK(result.ok);
}

TEST_CASE("MMD² matches the double-loop definition and has exact derivatives", "[nn][losses]") {
  const Mat x = random(7, 2, 5);
  const Mat y = random(5, 2, 6, 1.5);
  const std::vector<double> bandwidths = {0.5, 1.0, 2.0};
  for (const bool unbiased : {false, true}) {
    INFO((unbiased ? "unbiased" : "biased"));
    const auto estimator = unbiased ? sbi::nn::MmdEstimator::unbiased : sbi::nn::MmdEstimator::biased;
    Tape<double> tape;
    const double value = sbi::nn::mmd2(tape.constant(x), tape.constant(y), bandwidths, estimator).item();
    CHECK(value == Approx(mmd2_direct(x, y, bandwidths, unbiased)).epsilon(1e-12));
    const auto result = sbi::ad::check_gradients(
        [&](Tape<double>&, const Inputs& in) { return sbi::nn::mmd2(in[0], in[1], bandwidths, estimator); }, {x, y});
    INFO(result.report);
    CHECK(result.ok);
  }
  // Same distribution, large samples: the unbiased estimate is near zero, the biased one positive.
  Tape<double> tape;
  const Mat a = random(300, 2, 7), b = random(300, 2, 8);
  const std::array<double, 1> h{1.0};
  CHECK(std::abs(sbi::nn::mmd2(tape.constant(a), tape.constant(b), h, sbi::nn::MmdEstimator::unbiased).item()) < 0.01);
  CHECK(sbi::nn::mmd2(tape.constant(a), tape.constant(b), h).item() > 0);
}
