#pragma once
// Normalising flows q̃(z | h) = N(f(z; h); 0, I) |det ∂f/∂z| with f a stack of layers (transforms)
// and a standard-normal base: the masked autoregressive flow (affine MADE layers) and the neural
// spline flow (rational-quadratic spline layers, coupling or autoregressive). Built by make_density
// from DensityEstimatorOptions; see sbi/flows/options.hpp for the choices.
//
// Density evaluation is one pass through the layers. Sampling inverts them from the last to the
// first: a coupling layer in one pass, an autoregressive layer in d passes of its MADE. With
// "direction": "sampling" the same layers run the other way: they map the noise ε to the data
// (x = f(ε; h), one differentiable pass: the reparameterised draws of variational inference), with
// log q̃(x) = log N(ε) − log |det ∂f/∂ε|, and the density of a given x inverts them (ε = f⁻¹(x), then
// one forward pass from ε for the log-determinant).
#include "sbi/flows/density.hpp"

#include <memory>
#include <vector>

namespace sbi::flows {

// One invertible layer z = f(x; h) with log |det ∂f/∂x|.
class Transform {
 public:
  virtual ~Transform() = default;
  struct Output {
    Var z;
    Var log_det;  // n × 1; invalid (default Var) when identically zero
  };
  virtual Output forward(const Binder& bind, Var x, Var h) const = 0;
  // x = f⁻¹(z; h) on plain values (h's values are read; parameters enter as constants).
  virtual Mat inverse(const Binder& bind, const Mat& z, Var h) const = 0;
  // x = f⁻¹(z; h) on the tape, differentiable in z, h and the parameters, with the forward map's
  // log |det ∂f/∂x| at that x: what maximum likelihood needs of a flow in the sampling direction.
  // Layers without it (autoregressive, LU-linear) throw InputError.
  virtual Output inverse_on_tape(const Binder& bind, Var z, Var h) const;
  virtual void collect(nn::ParameterList<float>& list) = 0;
};

class FlowDensity final : public ConditionalDensity {
 public:
  FlowDensity(const DensityEstimatorOptions& options, Eigen::Index data_dim, Eigen::Index context_dim, std::uint64_t seed);

 protected:
  Var family_log_prob(const Binder& bind, Var z, Var h) const override;
  Mat family_sample(const Binder& bind, Var h, Rng& rng) const override;
  void family_parameters(nn::ParameterList<float>& list) override;
  Draw family_rsample(const Binder& bind, Var h, const Mat& noise) const override;

 private:
  bool sampling_direction() const { return options().direction == DensityEstimatorOptions::Direction::sampling; }
  // The layers in order from `x` on the tape: the end point and Σ log |det| (invalid when zero).
  Transform::Output run_forward(const Binder& bind, Var x, Var h) const;
  // The layers inverted, last to first, on plain values.
  Mat run_inverse(const Binder& bind, const Mat& z, Var h) const;

  std::vector<std::unique_ptr<Transform>> transforms_;
};

}  // namespace sbi::flows
