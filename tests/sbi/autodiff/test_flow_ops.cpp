// The operations added for sbi/flows: gradient checks (second order where supported), the spline's
// values against its definition, its inverse, and the clear error for second derivatives.
#include "sbi/autodiff/flow_ops.hpp"
#include "sbi/autodiff/gradient_check.hpp"
#include "sbi/autodiff/ops.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

namespace {

using sbi::ad::Matrix;
using sbi::ad::Tape;
using sbi::ad::Var;
using Mat = Matrix<double>;
using Inputs = std::vector<Var<double>>;

Mat random(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream, double scale = 1.0) {
  sbi::Rng rng = sbi::Rng::stream(77, stream);
  Mat m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = scale * rng.normal();
  return m;
}

void expect_gradients(const std::string& name, const sbi::ad::Function& f, const std::vector<Mat>& inputs,
                      bool second_order = true) {
  INFO(name);
  sbi::ad::GradientCheckOptions options;
  options.second_order = second_order;
  const auto result = sbi::ad::check_gradients(f, inputs, options);
  INFO(result.report);
  CHECK(result.ok);
  CHECK(result.checked_entries > 0);
}

const std::vector<Eigen::Index> kGather = {2, 0, 2, 1};

}  // namespace

TEST_CASE("gather, scatter and reshape have exact first and second derivatives", "[autodiff][flows]") {
  using namespace sbi::ad;
  const Mat a = random(4, 3, 1);
  expect_gradients("gather_cols", [](Tape<double>&, const Inputs& in) { return square(gather_cols(in[0], kGather)); }, {a});
  expect_gradients("scatter_cols", [](Tape<double>&, const Inputs& in) {
    return square(scatter_cols(in[0], std::span<const Eigen::Index>(kGather), 5));
  }, {random(4, 4, 2)});
  expect_gradients("reshape", [](Tape<double>&, const Inputs& in) { return mul(reshape(in[0], 6, 2), reshape(in[0], 6, 2)); }, {a});
  expect_gradients("reshape then matmul", [](Tape<double>&, const Inputs& in) { return matmul(reshape(in[0], 6, 2), in[1]); },
                   {a, random(2, 3, 3)});
}

TEST_CASE("gather and reshape values", "[autodiff][flows]") {
  using namespace sbi::ad;
  Tape<double> tape;
  const Mat a = random(3, 4, 4);
  const Mat g = gather_cols(tape.constant(a), kGather).value();
  for (std::size_t k = 0; k < kGather.size(); ++k) CHECK(g.col(static_cast<Eigen::Index>(k)) == a.col(kGather[k]));
  const Mat r = reshape(tape.constant(a), 6, 2).value();
  CHECK(r(4, 1) == a(1, 3));  // column-major: entry 10 in both
  CHECK_THROWS_WITH(reshape(tape.constant(a), 5, 2), Catch::Contains("cannot reshape 3x4 to 5x2"));
  const std::vector<Eigen::Index> bad = {4};
  CHECK_THROWS_WITH(gather_cols(tape.constant(a), bad), Catch::Contains("index 4 out of 3x4"));
  const Mat w = Mat::Ones(2, 2);
  const auto view = constant_view(tape, w);
  CHECK(view.value().data() == w.data());
  CHECK_FALSE(view.requires_grad());
}

TEST_CASE("rational-quadratic spline: exact first derivatives, clear error for second", "[autodiff][flows]") {
  using namespace sbi::ad;
  const int bins = 4;
  // x within and outside [−2, 2]; parameters of unit scale put knots at varied places.
  Mat x = random(6, 2, 10, 1.2);
  x(0, 0) = 2.7;
  x(1, 1) = -3.1;
  const Mat params = random(6, 2 * (3 * bins - 1), 11);
  expect_gradients("rq_spline", [](Tape<double>&, const Inputs& in) { return rq_spline(in[0], in[1], 2.0, bins); },
                   {x, params}, /*second_order=*/false);
  expect_gradients("rq_spline one bin", [](Tape<double>&, const Inputs& in) { return rq_spline(in[0], in[1], 2.0, 1); },
                   {random(5, 1, 12), random(5, 2, 13)}, false);

  Tape<double> tape;
  const auto vx = tape.variable(x);
  const auto out = sum(rq_spline(vx, tape.variable(params), 2.0, bins));
  CHECK_THROWS_WITH(grad(out, {vx}, /*create_graph=*/true), Catch::Contains("second derivatives"));
}

TEST_CASE("rational-quadratic spline: identity at zero parameters, monotone, exact inverse", "[autodiff][flows]") {
  using namespace sbi::ad;
  const int bins = 8;
  const double bound = 3.0;
  Tape<double> tape;
  Mat x(200, 1);
  for (int i = 0; i < 200; ++i) x(i, 0) = -4.0 + 8.0 * i / 199.0;
  const Mat zero = Mat::Zero(200, 3 * bins - 1);
  const Mat identity = rq_spline(tape.constant(x), tape.constant(zero), bound, bins).value();
  CHECK((identity.col(0) - x.col(0)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(identity.col(1).cwiseAbs().maxCoeff() < 1e-12);

  // One random spline applied to a grid: increasing, and its log-derivative is the slope.
  const Mat one = random(1, 3 * bins - 1, 20, 2.0);
  const Mat params = one.replicate(200, 1);
  const Mat y = rq_spline(tape.constant(x), tape.constant(params), bound, bins).value();
  for (int i = 1; i < 200; ++i) CHECK(y(i, 0) > y(i - 1, 0));
  const double h = 1e-6;
  for (int i = 0; i < 200; i += 17) {
    Mat xp = x.row(i), xm = x.row(i);
    xp(0, 0) += h;
    xm(0, 0) -= h;
    const double slope = (rq_spline(tape.constant(xp), tape.constant(one), bound, bins).value()(0, 0) -
                          rq_spline(tape.constant(xm), tape.constant(one), bound, bins).value()(0, 0)) / (2 * h);
    CHECK(y(i, 1) == Approx(std::log(slope)).margin(1e-6));
  }

  // Inverse: x = spline⁻¹(spline(x)) with the opposite log-determinant, in several dimensions.
  const Mat xs = random(50, 3, 21, 1.5);
  const Mat ps = random(50, 3 * (3 * bins - 1), 22, 1.5);
  const Mat forward = rq_spline(tape.constant(xs), tape.constant(ps), bound, bins).value();
  Mat back, log_det;
  rq_spline_inverse<double>(forward.leftCols(3), ps, bound, bins, back, &log_det);
  CHECK((back - xs).cwiseAbs().maxCoeff() < 1e-9);
  CHECK((log_det.col(0) + forward.col(3)).cwiseAbs().maxCoeff() < 1e-9);

  // Float: the inverse is exact up to rounding in y (backward error): where the spline is flat, x
  // itself is ill-conditioned (an error of one ulp of y moves x by ulp/slope), so the test maps back.
  Tape<float> ftape;
  const Matrix<float> xf = xs.cast<float>(), pf = ps.cast<float>();
  const Matrix<float> yf = rq_spline(ftape.constant(xf), ftape.constant(pf), 3.0f, bins).value();
  Matrix<float> backf;
  rq_spline_inverse<float>(yf.leftCols(3), pf, 3.0f, bins, backf);
  const Matrix<float> again = rq_spline(ftape.constant(backf), ftape.constant(pf), 3.0f, bins).value();
  CHECK((again.leftCols(3) - yf.leftCols(3)).cwiseAbs().maxCoeff() < 2e-6f);
}
