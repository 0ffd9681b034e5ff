#pragma once
// A public gradient checker: compares reverse-mode derivatives with central finite differences, in
// double precision, to first and second order.
//
//   auto f = [](sbi::ad::Tape<double>&, const std::vector<sbi::ad::Var<double>>& in) {
//     return tanh(matmul(in[0], in[1]));            // any shape: a random projection reduces it
//   };
//   auto result = sbi::ad::check_gradients(f, {x, w});
//   REQUIRE(result.ok);  // result.report says which input and entry disagree
//
// First order: the analytic gradient of s(in) = Σ R ⊙ f(in) (R a fixed random matrix, so every
// output entry matters) against finite differences of s.
// Second order: h(in) = Σ_k Σ V_k ⊙ ∂s/∂in_k, built with create_graph, checked the same way; this
// exercises the recorded backward pass of every operation in f.
//
// check_parameter_gradients does the same for functions of external parameter storage (network
// weights), perturbing the stored values in place.
#include "sbi/autodiff/tape.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sbi::ad {

struct GradientCheckOptions {
  double step = 1e-6;                // central-difference step, relative to max(1, |x|)
  double relative_tolerance = 1e-5;
  double absolute_tolerance = 1e-7;
  bool second_order = true;
  std::uint64_t seed = 12345;        // for the random projections R and V
  bool is_valid(std::string* why = nullptr) const;
};

struct GradientCheckResult {
  bool ok = true;
  double max_error = 0;   // largest |analytic - numeric| / (atol + rtol·max(|a|, |n|)); ≤ 1 passes
  int checked_entries = 0;
  std::string report;     // the worst entries, human readable
};

using Function = std::function<Var<double>(Tape<double>&, const std::vector<Var<double>>&)>;

GradientCheckResult check_gradients(const Function& f, const std::vector<Matrix<double>>& inputs,
                                    const GradientCheckOptions& options = {});

// f reads the parameters through tape.parameter(values[k], grads[k]) — typically by running a
// network whose parameters are `values`. Gradients are checked for every entry of every values[k].
using ParameterFunction = std::function<Var<double>(Tape<double>&)>;
struct ParameterRef {
  Matrix<double>* value;
  Matrix<double>* grad;
};
GradientCheckResult check_parameter_gradients(const ParameterFunction& f, const std::vector<ParameterRef>& parameters,
                                              const GradientCheckOptions& options = {});

}  // namespace sbi::ad
