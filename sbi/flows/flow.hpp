#pragma once
// Normalising flows q̃(z | h) = N(f(z; h); 0, I) |det ∂f/∂z| with f a stack of layers (transforms)
// and a standard-normal base: the masked autoregressive flow (affine MADE layers) and the neural
// spline flow (rational-quadratic spline layers, coupling or autoregressive). Built by make_density
// from DensityEstimatorOptions; see sbi/flows/options.hpp for the choices.
//
// Density evaluation is one pass through the layers. Sampling inverts them from the last to the
// first: a coupling layer in one pass, an autoregressive layer in d passes of its MADE.
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
  virtual void collect(nn::ParameterList<float>& list) = 0;
};

class FlowDensity final : public ConditionalDensity {
 public:
  FlowDensity(const DensityEstimatorOptions& options, Eigen::Index data_dim, Eigen::Index context_dim, std::uint64_t seed);

 protected:
  Var family_log_prob(const Binder& bind, Var z, Var h) const override;
  Mat family_sample(const Binder& bind, Var h, Rng& rng) const override;
  void family_parameters(nn::ParameterList<float>& list) override;

 private:
  std::vector<std::unique_ptr<Transform>> transforms_;
};

}  // namespace sbi::flows
