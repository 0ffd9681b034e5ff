// The network kernels (sbi/autodiff/kernels.hpp): every variant this CPU supports against exact
// (double-precision) references with derived rounding bounds, the wide variants against the
// portable one, the dispatch, and whole training steps.
//
// Tolerances. u = 2⁻²⁴ is the unit roundoff of float.
//  * A dot product of length k computed in float in any order, with or without fused multiply-adds,
//    is within γ_k·Σ|a_i b_i| of the exact value, γ_k = k·u/(1 − k·u) (Higham, "Accuracy and
//    Stability of Numerical Algorithms", 2nd ed., eq. 3.5). Each copy meets this bound against the
//    exact product of its float inputs, so two copies differ by at most twice it.
//  * The pointwise functions are short compositions of Eigen's float exp, tanh and log1p (a couple
//    of ulps each, per Eigen's own comments) with at most three further roundings; so each copy is
//    within 8 ulps of the exact value, measured on the scale max(|y|, 1) (the absolute part covers
//    the cancellation in exp(m) − 1 for ELU near 0), and two copies within 16. Derivatives are
//    computed from the float y, whose error (8 ulps) enters multiplied by |∂f'/∂y| ≤ 2 (tanh: 2y),
//    plus up to three roundings: 20 ulps of |g|·max(|f'|, 1).
//  * Adam's update: the bound is built step by step from the roundings (see the test).
#include "sbi/autodiff/kernels.hpp"
#include "sbi/autodiff/ops.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

namespace kernels = sbi::ad::kernels;
using kernels::Index;
using kernels::Pointwise;
using kernels::Variant;
using MatF = Eigen::MatrixXf;
using MatD = Eigen::MatrixXd;

constexpr double kUnitRoundoff = 0x1p-24;

double gamma(Index k) { return k * kUnitRoundoff / (1.0 - k * kUnitRoundoff); }

MatF random_matrix(Index rows, Index cols, std::uint64_t stream, double scale = 1.0) {
  sbi::Rng rng = sbi::Rng::stream(77, stream);
  MatF m(rows, cols);
  for (Index k = 0; k < m.size(); ++k) m.data()[k] = static_cast<float>(scale * rng.normal());
  return m;
}

std::vector<Variant> supported_variants() {
  std::vector<Variant> list;
  for (Variant v : {Variant::portable, Variant::avx2, Variant::avx512})
    if (kernels::supported(v)) list.push_back(v);
  return list;
}

// Restores the active variant when a test that switches it ends.
struct VariantGuard {
  Variant saved = kernels::active_variant();
  ~VariantGuard() { kernels::set_variant(saved); }
};

// Largest |got − want| / bound over all entries (≤ 1 passes).
double worst_ratio(const MatF& got, const MatD& want, const MatD& bound) {
  double worst = 0;
  for (Index k = 0; k < got.size(); ++k) {
    const double difference = std::abs(static_cast<double>(got.data()[k]) - want.data()[k]);
    worst = std::max(worst, difference / bound.data()[k]);
  }
  return worst;
}

double worst_ratio(const MatF& got, const MatF& other, const MatD& bound) {
  return worst_ratio(got, other.cast<double>().eval(), bound);
}

// Sizes around the packet widths (4, 8, 16 floats) and the GEMM kernel's register blocks.
struct Shape {
  Index m, k, n;
};
const Shape kShapes[] = {{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {256, 22, 64}, {256, 128, 128}, {64, 300, 1}, {5, 0, 4}};

}  // namespace

TEST_CASE("kernel dispatch: a supported variant is active and can be switched", "[kernels]") {
  const Variant active = kernels::active_variant();
  CHECK(kernels::supported(active));
  CHECK(kernels::supported(Variant::portable));
  CHECK(kernels::best_supported() == supported_variants().back());
  const std::string description = kernels::describe();
  INFO(description);
  CHECK(description.rfind(kernels::to_string(active), 0) == 0);
  CHECK_THAT(description, Catch::Contains("portable"));
  {
    VariantGuard guard;
    kernels::set_variant(Variant::portable);
    CHECK(kernels::active_variant() == Variant::portable);
    CHECK(kernels::active<float>().variant == Variant::portable);
  }
  CHECK(kernels::active_variant() == active);
  CHECK(kernels::active<double>().variant == Variant::portable);
  for (Variant v : {Variant::avx2, Variant::avx512}) {
    if (kernels::supported(v)) {
      CHECK(kernels::table(v).variant == v);
    } else {
      CHECK_THROWS_AS(kernels::table(v), std::invalid_argument);
      CHECK_THROWS_AS(kernels::set_variant(v), std::invalid_argument);
    }
  }
}

TEST_CASE("kernel products are within the float rounding bound of the exact product, in every variant", "[kernels]") {
  const std::vector<Variant> variants = supported_variants();
  INFO("supported: " << kernels::describe());
  std::uint64_t stream = 0;
  for (const Shape& s : kShapes) {
    INFO("m=" << s.m << " k=" << s.k << " n=" << s.n);
    const MatF a = random_matrix(s.m, s.k, ++stream);
    const MatF b = random_matrix(s.k, s.n, ++stream);
    const MatF start = random_matrix(s.m, s.n, ++stream);
    const MatF bias = random_matrix(1, s.n, ++stream);
    const MatD exact = a.cast<double>() * b.cast<double>();
    const MatD magnitude = a.cast<double>().cwiseAbs() * b.cast<double>().cwiseAbs();
    // (+1e-30: a bound of 0, where every term is 0, then demands an exact 0 without dividing by 0.)
    const MatD bound = (gamma(s.k) * magnitude).array() + 1e-30;
    const MatD bound_accumulate =
        (gamma(s.k + 1) * (magnitude + start.cast<double>().cwiseAbs())).array() + 1e-30;
    const MatD bound_affine = (gamma(s.k + 1) * (magnitude.rowwise() + bias.cast<double>().cwiseAbs().row(0))).array() + 1e-30;
    const MatF at = a.transpose();
    const MatF bt = b.transpose();

    std::vector<MatF> products;
    for (Variant v : variants) {
      INFO("variant " << kernels::to_string(v));
      const auto& t = kernels::table(v);
      MatF out(s.m, s.n);
      t.product(a.data(), b.data(), out.data(), s.m, s.k, s.n, false);
      CHECK(worst_ratio(out, exact, bound) <= 1.0);
      products.push_back(out);
      t.product_bt(a.data(), bt.data(), out.data(), s.m, s.k, s.n, false);
      CHECK(worst_ratio(out, exact, bound) <= 1.0);
      t.product_at(at.data(), b.data(), out.data(), s.m, s.k, s.n, false);
      CHECK(worst_ratio(out, exact, bound) <= 1.0);

      const MatD exact_accumulate = exact + start.cast<double>();
      for (auto product : {t.product, t.product_bt, t.product_at}) {
        out = start;
        const float* left = product == t.product_at ? at.data() : a.data();
        const float* right = product == t.product_bt ? bt.data() : b.data();
        product(left, right, out.data(), s.m, s.k, s.n, true);
        CHECK(worst_ratio(out, exact_accumulate, bound_accumulate) <= 1.0);
      }

      t.affine(a.data(), b.data(), bias.data(), out.data(), s.m, s.k, s.n);
      CHECK(worst_ratio(out, (exact.rowwise() + bias.cast<double>().row(0)).eval(), bound_affine) <= 1.0);

      // Column sums: a sum of m terms, γ_m Σ|g|; accumulating adds one term.
      MatF col(1, s.n);
      t.column_sums(start.data(), col.data(), s.m, s.n, false);
      const MatD exact_sums = start.cast<double>().colwise().sum();
      const MatD sums_bound = (gamma(s.m) * start.cast<double>().cwiseAbs().colwise().sum()).array() + 1e-30;
      CHECK(worst_ratio(col, exact_sums, sums_bound) <= 1.0);
      MatF col_acc = bias;
      t.column_sums(start.data(), col_acc.data(), s.m, s.n, true);
      const MatD acc_bound =
          (gamma(s.m + 1) * (start.cast<double>().cwiseAbs().colwise().sum() + bias.cast<double>().cwiseAbs())).array() + 1e-30;
      CHECK(worst_ratio(col_acc, (exact_sums + bias.cast<double>()).eval(), acc_bound) <= 1.0);
    }
    // Two copies, each within the bound of the exact product, differ by at most twice it.
    for (std::size_t v = 1; v < products.size(); ++v) CHECK(worst_ratio(products[v], products[0], 2.0 * bound) <= 1.0);
  }
}

namespace {

struct PointwiseCase {
  Pointwise op;
  const char* name;
  double parameter;
  double (*value)(double x, double p);
  double (*derivative)(double x, double p);
};

double sigmoid_exact(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// log(1 + eˣ) without overflow for large x.
double softplus_exact(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

const PointwiseCase kPointwise[] = {
    {Pointwise::relu, "relu", 0, [](double x, double) { return x > 0 ? x : 0.0; },
     [](double x, double) { return x > 0 ? 1.0 : 0.0; }},
    {Pointwise::leaky_relu, "leaky_relu", 0.01, [](double x, double p) { return x > 0 ? x : p * x; },
     [](double x, double p) { return x > 0 ? 1.0 : p; }},
    {Pointwise::elu, "elu", 1.0, [](double x, double p) { return x > 0 ? x : p * std::expm1(x); },
     [](double x, double p) { return x > 0 ? 1.0 : p * std::exp(x); }},
    {Pointwise::elu, "elu(alpha=0.5)", 0.5, [](double x, double p) { return x > 0 ? x : p * std::expm1(x); },
     [](double x, double p) { return x > 0 ? 1.0 : p * std::exp(x); }},
    {Pointwise::tanh, "tanh", 0, [](double x, double) { return std::tanh(x); },
     [](double x, double) { return 1.0 - std::tanh(x) * std::tanh(x); }},
    {Pointwise::sigmoid, "sigmoid", 0, [](double x, double) { return sigmoid_exact(x); },
     [](double x, double) { return sigmoid_exact(x) * (1.0 - sigmoid_exact(x)); }},
    {Pointwise::softplus, "softplus", 0, [](double x, double) { return softplus_exact(x); },
     [](double x, double) { return sigmoid_exact(x); }},
    {Pointwise::log_sigmoid, "log_sigmoid", 0, [](double x, double) { return -softplus_exact(-x); },
     [](double x, double) { return sigmoid_exact(-x); }},
};

// Inputs over the range networks see, plus the edges: zeros, tiny values, large magnitudes (where
// exp under- and overflows inside the formulas), and lengths that leave a scalar tail.
MatF pointwise_inputs() {
  MatF x = random_matrix(1, 1000, 500, 4.0);
  const float edges[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, -1e-6f, 20.0f, -20.0f, 88.0f, -88.0f, 100.0f, -100.0f, 1e4f, -1e4f};
  for (std::size_t k = 0; k < std::size(edges); ++k) x(0, static_cast<Index>(k)) = edges[k];
  return x.leftCols(997);  // 997: not a multiple of any packet width
}

}  // namespace

TEST_CASE("pointwise kernels and their derivatives match the exact functions, in every variant", "[kernels]") {
  const MatF x = pointwise_inputs();
  const MatF g = random_matrix(1, x.size(), 501);
  const MatF start = random_matrix(1, x.size(), 502);
  const Index n = x.size();
  for (const PointwiseCase& c : kPointwise) {
    INFO(c.name);
    const float p = static_cast<float>(c.parameter);
    MatD exact(1, n), value_scale(1, n), exact_grad(1, n), grad_scale(1, n);
    for (Index k = 0; k < n; ++k) {
      const double xk = x(0, k);
      exact(0, k) = c.value(xk, c.parameter);
      value_scale(0, k) = 8 * kUnitRoundoff * std::max(std::abs(exact(0, k)), 1.0);
      const double slope = c.derivative(xk, c.parameter);
      exact_grad(0, k) = g(0, k) * slope;
      grad_scale(0, k) = 20 * kUnitRoundoff * std::abs(g(0, k)) * std::max(std::abs(slope), 1.0);
    }
    std::vector<MatF> values, grads;
    for (Variant v : supported_variants()) {
      INFO("variant " << kernels::to_string(v));
      const auto& t = kernels::table(v);
      MatF y(1, n);
      t.pointwise(c.op, p, x.data(), y.data(), n);
      CHECK(worst_ratio(y, exact, value_scale) <= 1.0);
      // The derivative is computed from x and the float y, as in the tape.
      MatF d(1, n);
      t.pointwise_backward(c.op, p, x.data(), y.data(), g.data(), d.data(), n, false);
      CHECK(worst_ratio(d, exact_grad, grad_scale) <= 1.0);
      MatF d_acc = start;
      t.pointwise_backward(c.op, p, x.data(), y.data(), g.data(), d_acc.data(), n, true);
      const MatD acc_scale = grad_scale.array() + 2 * kUnitRoundoff * start.cast<double>().array().abs();
      CHECK(worst_ratio(d_acc, (exact_grad + start.cast<double>()).eval(), acc_scale) <= 1.0);
      values.push_back(y);
      grads.push_back(d);
    }
    for (std::size_t v = 1; v < values.size(); ++v) {
      CHECK(worst_ratio(values[v], values[0], 2.0 * value_scale) <= 1.0);
      CHECK(worst_ratio(grads[v], grads[0], 2.0 * grad_scale) <= 1.0);
    }
  }
}

TEST_CASE("Adam's fused update matches the exact update, in every variant", "[kernels]") {
  const Index n = 1001;
  const MatF w0 = random_matrix(1, n, 600);
  const MatF g0 = random_matrix(1, n, 601, 0.1);
  const MatF m0 = random_matrix(1, n, 602, 0.01);
  const MatF v0 = random_matrix(1, n, 603, 0.01).cwiseAbs2();
  for (const bool decoupled : {false, true}) {
    INFO((decoupled ? "decoupled weight decay" : "L2 weight decay"));
    kernels::AdamScalars<float> s{.beta1 = 0.9f, .beta2 = 0.999f, .step_size = 1e-3f / 0.1f,
                                  .inverse_sqrt_c2 = 1.0f / std::sqrt(0.001f), .epsilon = 1e-8f};
    if (decoupled) s.shrink = 1.0f - 1e-3f * 0.01f;
    else s.l2_decay = 0.01f;
    // Error bounds from the roundings, in order (u per rounding; products of a rounded value by an
    // exact scalar keep its relative error; fused multiply-adds only remove roundings):
    //   g' = g + l2·w            err_g ≤ 2u(|g| + |l2·w|)
    //   m = β₁m₀ + (1−β₁)g'       err_m ≤ 3u(|β₁m₀| + |(1−β₁)g'|) + (1−β₁)err_g   (terms may cancel)
    //   v = β₂v₀ + (1−β₂)g'²      err_v ≤ 4u·v + 2(1−β₂)|g'|err_g                    (no cancellation)
    //   d = √v·c + ε              relative ≤ err_v/(2v) + 3u
    //   step = s·m/d              err ≤ s·err_m/d + |step|(rel_d + 2u)
    //   w' = w·shrink − step      err ≤ u|w| + u|w'| + err_step
    MatD w_exact(1, n), m_exact(1, n), v_exact(1, n), w_bound(1, n), m_bound(1, n), v_bound(1, n);
    const double u = kUnitRoundoff;
    for (Index k = 0; k < n; ++k) {
      const double w = static_cast<double>(w0(0, k)) * s.shrink;
      const double g = g0(0, k) + static_cast<double>(s.l2_decay) * w;
      const double m = s.beta1 * static_cast<double>(m0(0, k)) + (1.0 - s.beta1) * g;
      const double v = s.beta2 * static_cast<double>(v0(0, k)) + (1.0 - s.beta2) * g * g;
      const double d = std::sqrt(v) * s.inverse_sqrt_c2 + s.epsilon;
      const double step = s.step_size * m / d;
      w_exact(0, k) = w - step;
      m_exact(0, k) = m;
      v_exact(0, k) = v;
      const double err_g = 2 * u * (std::abs(g0(0, k)) + std::abs(s.l2_decay * w));
      const double err_m = 3 * u * (std::abs(s.beta1 * m0(0, k)) + std::abs((1.0 - s.beta1) * g)) + (1.0 - s.beta1) * err_g;
      const double err_v = 4 * u * v + 2 * (1.0 - s.beta2) * std::abs(g) * err_g;
      const double err_step = s.step_size * err_m / d + std::abs(step) * (err_v / (2 * v) + 5 * u);
      m_bound(0, k) = err_m + 1e-30;
      v_bound(0, k) = err_v + 1e-30;
      w_bound(0, k) = u * std::abs(w) + u * std::abs(w - step) + err_step + 1e-30;
    }
    std::vector<MatF> results;
    for (Variant v : supported_variants()) {
      INFO("variant " << kernels::to_string(v));
      MatF w = w0, g = g0, m = m0, vv = v0;
      kernels::table(v).adam_update(s, w.data(), g.data(), m.data(), vv.data(), n);
      CHECK(worst_ratio(w, w_exact, w_bound) <= 1.0);
      CHECK(worst_ratio(m, m_exact, m_bound) <= 1.0);
      CHECK(worst_ratio(vv, v_exact, v_bound) <= 1.0);
      results.push_back(w);
    }
    for (std::size_t v = 1; v < results.size(); ++v) CHECK(worst_ratio(results[v], results[0], 2.0 * w_bound) <= 1.0);
  }
}

TEST_CASE("gradient clipping's squared norm is the exact sum to double rounding, with the same bits in every variant", "[kernels]") {
  // Sizes around the 16-lane blocks and an odd tail; values over ten orders of magnitude.
  for (const Index size : {Index{0}, Index{1}, Index{15}, Index{16}, Index{17}, Index{1000}, Index{4099}}) {
    INFO("size " << size);
    MatF x = random_matrix(1, std::max<Index>(size, 1), 950 + static_cast<std::uint64_t>(size));
    for (Index k = 0; k < size; ++k) x(0, k) *= std::pow(10.0f, static_cast<float>(k % 11) - 5.0f);
    // Each x² is exact in double; a sum of n positive terms in double is within (n − 1)·u of the
    // exact sum (u = 2⁻⁵³), whatever the association.
    long double exact = 0;
    for (Index k = 0; k < size; ++k) exact += static_cast<long double>(x(0, k)) * x(0, k);
    const double bound = static_cast<double>(std::max<Index>(size - 1, 0)) * std::ldexp(1.0, -53) * static_cast<double>(exact);
    std::vector<double> results;
    for (Variant v : supported_variants()) {
      INFO("variant " << kernels::to_string(v));
      const double norm = kernels::table(v).squared_norm(x.data(), size);
      CHECK(std::abs(norm - static_cast<double>(exact)) <= bound);
      results.push_back(norm);
    }
    for (double r : results) CHECK(r == results.front());
    // The scaling is one float product per entry.
    for (Variant v : supported_variants()) {
      MatF scaled = x;
      kernels::table(v).scale(scaled.data(), 0.25f, size);
      for (Index k = 0; k < size; ++k) CHECK(scaled(0, k) == x(0, k) * 0.25f);
    }
  }
}

namespace {

// One training step of a small ELU classifier; returns the parameters after the step.
std::vector<MatF> one_training_step(Variant variant, int hidden) {
  VariantGuard guard;
  kernels::set_variant(variant);
  sbi::nn::MlpOptions options;
  options.widths = {6, hidden, hidden, 1};
  options.activation = sbi::nn::Activation::elu;
  sbi::nn::Mlp net(options, 5);
  sbi::optim::Adam adam(net.parameters(), {.learning_rate = 1e-2});
  const MatF x = random_matrix(64, 6, 700);
  MatF y(64, 1);
  for (Index r = 0; r < 64; ++r) y(r, 0) = x(r, 0) + x(r, 1) > 0 ? 1.0f : 0.0f;
  sbi::ad::Tape<float> tape;
  for (int step = 0; step < 3; ++step) {
    auto scope = tape.scope();
    adam.zero_grad();
    tape.backward(sbi::nn::bce_with_logits(net.forward(tape.constant(x)), tape.constant(y)));
    adam.step();
  }
  std::vector<MatF> result;
  for (auto* p : net.parameters()) result.push_back(p->value);
  return result;
}

}  // namespace

TEST_CASE("training steps are bit-identical run to run and agree across variants to float rounding", "[kernels]") {
  for (Variant v : supported_variants()) {
    INFO("variant " << kernels::to_string(v));
    const auto first = one_training_step(v, 40);
    const auto second = one_training_step(v, 40);
    for (std::size_t p = 0; p < first.size(); ++p) CHECK((first[p].array() == second[p].array()).all());
  }
  // Across variants the parameters after three Adam steps differ only through rounding in the
  // gradients. Adam's step is lr·m/√v per entry, insensitive to the gradient's scale, so a relative
  // gradient error δ moves a weight by about lr·δ; δ ≤ a few γ_k per layer (k ≤ 40, 3 layers, about
  // 3·40·u·3 ≈ 2e-5), so 3 steps move each weight by at most 3·lr·2e-5 = 6e-7, far below lr·1e-3.
  // The check allows 1e-5 (lr·1e-3): a wrong kernel moves weights by O(lr) = 1e-2.
  const auto reference = one_training_step(Variant::portable, 40);
  for (Variant v : supported_variants()) {
    INFO("variant " << kernels::to_string(v));
    const auto other = one_training_step(v, 40);
    for (std::size_t p = 0; p < reference.size(); ++p)
      CHECK((other[p] - reference[p]).cwiseAbs().maxCoeff() <= 1e-5);
  }
}

TEST_CASE("the float tape's gradients match the double tape's, with the active kernels", "[kernels]") {
  // The double tape runs the portable kernels in double precision: the reference. Each float
  // gradient entry is a sum of products through two ELU layers of width 48 (k ≤ 48 per product):
  // relative error a few γ_48 ≈ 3e-6 of the gradient's scale; the check allows 1e-4 of the largest
  // entry (a wrong derivative is off by O(1) of it).
  using namespace sbi::ad;
  const MatF x = random_matrix(32, 5, 800);
  const MatF w1 = random_matrix(5, 48, 801, 0.5);
  const MatF w2 = random_matrix(48, 48, 802, 0.2);
  const MatF w3 = random_matrix(48, 1, 803, 0.2);
  const MatF b1 = random_matrix(1, 48, 804, 0.1);
  const MatF b2 = random_matrix(1, 48, 805, 0.1);
  const MatF b3 = random_matrix(1, 1, 806, 0.1);
  const MatF labels = (random_matrix(32, 1, 807).array() > 0).cast<float>().matrix();
  auto gradients = [&](auto zero) {
    using T = decltype(zero);
    using M = Matrix<T>;
    std::vector<M> values = {w1.cast<T>(), b1.cast<T>(), w2.cast<T>(), b2.cast<T>(), w3.cast<T>(), b3.cast<T>()};
    std::vector<M> grads(values.size());
    Tape<T> tape;
    std::vector<Var<T>> p;
    for (std::size_t k = 0; k < values.size(); ++k) p.push_back(tape.parameter(values[k], grads[k]));
    Var<T> h = tape.constant(M(x.cast<T>()));
    h = elu(affine(h, p[0], p[1]));
    h = tanh(affine(h, p[2], p[3]));
    const Var<T> logits = affine(h, p[4], p[5]);
    tape.backward(sbi::nn::bce_with_logits(logits, M(labels.cast<T>())));
    return grads;
  };
  const auto reference = gradients(0.0);
  const auto got = gradients(0.0f);
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO("parameter " << k << " with kernels " << kernels::describe());
    const double scale = reference[k].cwiseAbs().maxCoeff();
    REQUIRE(scale > 0);
    CHECK((got[k].cast<double>() - reference[k]).cwiseAbs().maxCoeff() <= 1e-4 * scale);
  }
}

namespace {

// A copy of `m`'s entries starting `offset` floats into a fresh buffer (so at every address
// alignment modulo 64 bytes as offset runs over 0..15).
struct Shifted {
  std::vector<float> storage;
  float* data;
  Shifted(const MatF& m, Index offset) : storage(static_cast<std::size_t>(m.size() + offset + 16)) {
    data = storage.data() + offset;
    for (Index k = 0; k < m.size(); ++k) data[k] = m.data()[k];
  }
  MatF read(Index rows, Index cols) const { return Eigen::Map<const MatF>(data, rows, cols); }
};

bool same_bits(const MatF& a, const MatF& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data(), [](float x, float y) {
           return std::memcmp(&x, &y, sizeof(float)) == 0;
         });
}

}  // namespace

TEST_CASE("kernel results are bit-identical wherever the data lie in memory", "[kernels]") {
  // Eigen aligns its loops to the destination's address; the kernels must not let that show (the
  // library's matrices are only 16-byte aligned, the wide copies use 32- and 64-byte packets).
  const Index m = 37, k = 29, n = 53, size = 997;
  const MatF a = random_matrix(m, k, 900);
  const MatF b = random_matrix(k, n, 901);
  const MatF bias = random_matrix(1, n, 902);
  const MatF start = random_matrix(m, n, 903);
  const MatF x = pointwise_inputs();
  const MatF g = random_matrix(1, size, 904);
  const MatF v0 = random_matrix(1, size, 905, 0.1).cwiseAbs2();
  const kernels::AdamScalars<float> adam{.beta1 = 0.9f, .beta2 = 0.999f, .step_size = 1e-2f, .inverse_sqrt_c2 = 3.0f,
                                         .epsilon = 1e-8f, .l2_decay = 0.01f};
  for (Variant v : supported_variants()) {
    INFO("variant " << kernels::to_string(v));
    const auto& t = kernels::table(v);
    // Every result for each offset, in a fixed order; offset 0 is the reference.
    auto results_at = [&](Index offset) {
      std::vector<MatF> results;
      const Shifted sa(a, offset), sb(b, offset), sbias(bias, offset), sx(x, offset), sg(g, offset), sv(v0, offset);
      Shifted out(start, offset);
      t.product(sa.data, sb.data, out.data, m, k, n, true);
      results.push_back(out.read(m, n));
      t.affine(sa.data, sb.data, sbias.data, out.data, m, k, n);
      results.push_back(out.read(m, n));
      Shifted sums(bias, offset);
      t.column_sums(out.data, sums.data, m, n, true);
      results.push_back(sums.read(1, n));
      for (const PointwiseCase& c : kPointwise) {
        Shifted y(x, offset), d(g, offset);
        t.pointwise(c.op, static_cast<float>(c.parameter), sx.data, y.data, size);
        results.push_back(y.read(1, size));
        t.pointwise_backward(c.op, static_cast<float>(c.parameter), sx.data, y.data, sg.data, d.data, size, true);
        results.push_back(d.read(1, size));
      }
      Shifted w(x, offset), grad(g, offset), first(g, offset), second(v0, offset);
      t.adam_update(adam, w.data, grad.data, first.data, second.data, size);
      results.push_back(w.read(1, size));
      return results;
    };
    const auto reference = results_at(0);
    for (Index offset = 1; offset < 16; ++offset) {
      INFO("offset " << offset << " floats");
      const auto shifted = results_at(offset);
      REQUIRE(shifted.size() == reference.size());
      for (std::size_t r = 0; r < reference.size(); ++r) {
        INFO("result " << r);
        CHECK(same_bits(shifted[r], reference[r]));
      }
    }
  }
}
