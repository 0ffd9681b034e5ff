#include "sbi/diagnostics/summaries.hpp"

#include "sbi/core/error.hpp"
#include "sbi/parallel/parallel_for.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sbi {

std::vector<ParameterSummary> summarise(const RowMatrix& samples, const Names& names) {
  std::vector<ParameterSummary> out;
  const auto n = samples.rows();
  for (Eigen::Index c = 0; c < samples.cols(); ++c) {
    ParameterSummary s;
    s.name = static_cast<std::size_t>(c) < names.size() ? names[static_cast<std::size_t>(c)] : "theta_" + std::to_string(c + 1);
    std::vector<double> column(static_cast<std::size_t>(n));
    for (Eigen::Index r = 0; r < n; ++r) column[static_cast<std::size_t>(r)] = samples(r, c);
    s.mean = samples.col(c).mean();
    s.sd = n > 1 ? std::sqrt((samples.col(c).array() - s.mean).square().sum() / static_cast<double>(n - 1)) : 0.0;
    s.q025 = quantile(column, 0.025);
    s.median = quantile(column, 0.5);
    s.q975 = quantile(column, 0.975);
    out.push_back(s);
  }
  return out;
}

nlohmann::json to_json(const std::vector<ParameterSummary>& summaries) {
  auto list = nlohmann::json::array();
  for (const auto& s : summaries)
    list.push_back({{"name", s.name}, {"mean", s.mean}, {"sd", s.sd}, {"q2.5", s.q025}, {"median", s.median}, {"q97.5", s.q975}});
  return list;
}

std::string format_summary_table(const std::vector<ParameterSummary>& summaries, const Vector* truth) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-14s %11s %11s %11s %11s %11s", "parameter", "mean", "sd", "2.5%", "median", "97.5%");
  out += line;
  if (truth) out += "        true  in 95%";
  out += "\n";
  for (std::size_t i = 0; i < summaries.size(); ++i) {
    const auto& s = summaries[i];
    std::snprintf(line, sizeof line, "%-14s %11.5g %11.5g %11.5g %11.5g %11.5g", s.name.c_str(), s.mean, s.sd, s.q025, s.median, s.q975);
    out += line;
    if (truth && static_cast<Eigen::Index>(i) < truth->size()) {
      const double t = (*truth)[static_cast<Eigen::Index>(i)];
      std::snprintf(line, sizeof line, " %11.5g  %s", t, t >= s.q025 && t <= s.q975 ? "yes" : "no");
      out += line;
    }
    out += "\n";
  }
  return out;
}

double median_pairwise_distance(const RowMatrix& x) {
  const auto n = x.rows();
  if (n < 2) throw InputError("median_pairwise_distance: need at least two samples");
  std::vector<double> d;
  d.reserve(static_cast<std::size_t>(n * (n - 1) / 2));
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = i + 1; j < n; ++j) d.push_back((x.row(i) - x.row(j)).norm());
  // torch.median returns the lower of the two middle values for an even count.
  const auto k = (d.size() - 1) / 2;
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
  return d[k];
}

namespace {
// Σ_{i, j} k(a_i, b_j), excluding i = j when a and b are the same set.
double kernel_sum(const RowMatrix& a, const RowMatrix& b, double gamma, bool same) {
  const auto n = a.rows();
  const int threads = hardware_threads();
  std::vector<double> partial(static_cast<std::size_t>(threads), 0.0);
  const Vector a_norms = a.rowwise().squaredNorm();
  const Vector b_norms = b.rowwise().squaredNorm();
  constexpr Eigen::Index kBlock = 256;
  const auto blocks = static_cast<std::size_t>((n + kBlock - 1) / kBlock);
  std::vector<double> block_sums(blocks, 0.0);
  parallel_for(blocks, threads, [&](std::size_t blk, std::size_t) {
    const Eigen::Index begin = static_cast<Eigen::Index>(blk) * kBlock;
    const Eigen::Index rows = std::min(kBlock, n - begin);
    Matrix dots = a.middleRows(begin, rows) * b.transpose();
    double s = 0;
    for (Eigen::Index i = 0; i < rows; ++i)
      for (Eigen::Index j = 0; j < b.rows(); ++j) {
        if (same && begin + i == j) continue;
        const double d2 = std::max(0.0, a_norms[begin + i] + b_norms[j] - 2 * dots(i, j));
        s += std::exp(-gamma * d2);
      }
    block_sums[blk] = s;  // summed in block order below: the result does not depend on threads
  });
  double total = 0;
  for (double s : block_sums) total += s;
  return total;
}
}  // namespace

MmdResult mmd2(const RowMatrix& x_all, const RowMatrix& y_all, const MmdOptions& options) {
  if (x_all.cols() != y_all.cols()) throw InputError("mmd2: the sample sets have different dimensions");
  if (x_all.rows() < 2 || y_all.rows() < 2) throw InputError("mmd2: need at least two samples in each set");
  const auto cap = [&](const RowMatrix& m) {
    return options.max_samples > 0 && m.rows() > options.max_samples ? RowMatrix(m.topRows(options.max_samples)) : m;
  };
  const RowMatrix x = cap(x_all), y = cap(y_all);
  MmdResult result;
  result.bandwidth = options.bandwidth > 0 ? options.bandwidth : median_pairwise_distance(x);
  const double gamma = 1.0 / (2 * result.bandwidth * result.bandwidth);
  const double n = static_cast<double>(x.rows()), m = static_cast<double>(y.rows());
  const double kxx = kernel_sum(x, x, gamma, true), kyy = kernel_sum(y, y, gamma, true), kxy = kernel_sum(x, y, gamma, false);
  if (options.unbiased) {
    result.mmd2 = kxx / (n * (n - 1)) + kyy / (m * (m - 1)) - 2 * kxy / (n * m);
  } else {  // the diagonal terms k(x, x) = 1 are included
    result.mmd2 = (kxx + n) / (n * n) + (kyy + m) / (m * m) - 2 * kxy / (n * m);
  }
  return result;
}

}  // namespace sbi
