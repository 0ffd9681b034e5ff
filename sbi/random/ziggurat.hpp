#pragma once
// Fast normal and exponential variates by the ziggurat method (Marsaglia & Tsang 2000): 256 layers;
// the layer, the sign and a 53-bit uniform come from disjoint bits of one draw, so the common case
// costs one generator call. Several times faster than Rng::normal() / Rng::exponential(); the
// stochastic simulators' inner loops use them (Euler–Maruyama noise, Gillespie waiting times).
#include "sbi/random/rng.hpp"

namespace sbi {

// Standard normal (symmetric; Marsaglia's tail algorithm beyond R ≈ 3.654).
double ziggurat_normal(Rng& rng) noexcept;
// Exponential with rate 1 (the tail beyond R ≈ 7.697 by memorylessness).
double ziggurat_exponential(Rng& rng) noexcept;

}  // namespace sbi
