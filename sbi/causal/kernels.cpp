#include "sbi/causal/kernels.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace sbi::causal {

double median_distance(const Vector& v) {
  const Eigen::Index n = v.size();
  std::vector<double> d;
  d.reserve(static_cast<std::size_t>(n * (n - 1) / 2));
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = i + 1; j < n; ++j) {
      const double gap = std::abs(v[i] - v[j]);
      if (gap > 0) d.push_back(gap);
    }
  if (d.empty()) return 1.0;
  auto middle = d.begin() + static_cast<std::ptrdiff_t>(d.size() / 2);
  std::nth_element(d.begin(), middle, d.end());
  return *middle;
}

namespace {

Matrix gaussian_gram(const Vector& v, double bandwidth) {
  const Eigen::Index n = v.size();
  const double scale = -1.0 / (2.0 * bandwidth * bandwidth);
  Matrix k(n, n);
  for (Eigen::Index j = 0; j < n; ++j)
    for (Eigen::Index i = 0; i < n; ++i) k(i, j) = std::exp(scale * (v[i] - v[j]) * (v[i] - v[j]));
  return k;
}

}  // namespace

double hsic(const Vector& a, const Vector& b) {
  const Eigen::Index n = a.size();
  Matrix k = gaussian_gram(a, median_distance(a));
  const Matrix l = gaussian_gram(b, median_distance(b));
  // H K H = K - row means - column means + grand mean (K symmetric).
  const Vector means = k.rowwise().mean();
  const double grand = means.mean();
  k.colwise() -= means;
  k.rowwise() -= means.transpose();
  k.array() += grand;
  return (k.array() * l.array()).sum() / static_cast<double>(n * n);
}

KernelRidgeFit kernel_ridge_loo(const Vector& input, const Vector& target) {
  KernelRidgeFit fit;
  fit.bandwidth = median_distance(input);
  const Matrix k = gaussian_gram(input, fit.bandwidth);
  const Eigen::SelfAdjointEigenSolver<Matrix> eigen(k);
  const Matrix& u = eigen.eigenvectors();
  const Vector s = eigen.eigenvalues().cwiseMax(0.0);
  const Vector projected = u.transpose() * target;
  const Matrix u_squared = u.array().square().matrix();
  fit.loo_mse = std::numeric_limits<double>::infinity();
  for (const double ridge : {1e-4, 1e-3, 1e-2, 1e-1, 1.0}) {
    // Hat matrix H = U diag(s / (s + λ)) Uᵀ; the leave-one-out residual is r_i / (1 - H_ii).
    const Vector shrink = s.array() / (s.array() + ridge);
    const Vector fitted = u * shrink.cwiseProduct(projected);
    const Vector leverage = u_squared * shrink;
    const Vector residual = target - fitted;
    const double loo = (residual.array() / (1.0 - leverage.array()).max(1e-12)).square().mean();
    if (loo < fit.loo_mse) {
      fit.loo_mse = loo;
      fit.ridge = ridge;
      fit.fitted = fitted;
      fit.residuals = residual;
    }
  }
  return fit;
}

Vector isotonic_fit(const Vector& input, const Vector& target, bool increasing) {
  const Eigen::Index n = input.size();
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return input[a] < input[b]; });
  // Blocks: (sum, weight, first position in `order`). Tied inputs start as one block.
  struct Block {
    double sum, weight;
    std::size_t first;
  };
  std::vector<Block> blocks;
  const double sign = increasing ? 1.0 : -1.0;
  for (std::size_t p = 0; p < order.size();) {
    std::size_t q = p;
    double sum = 0;
    while (q < order.size() && input[order[q]] == input[order[p]]) sum += sign * target[order[q++]];
    blocks.push_back({sum, static_cast<double>(q - p), p});
    while (blocks.size() > 1) {
      const Block& last = blocks.back();
      Block& before = blocks[blocks.size() - 2];
      if (before.sum / before.weight <= last.sum / last.weight) break;
      before.sum += last.sum;
      before.weight += last.weight;
      blocks.pop_back();
    }
    p = q;
  }
  Vector fitted(n);
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const std::size_t end = b + 1 < blocks.size() ? blocks[b + 1].first : order.size();
    for (std::size_t p = blocks[b].first; p < end; ++p) fitted[order[p]] = sign * blocks[b].sum / blocks[b].weight;
  }
  return fitted;
}

}  // namespace sbi::causal
