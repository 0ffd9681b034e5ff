// Observations and exact reference posteriors of the AR(1) raw-data problem
// (simulators/autoregressive.hpp), in the layout of data/sbibm/<task>/obs_k:
//
//   ar1_reference OUT_FOLDER [observations seed grid]     (defaults 5 1 1000)
//
// For k = 1..observations: θ_k ~ prior from Rng::stream(seed, k, 0); y_k = the simulator at θ_k with
// stream_seed(seed, k, 1); the exact log-likelihood on grid × grid cells over the prior box (uniform
// prior ⇒ posterior ∝ likelihood); 10,000 draws by picking cells with their probabilities and a
// uniform point inside each (Rng::stream(seed, k, 2)). Writes OUT_FOLDER/obs_k/observation.csv,
// true_parameters.csv and reference_posterior_samples.csv.
//
// Why a grid is exact enough: at T = 100 the posterior sd of φ is about √((1 − φ²)/T) ≥ 0.03 (φ ≤ 0.95)
// and of σ about σ/√(2T) ≥ 0.014 (σ ≥ 0.2); with 1000² cells a cell is 0.0019 × 0.0018, below 1/7 of
// the smallest sd and 1/40 of typical ones, and the draws are uniform inside the cell, so the
// discretisation error is far below what a C2ST on 10,000 draws can detect.
#include "sbi/io/csv.hpp"
#include "sbi/random/rng.hpp"
#include "simulators/autoregressive.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: ar1_reference OUT_FOLDER [observations seed grid]\n";
    return 2;
  }
  const std::filesystem::path root = argv[1];
  const int observations = argc > 2 ? std::stoi(argv[2]) : 5;
  const std::uint64_t seed = argc > 3 ? std::stoull(argv[3]) : 1;
  const int grid = argc > 4 ? std::stoi(argv[4]) : 1000;
  if (observations < 1 || grid < 10) {
    std::cerr << "ar1_reference: observations must be ≥ 1 and grid ≥ 10\n";
    return 2;
  }
  using namespace sbi::simulators;
  const sbi::Simulator simulator = make_ar1();
  const auto prior = ar1_prior();
  const double dphi = (kAr1PhiHigh - kAr1PhiLow) / grid, dsigma = (kAr1SigmaHigh - kAr1SigmaLow) / grid;
  const int n = 10000;
  for (int k = 1; k <= observations; ++k) {
    const auto index = static_cast<std::uint64_t>(k);
    sbi::Rng prior_rng = sbi::Rng::stream(seed, index, 0);
    const sbi::RowMatrix theta = prior->sample_batch(prior_rng, 1);
    const sbi::Vector y = simulator.simulate_one(sbi::row_span(theta, 0), sbi::stream_seed(seed, index, 1));
    const std::span<const double> series(y.data(), static_cast<std::size_t>(y.size()));

    std::vector<double> log_post(static_cast<std::size_t>(grid) * grid);
    double largest = -1e300;
    for (int i = 0; i < grid; ++i)
      for (int j = 0; j < grid; ++j) {
        const double value = ar1_log_likelihood(series, kAr1PhiLow + (i + 0.5) * dphi, kAr1SigmaLow + (j + 0.5) * dsigma);
        log_post[static_cast<std::size_t>(i) * grid + j] = value;
        largest = std::max(largest, value);
      }
    std::vector<double> cumulative(log_post.size());
    double total = 0;
    for (std::size_t c = 0; c < log_post.size(); ++c) cumulative[c] = total += std::exp(log_post[c] - largest);
    sbi::RowMatrix samples(n, 2);
    sbi::Rng draw = sbi::Rng::stream(seed, index, 2);
    for (int s = 0; s < n; ++s) {
      const double u = draw.uniform() * total;
      const auto found = static_cast<std::size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
      const std::size_t cell = std::min(found, cumulative.size() - 1);
      samples(s, 0) = kAr1PhiLow + (static_cast<double>(cell / static_cast<std::size_t>(grid)) + draw.uniform()) * dphi;
      samples(s, 1) = kAr1SigmaLow + (static_cast<double>(cell % static_cast<std::size_t>(grid)) + draw.uniform()) * dsigma;
    }
    const std::filesystem::path folder = root / ("obs_" + std::to_string(k));
    std::filesystem::create_directories(folder);
    sbi::write_csv(folder / "observation.csv", simulator.info().data_names, sbi::RowMatrix(y.transpose()));
    sbi::write_csv(folder / "true_parameters.csv", simulator.info().parameter_names, theta);
    sbi::write_csv(folder / "reference_posterior_samples.csv", simulator.info().parameter_names, samples);
    const sbi::RowMatrix centred = samples.rowwise() - samples.colwise().mean();
    std::cout << "obs_" << k << ": true (" << theta(0, 0) << ", " << theta(0, 1) << "), posterior mean ("
              << samples.col(0).mean() << ", " << samples.col(1).mean() << "), sd (" << std::sqrt(centred.col(0).squaredNorm() / n)
              << ", " << std::sqrt(centred.col(1).squaredNorm() / n) << ")\n";
  }
  return 0;
}
