#pragma once
// The sbibm task "two_moons" (data/sbibm/TASKS.md §1). θ ∈ [−1, 1]², y ∈ R².
//
//   a ~ U(−π/2, π/2), r ~ N(0.1, 0.01²), p = (r cos a + 0.25, r sin a)
//   y_1 = p_1 − |θ_1 + θ_2| / √2,   y_2 = p_2 + (θ_2 − θ_1) / √2
//
// Parameters theta_1, theta_2; data data_1, data_2. No options.
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

namespace sbi::simulators {

inline constexpr double kTwoMoonsRadiusMean = 0.1;
inline constexpr double kTwoMoonsRadiusSd = 0.01;
inline constexpr double kTwoMoonsOffset = 0.25;

Simulator make_two_moons();
PriorPtr two_moons_prior();  // U(−1, 1)²

}  // namespace sbi::simulators
