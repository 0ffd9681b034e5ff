// The stability module: spectral bounds, gradient penalties, the RKHS-norm approximation, the
// step-size bound, exact W1, and the learnable-points experiment.
#include "sbi/autodiff/gradient_check.hpp"
#include "sbi/core/error.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/stability/estimators.hpp"
#include "sbi/stability/point_gan.hpp"
#include "sbi/stability/regularizers.hpp"
#include "sbi/stability/transport.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace sbi;
using namespace sbi::stability;

namespace {

RowMatrix normal_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  RowMatrix m(rows, cols);
  for (Eigen::Index r = 0; r < rows; ++r)
    for (Eigen::Index c = 0; c < cols; ++c) m(r, c) = scale * rng.normal();
  return m;
}

// Converges every layer's power iteration, so that the normalised weights have spectral norm α^(1/L)
// up to the iteration's accuracy.
template <class T>
void converge_power_iterations(nn::BasicMlp<T>& net) {
  for (auto& layer : net.layers()) layer.spectral_norm()->power_iterate(layer.weight().value, 500);
}

}  // namespace

TEST_CASE("per-layer spectral bounds multiply to the network bound", "[stability]") {
  CHECK(per_layer_spectral_bound(8.0, 3) == Approx(2.0));
  CHECK(per_layer_spectral_bound(1.0, 4) == Approx(1.0));
  CHECK_THROWS_AS(per_layer_spectral_bound(0.0, 2), InputError);
  nn::MlpOptions o;
  o.widths = {2, 16, 1};
  o.residual = true;
  CHECK_THROWS_AS(apply_spectral_normalization(o, 2.0), InputError);
}

TEST_CASE("spectrally normalised networks have Lipschitz estimates below alpha", "[stability]") {
  for (double alpha : {0.5, 1.0, 3.0}) {
    for (auto activation : {nn::Activation::elu, nn::Activation::relu, nn::Activation::tanh}) {
      nn::MlpOptions o;
      o.widths = {3, 32, 32, 1};
      o.activation = activation;
      apply_spectral_normalization(o, alpha);
      nn::BasicMlp<double> net(o, 17);
      // Inflate the raw weights: the bound must not depend on their scale.
      for (auto& layer : net.layers()) layer.weight().value *= 7.0;
      converge_power_iterations(net);
      // Upper bound from exact singular values: α up to the power iteration's accuracy (500
      // iterations on 32 × 32 matrices converge far below 1e-6 relative unless the top two singular
      // values nearly coincide; 1e-3 leaves a wide margin).
      const double bound = spectral_lipschitz_bound(net);
      CHECK(bound == Approx(alpha).epsilon(1e-3));
      Rng rng(5);
      const RowMatrix points = normal_matrix(400, 3, 9, 2.0);
      const double empirical = empirical_lipschitz(net, points, 400, rng);
      CHECK(empirical > 0);
      CHECK(empirical <= alpha * (1 + 1e-3));
    }
  }
}

TEST_CASE("empirical constants of a linear function", "[stability]") {
  nn::MlpOptions o;
  o.widths = {4, 1};
  o.activation = nn::Activation::identity;
  nn::BasicMlp<double> net(o, 3);
  const double weight_norm = net.layers()[0].weight().value.norm();
  Rng rng(1);
  const RowMatrix points = normal_matrix(50, 4, 2);
  CHECK(empirical_lipschitz(net, points, 20, rng) == Approx(weight_norm).epsilon(1e-12));
  CHECK(empirical_smoothness(net, points, 20, rng) == Approx(0.0).margin(1e-9));  // ∇φ is constant
  CHECK(spectral_lipschitz_bound(net) == Approx(weight_norm).epsilon(1e-12));
}

TEST_CASE("empirical smoothness of a tanh unit matches its second derivative bound", "[stability]") {
  // φ(x) = tanh(w·x): ∇φ = tanh'(w·x) w, whose Lipschitz constant is max|tanh''|·‖w‖² = (4/(3√3))‖w‖².
  nn::MlpOptions o;
  o.widths = {2, 1};
  o.output_activation = nn::Activation::tanh;
  nn::BasicMlp<double> net(o, 8);
  net.layers()[0].bias().value.setZero();
  const double w2 = net.layers()[0].weight().value.squaredNorm();
  const double exact = 4.0 / (3.0 * std::sqrt(3.0)) * w2;
  Rng rng(4);
  const RowMatrix points = normal_matrix(2000, 2, 6, 1.0 / std::sqrt(w2));
  const double estimate = empirical_smoothness(net, points, 2000, rng, 1e-3);
  CHECK(estimate <= exact * (1 + 1e-3));  // a maximum over samples never exceeds the true constant (δ = 1e-3 adds O(δ))
  CHECK(estimate >= 0.9 * exact);          // 2000 close pairs in the region where |tanh''| peaks
}

TEST_CASE("gradient penalties pass the second-order gradient check", "[stability]") {
  for (auto mode : {GradientPenaltyMode::zero_centred, GradientPenaltyMode::two_sided, GradientPenaltyMode::one_sided}) {
    for (bool spectral : {false, true}) {
      nn::MlpOptions o;
      o.widths = {3, 6, 6, 1};
      o.activation = nn::Activation::tanh;
      if (spectral) apply_spectral_normalization(o, 2.0);
      nn::BasicMlp<double> net(o, 21);
      net.eval();  // no power-iteration updates between finite-difference evaluations
      const ad::Matrix<double> points = normal_matrix(5, 3, 31);
      // One-sided: a small target keeps every point on the active side of the hinge (no kink
      // inside the finite-difference stencil).
      GradientPenaltyOptions penalty{mode, 0.7, mode == GradientPenaltyMode::one_sided ? 1e-3 : 1.0};
      std::vector<ad::ParameterRef> parameters;
      for (auto* p : net.parameters()) {
        p->zero_grad();
        parameters.push_back({&p->value, &p->grad});
      }
      auto f = [&](ad::Tape<double>& tape) {
        return gradient_penalty(tape, [&](ad::Var<double> x) { return net.forward(x); }, points, penalty);
      };
      const auto result = ad::check_parameter_gradients(f, parameters);
      INFO(to_string(mode) << (spectral ? " with spectral norm: " : ": ") << result.report);
      CHECK(result.ok);
    }
  }
}

TEST_CASE("gradient penalty values", "[stability]") {
  // φ(x) = w·x has ‖∇φ‖ = ‖w‖ everywhere.
  nn::MlpOptions o;
  o.widths = {2, 1};
  o.activation = nn::Activation::identity;
  nn::BasicMlp<double> net(o, 2);
  net.layers()[0].weight().value << 3.0, 4.0;  // ‖w‖ = 5
  const ad::Matrix<double> points = normal_matrix(7, 2, 1);
  ad::Tape<double> tape;
  auto run = [&](GradientPenaltyOptions p) { return gradient_penalty(tape, [&](ad::Var<double> x) { return net.forward(x); }, points, p).item(); };
  CHECK(run({GradientPenaltyMode::zero_centred, 2.0, 1.0}) == Approx(25.0));  // λ/2 · 25
  CHECK(run({GradientPenaltyMode::two_sided, 2.0, 1.0}) == Approx(32.0));     // λ · (5 − 1)²
  CHECK(run({GradientPenaltyMode::one_sided, 2.0, 6.0}) == Approx(0.0));      // below the target
  CHECK(run({GradientPenaltyMode::one_sided, 2.0, 4.0}) == Approx(2.0));
}

TEST_CASE("support-set RKHS norm is exact for kernel expansions", "[stability]") {
  const RowMatrix centres = normal_matrix(6, 2, 40, 0.6);
  Vector c(6);
  c << 1.0, -0.5, 0.3, 2.0, -1.2, 0.7;
  const double exact = rkhs_norm_squared_of_expansion(centres, c);
  // Support = the centres and other points: the interpolant of f on it is f itself.
  RowMatrix support(10, 2);
  support << centres, normal_matrix(4, 2, 41, 1.5);
  const Vector values = gaussian_kernel_matrix(support, centres) * c;
  // Jitter 1e-10 changes the form by O(ε‖K⁻¹f‖²) ≲ 1e-6 relative here.
  CHECK(rkhs_norm_squared_on_support(support, values, 1e-10) == Approx(exact).epsilon(1e-5));
}

TEST_CASE("support-set RKHS norm converges from below as the support grows", "[stability]") {
  // f = k(·, x0) with x0 off every grid: ‖f‖²_H = k(x0, x0) = 1.
  const double x0[2] = {0.37, -0.21};
  double previous = 0;
  std::vector<double> errors;
  for (int per_side : {3, 5, 9, 17}) {
    RowMatrix grid(per_side * per_side, 2);
    for (int i = 0; i < per_side; ++i)
      for (int j = 0; j < per_side; ++j) grid.row(i * per_side + j) << -2.0 + 4.0 * i / (per_side - 1), -2.0 + 4.0 * j / (per_side - 1);
    RowMatrix centre(1, 2);
    centre << x0[0], x0[1];
    const Vector values = gaussian_kernel_matrix(grid, centre).col(0);
    const double approx = rkhs_norm_squared_on_support(grid, values, 1e-9);
    CHECK(approx <= 1.0 + 1e-9);          // a lower bound (projection onto a subspace)
    CHECK(approx >= previous - 1e-9);     // nested grids: the subspaces grow
    previous = approx;
    errors.push_back(1.0 - approx);
  }
  CHECK(errors.back() < 1e-3);
  CHECK(errors.front() > 10 * errors.back());
}

TEST_CASE("RKHS penalty on a tape matches the plain quadratic form", "[stability]") {
  const RowMatrix support = normal_matrix(8, 3, 50);
  const Vector values = normal_matrix(8, 1, 51).col(0);
  const ad::Matrix<double> precision = rkhs_support_precision(support, 1e-3);
  ad::Tape<double> tape;
  auto v = tape.variable(values);
  CHECK(rkhs_penalty(v, precision).item() == Approx(rkhs_norm_squared_on_support(support, values, 1e-3)).epsilon(1e-10));
  auto check = ad::check_gradients([&](ad::Tape<double>&, const std::vector<ad::Var<double>>& in) { return rkhs_penalty(in[0], precision); },
                                   {ad::Matrix<double>(values)});
  CHECK(check.ok);
}

TEST_CASE("step-size bounds for known constants", "[stability]") {
  // L = αB + A²(β1 + β2) = 0.5·3 + 4·(1 + 4) = 21.5.
  CHECK(generator_loss_smoothness({2.0, 3.0}, {0.5, 1.0, 4.0}) == Approx(21.5));
  CHECK(step_size_bound({2.0, 3.0}, {0.5, 1.0, 4.0}) == Approx(1.0 / 21.5));
  // Learnable points (A = 1, B = 0): L = β1 + β2; the paper's experiment takes 1/(7α + β2).
  CHECK(step_size_bound({1.0, 0.0}, {1.0, 7.0, 1.0}) == Approx(0.125));
  CHECK(learnable_points_step_size(1.0, 1.0) == Approx(0.125));
  CHECK(learnable_points_step_size(2.0, 0.0) == Approx(1.0 / 14));
  CHECK_THROWS_AS(step_size_bound({1.0, 0.0}, {1.0, 0.0, 0.0}), InputError);
  CHECK_THROWS_AS(generator_loss_smoothness({-1.0, 0.0}, {}), InputError);
}

TEST_CASE("the assignment solver finds the optimum", "[stability]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const RowMatrix cost = normal_matrix(6, 6, seed).array().abs();
    std::vector<Eigen::Index> perm(6);
    std::iota(perm.begin(), perm.end(), 0);
    double best = 1e300;
    do {
      double total = 0;
      for (Eigen::Index i = 0; i < 6; ++i) total += cost(i, perm[static_cast<std::size_t>(i)]);
      best = std::min(best, total);
    } while (std::next_permutation(perm.begin(), perm.end()));
    const auto assignment = solve_assignment(cost);
    double total = 0;
    for (Eigen::Index i = 0; i < 6; ++i) total += cost(i, assignment[static_cast<std::size_t>(i)]);
    CHECK(total == Approx(best).epsilon(1e-12));
  }
  CHECK_THROWS_AS(solve_assignment(RowMatrix(2, 3)), InputError);
}

TEST_CASE("exact W1 between point sets", "[stability]") {
  // 1-D: the optimal assignment matches sorted values.
  RowMatrix x = normal_matrix(40, 1, 3), y = normal_matrix(40, 1, 4, 2.0);
  std::vector<double> a(x.data(), x.data() + 40), b(y.data(), y.data() + 40);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double sorted = 0;
  for (int i = 0; i < 40; ++i) sorted += std::abs(a[static_cast<std::size_t>(i)] - b[static_cast<std::size_t>(i)]);
  CHECK(exact_w1(x, y) == Approx(sorted / 40).epsilon(1e-12));
  // A permutation of the same set: distance 0; a translation by v: ‖v‖.
  const RowMatrix p = normal_matrix(30, 3, 5);
  RowMatrix q = p.colwise().reverse();
  CHECK(exact_w1(p, q) == Approx(0.0).margin(1e-12));
  RowMatrix shifted = p;
  shifted.rowwise() += Eigen::RowVector3d(0.3, -0.4, 0.0);
  CHECK(exact_w1(p, shifted) <= 0.5 + 1e-12);
}

TEST_CASE("learnable-points GAN: a small run approaches the target and sweeps are reproducible", "[stability]") {
  auto target = grid25_target();
  PointGanOptions o;
  o.points = 48;
  o.steps = 60;
  o.discriminator_steps = 2;
  o.batch = 24;
  o.hidden = {16, 16};
  const double gamma0 = learnable_points_step_size(o.alpha, o.beta2);
  const double bandwidth = point_target_bandwidth(*target, 1);
  const auto r = run_point_gan(*target, point_gan_config("sn+rkhs"), o, 10 * gamma0, bandwidth, 3, 4);
  CHECK_FALSE(r.diverged);
  CHECK(r.steps_done == 60);
  CHECK(std::isfinite(r.mmd2));
  CHECK(r.w1 < r.initial_w1);
  CHECK(r.discriminator_lipschitz > 0);  // measured constants are reported (their bound is tested above)
  CHECK(std::isfinite(r.discriminator_smoothness));  // standard-normal start, grid target: 60 steps of size ≤ 1.25 move towards it

  SweepOptions s;
  s.configs = {"none", "sn+rkhs"};
  s.ratios = {1, 1e5};
  s.seeds = 2;
  s.run = o;
  s.run.steps = 10;
  s.threads = 1;
  const auto serial = run_sweep(*target, s);
  s.threads = 2;
  const auto parallel = run_sweep(*target, s);
  REQUIRE(serial.size() == 8);
  for (std::size_t i = 0; i < serial.size(); ++i) {
    CHECK(serial[i].job.config == parallel[i].job.config);
    CHECK(((std::isnan(serial[i].result.mmd2) && std::isnan(parallel[i].result.mmd2)) || serial[i].result.mmd2 == parallel[i].result.mmd2));
    CHECK(serial[i].result.diverged == parallel[i].result.diverged);
  }
  CHECK_THROWS_AS(point_gan_config("wgan"), InputError);
}
