#pragma once
// Helpers shared by the simulator tests (a header, so the test glob does not compile it alone).
#include "sbi/core/types.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/simulation/simulator.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <string>
#include <vector>

namespace sbi::test {

inline std::filesystem::path source_path(const std::string& relative) { return std::filesystem::path(SBI_SOURCE_DIR) / relative; }

// The header and the first data row of a one-row CSV file (sbibm's observation files).
struct CsvRow {
  std::vector<std::string> header;
  std::vector<double> values;
};

inline CsvRow read_csv_row(const std::string& relative) {
  std::ifstream in(source_path(relative));
  REQUIRE(in.good());
  CsvRow row;
  std::string line, cell;
  std::getline(in, line);
  std::stringstream h(line);
  while (std::getline(h, cell, ',')) row.header.push_back(cell);
  std::getline(in, line);
  std::stringstream v(line);
  while (std::getline(v, cell, ',')) row.values.push_back(std::stod(cell));
  return row;
}

// One column of a CSV file with a header line.
inline std::vector<double> read_csv_column(const std::string& relative) {
  std::ifstream in(source_path(relative));
  REQUIRE(in.good());
  std::string line;
  std::getline(in, line);
  std::vector<double> values;
  while (std::getline(in, line))
    if (!line.empty()) values.push_back(std::stod(line));
  return values;
}

// n simulations at the same θ, row i from stream (seed, i); every one must succeed.
inline RowMatrix simulate_repeated(const Simulator& simulator, const std::vector<double>& theta, Eigen::Index n,
                                   std::uint64_t seed = 7) {
  RowMatrix t(n, static_cast<Eigen::Index>(theta.size()));
  for (Eigen::Index i = 0; i < n; ++i)
    for (std::size_t j = 0; j < theta.size(); ++j) t(i, static_cast<Eigen::Index>(j)) = theta[j];
  RowMatrix y(n, static_cast<Eigen::Index>(simulator.data_dim()));
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = stream_seed(seed, i);
  std::vector<SimulationOutcome> outcomes(seeds.size());
  simulator.simulate_batch(t, y, seeds, outcomes);
  for (const auto& o : outcomes) REQUIRE(o.ok());
  REQUIRE(y.allFinite());
  return y;
}

inline Vector column_means(const RowMatrix& y) { return y.colwise().mean().transpose(); }

// Unbiased sample covariance of the columns.
inline Matrix column_covariance(const RowMatrix& y) {
  const Matrix centred = y.rowwise() - y.colwise().mean();
  return centred.transpose() * centred / static_cast<double>(y.rows() - 1);
}

// Standard errors for Gaussian-ish samples of size n with variance v: of the mean, and of the sample
// variance (sqrt(2/(n−1))·v). Tests accept 5 standard errors.
inline double se_mean(double variance, Eigen::Index n) { return std::sqrt(variance / static_cast<double>(n)); }
inline double se_variance(double variance, Eigen::Index n) { return variance * std::sqrt(2.0 / static_cast<double>(n - 1)); }

}  // namespace sbi::test
