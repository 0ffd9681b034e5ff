// Every operation: values against direct Eigen computations where not obvious, and derivatives
// against finite differences to first and second order.
#include "sbi/autodiff/gradient_check.hpp"
#include "sbi/autodiff/ops.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

namespace {

using sbi::ad::Matrix;
using sbi::ad::Tape;
using sbi::ad::Var;
using Mat = Matrix<double>;
using Inputs = std::vector<Var<double>>;

Mat random(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream, double scale = 1.0) {
  sbi::Rng rng = sbi::Rng::stream(2024, stream);
  Mat m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = scale * rng.normal();
  return m;
}

// Entries bounded away from 0, for kinks (relu, abs) and for log/sqrt/div.
Mat away_from_zero(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream) {
  Mat m = random(rows, cols, stream);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] += (m.data()[k] >= 0 ? 0.3 : -0.3);
  return m;
}
Mat positive(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream) {
  return away_from_zero(rows, cols, stream).array().abs().matrix();
}

void expect_gradients(const std::string& name, const sbi::ad::Function& f, const std::vector<Mat>& inputs) {
  INFO(name);
  const auto result = sbi::ad::check_gradients(f, inputs);
  INFO(result.report);
  CHECK(result.ok);
  CHECK(result.checked_entries > 0);
}

}  // namespace

TEST_CASE("every operation has exact first and second derivatives", "[autodiff]") {
  using namespace sbi::ad;
  const Mat a = random(4, 3, 1);
  const Mat b = random(3, 5, 2);
  const Mat c = random(4, 3, 3);
  const Mat row = random(1, 3, 4);
  const Mat kink = away_from_zero(4, 3, 5);
  const Mat pos = positive(4, 3, 6);

  expect_gradients("matmul", [](Tape<double>&, const Inputs& in) { return matmul(in[0], in[1]); }, {a, b});
  expect_gradients("affine", [](Tape<double>&, const Inputs& in) { return affine(in[0], in[1], in[2]); },
                   {a, b, random(1, 5, 7)});
  // Products of two inputs make the second derivative non-trivial for linear ops.
  expect_gradients("add_bias", [](Tape<double>&, const Inputs& in) { return square(add_bias(in[0], in[1])); }, {a, row});
  expect_gradients("transpose", [](Tape<double>&, const Inputs& in) { return matmul(transpose(in[0]), in[0]); }, {a});
  expect_gradients("concat_cols", [](Tape<double>&, const Inputs& in) { return square(concat_cols(in[0], in[1])); },
                   {a, random(4, 2, 8)});
  expect_gradients("slice_cols", [](Tape<double>&, const Inputs& in) { return square(slice_cols(in[0], 1, 2)); }, {a});
  expect_gradients("embed_cols", [](Tape<double>&, const Inputs& in) { return square(embed_cols(in[0], 2, 6)); }, {a});
  expect_gradients("relu", [](Tape<double>&, const Inputs& in) { return mul(relu(in[0]), in[0]); }, {kink});
  expect_gradients("leaky_relu", [](Tape<double>&, const Inputs& in) { return mul(leaky_relu(in[0], 0.2), in[0]); }, {kink});
  expect_gradients("elu", [](Tape<double>&, const Inputs& in) { return elu(in[0], 1.3); }, {kink});
  expect_gradients("tanh", [](Tape<double>&, const Inputs& in) { return tanh(in[0]); }, {a});
  expect_gradients("sigmoid", [](Tape<double>&, const Inputs& in) { return sigmoid(in[0]); }, {a});
  expect_gradients("softplus", [](Tape<double>&, const Inputs& in) { return softplus(in[0]); }, {a});
  expect_gradients("log_sigmoid", [](Tape<double>&, const Inputs& in) { return log_sigmoid(in[0]); }, {a});
  expect_gradients("exp", [](Tape<double>&, const Inputs& in) { return exp(in[0]); }, {a});
  expect_gradients("log", [](Tape<double>&, const Inputs& in) { return log(in[0]); }, {pos});
  expect_gradients("square", [](Tape<double>&, const Inputs& in) { return square(in[0]); }, {a});
  expect_gradients("sqrt", [](Tape<double>&, const Inputs& in) { return sqrt(in[0]); }, {pos});
  expect_gradients("abs", [](Tape<double>&, const Inputs& in) { return mul(abs(in[0]), in[0]); }, {kink});
  expect_gradients("sum", [](Tape<double>&, const Inputs& in) { return square(sum(in[0])); }, {a});
  expect_gradients("mean", [](Tape<double>&, const Inputs& in) { return square(mean(in[0])); }, {a});
  expect_gradients("sum_rows", [](Tape<double>&, const Inputs& in) { return square(sum_rows(in[0])); }, {a});
  expect_gradients("mean_rows", [](Tape<double>&, const Inputs& in) { return square(mean_rows(in[0])); }, {a});
  expect_gradients("sum_cols", [](Tape<double>&, const Inputs& in) { return square(sum_cols(in[0])); }, {a});
  expect_gradients("mean_cols", [](Tape<double>&, const Inputs& in) { return square(mean_cols(in[0])); }, {a});
  expect_gradients("logsumexp", [](Tape<double>&, const Inputs& in) { return logsumexp(in[0]); }, {a});
  expect_gradients("logsumexp_rows", [](Tape<double>&, const Inputs& in) { return logsumexp_rows(in[0]); }, {a});
  expect_gradients("broadcast scalar", [](Tape<double>&, const Inputs& in) { return square(broadcast(in[0], 3, 2)); },
                   {random(1, 1, 9)});
  expect_gradients("broadcast column", [](Tape<double>&, const Inputs& in) { return square(broadcast(in[0], 4, 3)); },
                   {random(4, 1, 10)});
  expect_gradients("broadcast row", [](Tape<double>&, const Inputs& in) { return square(broadcast(in[0], 4, 3)); }, {row});
  expect_gradients("pairwise_sq_dist", [](Tape<double>&, const Inputs& in) { return pairwise_sq_dist(in[0], in[1]); },
                   {a, random(5, 3, 11)});
  expect_gradients("add", [](Tape<double>&, const Inputs& in) { return square(in[0] + in[1]); }, {a, c});
  expect_gradients("sub", [](Tape<double>&, const Inputs& in) { return square(in[0] - in[1]); }, {a, c});
  expect_gradients("mul", [](Tape<double>&, const Inputs& in) { return in[0] * in[1]; }, {a, c});
  expect_gradients("div", [](Tape<double>&, const Inputs& in) { return in[0] / in[1]; }, {a, kink});
  expect_gradients("neg", [](Tape<double>&, const Inputs& in) { return square(-in[0]); }, {a});
  expect_gradients("scalar arithmetic", [](Tape<double>&, const Inputs& in) {
    return square((2.0 - in[0]) * 3.0 / 4.0 + 1.5);
  }, {a});
}

TEST_CASE("operation values match direct computations", "[autodiff]") {
  using namespace sbi::ad;
  Tape<double> tape;
  const Mat x = random(5, 3, 20);
  const Mat y = random(4, 3, 21);
  const auto vx = tape.constant(x);
  const auto vy = tape.constant(y);
  const Mat d = pairwise_sq_dist(vx, vy).value();
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) CHECK(d(i, j) == Approx((x.row(i) - y.row(j)).squaredNorm()).epsilon(1e-12));
  const Mat lse = logsumexp_rows(vx).value();
  for (int i = 0; i < 5; ++i) CHECK(lse(i, 0) == Approx(std::log(x.row(i).array().exp().sum())));
  CHECK(logsumexp(vx).item() == Approx(std::log(x.array().exp().sum())));
  CHECK(logsumexp(tape.constant(Mat::Constant(2, 2, 1000.0))).item() == Approx(1000.0 + std::log(4.0)));
  const Mat sp = softplus(tape.constant(Mat::Constant(1, 2, 1000.0))).value();
  CHECK(sp(0, 0) == 1000.0);
  CHECK(log_sigmoid(tape.constant(Mat::Constant(1, 1, -1000.0))).item() == -1000.0);
  CHECK(std::isfinite(sigmoid(tape.constant(Mat::Constant(1, 1, -1000.0))).item()));
}

TEST_CASE("tape reuses node storage across steps and clears itself", "[autodiff]") {
  using namespace sbi::ad;
  Tape<float> tape;
  Matrix<float> w = Matrix<float>::Random(8, 4);
  Matrix<float> w_grad = Matrix<float>::Zero(8, 4);
  const Matrix<float> data = Matrix<float>::Random(16, 8);
  const float* first_storage = nullptr;
  for (int step = 0; step < 3; ++step) {
    auto scope = tape.scope();
    const auto x = tape.constant(data);
    const auto h = tanh(matmul(x, tape.parameter(w, w_grad)));
    const auto loss = mean(square(h));
    tape.backward(loss);
    // The matmul node is node 2 every step; its matrix keeps its buffer.
    if (step == 0) first_storage = tape.node(2).value.data();
    else CHECK(tape.node(2).value.data() == first_storage);
  }
  CHECK(tape.size() == 0);
  CHECK(tape.capacity() >= 5);
  // Three identical steps: the accumulated gradient is three times one step's.
  Matrix<float> single = Matrix<float>::Zero(8, 4);
  {
    auto scope = tape.scope();
    tape.backward(mean(square(tanh(matmul(tape.constant(data), tape.parameter(w, single))))));
  }
  CHECK((w_grad - 3 * single).norm() < 1e-5f * single.norm());
}

TEST_CASE("grad without create_graph leaves parameter gradients alone", "[autodiff]") {
  using namespace sbi::ad;
  Tape<double> tape;
  Mat w = random(3, 2, 30);
  Mat w_grad;
  const auto x = tape.variable(random(4, 3, 31));
  const auto loss = sum(square(matmul(x, tape.parameter(w, w_grad))));
  const auto g = grad(loss, {x});
  CHECK(w_grad.size() == 0);
  CHECK_FALSE(g[0].requires_grad());
  // d/dx Σ (xW)² = 2 (xW) Wᵀ
  const Mat expected = 2.0 * (x.value() * w) * w.transpose();
  CHECK((g[0].value() - expected).norm() < 1e-12);
  // An unrelated variable gets zeros of its shape.
  const auto unrelated = tape.variable(Mat::Ones(2, 2));
  const auto g2 = grad(loss, {unrelated});
  CHECK(g2[0].value() == Mat::Zero(2, 2));
}

TEST_CASE("shape errors are reported with the operation name", "[autodiff]") {
  using namespace sbi::ad;
  Tape<double> tape;
  const auto a = tape.constant(Mat::Ones(2, 3));
  const auto b = tape.constant(Mat::Ones(2, 2));
  // The message (built only when a check fails) names the operation and both shapes.
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("sbi::ad::matmul") && Catch::Contains("2x3 times 2x2"));
  CHECK_THROWS_WITH(add(a, b), Catch::Contains("shapes differ: 2x3 and 2x2"));
  CHECK_THROWS_WITH(slice_cols(a, 2, 2), Catch::Contains("columns [2, 4) out of 2x3"));
  CHECK_THROWS_AS(tape.backward(a), std::invalid_argument);
}
