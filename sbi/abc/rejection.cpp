#include "sbi/abc/rejection.hpp"

#include "sbi/core/error.hpp"
#include "sbi/inference/method.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/util/statistics.hpp"

#include <Eigen/QR>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

namespace sbi {

bool RejectionOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (keep < 0) return fail("keep must be ≥ 0");
  if (!(epsilon >= 0) || !std::isfinite(epsilon)) return fail("epsilon must be a finite number ≥ 0");
  if (keep == 0 && epsilon == 0 && !(quantile > 0 && quantile <= 1)) return fail("quantile must lie in (0, 1]");
  return true;
}

nlohmann::json RejectionOptions::to_json() const {
  nlohmann::json j = {{"scale", sbi::to_string(scale)}, {"regression", regression}};
  if (keep > 0) j["keep"] = keep;
  else if (epsilon > 0) j["epsilon"] = epsilon;
  else j["quantile"] = quantile;
  write_resample_options(resample, j);
  return j;
}

RejectionOptions RejectionOptions::from_json(const nlohmann::json& section, const std::string& path) {
  RejectionOptions o;
  JsonObjectReader r(section, path);
  for (const auto& key : run_level_inference_keys()) r.get(key);
  o.scale = scale_kind_from_string(r.optional_string("scale", "mad", {"mad", "sd"}));
  const int given = static_cast<int>(r.has("keep")) + static_cast<int>(r.has("epsilon")) + static_cast<int>(r.has("quantile"));
  if (given > 1) throw InputError(path + ": give at most one of keep, epsilon, quantile");
  o.keep = static_cast<Eigen::Index>(r.optional_integer("keep", given == 0 ? 100 : 0, 1, std::int64_t{1} << 40));
  if (r.has("epsilon")) o.epsilon = r.optional_positive_number("epsilon", 0.0);
  if (r.has("quantile")) o.quantile = r.optional_number_in("quantile", o.quantile, 1e-12, 1.0);
  if (given == 1 && !r.has("keep")) o.keep = 0;
  o.regression = r.optional_bool("regression", o.regression);
  read_resample_options(r, o.resample);
  r.reject_unknown_keys();
  return o;
}

Vector statistic_scale(const RowMatrix& y, ScaleKind kind) {
  Vector scale = Vector::Ones(y.cols());
  for (Eigen::Index c = 0; c < y.cols(); ++c) {
    std::vector<double> column;
    column.reserve(static_cast<std::size_t>(y.rows()));
    for (Eigen::Index r = 0; r < y.rows(); ++r)
      if (y.row(r).allFinite()) column.push_back(y(r, c));
    if (column.size() < 2) continue;
    const double mean = std::accumulate(column.begin(), column.end(), 0.0) / static_cast<double>(column.size());
    double ss = 0;
    for (double v : column) ss += (v - mean) * (v - mean);
    const double sd = std::sqrt(ss / static_cast<double>(column.size() - 1));
    double s = sd;
    if (kind == ScaleKind::mad) {
      const double median = quantile(column, 0.5);
      for (double& v : column) v = std::abs(v - median);
      const double mad = 1.4826 * quantile(column, 0.5);  // 1.4826: MAD of a normal equals its sd
      if (mad > 0) s = mad;
    }
    scale[c] = s > 0 && std::isfinite(s) ? s : 1.0;
  }
  return scale;
}

Vector scaled_distances(const RowMatrix& y, const Vector& observation, const Vector& scale) {
  if (observation.size() != y.cols() || scale.size() != y.cols())
    throw InputError("ABC distances: the observation has " + std::to_string(observation.size()) + " values but the simulations have " +
                     std::to_string(y.cols()) + " statistics");
  Vector d(y.rows());
  const Eigen::RowVectorXd inverse_scale = scale.cwiseInverse().transpose();
  const Eigen::RowVectorXd obs = observation.transpose();
  for (Eigen::Index r = 0; r < y.rows(); ++r) {
    if (!y.row(r).allFinite()) {
      d[r] = std::numeric_limits<double>::infinity();
      continue;
    }
    d[r] = ((y.row(r) - obs).cwiseProduct(inverse_scale)).norm();
  }
  return d;
}

RowMatrix regression_adjust(const RowMatrix& theta, const RowMatrix& statistics, const Vector& weights, const Prior& prior) {
  const Eigen::Index k = theta.rows(), p = statistics.cols();
  if (statistics.rows() != k || weights.size() != k) throw InputError("regression adjustment: inconsistent sizes");
  const RowMatrix u = prior.to_unconstrained(theta);
  // Weighted least squares via QR of √W [1, S]: stable and exact on rank-deficient designs (the
  // column-pivoting solver gives the minimum-norm-like basic solution).
  Matrix design(k, p + 1);
  design.col(0).setOnes();
  design.rightCols(p) = statistics;
  const Vector root_w = weights.cwiseMax(0.0).cwiseSqrt();
  const Matrix weighted_design = root_w.asDiagonal() * design;
  const Matrix weighted_u = root_w.asDiagonal() * Matrix(u);
  const Eigen::ColPivHouseholderQR<Matrix> qr(weighted_design);
  const Matrix beta = qr.solve(weighted_u);  // (p + 1) × d
  const Matrix slopes = beta.bottomRows(p);
  const RowMatrix adjusted_u = u - RowMatrix(statistics * slopes);
  return prior.to_constrained(adjusted_u);
}

AbcResult rejection_abc(const RowMatrix& theta, const RowMatrix& y, const Vector& observation, const Prior& prior,
                        const RejectionOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string why;
  if (!options.is_valid(&why)) throw InputError("rejection ABC: " + why);
  if (theta.rows() != y.rows()) throw InputError("rejection ABC: θ and y have different numbers of rows");
  if (static_cast<std::size_t>(theta.cols()) != prior.dim())
    throw InputError("rejection ABC: θ has " + std::to_string(theta.cols()) + " columns but the prior " + std::to_string(prior.dim()));
  if (observation.size() != y.cols())
    throw InputError("rejection ABC: the observation has " + std::to_string(observation.size()) + " values but the simulations have " +
                     std::to_string(y.cols()));

  AbcResult result;
  result.method = options.regression ? "rejection+regression" : "rejection";
  result.parameter_names = prior.names();
  result.simulations = static_cast<std::size_t>(y.rows());
  result.statistic_scale = statistic_scale(y, options.scale);
  const Vector distances = scaled_distances(y, observation, result.statistic_scale);

  std::vector<Eigen::Index> order(static_cast<std::size_t>(y.rows()));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  // Stable: ties keep table order, so the result never depends on the sort's internals.
  std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return distances[a] < distances[b]; });
  const auto finite = static_cast<Eigen::Index>(std::count_if(order.begin(), order.end(), [&](Eigen::Index i) { return std::isfinite(distances[i]); }));
  if (finite == 0) throw InputError("rejection ABC: no simulation in the table has finite statistics");

  Eigen::Index accepted = 0;
  if (options.keep > 0) {
    accepted = std::min(options.keep, finite);
  } else if (options.epsilon > 0) {
    while (accepted < finite && distances[order[static_cast<std::size_t>(accepted)]] <= options.epsilon) ++accepted;
    if (accepted == 0)
      throw InputError("rejection ABC: no simulation lies within epsilon " + std::to_string(options.epsilon) + " (the nearest is at " +
                       std::to_string(distances[order[0]]) + ")");
  } else {
    accepted = std::clamp<Eigen::Index>(static_cast<Eigen::Index>(std::ceil(options.quantile * static_cast<double>(y.rows()) - 1e-9)), 1, finite);
  }

  result.particles.resize(accepted, theta.cols());
  result.distances.resize(accepted);
  RowMatrix statistics(accepted, y.cols());
  const Eigen::RowVectorXd obs_std = observation.cwiseQuotient(result.statistic_scale).transpose();
  for (Eigen::Index i = 0; i < accepted; ++i) {
    const Eigen::Index row = order[static_cast<std::size_t>(i)];
    result.particles.row(i) = theta.row(row);
    result.distances[i] = distances[row];
    statistics.row(i) = y.row(row).cwiseQuotient(result.statistic_scale.transpose()) - obs_std;
  }
  result.epsilon = result.distances[accepted - 1];
  result.weights = Vector::Constant(accepted, 1.0 / static_cast<double>(accepted));

  if (options.regression && accepted >= 2) {
    // δ: the next distance beyond the accepted ones when there is one, so the farthest accepted
    // particle keeps a positive weight.
    double delta = accepted < finite ? distances[order[static_cast<std::size_t>(accepted)]] : result.epsilon * (1 + 1e-9);
    if (!(delta > result.epsilon)) delta = result.epsilon * (1 + 1e-9) + 1e-300;
    Vector kernel = (1.0 - (result.distances / delta).array().square()).cwiseMax(0.0).matrix();
    if (!(kernel.sum() > 0)) kernel.setOnes();
    result.particles = regression_adjust(result.particles, statistics, kernel, prior);
    result.weights = kernel / kernel.sum();
  }

  AbcGeneration generation;
  generation.epsilon = result.epsilon;
  generation.simulations = result.simulations;
  generation.proposals = result.simulations;
  generation.accepted = static_cast<std::size_t>(accepted);
  generation.acceptance_rate = static_cast<double>(accepted) / static_cast<double>(std::max<Eigen::Index>(y.rows(), 1));
  generation.effective_sample_size = result.effective_sample_size();
  result.generations.push_back(generation);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace sbi
