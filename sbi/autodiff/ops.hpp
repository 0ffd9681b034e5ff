#pragma once
// Differentiable operations on Vars. Each call appends one node to the tape of its arguments.
// Shapes follow the batch convention: rows are samples, columns are features.
//
// All functions are instantiated for float and double in ops.cpp.
#include "sbi/autodiff/tape.hpp"

#include <type_traits>

namespace sbi::ad {

template <class T>
using Scalar = std::type_identity_t<T>;  // lets `x * 2.0` work for Var<float>

// Linear algebra
template <class T> Var<T> matmul(Var<T> a, Var<T> b);                  // (n×k)(k×m)
template <class T> Var<T> affine(Var<T> x, Var<T> w, Var<T> bias);     // x w + bias, bias 1×m
template <class T> Var<T> add_bias(Var<T> x, Var<T> bias);             // bias 1×m added to each row
template <class T> Var<T> transpose(Var<T> a);

// Columns
template <class T> Var<T> concat_cols(Var<T> a, Var<T> b);
template <class T> Var<T> concat_cols(std::initializer_list<Var<T>> parts);
template <class T> Var<T> slice_cols(Var<T> a, Eigen::Index first, Eigen::Index count);
template <class T> Var<T> embed_cols(Var<T> a, Eigen::Index first, Eigen::Index total_cols);

// Elementwise
template <class T> Var<T> relu(Var<T> a);
template <class T> Var<T> leaky_relu(Var<T> a, Scalar<T> negative_slope = T(0.01));
template <class T> Var<T> elu(Var<T> a, Scalar<T> alpha = T(1));
template <class T> Var<T> tanh(Var<T> a);
template <class T> Var<T> sigmoid(Var<T> a);
template <class T> Var<T> softplus(Var<T> a);     // log(1 + eˣ), stable for any x
template <class T> Var<T> log_sigmoid(Var<T> a);  // -softplus(-x), stable for any x
template <class T> Var<T> exp(Var<T> a);
template <class T> Var<T> log(Var<T> a);
template <class T> Var<T> square(Var<T> a);
template <class T> Var<T> sqrt(Var<T> a);
template <class T> Var<T> abs(Var<T> a);          // derivative sign(x), 0 at 0

// Reductions
template <class T> Var<T> sum(Var<T> a);        // 1×1
template <class T> Var<T> mean(Var<T> a);       // 1×1
template <class T> Var<T> sum_rows(Var<T> a);   // n×1: one value per row (sample)
template <class T> Var<T> mean_rows(Var<T> a);  // n×1
template <class T> Var<T> sum_cols(Var<T> a);   // 1×m: one value per column (feature)
template <class T> Var<T> mean_cols(Var<T> a);  // 1×m
template <class T> Var<T> logsumexp(Var<T> a);       // 1×1
template <class T> Var<T> logsumexp_rows(Var<T> a);  // n×1
// Repeat a 1×1, n×1 or 1×m matrix to n×m.
template <class T> Var<T> broadcast(Var<T> a, Eigen::Index rows, Eigen::Index cols);

// Squared Euclidean distances between the rows of x (n×d) and y (m×d): n×m.
template <class T> Var<T> pairwise_sq_dist(Var<T> x, Var<T> y);

// Arithmetic. Matrix–matrix operations need equal shapes (use broadcast() otherwise).
template <class T> Var<T> add(Var<T> a, Var<T> b);
template <class T> Var<T> sub(Var<T> a, Var<T> b);
template <class T> Var<T> mul(Var<T> a, Var<T> b);  // elementwise
template <class T> Var<T> div(Var<T> a, Var<T> b);  // elementwise
template <class T> Var<T> neg(Var<T> a);
template <class T> Var<T> add_scalar(Var<T> a, Scalar<T> s);
template <class T> Var<T> mul_scalar(Var<T> a, Scalar<T> s);

template <class T> Var<T> operator+(Var<T> a, Var<T> b) { return add(a, b); }
template <class T> Var<T> operator-(Var<T> a, Var<T> b) { return sub(a, b); }
template <class T> Var<T> operator*(Var<T> a, Var<T> b) { return mul(a, b); }
template <class T> Var<T> operator/(Var<T> a, Var<T> b) { return div(a, b); }
template <class T> Var<T> operator-(Var<T> a) { return neg(a); }
template <class T> Var<T> operator+(Var<T> a, Scalar<T> s) { return add_scalar(a, s); }
template <class T> Var<T> operator+(Scalar<T> s, Var<T> a) { return add_scalar(a, s); }
template <class T> Var<T> operator-(Var<T> a, Scalar<T> s) { return add_scalar(a, -s); }
template <class T> Var<T> operator-(Scalar<T> s, Var<T> a) { return add_scalar(neg(a), s); }
template <class T> Var<T> operator*(Var<T> a, Scalar<T> s) { return mul_scalar(a, s); }
template <class T> Var<T> operator*(Scalar<T> s, Var<T> a) { return mul_scalar(a, s); }
template <class T> Var<T> operator/(Var<T> a, Scalar<T> s) { return mul_scalar(a, T(1) / s); }

}  // namespace sbi::ad
