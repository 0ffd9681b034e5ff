#pragma once
// The sbibm task "slcp", simple likelihood / complex posterior (data/sbibm/TASKS.md §2).
// θ ∈ [−3, 3]⁵, y ∈ R⁸: four iid points z_k ~ N(m, Σ) in R², point-major (z_1,1, z_1,2, z_2,1, ...), with
//
//   m = (θ_1, θ_2), s_1 = θ_3², s_2 = θ_4², ρ = tanh θ_5,
//   Σ = [[s_1² + 1e-6, ρ s_1 s_2], [ρ s_1 s_2, s_2² + 1e-6]].
//
// Parameters theta_1..theta_5; data data_1..data_8. No options.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <array>

namespace sbi::simulators {

// The mean m and covariance Σ (row-major 2×2: Σ11, Σ12, Σ21, Σ22) of one point, for θ.
struct SlcpMoments {
  std::array<double, 2> mean;
  std::array<double, 4> cov;
};
SlcpMoments slcp_moments(ConstRow theta);

Simulator make_slcp();
PriorPtr slcp_prior();  // U(−3, 3)⁵

}  // namespace sbi::simulators
