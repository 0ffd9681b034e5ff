#pragma once
// A raw-data problem with an exact posterior: an AR(1) series of `steps` values,
//
//   y_1 = σ ε_1,   y_t = φ y_{t−1} + σ ε_t  (t = 2..T),   ε_t ~ N(0, 1),
//
// with the whole series as data (no summary statistics). The likelihood is Gaussian and exact:
//   log p(y | φ, σ) = −T log σ − (T/2) log 2π − Σ_t (y_t − φ y_{t−1})² / (2σ²)   (y_0 = 0),
// so the posterior under the uniform prior φ ~ U(−0.95, 0.95), σ ~ U(0.2, 2) is known on a grid
// (ar1_log_likelihood). Parameters phi, sigma; data y_1..y_T. Option {"steps": T} (default 100).
// Used to measure NPE with a 1-D convolutional embedding on raw series (bench/npe/RESULTS.md).
#include "sbi/core/types.hpp"
#include "sbi/priors/prior.hpp"
#include "sbi/simulation/simulator.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace sbi::simulators {

struct Ar1Options {
  int steps = 100;

  // {"steps": integer in [2, 100000]}; errors name `path`; unknown keys are rejected.
  static Ar1Options from_json(const nlohmann::json& options, const std::string& path = "simulator.options");
  nlohmann::json to_json() const;
};

inline constexpr double kAr1PhiLow = -0.95, kAr1PhiHigh = 0.95;
inline constexpr double kAr1SigmaLow = 0.2, kAr1SigmaHigh = 2.0;

Simulator make_ar1(const Ar1Options& options = {});
PriorPtr ar1_prior();

// log p(y | φ, σ) for one series y (length T), exactly as above.
double ar1_log_likelihood(ConstRow y, double phi, double sigma);

}  // namespace sbi::simulators
