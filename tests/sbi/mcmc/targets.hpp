#pragma once
// Test targets with known moments for the MCMC tests.
#include "sbi/mcmc/mcmc.hpp"

#include <Eigen/Dense>

#include <cmath>

namespace sbi::test {

// N(mean, cov) with its gradient, batched.
inline McmcTarget gaussian_target(const Vector& mean, const Matrix& cov) {
  const Matrix precision = cov.inverse();
  auto value = [mean, precision](const RowMatrix& x, Eigen::Ref<Vector> lp) {
    const RowMatrix z = x.rowwise() - mean.transpose();
    lp = -0.5 * ((z * precision).array() * z.array()).rowwise().sum().matrix();
  };
  auto with_gradient = [mean, precision](const RowMatrix& x, Eigen::Ref<Vector> lp, Eigen::Ref<RowMatrix> gradient) {
    const RowMatrix z = x.rowwise() - mean.transpose();
    const RowMatrix pz = z * precision;
    lp = -0.5 * (pz.array() * z.array()).rowwise().sum().matrix();
    gradient = -pz;
  };
  return make_mcmc_target(static_cast<std::size_t>(mean.size()), value, with_gradient);
}

// A d-dimensional covariance with correlation ρ^|i−j| and standard deviations 0.5, 1, 1.5, ...
inline Matrix correlated_covariance(Eigen::Index d, double rho) {
  Matrix cov(d, d);
  for (Eigen::Index i = 0; i < d; ++i)
    for (Eigen::Index j = 0; j < d; ++j)
      cov(i, j) = std::pow(rho, static_cast<double>(std::abs(i - j))) * 0.5 * static_cast<double>(i + 1) * 0.5 * static_cast<double>(j + 1);
  return cov;
}

// Starting points N(0, spread² I) with their density (for SIR).
inline McmcInitialDistribution wide_normal(double spread) {
  McmcInitialDistribution start;
  start.sample = [spread](Rng& rng, MutableRow x) {
    for (auto& v : x) v = spread * rng.normal();
  };
  start.log_density = [spread](ConstRow x) {
    double s = 0;
    for (double v : x) s -= 0.5 * v * v / (spread * spread);
    return s;
  };
  return start;
}

// Chain-major draws of coordinate `column` as a chains × draws matrix.
inline Matrix chains_of(const McmcResult& r, Eigen::Index column) {
  Matrix x(r.chains, r.draws_per_chain);
  for (Eigen::Index c = 0; c < r.chains; ++c)
    for (Eigen::Index t = 0; t < r.draws_per_chain; ++t) x(c, t) = r.draws(c * r.draws_per_chain + t, column);
  return x;
}

}  // namespace sbi::test
