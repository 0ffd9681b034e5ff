// Forward passes of the differentiable operations. Their derivatives are in tape.cpp, next to the
// two backward passes, so that each operation's numeric and recorded derivative sit side by side.
#include "sbi/autodiff/ops.hpp"

#include "sbi/autodiff/kernels.hpp"
#include "sbi/autodiff/require.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace sbi::ad {
namespace {

using detail::require;
using detail::shape;

template <class T>
Tape<T>& tape_of(Var<T> a, Var<T> b, const char* operation) {
  require(a.valid() && b.valid(), operation, "uninitialised Var");
  require(&a.tape() == &b.tape(), operation, "arguments are on different tapes");
  return a.tape();
}

template <class T>
Tape<T>& tape_of(Var<T> a, const char* operation) {
  require(a.valid(), operation, "uninitialised Var");
  return a.tape();
}

template <class T>
void require_same_shape(Var<T> a, Var<T> b, const char* operation) {
  require(a.rows() == b.rows() && a.cols() == b.cols(), operation, [&] {
    return "shapes differ: " + shape(a.value()) + " and " + shape(b.value());
  });
}

// Append a unary elementwise node whose value is `make(x)` (an Eigen array expression).
template <class T, class Make>
Var<T> unary(Var<T> a, Op op, const char* name, Make&& make, T scalar = T(0)) {
  Tape<T>& tape = tape_of(a, name);
  const int i = tape.push(op, a.index());
  auto& node = tape.node(i);
  node.scalar = scalar;
  const auto x = tape.value(a.index()).array();
  node.value.resize(x.rows(), x.cols());
  node.value.array() = make(x);
  return tape.var(i);
}

// Append a pointwise activation node computed by the dispatched kernels (sbi/autodiff/kernels.hpp).
template <class T>
Var<T> pointwise(Var<T> a, Op op, kernels::Pointwise kind, const char* name, T parameter = T(0)) {
  Tape<T>& tape = tape_of(a, name);
  const int i = tape.push(op, a.index());
  auto& node = tape.node(i);
  node.scalar = parameter;
  const Matrix<T>& x = tape.value(a.index());
  node.value.resize(x.rows(), x.cols());
  kernels::active<T>().pointwise(kind, parameter, x.data(), node.value.data(), x.size());
  return tape.var(i);
}

template <class T>
Var<T> reduction(Var<T> a, Op op, const char* name, T scale) {
  Tape<T>& tape = tape_of(a, name);
  const int i = tape.push(op, a.index());
  auto& node = tape.node(i);
  node.scalar = scale;
  const Matrix<T>& x = tape.value(a.index());
  switch (op) {
    case Op::sum: node.value.resize(1, 1); node.value(0, 0) = x.sum() * scale; break;
    case Op::sum_rows: node.value.noalias() = x.rowwise().sum() * scale; break;
    case Op::sum_cols: node.value.noalias() = x.colwise().sum() * scale; break;
    default: break;
  }
  return tape.var(i);
}

template <class T>
Var<T> binary(Var<T> a, Var<T> b, Op op, const char* name) {
  Tape<T>& tape = tape_of(a, b, name);
  require_same_shape(a, b, name);
  const int i = tape.push(op, a.index(), b.index());
  auto& node = tape.node(i);
  const auto x = tape.value(a.index()).array();
  const auto y = tape.value(b.index()).array();
  node.value.resize(x.rows(), x.cols());
  switch (op) {
    case Op::add: node.value.array() = x + y; break;
    case Op::sub: node.value.array() = x - y; break;
    case Op::mul: node.value.array() = x * y; break;
    case Op::div: node.value.array() = x / y; break;
    default: break;
  }
  return tape.var(i);
}

}  // namespace

template <class T>
Var<T> matmul(Var<T> a, Var<T> b) {
  Tape<T>& tape = tape_of(a, b, "matmul");
  require(a.cols() == b.rows(), "matmul", [&] { return "inner dimensions differ: " + shape(a.value()) + " times " + shape(b.value()); });
  const int i = tape.push(Op::matmul, a.index(), b.index());
  const Matrix<T>& left = tape.value(a.index());
  const Matrix<T>& right = tape.value(b.index());
  auto& value = tape.node(i).value;
  value.resize(left.rows(), right.cols());
  kernels::active<T>().product(left.data(), right.data(), value.data(), left.rows(), left.cols(), right.cols(), false);
  return tape.var(i);
}

template <class T>
Var<T> affine(Var<T> x, Var<T> w, Var<T> bias) {
  Tape<T>& tape = tape_of(x, w, "affine");
  tape_of(x, bias, "affine");
  require(x.cols() == w.rows(), "affine", [&] { return "input " + shape(x.value()) + " does not fit weight " + shape(w.value()); });
  require(bias.rows() == 1 && bias.cols() == w.cols(), "affine", [&] { return "bias must be 1x" + std::to_string(w.cols()); });
  const int i = tape.push(Op::affine, x.index(), w.index(), bias.index());
  const Matrix<T>& input = tape.value(x.index());
  const Matrix<T>& weight = tape.value(w.index());
  auto& value = tape.node(i).value;
  value.resize(input.rows(), weight.cols());
  kernels::active<T>().affine(input.data(), weight.data(), tape.value(bias.index()).data(), value.data(), input.rows(),
                              input.cols(), weight.cols());
  return tape.var(i);
}

template <class T>
Var<T> add_bias(Var<T> x, Var<T> bias) {
  Tape<T>& tape = tape_of(x, bias, "add_bias");
  require(bias.rows() == 1 && bias.cols() == x.cols(), "add_bias", [&] { return "bias must be 1x" + std::to_string(x.cols()); });
  const int i = tape.push(Op::add_bias, x.index(), bias.index());
  auto& value = tape.node(i).value;
  value = tape.value(x.index());
  value.rowwise() += tape.value(bias.index()).row(0);
  return tape.var(i);
}

template <class T>
Var<T> transpose(Var<T> a) {
  Tape<T>& tape = tape_of(a, "transpose");
  const int i = tape.push(Op::transpose, a.index());
  tape.node(i).value = tape.value(a.index()).transpose();
  return tape.var(i);
}

template <class T>
Var<T> concat_cols(Var<T> a, Var<T> b) {
  Tape<T>& tape = tape_of(a, b, "concat_cols");
  require(a.rows() == b.rows(), "concat_cols", [&] { return "row counts differ: " + shape(a.value()) + " and " + shape(b.value()); });
  const int i = tape.push(Op::concat_cols, a.index(), b.index());
  auto& value = tape.node(i).value;
  const auto& left = tape.value(a.index());
  const auto& right = tape.value(b.index());
  value.resize(left.rows(), left.cols() + right.cols());
  value.leftCols(left.cols()) = left;
  value.rightCols(right.cols()) = right;
  return tape.var(i);
}

template <class T>
Var<T> concat_cols(std::initializer_list<Var<T>> parts) {
  require(parts.size() > 0, "concat_cols", "nothing to concatenate");
  auto it = parts.begin();
  Var<T> result = *it++;
  for (; it != parts.end(); ++it) result = concat_cols(result, *it);
  return result;
}

template <class T>
Var<T> slice_cols(Var<T> a, Eigen::Index first, Eigen::Index count) {
  Tape<T>& tape = tape_of(a, "slice_cols");
  require(first >= 0 && count >= 0 && first + count <= a.cols(), "slice_cols", [&] {
    return "columns [" + std::to_string(first) + ", " + std::to_string(first + count) + ") out of " + shape(a.value());
  });
  const int i = tape.push(Op::slice_cols, a.index());
  auto& node = tape.node(i);
  node.offset = first;
  node.value = tape.value(a.index()).middleCols(first, count);
  return tape.var(i);
}

template <class T>
Var<T> embed_cols(Var<T> a, Eigen::Index first, Eigen::Index total_cols) {
  Tape<T>& tape = tape_of(a, "embed_cols");
  require(first >= 0 && first + a.cols() <= total_cols, "embed_cols", "block does not fit");
  const int i = tape.push(Op::embed_cols, a.index());
  auto& node = tape.node(i);
  node.offset = first;
  node.extent = total_cols;
  const auto& x = tape.value(a.index());
  node.value.setZero(x.rows(), total_cols);
  node.value.middleCols(first, x.cols()) = x;
  return tape.var(i);
}

// The activations run in the dispatched kernels, where their formulas are (kernels_body.inc).
template <class T>
Var<T> relu(Var<T> a) {
  return pointwise(a, Op::relu, kernels::Pointwise::relu, "relu");
}

template <class T>
Var<T> leaky_relu(Var<T> a, Scalar<T> slope) {
  return pointwise(a, Op::leaky_relu, kernels::Pointwise::leaky_relu, "leaky_relu", slope);
}

template <class T>
Var<T> elu(Var<T> a, Scalar<T> alpha) {
  return pointwise(a, Op::elu, kernels::Pointwise::elu, "elu", alpha);
}

template <class T>
Var<T> tanh(Var<T> a) {
  return pointwise(a, Op::tanh, kernels::Pointwise::tanh, "tanh");
}

template <class T>
Var<T> sigmoid(Var<T> a) {
  return pointwise(a, Op::sigmoid, kernels::Pointwise::sigmoid, "sigmoid");
}

template <class T>
Var<T> softplus(Var<T> a) {
  return pointwise(a, Op::softplus, kernels::Pointwise::softplus, "softplus");
}

template <class T>
Var<T> log_sigmoid(Var<T> a) {
  return pointwise(a, Op::log_sigmoid, kernels::Pointwise::log_sigmoid, "log_sigmoid");
}

template <class T>
Var<T> exp(Var<T> a) {
  return unary(a, Op::exp, "exp", [](const auto& x) { return x.exp(); });
}

template <class T>
Var<T> log(Var<T> a) {
  return unary(a, Op::log, "log", [](const auto& x) { return x.log(); });
}

template <class T>
Var<T> square(Var<T> a) {
  return unary(a, Op::square, "square", [](const auto& x) { return x.square(); });
}

template <class T>
Var<T> sqrt(Var<T> a) {
  return unary(a, Op::sqrt, "sqrt", [](const auto& x) { return x.sqrt(); });
}

template <class T>
Var<T> abs(Var<T> a) {
  return unary(a, Op::abs, "abs", [](const auto& x) { return x.abs(); });
}

template <class T>
Var<T> sum(Var<T> a) { return reduction(a, Op::sum, "sum", T(1)); }
template <class T>
Var<T> mean(Var<T> a) { return reduction(a, Op::sum, "mean", T(1) / static_cast<T>(a.value().size())); }
template <class T>
Var<T> sum_rows(Var<T> a) { return reduction(a, Op::sum_rows, "sum_rows", T(1)); }
template <class T>
Var<T> mean_rows(Var<T> a) { return reduction(a, Op::sum_rows, "mean_rows", T(1) / static_cast<T>(a.cols())); }
template <class T>
Var<T> sum_cols(Var<T> a) { return reduction(a, Op::sum_cols, "sum_cols", T(1)); }
template <class T>
Var<T> mean_cols(Var<T> a) { return reduction(a, Op::sum_cols, "mean_cols", T(1) / static_cast<T>(a.rows())); }

template <class T>
Var<T> logsumexp(Var<T> a) {
  Tape<T>& tape = tape_of(a, "logsumexp");
  require(a.value().size() > 0, "logsumexp", "empty matrix");
  const int i = tape.push(Op::logsumexp, a.index());
  const auto& x = tape.value(a.index());
  // Shift by the maximum so that the largest exponent is e^0.
  const T shift = x.maxCoeff();
  auto& value = tape.node(i).value;
  value.resize(1, 1);
  value(0, 0) = std::isfinite(shift) ? shift + std::log((x.array() - shift).exp().sum()) : shift;
  return tape.var(i);
}

template <class T>
Var<T> logsumexp_rows(Var<T> a) {
  Tape<T>& tape = tape_of(a, "logsumexp_rows");
  require(a.cols() > 0, "logsumexp_rows", "no columns");
  const int i = tape.push(Op::logsumexp_rows, a.index());
  const auto& x = tape.value(a.index());
  auto& value = tape.node(i).value;
  value.noalias() = x.rowwise().maxCoeff();
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const T shift = value(r, 0);
    if (std::isfinite(shift)) value(r, 0) = shift + std::log((x.row(r).array() - shift).exp().sum());
  }
  return tape.var(i);
}

template <class T>
Var<T> broadcast(Var<T> a, Eigen::Index rows, Eigen::Index cols) {
  Tape<T>& tape = tape_of(a, "broadcast");
  const auto& x = tape.value(a.index());
  // offset records which axis is repeated: 0 = scalar, 1 = a column (n×1), 2 = a row (1×m).
  Eigen::Index kind;
  if (x.rows() == 1 && x.cols() == 1) kind = 0;
  else if (x.rows() == rows && x.cols() == 1) kind = 1;
  else if (x.rows() == 1 && x.cols() == cols) kind = 2;
  else {
    require(false, "broadcast", [&] {
      return "cannot broadcast " + shape(x) + " to " + std::to_string(rows) + "x" + std::to_string(cols);
    });
    kind = 0;
  }
  const int i = tape.push(Op::broadcast, a.index());
  auto& node = tape.node(i);
  node.offset = kind;
  // Column by column (fills and copies): Eigen's replicate() of a row computed every entry through an
  // index modulo, 5 % of NPE's training time on gaussian_linear (perf, 2026-12-03).
  if (kind == 0) {
    node.value.setConstant(rows, cols, x(0, 0));
  } else if (kind == 1) {
    node.value.resize(rows, cols);
    for (Eigen::Index c = 0; c < cols; ++c) node.value.col(c) = x.col(0);
  } else {
    node.value.resize(rows, cols);
    for (Eigen::Index c = 0; c < cols; ++c) node.value.col(c).setConstant(x(0, c));
  }
  return tape.var(i);
}

template <class T>
Var<T> pairwise_sq_dist(Var<T> x, Var<T> y) {
  Tape<T>& tape = tape_of(x, y, "pairwise_sq_dist");
  require(x.cols() == y.cols(), "pairwise_sq_dist", [&] { return "dimensions differ: " + shape(x.value()) + " and " + shape(y.value()); });
  const int i = tape.push(Op::pairwise_sq_dist, x.index(), y.index());
  const auto& a = tape.value(x.index());
  const auto& b = tape.value(y.index());
  auto& value = tape.node(i).value;
  // |a_i|² + |b_j|² - 2 a_i·b_j: one GEMM instead of n·m loops. Not clamped at zero, so that the
  // value stays the exact function whose derivative backward() computes.
  value.noalias() = T(-2) * a * b.transpose();
  value.colwise() += a.rowwise().squaredNorm();
  value.rowwise() += b.rowwise().squaredNorm().transpose();
  return tape.var(i);
}

template <class T> Var<T> add(Var<T> a, Var<T> b) { return binary(a, b, Op::add, "add"); }
template <class T> Var<T> sub(Var<T> a, Var<T> b) { return binary(a, b, Op::sub, "sub"); }
template <class T> Var<T> mul(Var<T> a, Var<T> b) { return binary(a, b, Op::mul, "mul"); }
template <class T> Var<T> div(Var<T> a, Var<T> b) { return binary(a, b, Op::div, "div"); }

template <class T>
Var<T> neg(Var<T> a) {
  return unary(a, Op::neg, "neg", [](const auto& x) { return -x; });
}
template <class T>
Var<T> add_scalar(Var<T> a, Scalar<T> s) {
  return unary(a, Op::add_scalar, "add_scalar", [s](const auto& x) { return x + s; }, s);
}
template <class T>
Var<T> mul_scalar(Var<T> a, Scalar<T> s) {
  return unary(a, Op::mul_scalar, "mul_scalar", [s](const auto& x) { return x * s; }, s);
}

#define SBI_AD_INSTANTIATE_OPS(T)                                                   \
  template Var<T> matmul(Var<T>, Var<T>);                                           \
  template Var<T> affine(Var<T>, Var<T>, Var<T>);                                   \
  template Var<T> add_bias(Var<T>, Var<T>);                                         \
  template Var<T> transpose(Var<T>);                                                \
  template Var<T> concat_cols(Var<T>, Var<T>);                                      \
  template Var<T> concat_cols(std::initializer_list<Var<T>>);                       \
  template Var<T> slice_cols(Var<T>, Eigen::Index, Eigen::Index);                   \
  template Var<T> embed_cols(Var<T>, Eigen::Index, Eigen::Index);                   \
  template Var<T> relu(Var<T>);                                                     \
  template Var<T> leaky_relu(Var<T>, Scalar<T>);                                    \
  template Var<T> elu(Var<T>, Scalar<T>);                                           \
  template Var<T> tanh(Var<T>);                                                     \
  template Var<T> sigmoid(Var<T>);                                                  \
  template Var<T> softplus(Var<T>);                                                 \
  template Var<T> log_sigmoid(Var<T>);                                              \
  template Var<T> exp(Var<T>);                                                      \
  template Var<T> log(Var<T>);                                                      \
  template Var<T> square(Var<T>);                                                   \
  template Var<T> sqrt(Var<T>);                                                     \
  template Var<T> abs(Var<T>);                                                      \
  template Var<T> sum(Var<T>);                                                      \
  template Var<T> mean(Var<T>);                                                     \
  template Var<T> sum_rows(Var<T>);                                                 \
  template Var<T> mean_rows(Var<T>);                                                \
  template Var<T> sum_cols(Var<T>);                                                 \
  template Var<T> mean_cols(Var<T>);                                                \
  template Var<T> logsumexp(Var<T>);                                                \
  template Var<T> logsumexp_rows(Var<T>);                                           \
  template Var<T> broadcast(Var<T>, Eigen::Index, Eigen::Index);                    \
  template Var<T> pairwise_sq_dist(Var<T>, Var<T>);                                 \
  template Var<T> add(Var<T>, Var<T>);                                              \
  template Var<T> sub(Var<T>, Var<T>);                                              \
  template Var<T> mul(Var<T>, Var<T>);                                              \
  template Var<T> div(Var<T>, Var<T>);                                              \
  template Var<T> neg(Var<T>);                                                      \
  template Var<T> add_scalar(Var<T>, Scalar<T>);                                    \
  template Var<T> mul_scalar(Var<T>, Scalar<T>);

SBI_AD_INSTANTIATE_OPS(float)
SBI_AD_INSTANTIATE_OPS(double)

}  // namespace sbi::ad
