// Forward passes of the flow operations, and the spline's derivatives (tape.cpp calls
// rq_spline_backward from its backward pass).
#include "sbi/autodiff/flow_ops.hpp"

#include "sbi/autodiff/ops.hpp"
#include "sbi/autodiff/require.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

namespace sbi::ad {
namespace {

using detail::require;
using detail::shape;

// ---------------------------------------------------------------------------------------------
// The spline of one element: knots and derivatives from its 3K − 1 unnormalised parameters, read
// with a stride (the parameters of one row are spread over columns of a column-major matrix).
// Fixed-size arrays: no allocation in the loops over elements.

template <class T>
struct Spline {
  int bins = 0;
  T bound = 0;
  std::array<T, kMaxSplineBins + 1> x_knot{}, y_knot{}, derivative{};
  std::array<T, kMaxSplineBins> width_p{}, height_p{};  // softmax probabilities, for the backward pass
  std::array<T, kMaxSplineBins + 1> derivative_sigmoid{};  // d softplus / d c at the inner knots
  // Only derivative[k], derivative[k + 1] and their sigmoids of the bin k that locate() returned are set.

  // softplus(c + shift) = 1 − m at c = 0, so that δ = 1 and zero parameters give the identity.
  static T derivative_shift() { return static_cast<T>(std::log(std::expm1(1.0 - kSplineMinimum))); }

  static void softmax(const T* raw, std::ptrdiff_t stride, int count, T* p) {
    T largest = raw[0];
    for (int k = 1; k < count; ++k) largest = std::max(largest, raw[k * stride]);
    T total = 0;
    for (int k = 0; k < count; ++k) {
      p[k] = std::exp(raw[k * stride] - largest);
      total += p[k];
    }
    const T inverse = T(1) / total;
    for (int k = 0; k < count; ++k) p[k] *= inverse;
  }

  // Cumulative knots from −B to B; the last one is set to B exactly so that rounding never leaves a
  // gap at the edge.
  void knots(const T* p, T* knot) const {
    const T m = static_cast<T>(kSplineMinimum);
    const T scale = T(1) - static_cast<T>(bins) * m;
    knot[0] = -bound;
    T cumulative = 0;
    for (int k = 0; k + 1 < bins; ++k) {
      cumulative += m + scale * p[k];
      knot[k + 1] = -bound + T(2) * bound * cumulative;
    }
    knot[bins] = bound;
  }

  // Knots from the widths' and heights' parameters. The knot derivatives wait for locate(): a point
  // needs only the two at the ends of its bin, and computing all K − 1 (an exp and a log each) was
  // most of the spline's cost.
  void set(const T* raw, std::ptrdiff_t stride, int bin_count, T tail_bound) {
    bins = bin_count;
    bound = tail_bound;
    softmax(raw, stride, bins, width_p.data());
    softmax(raw + bins * stride, stride, bins, height_p.data());
    knots(width_p.data(), x_knot.data());
    knots(height_p.data(), y_knot.data());
    derivative_raw = raw + 2 * bins * stride;
    derivative_stride = stride;
    derivative[0] = T(1);
    derivative[bins] = T(1);
  }

  // The bin holding position v among knots[0..bins] (v inside [−B, B]), with the derivatives (and
  // their sigmoids) at its two ends set.
  int locate(const T* knot, T v) {
    int k = 0;
    while (k + 1 < bins && v >= knot[k + 1]) ++k;
    if (k >= 1) set_derivative(k);
    if (k + 1 < bins) set_derivative(k + 1);
    return k;
  }

 private:
  const T* derivative_raw = nullptr;
  std::ptrdiff_t derivative_stride = 0;

  // δ_k = m + softplus(c_k + shift) at inner knot k.
  void set_derivative(int k) {
    static const T shift = derivative_shift();
    const T v = derivative_raw[(k - 1) * derivative_stride] + shift;
    // softplus(v) = max(v, 0) + log1p(e) with e = e^{−|v|} ∈ (0, 1]; its derivative is σ(v) =
    // 1/(1 + e) for v ≥ 0, e/(1 + e) below. log1p(e) as log(u)·e/(u − 1), u = 1 + e (Goldberg's
    // identity, accurate to a few ulp): glibc's log1pf is several times slower than its logf, and
    // std::log1p here was 17 % of NPE's training time on gaussian_linear (perf, 2026-12-03).
    const T e = std::exp(-std::abs(v));
    const T u = T(1) + e;
    const T log1p_e = u == T(1) ? e : std::log(u) * (e / (u - T(1)));
    derivative[k] = static_cast<T>(kSplineMinimum) + std::max(v, T(0)) + log1p_e;
    derivative_sigmoid[k] = (v >= T(0) ? T(1) : e) / u;
  }
};

// Quantities inside bin k at input x, shared by the forward and backward passes.
template <class T>
struct BinPoint {
  T width, height, s, xi, t, d0, d1, denominator, numerator, q;
  BinPoint(const Spline<T>& spline, int k, T x) {
    width = spline.x_knot[k + 1] - spline.x_knot[k];
    height = spline.y_knot[k + 1] - spline.y_knot[k];
    s = height / width;
    xi = std::clamp((x - spline.x_knot[k]) / width, T(0), T(1));
    t = xi * (T(1) - xi);
    d0 = spline.derivative[k];
    d1 = spline.derivative[k + 1];
    denominator = s + (d1 + d0 - T(2) * s) * t;
    numerator = height * (s * xi * xi + d0 * t);
    q = d1 * xi * xi + T(2) * s * t + d0 * (T(1) - xi) * (T(1) - xi);
  }
  T y(const Spline<T>& spline, int k) const { return spline.y_knot[k] + numerator / denominator; }
  // log dy/dx = 2 log s + log q − 2 log denominator
  T log_derivative() const { return T(2) * std::log(s) + std::log(q) - T(2) * std::log(denominator); }
};

template <class T>
void check_spline_shapes(const Matrix<T>& x, const Matrix<T>& params, T bound, int bins, const char* operation) {
  require(bins >= 1 && bins <= kMaxSplineBins, operation, [&] { return "bins must be in [1, " + std::to_string(kMaxSplineBins) + "]"; });
  require(bound > T(0) && std::isfinite(bound), operation, "the tail bound must be positive and finite");
  require(params.rows() == x.rows() && params.cols() == x.cols() * (3 * bins - 1), operation, [&] {
    return "parameters " + shape(params) + " do not fit input " + shape(x) + " with " + std::to_string(bins) + " bins (3K-1 = " +
           std::to_string(3 * bins - 1) + " columns per dimension)";
  });
}

}  // namespace

template <class T>
Var<T> constant_view(Tape<T>& tape, const Matrix<T>& value) {
  const int i = tape.push(Op::leaf);
  tape.node(i).external_value = &value;
  return tape.var(i);
}

template <class T>
Var<T> gather_cols(Var<T> a, std::span<const Eigen::Index> indices) {
  require(a.valid(), "gather_cols", "uninitialised Var");
  Tape<T>& tape = a.tape();
  for (const Eigen::Index k : indices)
    require(k >= 0 && k < a.cols(), "gather_cols", [&] { return "index " + std::to_string(k) + " out of " + shape(a.value()); });
  const int i = tape.push(Op::gather_cols, a.index());
  auto& node = tape.node(i);
  node.indices = indices;
  const Matrix<T>& x = tape.value(a.index());
  node.value.resize(x.rows(), static_cast<Eigen::Index>(indices.size()));
  for (std::size_t k = 0; k < indices.size(); ++k) node.value.col(static_cast<Eigen::Index>(k)) = x.col(indices[k]);
  return tape.var(i);
}

template <class T>
Var<T> scatter_cols(Var<T> a, std::span<const Eigen::Index> indices, Eigen::Index total_cols) {
  require(a.valid(), "scatter_cols", "uninitialised Var");
  require(static_cast<Eigen::Index>(indices.size()) == a.cols(), "scatter_cols", "one index per input column is needed");
  for (const Eigen::Index k : indices)
    require(k >= 0 && k < total_cols, "scatter_cols", [&] {
      return "index " + std::to_string(k) + " out of " + std::to_string(total_cols) + " columns";
    });
  Tape<T>& tape = a.tape();
  const int i = tape.push(Op::scatter_cols, a.index());
  auto& node = tape.node(i);
  node.indices = indices;
  const Matrix<T>& x = tape.value(a.index());
  node.value.setZero(x.rows(), total_cols);
  for (std::size_t k = 0; k < indices.size(); ++k) node.value.col(indices[k]) += x.col(static_cast<Eigen::Index>(k));
  return tape.var(i);
}

template <class T>
Var<T> reshape(Var<T> a, Eigen::Index rows, Eigen::Index cols) {
  require(a.valid(), "reshape", "uninitialised Var");
  require(rows >= 0 && cols >= 0 && rows * cols == a.value().size(), "reshape", [&] {
    return "cannot reshape " + shape(a.value()) + " to " + std::to_string(rows) + "x" + std::to_string(cols);
  });
  Tape<T>& tape = a.tape();
  const int i = tape.push(Op::reshape, a.index());
  auto& node = tape.node(i);
  node.value.resize(rows, cols);
  const Matrix<T>& x = tape.value(a.index());
  std::copy(x.data(), x.data() + x.size(), node.value.data());
  return tape.var(i);
}

template <class T>
Var<T> rq_spline(Var<T> x, Var<T> params, Scalar<T> bound, int bins) {
  require(x.valid() && params.valid(), "rq_spline", "uninitialised Var");
  require(&x.tape() == &params.tape(), "rq_spline", "arguments are on different tapes");
  Tape<T>& tape = x.tape();
  const Matrix<T>& in = tape.value(x.index());
  const Matrix<T>& raw = tape.value(params.index());
  check_spline_shapes(in, raw, bound, bins, "rq_spline");
  const int i = tape.push(Op::rq_spline, x.index(), params.index());
  auto& node = tape.node(i);
  node.scalar = bound;
  node.offset = bins;
  const Eigen::Index n = in.rows(), d = in.cols();
  node.value.resize(n, d + 1);
  node.value.col(d).setZero();
  const std::ptrdiff_t stride = n;
  Spline<T> spline;
  for (Eigen::Index j = 0; j < d; ++j) {
    const T* base = raw.data() + j * (3 * bins - 1) * n;
    for (Eigen::Index r = 0; r < n; ++r) {
      const T v = in(r, j);
      if (!(v >= -bound && v <= bound)) {  // identity tails (and NaN passes through)
        node.value(r, j) = v;
        continue;
      }
      spline.set(base + r, stride, bins, bound);
      const int k = spline.locate(spline.x_knot.data(), v);
      const BinPoint<T> point(spline, k, v);
      node.value(r, j) = point.y(spline, k);
      node.value(r, d) += point.log_derivative();
    }
  }
  return tape.var(i);
}

template <class T>
void rq_spline_backward(const Matrix<T>& x, const Matrix<T>& params, const Matrix<T>& g, T bound, Eigen::Index bins_index,
                        Matrix<T>* grad_x, Matrix<T>* grad_params) {
  const int bins = static_cast<int>(bins_index);
  const Eigen::Index n = x.rows(), d = x.cols();
  const std::ptrdiff_t stride = n;
  const T two_b = T(2) * bound;
  const T scale = T(1) - static_cast<T>(bins) * static_cast<T>(kSplineMinimum);
  Spline<T> spline;
  std::array<T, kMaxSplineBins> g_width{}, g_height{};
  for (Eigen::Index j = 0; j < d; ++j) {
    const Eigen::Index column = j * (3 * bins - 1);
    const T* base = params.data() + column * n;
    for (Eigen::Index r = 0; r < n; ++r) {
      const T v = x(r, j);
      const T gy = g(r, j);
      const T gl = g(r, d);
      if (!(v >= -bound && v <= bound)) {
        if (grad_x) (*grad_x)(r, j) += gy;
        continue;
      }
      spline.set(base + r, stride, bins, bound);
      const int k = spline.locate(spline.x_knot.data(), v);
      const BinPoint<T> p(spline, k, v);
      const T y_in_bin = p.numerator / p.denominator;  // y − Y_k
      const T one_minus_2xi = T(1) - T(2) * p.xi;
      const T sum_d = p.d1 + p.d0 - T(2) * p.s;
      // Partial derivatives of the denominator, the numerator and q.
      const T den_xi = sum_d * one_minus_2xi, den_s = T(1) - T(2) * p.t, den_d = p.t;
      const T num_xi = p.height * (T(2) * p.s * p.xi + p.d0 * one_minus_2xi);
      const T num_s = p.height * p.xi * p.xi;
      const T num_d0 = p.height * p.t;
      const T num_h = p.s * p.xi * p.xi + p.d0 * p.t;  // at fixed s
      const T q_xi = T(2) * (p.d1 * p.xi + p.s * one_minus_2xi - p.d0 * (T(1) - p.xi));
      const T q_s = T(2) * p.t;
      const T q_d0 = (T(1) - p.xi) * (T(1) - p.xi), q_d1 = p.xi * p.xi;
      const T inv_den = T(1) / p.denominator, inv_q = T(1) / p.q;
      // dy/dv = (num_v − (y − Y_k) den_v) / den;   dℓ/dv = [v = s]·2/s + q_v/q − 2 den_v/den.
      const T g_xi = gy * (num_xi - y_in_bin * den_xi) * inv_den + gl * (q_xi * inv_q - T(2) * den_xi * inv_den);
      const T g_s = gy * (num_s - y_in_bin * den_s) * inv_den + gl * (T(2) / p.s + q_s * inv_q - T(2) * den_s * inv_den);
      const T g_d0 = gy * (num_d0 - y_in_bin * den_d) * inv_den + gl * (q_d0 * inv_q - T(2) * den_d * inv_den);
      const T g_d1 = gy * (-y_in_bin * den_d) * inv_den + gl * (q_d1 * inv_q - T(2) * den_d * inv_den);
      if (grad_x) (*grad_x)(r, j) += g_xi / p.width;
      if (!grad_params) continue;
      // ξ = (x − X_k)/W, s = H/W:  X_k gets −g_ξ/W, W gets −(g_ξ ξ + g_s s)/W, H gets g_H + g_s/W, Y_k gets gy.
      const T g_xknot = -g_xi / p.width;
      const T g_w = -(g_xi * p.xi + g_s * p.s) / p.width;
      const T g_yknot = gy;
      const T g_h = gy * num_h * inv_den + g_s / p.width;
      // Knots are −B + 2B·cumsum of the fractions: a fraction i < k moves X_k; fraction k sets W.
      for (int i = 0; i < bins; ++i) {
        g_width[i] = two_b * (i < k ? g_xknot : (i == k ? g_w : T(0)));
        g_height[i] = two_b * (i < k ? g_yknot : (i == k ? g_h : T(0)));
      }
      // fraction = m + (1 − K m)·softmax(a):  g_a = (1 − K m)·p ⊙ (g − Σ p g).
      T mean_w = 0, mean_h = 0;
      for (int i = 0; i < bins; ++i) {
        mean_w += spline.width_p[i] * g_width[i];
        mean_h += spline.height_p[i] * g_height[i];
      }
      T* out = grad_params->data() + column * n + r;
      for (int i = 0; i < bins; ++i) {
        out[i * stride] += scale * spline.width_p[i] * (g_width[i] - mean_w);
        out[(bins + i) * stride] += scale * spline.height_p[i] * (g_height[i] - mean_h);
      }
      // δ_k = m + softplus(c + shift) for inner knots 1..K−1 (column 2K + k − 1).
      if (k >= 1) out[(2 * bins + k - 1) * stride] += g_d0 * spline.derivative_sigmoid[k];
      if (k + 1 <= bins - 1) out[(2 * bins + k) * stride] += g_d1 * spline.derivative_sigmoid[k + 1];
    }
  }
}

template <class T>
void rq_spline_inverse(const Matrix<T>& y, const Matrix<T>& params, T bound, int bins, Matrix<T>& x, Matrix<T>* log_abs_det) {
  check_spline_shapes(y, params, bound, bins, "rq_spline_inverse");
  const Eigen::Index n = y.rows(), d = y.cols();
  x.resize(n, d);
  if (log_abs_det) log_abs_det->setZero(n, 1);
  const std::ptrdiff_t stride = n;
  Spline<T> spline;
  for (Eigen::Index j = 0; j < d; ++j) {
    const T* base = params.data() + j * (3 * bins - 1) * n;
    for (Eigen::Index r = 0; r < n; ++r) {
      const T v = y(r, j);
      if (!(v >= -bound && v <= bound)) {
        x(r, j) = v;
        continue;
      }
      spline.set(base + r, stride, bins, bound);
      const int k = spline.locate(spline.y_knot.data(), v);
      const T width = spline.x_knot[k + 1] - spline.x_knot[k];
      const T height = spline.y_knot[k + 1] - spline.y_knot[k];
      const T s = height / width;
      const T d0 = spline.derivative[k], d1 = spline.derivative[k + 1];
      const T delta = v - spline.y_knot[k];
      const T sum_d = d1 + d0 - T(2) * s;
      // The quadratic a ξ² + b ξ + c = 0 of NSF eqs. 6–8, solved in the cancellation-free form.
      const T a = height * (s - d0) + delta * sum_d;
      const T b = height * d0 - delta * sum_d;
      const T c = -s * delta;
      const T discriminant = std::max(b * b - T(4) * a * c, T(0));
      const T xi = std::clamp(T(2) * c / (-b - std::sqrt(discriminant)), T(0), T(1));
      x(r, j) = spline.x_knot[k] + xi * width;
      if (log_abs_det) {
        const BinPoint<T> point(spline, k, x(r, j));
        (*log_abs_det)(r, 0) -= point.log_derivative();
      }
    }
  }
}

#define SBI_AD_INSTANTIATE_FLOW_OPS(T)                                                                         \
  template Var<T> constant_view(Tape<T>&, const Matrix<T>&);                                                   \
  template Var<T> gather_cols(Var<T>, std::span<const Eigen::Index>);                                          \
  template Var<T> scatter_cols(Var<T>, std::span<const Eigen::Index>, Eigen::Index);                           \
  template Var<T> reshape(Var<T>, Eigen::Index, Eigen::Index);                                                 \
  template Var<T> rq_spline(Var<T>, Var<T>, Scalar<T>, int);                                                   \
  template void rq_spline_inverse(const Matrix<T>&, const Matrix<T>&, T, int, Matrix<T>&, Matrix<T>*);         \
  template void rq_spline_backward(const Matrix<T>&, const Matrix<T>&, const Matrix<T>&, T, Eigen::Index, Matrix<T>*, \
                                   Matrix<T>*);

SBI_AD_INSTANTIATE_FLOW_OPS(float)
SBI_AD_INSTANTIATE_FLOW_OPS(double)

}  // namespace sbi::ad
