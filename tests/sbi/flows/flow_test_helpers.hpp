#pragma once
// Shared helpers of the tests in tests/sbi/flows: small estimators of each family, random weights,
// quadrature of exp(log_prob) and a float finite-difference gradient check.
#include "sbi/flows/density.hpp"
#include "sbi/random/rng.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace flow_tests {

using sbi::RowMatrix;
using sbi::Vector;
using sbi::flows::DensityEstimatorOptions;

// The families under test, small enough for quick tests (and the coupling NSF with the optional
// LU-linear layers and with the residual, context-gated conditioner).
inline std::vector<std::string> family_names() {
  return {"maf", "nsf_coupling", "nsf_autoregressive", "mog", "nsf_coupling_linear", "nsf_coupling_residual"};
}

inline DensityEstimatorOptions small_options(const std::string& family) {
  DensityEstimatorOptions o;
  o.hidden = {16, 16};
  o.transforms = 3;
  o.bins = 6;
  o.tail_bound = 3.0;
  o.components = 3;
  if (family == "maf") o.type = DensityEstimatorOptions::Type::maf;
  if (family == "nsf_coupling") o.type = DensityEstimatorOptions::Type::nsf;
  if (family == "nsf_coupling_linear") {  // the learned LU-linear layer after every coupling layer
    o.type = DensityEstimatorOptions::Type::nsf;
    o.linear = true;
  }
  if (family == "nsf_coupling_residual") {
    o.type = DensityEstimatorOptions::Type::nsf;
    o.conditioner = DensityEstimatorOptions::Conditioner::residual;
  }
  if (family == "nsf_autoregressive") {
    o.type = DensityEstimatorOptions::Type::nsf;
    o.form = DensityEstimatorOptions::Form::autoregressive;
  }
  if (family == "mog") o.type = DensityEstimatorOptions::Type::mog;
  return o;
}

// Replaces every weight by N(0, scale²) draws: a density far from the near-identity initialisation.
inline void randomize(sbi::flows::ConditionalDensity& q, double scale, std::uint64_t seed) {
  sbi::Rng rng = sbi::Rng::stream(seed, 99);
  for (auto* p : q.parameters())
    for (Eigen::Index k = 0; k < p->value.size(); ++k) p->value.data()[k] = static_cast<float>(scale * rng.normal());
}

// Midpoint-rule integral of exp(log_prob) over [low, high]^2 (grid × grid cells) for one context.
inline double integrate_2d(const sbi::flows::ConditionalDensity& q, const Vector& context, const Eigen::Vector2d& low,
                           const Eigen::Vector2d& high, int grid) {
  const Eigen::Vector2d step = (high - low) / grid;
  RowMatrix points(static_cast<Eigen::Index>(grid) * grid, 2);
  for (int i = 0; i < grid; ++i)
    for (int j = 0; j < grid; ++j) {
      points(i * grid + j, 0) = low(0) + (i + 0.5) * step(0);
      points(i * grid + j, 1) = low(1) + (j + 0.5) * step(1);
    }
  const Vector lp = q.log_prob(points, RowMatrix(context.transpose()));
  return lp.array().exp().sum() * step(0) * step(1);
}

inline double integrate_1d(const sbi::flows::ConditionalDensity& q, const Vector& context, double low, double high, int grid) {
  const double step = (high - low) / grid;
  RowMatrix points(grid, 1);
  for (int i = 0; i < grid; ++i) points(i, 0) = low + (i + 0.5) * step;
  return q.log_prob(points, RowMatrix(context.transpose())).array().exp().sum() * step;
}

inline RowMatrix normal_rows(Eigen::Index n, Eigen::Index d, std::uint64_t seed, double scale = 1.0) {
  sbi::Rng rng = sbi::Rng::stream(seed, 5);
  RowMatrix m(n, d);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = scale * rng.normal();
  return m;
}

// Wilson–Hilferty approximation of the chi-square quantile with `df` degrees of freedom at the
// standard-normal quantile z (accurate to a fraction of a percent for df ≥ 10).
inline double chi_square_quantile(double df, double z) {
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + z * std::sqrt(a), 3.0);
}

// Analytic derivatives of a float loss against its difference quotients (h = 10⁻² relative to the
// weight): the central quotient within 2·10⁻³ + 2 %, or, where a spline knot crosses a point between
// the two sides, either one-sided quotient within 5 %. Counts the checks and the one-sided ones (kinks
// are the exception: callers check one_sided · 5 ≤ checked).
struct DifferenceQuotients {
  std::function<double()> loss;
  int checked = 0, one_sided = 0;

  void compare(float& w, double analytic, const std::string& what) {
    const float original = w;
    const float h = 1e-2f * std::max(1.0f, std::abs(original));
    const double centre = loss();
    w = original + h;
    const double plus = loss();
    w = original - h;
    const double minus = loss();
    w = original;
    const double step = static_cast<double>(h);
    const double numeric = (plus - minus) / (2.0 * step), forward = (plus - centre) / step, backward = (centre - minus) / step;
    auto close = [&](double reference, double relative) {
      return std::abs(analytic - reference) <= 2e-3 + relative * std::max(std::abs(analytic), std::abs(reference));
    };
    INFO(what << ": analytic " << analytic << ", central " << numeric << ", one-sided " << forward << " / " << backward);
    const bool central_ok = close(numeric, 2e-2);
    if (!central_ok) ++one_sided;
    CHECK((central_ok || close(forward, 5e-2) || close(backward, 5e-2)));
    ++checked;
  }
  // `per_parameter` weights of each parameter, picked at random; after backward() filled the grads.
  template <class Parameters>
  void compare_parameters(Parameters& parameters, sbi::Rng& pick, int per_parameter) {
    for (auto* p : parameters)
      for (int trial = 0; trial < per_parameter; ++trial) {
        const auto k = static_cast<Eigen::Index>(pick.below(static_cast<std::uint64_t>(p->value.size())));
        compare(p->value.data()[k], p->grad.data()[k], p->name + "[" + std::to_string(k) + "]");
      }
  }
  // `trials` entries of an input matrix against its gradient on the tape.
  void compare_entries(sbi::flows::Mat& values, const sbi::flows::Mat& gradient, sbi::Rng& pick, int trials, const std::string& name) {
    for (int trial = 0; trial < trials; ++trial) {
      const auto k = static_cast<Eigen::Index>(pick.below(static_cast<std::uint64_t>(values.size())));
      compare(values.data()[k], gradient.data()[k], name + "[" + std::to_string(k) + "]");
    }
  }
};

}  // namespace flow_tests
