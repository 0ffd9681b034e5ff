#pragma once
// Template definitions for regularizers.hpp (included at its end).
#include "sbi/random/rng.hpp"

#include <span>

namespace sbi::stability {

template <class T, class Network>
ad::Var<T> gradient_penalty(ad::Tape<T>& tape, Network&& network, const ad::Matrix<T>& points, const GradientPenaltyOptions& options) {
  auto x = tape.variable(points);
  auto output = network(x);
  auto gradient = tape.grad(ad::sum(output), std::span<const ad::Var<T>>(&x, 1), /*create_graph=*/true)[0];
  auto squared_norms = ad::sum_rows(ad::square(gradient));  // n × 1
  const T weight = static_cast<T>(options.weight);
  if (options.mode == GradientPenaltyMode::zero_centred) return ad::mean(squared_norms) * (weight / T(2));
  // ‖g‖ with a tiny offset: sqrt has an infinite derivative at 0, where the generator's points may sit.
  auto norms = ad::sqrt(squared_norms + T(1e-12));
  auto excess = norms - static_cast<T>(options.target);
  if (options.mode == GradientPenaltyMode::one_sided) excess = ad::relu(excess);
  return ad::mean(ad::square(excess)) * weight;
}

}  // namespace sbi::stability
