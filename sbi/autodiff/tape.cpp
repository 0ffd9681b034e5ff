// The tape and its two backward passes:
//  * propagate(): numeric adjoints with Eigen expressions (the training hot path);
//  * propagate_graph(): the same derivatives written with the differentiable operations of
//    ops.hpp, so that the gradient is itself a graph on the tape (create_graph).
// Every operation appears once in each switch; keep them in the same order as the Op enum.
#include "sbi/autodiff/tape.hpp"

#include "sbi/autodiff/kernels.hpp"
#include "sbi/autodiff/flow_ops.hpp"
#include "sbi/autodiff/ops.hpp"

#include <stdexcept>
#include <string>

namespace sbi::ad {

template <class T>
int Tape<T>::push(Op op, int a, int b, int c) {
  if (used_ == nodes_.size()) nodes_.emplace_back();
  const int i = static_cast<int>(used_++);
  Node& n = nodes_[static_cast<std::size_t>(i)];
  n.op = op;
  n.inputs[0] = a;
  n.inputs[1] = b;
  n.inputs[2] = c;
  n.scalar = T(0);
  n.offset = 0;
  n.extent = 0;
  n.indices = {};
  n.external_value = nullptr;
  n.external_grad = nullptr;
  n.has_adjoint = false;
  n.requires_grad = (a >= 0 && node(a).requires_grad) || (b >= 0 && node(b).requires_grad) ||
                    (c >= 0 && node(c).requires_grad);
  return i;
}

template <class T>
Var<T> Tape<T>::constant(const Mat& value) {
  const int i = push(Op::leaf);
  node(i).value = value;
  return var(i);
}

template <class T>
Var<T> Tape<T>::constant(T value) {
  const int i = push(Op::leaf);
  node(i).value.setConstant(1, 1, value);
  return var(i);
}

template <class T>
Var<T> Tape<T>::variable(const Mat& value) {
  const int i = push(Op::leaf);
  node(i).value = value;
  node(i).requires_grad = true;
  return var(i);
}

template <class T>
Var<T> Tape<T>::parameter(const Mat& value, Mat& grad) {
  if (grad.size() != 0 && (grad.rows() != value.rows() || grad.cols() != value.cols()))
    throw std::invalid_argument("sbi::ad::Tape::parameter: gradient shape differs from value shape");
  const int i = push(Op::leaf);
  Node& n = node(i);
  n.external_value = &value;
  n.external_grad = &grad;
  n.requires_grad = true;
  return var(i);
}

template <class T>
typename Tape<T>::Mat Tape<T>::gradient(Var<T> v) const {
  const Node& n = node(v.index());
  if (n.external_grad != nullptr && parameters_direct_) return *n.external_grad;
  if (n.has_adjoint) return n.adjoint;
  return Mat::Zero(n.val().rows(), n.val().cols());
}

template <class T>
void Tape<T>::backward(Var<T> loss) {
  run_backward(loss.index(), /*accumulate_into_parameters=*/true);
}

template <class T>
void Tape<T>::run_backward(int loss, bool accumulate_into_parameters) {
  const Mat& loss_value = value(loss);
  if (loss_value.rows() != 1 || loss_value.cols() != 1)
    throw std::invalid_argument("sbi::ad::Tape::backward: the loss must be 1x1, got " +
                                std::to_string(loss_value.rows()) + "x" + std::to_string(loss_value.cols()));
  for (std::size_t k = 0; k < used_; ++k) nodes_[k].has_adjoint = false;
  parameters_direct_ = accumulate_into_parameters;
  Node& top = node(loss);
  top.adjoint.setOnes(1, 1);
  top.has_adjoint = true;
  for (int i = loss; i >= 0; --i) {
    Node& n = node(i);
    if (!n.has_adjoint || !n.requires_grad) continue;
    if (n.op == Op::leaf) continue;  // parameters received their gradient directly (parameter_sink)
    propagate(i);
  }
}

// In backward(), contributions to a parameter go straight into its gradient matrix: the GEMM for
// dW accumulates in place (C += AᵀB) instead of writing an adjoint that is then added to it.
template <class T>
typename Tape<T>::Mat* Tape<T>::parameter_sink(Node& n) {
  if (!parameters_direct_ || n.op != Op::leaf || n.external_grad == nullptr) return nullptr;
  Mat& grad = *n.external_grad;
  if (grad.rows() != n.val().rows() || grad.cols() != n.val().cols()) grad.setZero(n.val().rows(), n.val().cols());
  n.has_adjoint = true;
  return &grad;
}

template <class T>
typename Tape<T>::Mat& Tape<T>::adjoint_target(int input) {
  Node& n = node(input);
  if (Mat* sink = parameter_sink(n)) return *sink;
  if (!n.has_adjoint) {
    n.adjoint.setZero(n.val().rows(), n.val().cols());
    n.has_adjoint = true;
  }
  return n.adjoint;
}

// First contribution: assign (no zero fill); later ones: add. noalias() lets Eigen write GEMM
// results straight into the adjoint.
template <class T>
void Tape<T>::accumulate(int input, const auto& contribution) {
  Node& n = node(input);
  if (!n.requires_grad) return;
  if (Mat* sink = parameter_sink(n)) {
    sink->noalias() += contribution;
  } else if (n.has_adjoint) {
    n.adjoint.noalias() += contribution;
  } else {
    n.adjoint.noalias() = contribution;
    n.has_adjoint = true;
  }
}

template <class T>
void Tape<T>::accumulate_elementwise(int input, const auto& entry) {
  Node& n = node(input);
  if (!n.requires_grad) return;
  const Eigen::Index size = n.val().size();
  if (Mat* sink = parameter_sink(n)) {
    T* out = sink->data();
    for (Eigen::Index k = 0; k < size; ++k) out[k] += entry(k);
  } else if (!n.has_adjoint) {
    n.adjoint.resize(n.val().rows(), n.val().cols());
    T* out = n.adjoint.data();
    for (Eigen::Index k = 0; k < size; ++k) out[k] = entry(k);
    n.has_adjoint = true;
  } else {
    T* out = n.adjoint.data();
    for (Eigen::Index k = 0; k < size; ++k) out[k] += entry(k);
  }
}

template <class T>
void Tape<T>::accumulate_into(int input, const auto& write) {
  Node& n = node(input);
  if (!n.requires_grad) return;
  if (Mat* sink = parameter_sink(n)) {
    write(sink->data(), true);
  } else if (n.has_adjoint) {
    write(n.adjoint.data(), true);
  } else {
    n.adjoint.resize(n.val().rows(), n.val().cols());
    write(n.adjoint.data(), false);
    n.has_adjoint = true;
  }
}

template <class T>
void Tape<T>::propagate(int i) {
  const Node& n = node(i);
  const Mat& g = n.adjoint;
  const Mat& y = n.val();
  const int a = n.inputs[0];
  const int b = n.inputs[1];
  const int c = n.inputs[2];
  auto wanted = [&](int k) { return k >= 0 && node(k).requires_grad; };
  const auto ga = g.array();
  // The hot path runs in the dispatched kernels (sbi/autodiff/kernels.hpp).
  const kernels::Table<T>& kernel = kernels::active<T>();
  // For Y = A B (A m×k, B k×n, G = dY m×n): dA = G Bᵀ, dB = Aᵀ G.
  auto product_backward = [&] {
    const Mat& left = value(a);
    const Mat& right = value(b);
    if (wanted(a))
      accumulate_into(a, [&](T* out, bool add) {
        kernel.product_bt(g.data(), right.data(), out, g.rows(), g.cols(), right.rows(), add);
      });
    if (wanted(b))
      accumulate_into(b, [&](T* out, bool add) {
        kernel.product_at(left.data(), g.data(), out, left.cols(), left.rows(), g.cols(), add);
      });
  };
  auto pointwise_backward = [&](kernels::Pointwise kind) {
    const Mat& x = value(a);
    accumulate_into(a, [&](T* out, bool add) {
      kernel.pointwise_backward(kind, n.scalar, x.data(), y.data(), g.data(), out, x.size(), add);
    });
  };
  switch (n.op) {
    case Op::leaf: break;
    case Op::matmul: product_backward(); break;
    case Op::affine:
      product_backward();
      if (wanted(c)) accumulate_into(c, [&](T* out, bool add) { kernel.column_sums(g.data(), out, g.rows(), g.cols(), add); });
      break;
    case Op::add_bias:
      if (wanted(a)) accumulate(a, g);
      if (wanted(b)) accumulate(b, g.colwise().sum());
      break;
    case Op::transpose: accumulate(a, g.transpose()); break;
    case Op::concat_cols: {
      const Eigen::Index left = value(a).cols();
      if (wanted(a)) accumulate(a, g.leftCols(left));
      if (wanted(b)) accumulate(b, g.rightCols(g.cols() - left));
      break;
    }
    case Op::slice_cols: adjoint_target(a).middleCols(n.offset, g.cols()) += g; break;
    case Op::embed_cols: accumulate(a, g.middleCols(n.offset, value(a).cols())); break;
    case Op::relu: pointwise_backward(kernels::Pointwise::relu); break;
    case Op::leaky_relu: pointwise_backward(kernels::Pointwise::leaky_relu); break;
    case Op::elu: pointwise_backward(kernels::Pointwise::elu); break;
    case Op::tanh: pointwise_backward(kernels::Pointwise::tanh); break;
    case Op::sigmoid: pointwise_backward(kernels::Pointwise::sigmoid); break;
    case Op::softplus: pointwise_backward(kernels::Pointwise::softplus); break;
    case Op::log_sigmoid: pointwise_backward(kernels::Pointwise::log_sigmoid); break;
    case Op::exp: accumulate(a, (ga * y.array()).matrix()); break;
    case Op::log: accumulate(a, (ga / value(a).array()).matrix()); break;
    case Op::square: accumulate(a, (T(2) * ga * value(a).array()).matrix()); break;
    case Op::sqrt: accumulate(a, (T(0.5) * ga / y.array()).matrix()); break;
    case Op::abs: accumulate(a, (ga * value(a).array().sign()).matrix()); break;
    case Op::sum: {
      const auto& x = value(a);
      accumulate(a, Mat::Constant(x.rows(), x.cols(), g(0, 0) * n.scalar));
      break;
    }
    case Op::sum_rows: accumulate(a, (g * n.scalar).replicate(1, value(a).cols())); break;
    case Op::sum_cols: accumulate(a, (g * n.scalar).replicate(value(a).rows(), 1)); break;
    case Op::broadcast:
      if (n.offset == 0) accumulate(a, Mat::Constant(1, 1, g.sum()));
      else if (n.offset == 1) accumulate(a, g.rowwise().sum());
      else accumulate(a, g.colwise().sum());
      break;
    case Op::pairwise_sq_dist: {
      // D = |x_i|² + |y_j|² - 2 x_i·y_j  ⇒  dX = 2(diag(G1) X - G Y), dY = 2(diag(Gᵀ1) Y - Gᵀ X).
      const Mat& x = value(a);
      const Mat& z = value(b);
      if (wanted(a)) {
        Mat& target = adjoint_target(a);
        target.noalias() -= T(2) * g * z;
        target.noalias() += T(2) * (g.rowwise().sum().asDiagonal() * x);
      }
      if (wanted(b)) {
        Mat& target = adjoint_target(b);
        target.noalias() -= T(2) * g.transpose() * x;
        target.noalias() += T(2) * (g.colwise().sum().transpose().asDiagonal() * z);
      }
      break;
    }
    case Op::logsumexp: accumulate(a, (g(0, 0) * (value(a).array() - y(0, 0)).exp()).matrix()); break;
    case Op::logsumexp_rows:
      accumulate(a, ((value(a).array().colwise() - y.col(0).array()).exp().colwise() * g.col(0).array()).matrix());
      break;
    case Op::add_scalar: accumulate(a, g); break;
    case Op::mul_scalar: accumulate(a, g * n.scalar); break;
    case Op::add:
      if (wanted(a)) accumulate(a, g);
      if (wanted(b)) accumulate(b, g);
      break;
    case Op::sub:
      if (wanted(a)) accumulate(a, g);
      if (wanted(b)) accumulate(b, -g);
      break;
    case Op::mul:
      if (wanted(a)) accumulate(a, (ga * value(b).array()).matrix());
      if (wanted(b)) accumulate(b, (ga * value(a).array()).matrix());
      break;
    case Op::div:
      if (wanted(a)) accumulate(a, (ga / value(b).array()).matrix());
      if (wanted(b)) accumulate(b, (-ga * y.array() / value(b).array()).matrix());
      break;
    case Op::neg: accumulate(a, -g); break;
    case Op::gather_cols: {
      Mat& target = adjoint_target(a);
      for (std::size_t k = 0; k < n.indices.size(); ++k) target.col(n.indices[k]) += g.col(static_cast<Eigen::Index>(k));
      break;
    }
    case Op::scatter_cols: {
      Mat& target = adjoint_target(a);
      for (std::size_t k = 0; k < n.indices.size(); ++k) target.col(static_cast<Eigen::Index>(k)) += g.col(n.indices[k]);
      break;
    }
    case Op::reshape: accumulate(a, g.reshaped(value(a).rows(), value(a).cols())); break;
    case Op::rq_spline:
      rq_spline_backward(value(a), value(b), g, n.scalar, n.offset, wanted(a) ? &adjoint_target(a) : nullptr,
                         wanted(b) ? &adjoint_target(b) : nullptr);
      break;
  }
}

template <class T>
void Tape<T>::propagate_graph(int i, std::vector<int>& adjoint_of) {
  // Copy what we need: ops below append nodes, and we must not hold values across that by
  // accident of aliasing (deque references stay valid, but keep the code obviously safe).
  const Op op = node(i).op;
  const int a = node(i).inputs[0];
  const int b = node(i).inputs[1];
  const int c = node(i).inputs[2];
  const T scalar = node(i).scalar;
  const Eigen::Index offset = node(i).offset;
  const Var<T> g = var(adjoint_of[static_cast<std::size_t>(i)]);
  const Var<T> y = var(i);
  auto wanted = [&](int k) { return k >= 0 && node(k).requires_grad; };
  auto contribute = [&](int k, Var<T> contribution) {
    int& slot = adjoint_of[static_cast<std::size_t>(k)];
    slot = slot < 0 ? contribution.index() : add(var(slot), contribution).index();
  };
  // A constant computed from input values (a mask or sign): zero derivative almost everywhere.
  auto constant_from = [&](const auto& expression) {
    const int k = push(Op::leaf);
    node(k).value = expression;
    return var(k);
  };
  const auto shape_of = [&](int k) { return std::pair(value(k).rows(), value(k).cols()); };

  switch (op) {
    case Op::leaf: break;
    case Op::matmul:
      if (wanted(a)) contribute(a, matmul(g, transpose(var(b))));
      if (wanted(b)) contribute(b, matmul(transpose(var(a)), g));
      break;
    case Op::affine:
      if (wanted(a)) contribute(a, matmul(g, transpose(var(b))));
      if (wanted(b)) contribute(b, matmul(transpose(var(a)), g));
      if (wanted(c)) contribute(c, sum_cols(g));
      break;
    case Op::add_bias:
      if (wanted(a)) contribute(a, g);
      if (wanted(b)) contribute(b, sum_cols(g));
      break;
    case Op::transpose: contribute(a, transpose(g)); break;
    case Op::concat_cols: {
      const Eigen::Index left = value(a).cols();
      if (wanted(a)) contribute(a, slice_cols(g, 0, left));
      if (wanted(b)) contribute(b, slice_cols(g, left, value(b).cols()));
      break;
    }
    case Op::slice_cols: contribute(a, embed_cols(g, offset, value(a).cols())); break;
    case Op::embed_cols: contribute(a, slice_cols(g, offset, value(a).cols())); break;
    case Op::relu:
      contribute(a, mul(g, constant_from((value(a).array() > T(0)).template cast<T>().matrix())));
      break;
    case Op::leaky_relu:
      contribute(a, mul(g, constant_from((value(a).array() > T(0)).select(Mat::Ones(value(a).rows(), value(a).cols()).array(), scalar).matrix())));
      break;
    case Op::elu: {
      // derivative = 1 where x > 0, y + α elsewhere; written as mask + (1 - mask)(y + α).
      const Var<T> positive = constant_from((value(a).array() > T(0)).template cast<T>().matrix());
      const Var<T> negative = constant_from((value(a).array() <= T(0)).template cast<T>().matrix());
      contribute(a, mul(g, add(positive, mul(negative, add_scalar(y, scalar)))));
      break;
    }
    case Op::tanh: contribute(a, mul(g, add_scalar(neg(square(y)), T(1)))); break;
    case Op::sigmoid: contribute(a, mul(g, mul(y, add_scalar(neg(y), T(1))))); break;
    case Op::softplus: contribute(a, mul(g, sigmoid(var(a)))); break;
    case Op::log_sigmoid: contribute(a, mul(g, sigmoid(neg(var(a))))); break;
    case Op::exp: contribute(a, mul(g, y)); break;
    case Op::log: contribute(a, div(g, var(a))); break;
    case Op::square: contribute(a, mul_scalar(mul(g, var(a)), T(2))); break;
    case Op::sqrt: contribute(a, mul_scalar(div(g, y), T(0.5))); break;
    case Op::abs: contribute(a, mul(g, constant_from(value(a).array().sign().matrix()))); break;
    case Op::sum: {
      const auto [rows, cols] = shape_of(a);
      contribute(a, broadcast(mul_scalar(g, scalar), rows, cols));
      break;
    }
    case Op::sum_rows:
    case Op::sum_cols: {
      const auto [rows, cols] = shape_of(a);
      contribute(a, broadcast(mul_scalar(g, scalar), rows, cols));
      break;
    }
    case Op::broadcast:
      if (offset == 0) contribute(a, sum(g));
      else if (offset == 1) contribute(a, sum_rows(g));
      else contribute(a, sum_cols(g));
      break;
    case Op::pairwise_sq_dist: {
      const auto [n_x, d] = shape_of(a);
      const Eigen::Index n_y = value(b).rows();
      if (wanted(a))
        contribute(a, mul_scalar(sub(mul(broadcast(sum_rows(g), n_x, d), var(a)), matmul(g, var(b))), T(2)));
      if (wanted(b))
        contribute(b, mul_scalar(sub(mul(broadcast(transpose(sum_cols(g)), n_y, d), var(b)), matmul(transpose(g), var(a))), T(2)));
      break;
    }
    case Op::logsumexp:
    case Op::logsumexp_rows: {
      const auto [rows, cols] = shape_of(a);
      contribute(a, mul(broadcast(g, rows, cols), exp(sub(var(a), broadcast(y, rows, cols)))));
      break;
    }
    case Op::add_scalar: contribute(a, g); break;
    case Op::mul_scalar: contribute(a, mul_scalar(g, scalar)); break;
    case Op::add:
      if (wanted(a)) contribute(a, g);
      if (wanted(b)) contribute(b, g);
      break;
    case Op::sub:
      if (wanted(a)) contribute(a, g);
      if (wanted(b)) contribute(b, neg(g));
      break;
    case Op::mul:
      if (wanted(a)) contribute(a, mul(g, var(b)));
      if (wanted(b)) contribute(b, mul(g, var(a)));
      break;
    case Op::div:
      if (wanted(a)) contribute(a, div(g, var(b)));
      if (wanted(b)) contribute(b, neg(div(mul(g, y), var(b))));
      break;
    case Op::neg: contribute(a, neg(g)); break;
    case Op::gather_cols: contribute(a, scatter_cols(g, node(i).indices, value(a).cols())); break;
    case Op::scatter_cols: contribute(a, gather_cols(g, node(i).indices)); break;
    case Op::reshape: contribute(a, reshape(g, value(a).rows(), value(a).cols())); break;
    case Op::rq_spline:
      throw std::invalid_argument(
          "sbi::ad::rq_spline: second derivatives (grad with create_graph) are not implemented for the spline; "
          "use it only in losses differentiated once");
  }
}

template <class T>
std::vector<Var<T>> Tape<T>::grad(Var<T> loss, std::span<const Var<T>> wrt, bool create_graph) {
  if (&loss.tape() != this) throw std::invalid_argument("sbi::ad::grad: the loss is on another tape");
  for (const Var<T>& w : wrt)
    if (&w.tape() != this) throw std::invalid_argument("sbi::ad::grad: a variable is on another tape");
  const int top = loss.index();
  std::vector<Var<T>> result;
  result.reserve(wrt.size());
  if (!create_graph) {
    run_backward(top, /*accumulate_into_parameters=*/false);
    for (const Var<T>& w : wrt) {
      const int k = push(Op::leaf);
      const Node& source = node(w.index());
      if (source.has_adjoint && w.index() <= top) node(k).value = source.adjoint;
      else node(k).value.setZero(source.val().rows(), source.val().cols());
      result.push_back(var(k));
    }
    return result;
  }
  const Mat& loss_value = value(top);
  if (loss_value.rows() != 1 || loss_value.cols() != 1)
    throw std::invalid_argument("sbi::ad::grad: the loss must be 1x1");
  std::vector<int> adjoint_of(static_cast<std::size_t>(top) + 1, -1);
  adjoint_of[static_cast<std::size_t>(top)] = constant(T(1)).index();
  for (int i = top; i >= 0; --i) {
    if (adjoint_of[static_cast<std::size_t>(i)] < 0 || !node(i).requires_grad || node(i).op == Op::leaf) continue;
    propagate_graph(i, adjoint_of);
  }
  for (const Var<T>& w : wrt) {
    const int k = w.index() <= top ? adjoint_of[static_cast<std::size_t>(w.index())] : -1;
    if (k >= 0) {
      result.push_back(var(k));
    } else {
      const int z = push(Op::leaf);
      node(z).value.setZero(value(w.index()).rows(), value(w.index()).cols());
      result.push_back(var(z));
    }
  }
  return result;
}

template class Tape<float>;
template class Tape<double>;

}  // namespace sbi::ad
