#pragma once
// Discriminator regularisers for stable adversarial training (Chu, Minami & Fukumizu, "Smoothness
// and Stability in GANs", ICLR 2020). The generator's loss is L-smooth, and plain gradient descent
// on it is stable for step sizes up to 1/L, when the discriminator φ is
//   * α-Lipschitz in x      — spectral normalisation (a bound on every layer) or a gradient penalty;
//   * β1-smooth in x        — smooth activations (ELU, softplus, tanh) under the same weight bounds;
//   * penalised by (1/(2β2))·‖φ‖²_H in the RKHS H of k(x, y) = exp(−π‖x − y‖²).
// The functions here add these to any discriminator built on sbi::nn (LFVI and `sbi stability sweep`
// use them); sbi/stability/estimators.hpp measures the constants a trained network actually has.
//
// RKHS norm: a finite approximation must be chosen, since a neural network is not written in the
// kernel's basis. We use the *support-set interpolant*: for a support set Z = {z_1..z_m} (the real
// and generated points of the current batch) the smallest-norm function of H that agrees with φ on Z
// is Σ c_j k(·, z_j) with K c = φ(Z), and its squared norm is φ(Z)ᵀ K⁻¹ φ(Z). Why this choice:
//   * it is a lower bound of ‖φ‖²_H for every φ ∈ H (the interpolant is the orthogonal projection of
//     φ onto span{k(·, z_j)}), exact when φ lies in that span, and it increases to ‖φ‖²_H as Z
//     becomes dense (tests/sbi/stability check both on f = Σ c_i k(·, x_i), whose norm is cᵀKc);
//   * it works for any discriminator architecture (so it combines with spectral normalisation on the
//     same network), and its gradient with respect to the weights is 2·K⁻¹φ(Z)·∂φ(Z), cheap for
//     m of a few hundred;
//   * only values at Z enter, which are exactly the values the adversarial loss sees.
// Gaussian kernel matrices are badly conditioned, so K + εI is used (ε = `jitter`, default 1e-3):
// this keeps the quadratic form a lower bound of the exact norm (it can only decrease) and makes it
// computable in single precision. Limitation: the penalty does not see φ between support points,
// so a network could oscillate there unpenalised; with smooth activations this is not observed.
#include "sbi/autodiff/ops.hpp"
#include "sbi/core/types.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/random/rng.hpp"

#include <string>

namespace sbi::stability {

// ---------------------------------------------------------------------------------------------
// Spectral normalisation with a target Lipschitz bound for the whole network

// The per-layer bound α^(1/layers): with 1-Lipschitz activations and no residual connections the
// product of the layers' bounds — the network's Lipschitz bound — is then α.
double per_layer_spectral_bound(double network_bound, int layers);

// Switches spectral normalisation on for every layer of `options` with per-layer bound
// α^(1/(widths.size() − 1)). Throws sbi::InputError when the activations or residual connections
// would break the product bound (activations must be 1-Lipschitz: identity, relu, leaky_relu, elu,
// tanh or softplus; sigmoid is ¼-Lipschitz and is accepted too, the bound is then conservative).
void apply_spectral_normalization(nn::MlpOptions& options, double network_bound, int power_iterations = 1);

// ---------------------------------------------------------------------------------------------
// Gradient penalties: λ · E over penalty points of a function of ‖∇ₓφ(x)‖

enum class GradientPenaltyMode {
  zero_centred,  // λ/2 · ‖∇φ‖²  (Mescheder et al. 2018 R1/R2 on real / generated points)
  two_sided,     // λ · (‖∇φ‖ − target)²  (Gulrajani et al. 2017, on interpolates)
  one_sided,     // λ · max(0, ‖∇φ‖ − target)²  (Petzka et al. 2018)
};
std::string to_string(GradientPenaltyMode mode);
GradientPenaltyMode gradient_penalty_mode_from_string(const std::string& name);  // throws InputError

struct GradientPenaltyOptions {
  GradientPenaltyMode mode = GradientPenaltyMode::zero_centred;
  double weight = 1.0;  // λ
  double target = 1.0;  // the target norm of the two- and one-sided penalties (α)
};

// The penalty at `points` (batch × d), recorded with create_graph so that its gradient with respect
// to the network's parameters can be taken by tape.backward() (a second-order pass). `network` maps
// a Var on the same tape to one output per row.
template <class T, class Network>
ad::Var<T> gradient_penalty(ad::Tape<T>& tape, Network&& network, const ad::Matrix<T>& points, const GradientPenaltyOptions& options);

// Interpolates ε·real + (1 − ε)·fake with ε ~ U(0, 1) per row (rows must agree in number).
template <class T>
ad::Matrix<T> interpolate_rows(const ad::Matrix<T>& real, const ad::Matrix<T>& fake, Rng& rng);

// ---------------------------------------------------------------------------------------------
// RKHS norm of the Gaussian kernel k(x, y) = exp(−π‖x − y‖²)

// k between the rows of x and y (n × m).
RowMatrix gaussian_kernel_matrix(const RowMatrix& x, const RowMatrix& y);

// (K + εI)⁻¹ for a support set (rows), by Cholesky in double precision.
RowMatrix rkhs_support_precision(const RowMatrix& support, double jitter = 1e-3);

// ‖interpolant of `values` on `support`‖²_H = valuesᵀ (K + εI)⁻¹ values.
double rkhs_norm_squared_on_support(const RowMatrix& support, const Vector& values, double jitter = 1e-3);

// The same quadratic form on a tape: `values` (m × 1, φ at the support points, differentiable) and
// the precision matrix from rkhs_support_precision. Returns the 1 × 1 node valuesᵀ P values.
template <class T>
ad::Var<T> rkhs_penalty(ad::Var<T> values, const ad::Matrix<T>& precision);

// Exact ‖Σ c_i k(·, x_i)‖²_H = cᵀ K c (the closed form used by the tests and documentation).
double rkhs_norm_squared_of_expansion(const RowMatrix& centres, const Vector& coefficients);

}  // namespace sbi::stability

#include "sbi/stability/regularizers_impl.hpp"
