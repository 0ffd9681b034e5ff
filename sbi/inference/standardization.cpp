#include "sbi/inference/standardization.hpp"

#include "sbi/core/error.hpp"
#include "sbi/flows/fit.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/simulation/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sbi {

using FMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;

nlohmann::json Standardization::to_json() const {
  auto v = [](const Vector& x) { return std::vector<double>(x.data(), x.data() + x.size()); };
  nlohmann::json j = {{"u_mean", v(u_mean)}, {"u_sd", v(u_sd)}, {"y_mean", v(y_mean)}, {"y_sd", v(y_sd)}, {"y_log", y_log}};
  if (u_tilde_low.size() > 0) {
    j["u_tilde_low"] = v(u_tilde_low);
    j["u_tilde_high"] = v(u_tilde_high);
  }
  return j;
}

Standardization Standardization::from_json(const nlohmann::json& j) {
  auto v = [&](const char* key) {
    const auto x = j.at(key).get<std::vector<double>>();
    return Vector(Eigen::Map<const Vector>(x.data(), static_cast<Eigen::Index>(x.size())));
  };
  Standardization s{v("u_mean"), v("u_sd"), v("y_mean"), v("y_sd"), j.value("y_log", std::vector<bool>{}), {}, {}};
  if (s.u_sd.size() != s.u_mean.size() || s.y_sd.size() != s.y_mean.size() ||
      (!s.y_log.empty() && s.y_log.size() != static_cast<std::size_t>(s.y_mean.size())))
    throw InputError("standardization: the lengths of u_mean/u_sd, y_mean/y_sd and y_log disagree");
  for (Eigen::Index i = 0; i < s.u_sd.size(); ++i)
    if (!(s.u_sd[i] > 0) || !std::isfinite(s.u_mean[i])) throw InputError("standardization: u_sd must be positive and u_mean finite");
  if (j.contains("u_tilde_low") || j.contains("u_tilde_high")) {
    s.u_tilde_low = v("u_tilde_low");
    s.u_tilde_high = v("u_tilde_high");
    if (s.u_tilde_low.size() != s.u_mean.size() || s.u_tilde_high.size() != s.u_mean.size())
      throw InputError("standardization: u_tilde_low and u_tilde_high need one value per parameter");
    for (Eigen::Index i = 0; i < s.u_tilde_low.size(); ++i)
      if (!std::isfinite(s.u_tilde_low[i]) || !std::isfinite(s.u_tilde_high[i]) || s.u_tilde_low[i] > s.u_tilde_high[i])
        throw InputError("standardization: u_tilde_low must be finite and at most u_tilde_high");
  }
  for (Eigen::Index i = 0; i < s.y_sd.size(); ++i)
    if (!(s.y_sd[i] > 0) || !std::isfinite(s.y_mean[i])) throw InputError("standardization: y_sd must be positive and y_mean finite");
  return s;
}

FMat Standardization::standardize_parameters(const RowMatrix& u) const {
  FMat out(u.rows(), u.cols());
  for (Eigen::Index c = 0; c < u.cols(); ++c) out.col(c) = ((u.col(c).array() - u_mean[c]) / u_sd[c]).cast<float>();
  return out;
}

FMat Standardization::standardize_parameters_clamped(const RowMatrix& u) const {
  FMat out = standardize_parameters(u), inside;
  clamp_standardized_parameters(out, inside);
  return out;
}

bool Standardization::clamp_standardized_parameters(FMat& u_tilde, FMat& inside) const {
  inside.setOnes(u_tilde.rows(), u_tilde.cols());
  if (u_tilde_low.size() == 0) return false;
  bool any = false;
  for (Eigen::Index c = 0; c < u_tilde.cols(); ++c) {
    const auto low = static_cast<float>(u_tilde_low[c]), high = static_cast<float>(u_tilde_high[c]);
    for (Eigen::Index r = 0; r < u_tilde.rows(); ++r) {
      float& z = u_tilde(r, c);
      if (z < low || z > high) {
        z = std::clamp(z, low, high);
        inside(r, c) = 0;
        any = true;
      }
    }
  }
  return any;
}

Vector Standardization::standardize_data(const Vector& y, const Names& data_names) const {
  if (y.size() != y_mean.size())
    throw InputError("observation has " + std::to_string(y.size()) + " values; the posterior was trained on data with " +
                     std::to_string(y_mean.size()));
  Vector g = y;
  for (std::size_t c = 0; c < y_log.size(); ++c) {
    const auto i = static_cast<Eigen::Index>(c);
    if (!y_log[c]) continue;
    if (!(g[i] > 0))
      throw InputError("observation: " + (c < data_names.size() ? data_names[c] : "column " + std::to_string(c + 1)) + " = " +
                       format_double(g[i]) + " is not positive, but the posterior was trained on the log of this column (data_transform)");
    g[i] = std::log(g[i]);
  }
  check_observation_standardizable(g, y_mean, y_sd, data_names, "sample");
  return (g - y_mean).array() / y_sd.array();
}

namespace {

// Rows `rows` of x, standardised, as a float batch matrix.
FMat standardised_rows(const RowMatrix& x, const std::vector<Eigen::Index>& rows, const Vector& mean, const Vector& sd) {
  FMat out(static_cast<Eigen::Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    out.row(static_cast<Eigen::Index>(i)) = ((x.row(rows[i]).transpose() - mean).array() / sd.array()).cast<float>().transpose();
  return out;
}

std::vector<bool> log_columns(const RowMatrix& y, const std::vector<Eigen::Index>& rows, const std::string& transform,
                              const std::string& method) {
  std::vector<bool> flags(static_cast<std::size_t>(y.cols()), false);
  if (transform == "none") return flags;
  for (Eigen::Index c = 0; c < y.cols(); ++c) {
    double low = std::numeric_limits<double>::infinity(), high = 0;
    for (auto r : rows) {
      low = std::min(low, y(r, c));
      high = std::max(high, y(r, c));
    }
    if (transform == "log") {
      if (!(low > 0))
        throw InputError(method + ": data_transform \"log\" needs positive data, but data column " + std::to_string(c + 1) +
                         " has the value " + format_number(low));
      flags[static_cast<std::size_t>(c)] = true;
    } else {
      flags[static_cast<std::size_t>(c)] = low > 0 && high / low > 100;
    }
  }
  return flags;
}

}  // namespace

void check_standardizable(const RowMatrix& values, const Names& names, const std::string& role, const std::string& method) {
  if (values.rows() == 0) return;
  for (Eigen::Index c = 0; c < values.cols(); ++c) {
    const std::string name = static_cast<std::size_t>(c) < names.size() ? "\"" + names[static_cast<std::size_t>(c)] + "\"" : "column " + std::to_string(c + 1);
    const auto column = values.col(c).array();
    const double largest = column.abs().maxCoeff();
    const double mean = column.mean();
    const double sd = std::sqrt((column - mean).square().mean());
    // z-scoring divides by the sd: the largest |z| is at most (|max| + |mean|) / sd.
    const double worst_z = sd > 0 ? (largest + std::abs(mean)) / sd : 0.0;
    if (!std::isfinite(mean) || !std::isfinite(sd) || !std::isfinite(worst_z) || worst_z > 1e30)
      throw InputError(method + ": " + role + " " + name + " has values up to " + format_double(largest) +
                       ", which overflow when standardised for the networks (32-bit floats); rescale it (other units, or a "
                       "narrower prior)");
  }
}

void check_observation_standardizable(const Vector& observation, const Vector& mean, const Vector& sd, const Names& names,
                                      const std::string& method) {
  for (Eigen::Index i = 0; i < observation.size(); ++i) {
    const bool scaled = i < mean.size() && i < sd.size();
    const double z = scaled ? (observation[i] - mean[i]) / sd[i] : observation[i];
    if (std::isfinite(z) && std::abs(z) <= 1e30) continue;
    const std::string name = static_cast<std::size_t>(i) < names.size() ? names[static_cast<std::size_t>(i)] : "data value " + std::to_string(i + 1);
    throw InputError(method + ": observation " + name + " = " + format_double(observation[i]) +
                     (scaled ? " lies " + format_double(std::abs(z)) + " standard deviations from the simulated data's mean (" + format_double(mean[i]) + ")"
                             : " is too large") +
                     ", beyond what the networks (32-bit floats) can take; is it in the simulator's units?");
  }
}

StandardizedTable StandardizedTable::make(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, double validation_fraction,
                                          std::uint64_t seed, const std::string& data_transform, const std::string& method,
                                          std::size_t max_validation_rows) {
  const Eigen::Index n = theta.rows(), p = theta.cols();
  if (y.rows() != n) throw InputError(method + ": θ and y have different numbers of rows");
  if (static_cast<std::size_t>(p) != prior.dim())
    throw InputError(method + ": θ has " + std::to_string(p) + " columns, the prior " + std::to_string(prior.dim()));
  if (n < 20) throw InputError(method + ": need at least 20 simulations, got " + std::to_string(n));
  const RowMatrix u = prior.to_unconstrained(theta);
  for (Eigen::Index r = 0; r < n; ++r) {
    if (!u.row(r).allFinite())
      throw InputError(method + ": row " + std::to_string(r) + " has θ outside the prior's support (or on its boundary): " +
                       describe_theta(prior.names(), row_span(theta, r)));
    if (!y.row(r).allFinite()) throw InputError(method + ": row " + std::to_string(r) + " has non-finite data");
  }
  check_standardizable(u, prior.names(), "prior parameter", method);
  check_standardizable(y, {}, "data column", method);
  const auto split = optim::train_validation_split(n, validation_fraction, seed);
  StandardizedTable table;
  Standardization& s = table.standardization;
  s.y_log = log_columns(y, split.train, data_transform, method);
  RowMatrix g = y;
  for (std::size_t c = 0; c < s.y_log.size(); ++c)
    if (s.y_log[c]) g.col(static_cast<Eigen::Index>(c)) = g.col(static_cast<Eigen::Index>(c)).array().log().matrix();
  // A constant column (e.g. SIR's first count) is centred but not scaled.
  flows::column_statistics(u, split.train, s.u_mean, s.u_sd);
  flows::column_statistics(g, split.train, s.y_mean, s.y_sd);
  if (!s.u_mean.allFinite() || !s.u_sd.allFinite() || !s.y_mean.allFinite() || !s.y_sd.allFinite())
    throw InputError(method + ": the training data overflow double precision when standardised (values near ±1e308?); "
                     "rescale the simulator's output or the prior");
  table.u_train = standardised_rows(u, split.train, s.u_mean, s.u_sd);
  table.y_train = standardised_rows(g, split.train, s.y_mean, s.y_sd);
  s.u_tilde_low = table.u_train.colwise().minCoeff().transpose().cast<double>();
  s.u_tilde_high = table.u_train.colwise().maxCoeff().transpose().cast<double>();
  if (!table.u_train.allFinite() || !table.y_train.allFinite())
    throw InputError(method + ": the standardised training data do not fit in single precision (|value| > 3e38); "
                     "rescale the simulator's output or the prior");
  table.validation_rows = split.validation.size();
  const auto kept = static_cast<std::ptrdiff_t>(std::min(max_validation_rows, split.validation.size()));
  const std::vector<Eigen::Index> validation(split.validation.begin(), split.validation.begin() + kept);
  table.u_validation = standardised_rows(u, validation, s.u_mean, s.u_sd);
  table.y_validation = standardised_rows(g, validation, s.y_mean, s.y_sd);
  return table;
}

}  // namespace sbi
