#pragma once
// The constants of the stability theory (Chu, Minami & Fukumizu, ICLR 2020), bounded and measured.
//
// For a generator family θ ↦ μ_θ that is A-Lipschitz (W1(μ_θ, μ_θ') ≤ A‖θ − θ'‖) with B-Lipschitz
// Jacobian, and a loss J(μ) whose optimal discriminator is α-Lipschitz, β1-smooth in x and moves by
// at most β2·W1(μ, μ') when μ moves, the generator's objective θ ↦ J(μ_θ) is L-smooth with
//     L = α·B + A²·(β1 + β2),
// so gradient descent with step size γ ≤ γ0 = 1/L decreases it monotonically (stationarity).
// For a generator that *is* N learnable points (θ = the points, measured in the root-mean-square
// norm, so that A = 1 and B = 0) L = β1 + β2. The paper's point experiment uses γ0 = 1/(7α + β2);
// both forms are exposed, and the sweep states which one it uses.
//
// Measured constants of a trained network φ (estimates from below: maxima over finite samples):
//   * empirical_lipschitz: max ‖∇ₓφ‖ over the given points and along segments between pairs;
//   * empirical_smoothness: max ‖∇φ(x) − ∇φ(x')‖ / ‖x − x'‖ over pairs (random and close pairs);
//   * spectral_lipschitz_bound: an upper bound, the product of the exact spectral norms of the
//     (normalised) weights times the activations' Lipschitz constants and the input scaling.
#include "sbi/core/types.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/random/rng.hpp"

namespace sbi::stability {

struct GeneratorConstants {
  double A = 1.0;  // Lipschitz constant of θ ↦ μ_θ in W1
  double B = 0.0;  // Lipschitz constant of its Jacobian
};

struct DiscriminatorConstants {
  double alpha = 1.0;  // Lipschitz constant in x
  double beta1 = 0.0;  // Lipschitz constant of ∇ₓφ
  double beta2 = 0.0;  // sensitivity of the optimal φ's gradient to the generated distribution (RKHS penalty 1/(2β2))
};

// L = α·B + A²·(β1 + β2). Throws InputError for negative or non-finite constants.
double generator_loss_smoothness(const GeneratorConstants& generator, const DiscriminatorConstants& discriminator);
// γ0 = 1/L; throws InputError when L = 0 (no finite bound).
double step_size_bound(const GeneratorConstants& generator, const DiscriminatorConstants& discriminator);
// The learnable-points experiment's step size γ0 = 1/(7α + β2).
double learnable_points_step_size(double alpha, double beta2);

// An upper bound of the Lipschitz constant of `network` in its raw inputs: the input
// standardisation's 1/min(sd) times, per layer, the exact largest singular value of the weight as
// used in the forward pass (α·W/σ̂ under spectral normalisation, σ̂ the current power-iteration
// estimate) times the activation's Lipschitz constant; residual blocks contribute 1 + that.
template <class T>
double spectral_lipschitz_bound(const nn::BasicMlp<T>& network);

struct EmpiricalConstants {
  double lipschitz = 0;   // max ‖∇φ‖
  double smoothness = 0;  // max ‖∇φ(x) − ∇φ(x')‖/‖x − x'‖
};

// Input gradients ∇ₓφ (one row per point) of a network with a single output; evaluation mode.
template <class T>
RowMatrix input_gradients(nn::BasicMlp<T>& network, const RowMatrix& points);

// Max ‖∇φ‖ over `points` and over `interpolations` random points on segments between random pairs.
template <class T>
double empirical_lipschitz(nn::BasicMlp<T>& network, const RowMatrix& points, int interpolations, Rng& rng);

// Max gradient-difference ratio over `pairs` random pairs of `points` and as many close pairs
// (x, x + δ·u, u a random unit vector, δ = `close_distance`).
template <class T>
double empirical_smoothness(nn::BasicMlp<T>& network, const RowMatrix& points, int pairs, Rng& rng, double close_distance = 1e-2);

}  // namespace sbi::stability
