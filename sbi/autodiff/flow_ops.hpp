#pragma once
// Differentiable operations added for the conditional density estimators of sbi/flows: column
// gathers (im2col for 1-D convolutions, reordering of i.i.d. trials), reshapes, a view of external
// storage as a constant, and the monotone rational-quadratic spline of neural spline flows.
//
// Like every operation in ops.hpp, each appends one node to the tape of its arguments; their
// derivatives are in tape.cpp (the spline's in flow_ops.cpp, called from there).
#include "sbi/autodiff/ops.hpp"
#include "sbi/autodiff/tape.hpp"

#include <span>

namespace sbi::ad {

// A leaf that reads `value` in place (no copy) and is not differentiated: network weights in an
// evaluation pass, constant masks. `value` must outlive the tape's current step and stay unchanged.
template <class T> Var<T> constant_view(Tape<T>& tape, const Matrix<T>& value);

// out.col(k) = a.col(indices[k]); repeats allowed. The index list is read again by backward(): it
// must outlive the tape's current step (keep it in the network that uses it).
template <class T> Var<T> gather_cols(Var<T> a, std::span<const Eigen::Index> indices);
// The adjoint of gather_cols: out (rows × total_cols) is zero except out.col(indices[k]) += a.col(k).
template <class T> Var<T> scatter_cols(Var<T> a, std::span<const Eigen::Index> indices, Eigen::Index total_cols);
// The same entries in column-major order with another shape (rows · cols must not change). With
// columns ordered "position fastest", n × (L·C) and (n·L) × C are the same data: this is how a 1-D
// convolution becomes one matrix product.
template <class T> Var<T> reshape(Var<T> a, Eigen::Index rows, Eigen::Index cols);

// ---------------------------------------------------------------------------------------------
// Monotone rational-quadratic spline (Durkan, Bekasov, Murray & Papamakarios, "Neural Spline
// Flows", NeurIPS 2019, eqs. 4–8), elementwise, with identity ("linear") tails outside [−B, B].
//
// For each row r and dimension j of x (n × d), the spline's parameters are the 3K − 1 columns
// j·(3K−1) ... (j+1)·(3K−1) − 1 of `params` (n × d·(3K−1)), unnormalised:
//   K widths a, K heights b:  bin widths  W_k = 2B·(m + (1 − K m)·softmax(a)_k), heights likewise;
//   K − 1 derivatives c:      at the inner knots δ_k = m + softplus(c_k + log(e^{1−m} − 1)),
//                             δ = 1 at ±B (so the spline joins the identity tails smoothly);
// m = kSplineMinimum. All-zero parameters give the identity map.
//
// Returns n × (d + 1): columns 0..d−1 hold y = spline(x), column d holds Σ_j log |dy_j/dx_j|.
// First derivatives with respect to x and params are exact; grad(..., create_graph = true) through
// this node throws std::invalid_argument (second derivatives are not implemented).
inline constexpr int kMaxSplineBins = 64;
inline constexpr double kSplineMinimum = 1e-3;

template <class T> Var<T> rq_spline(Var<T> x, Var<T> params, Scalar<T> bound, int bins);

// The inverse map, on plain values (sampling): x = spline⁻¹(y) for y (n × d); log_abs_det (n × 1),
// if not null, receives Σ_j log |dx_j/dy_j|. Throws std::invalid_argument for wrong shapes.
template <class T>
void rq_spline_inverse(const Matrix<T>& y, const Matrix<T>& params, T bound, int bins, Matrix<T>& x,
                       Matrix<T>* log_abs_det = nullptr);

// For tape.cpp: adds the derivatives of Σ g ⊙ rq_spline(x, params) into grad_x / grad_params
// (either may be null).
template <class T>
void rq_spline_backward(const Matrix<T>& x, const Matrix<T>& params, const Matrix<T>& g, T bound, Eigen::Index bins,
                        Matrix<T>* grad_x, Matrix<T>* grad_params);

}  // namespace sbi::ad
