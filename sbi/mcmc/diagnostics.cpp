#include "sbi/mcmc/diagnostics.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"

#include <boost/math/special_functions/erf.hpp>
#include <nlohmann/json.hpp>
#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <limits>
#include <numeric>
#include <vector>

namespace sbi {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Chains of fewer draws than this give no diagnostics (a split chain needs two draws for a variance).
constexpr Eigen::Index kMinDraws = 4;

bool all_finite(const Matrix& x) { return x.allFinite(); }

// Each chain's first and second half as two chains (the middle draw of an odd length is dropped).
Matrix split_chains(const Matrix& x) {
  const Eigen::Index m = x.rows(), half = x.cols() / 2;
  Matrix out(2 * m, half);
  for (Eigen::Index c = 0; c < m; ++c) {
    out.row(2 * c) = x.row(c).head(half);
    out.row(2 * c + 1) = x.row(c).tail(half);
  }
  return out;
}

// Ranks 1..S of all entries (average ranks for ties) mapped to normal scores Φ⁻¹((r − 3/8)/(S + 1/4)).
Matrix rank_normalize(const Matrix& x) {
  const Eigen::Index s = x.size();
  std::vector<Eigen::Index> order(static_cast<std::size_t>(s));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  const double* v = x.data();
  std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return v[a] < v[b]; });
  Matrix z(x.rows(), x.cols());
  double* out = z.data();
  for (Eigen::Index i = 0; i < s;) {
    Eigen::Index j = i + 1;
    while (j < s && v[order[static_cast<std::size_t>(j)]] == v[order[static_cast<std::size_t>(i)]]) ++j;
    const double rank = 0.5 * static_cast<double>(i + 1 + j);  // average of ranks i+1 .. j
    const double p = (rank - 0.375) / (static_cast<double>(s) + 0.25);
    const double score = -std::sqrt(2.0) * boost::math::erfc_inv(2.0 * p);
    for (Eigen::Index k = i; k < j; ++k) out[order[static_cast<std::size_t>(k)]] = score;
    i = j;
  }
  return z;
}

// The p-quantile of all entries, interpolating linearly between order statistics.
double quantile(const Matrix& x, double p) {
  std::vector<double> v(x.data(), x.data() + x.size());
  std::sort(v.begin(), v.end());
  const double position = p * static_cast<double>(v.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, v.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return v[below] + fraction * (v[above] - v[below]);
}

// R̂ of chains as given (rows), no splitting: √(var⁺ / W).
double rhat_of_rows(const Matrix& x) {
  const Eigen::Index m = x.rows(), n = x.cols();
  if (m < 2 || n < 2 || !all_finite(x)) return kNaN;
  const Vector means = x.rowwise().mean();
  double within = 0;
  for (Eigen::Index c = 0; c < m; ++c) within += (x.row(c).array() - means[c]).square().sum() / static_cast<double>(n - 1);
  within /= static_cast<double>(m);
  const double between_over_n = (means.array() - means.mean()).square().sum() / static_cast<double>(m - 1);
  if (!(within > 0)) return kNaN;
  const double var_plus = static_cast<double>(n - 1) / static_cast<double>(n) * within + between_over_n;
  return std::sqrt(var_plus / within);
}

// Biased autocovariances (divided by n) of a centred series at lags 0..n−1, by FFT.
void autocovariance(const double* centred, Eigen::Index n, Eigen::FFT<double>& fft, std::vector<double>& padded,
                    std::vector<std::complex<double>>& spectrum, std::vector<double>& out) {
  std::size_t size = 1;
  while (size < 2 * static_cast<std::size_t>(n)) size <<= 1;
  padded.assign(size, 0.0);
  std::copy(centred, centred + n, padded.begin());
  fft.fwd(spectrum, padded);
  for (auto& c : spectrum) c = std::complex<double>(std::norm(c), 0.0);
  fft.inv(out, spectrum);  // scaled by 1/size
  out.resize(static_cast<std::size_t>(n));
  for (auto& a : out) a /= static_cast<double>(n);
}

// ESS of chains as given (rows), no splitting (paper eq. 10–11 with Geyer's initial monotone sequence).
double ess_of_rows(const Matrix& x) {
  const Eigen::Index m = x.rows(), n = x.cols();
  if (m < 1 || n < 2 || !all_finite(x)) return kNaN;
  const Vector means = x.rowwise().mean();
  Eigen::FFT<double> fft;
  std::vector<double> padded, acov_chain;
  std::vector<std::complex<double>> spectrum;
  // The mean over chains of the (biased, /n) autocovariance at every lag t: the paper's s²_m ρ̂_{t,m}
  // up to a factor (n−1)/n, taken as Stan and ArviZ take it.
  Vector mean_acov = Vector::Zero(n);
  std::vector<double> centred(static_cast<std::size_t>(n));
  for (Eigen::Index c = 0; c < m; ++c) {
    for (Eigen::Index t = 0; t < n; ++t) centred[static_cast<std::size_t>(t)] = x(c, t) - means[c];
    autocovariance(centred.data(), n, fft, padded, spectrum, acov_chain);
    for (Eigen::Index t = 0; t < n; ++t) mean_acov[t] += acov_chain[static_cast<std::size_t>(t)];
  }
  mean_acov /= static_cast<double>(m);
  const double within = mean_acov[0] * static_cast<double>(n) / static_cast<double>(n - 1);
  const double between_over_n = m > 1 ? (means.array() - means.mean()).square().sum() / static_cast<double>(m - 1) : 0.0;
  const double var_plus = static_cast<double>(n - 1) / static_cast<double>(n) * within + between_over_n;
  if (!(within > 0) || !(var_plus > 0)) return kNaN;
  // ρ̂_0 = 1 by definition (the formula gives 1 − W/(n·var⁺) with these estimates).
  auto rho = [&](Eigen::Index t) { return t == 0 ? 1.0 : 1.0 - (within - mean_acov[t]) / var_plus; };
  // Geyer's initial positive sequence of pair sums P_k = ρ̂_2k + ρ̂_2k+1, cut at the first pair that
  // is not positive (and three lags before the end), then made monotone. As in Stan and ArviZ, the
  // even term of the first non-positive pair is added once when it is positive (Geyer 1992's
  // improvement).
  std::vector<double> pairs = {rho(0) + rho(1)};
  double last_even = 0, last_pair = pairs.back();
  Eigen::Index t = 1;
  while (t < n - 3 && last_pair > 0) {
    last_even = rho(t + 1);
    last_pair = last_even + rho(t + 2);
    if (last_pair >= 0) pairs.push_back(last_pair);
    t += 2;
  }
  // `t − 2` is the last odd lag inside the sequence: the pairs up to it are summed twice.
  const auto kept = static_cast<std::size_t>((t - 2 + 1) / 2);
  double sum = 0, previous = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < kept && k < pairs.size(); ++k) {
    previous = std::min(previous, pairs[k]);
    sum += previous;
  }
  double tau = -1.0 + 2.0 * sum + (last_even > 0 ? last_even : 0.0);
  const double total = static_cast<double>(m * n);
  tau = std::max(tau, 1.0 / std::log10(total));
  return total / tau;
}

bool usable(const Matrix& x) { return x.rows() >= 1 && x.cols() >= kMinDraws && all_finite(x); }

std::string number_text(double x, const char* format) {
  if (std::isnan(x)) return "NaN";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, x);
  return buffer;
}

nlohmann::json vector_json(const Vector& v) {
  nlohmann::json list = nlohmann::json::array();
  for (Eigen::Index i = 0; i < v.size(); ++i) list.push_back(std::isfinite(v[i]) ? nlohmann::json(v[i]) : nlohmann::json(nullptr));
  return list;
}

// A list of numbers in which null stands for NaN (JSON has no NaN).
Vector vector_from_json(const nlohmann::json& j, const std::string& path, std::size_t expected) {
  if (!j.is_array()) throw InputError(path + ": expected a list of numbers, got " + json_type_description(j));
  if (j.size() != expected)
    throw InputError(path + ": expected " + std::to_string(expected) + " values (one per parameter), got " + std::to_string(j.size()));
  Vector v(static_cast<Eigen::Index>(expected));
  for (std::size_t i = 0; i < expected; ++i)
    v[static_cast<Eigen::Index>(i)] = j[i].is_null() ? kNaN : json_number_at(j[i], path + "[" + std::to_string(i) + "]");
  return v;
}

}  // namespace

double split_rhat_basic(const Matrix& x) { return usable(x) ? rhat_of_rows(split_chains(x)) : kNaN; }

double split_rhat_bulk(const Matrix& x) { return usable(x) ? rhat_of_rows(rank_normalize(split_chains(x))) : kNaN; }

double split_rhat_tail(const Matrix& x) {
  if (!usable(x)) return kNaN;
  // Folded around the median of the split chains (as ArviZ; the middle draw of odd-length chains is
  // left out of both).
  const Matrix split = split_chains(x);
  const double median = quantile(split, 0.5);
  return rhat_of_rows(rank_normalize((split.array() - median).abs().matrix()));
}

double split_rhat(const Matrix& x) {
  const double bulk = split_rhat_bulk(x), tail = split_rhat_tail(x);
  if (std::isnan(bulk) || std::isnan(tail)) return kNaN;
  return std::max(bulk, tail);
}

double split_ess(const Matrix& x) { return usable(x) ? ess_of_rows(split_chains(x)) : kNaN; }

double bulk_ess(const Matrix& x) { return usable(x) ? ess_of_rows(rank_normalize(split_chains(x))) : kNaN; }

double tail_ess(const Matrix& x) {
  if (!usable(x)) return kNaN;
  double smallest = std::numeric_limits<double>::infinity();
  for (double p : {0.05, 0.95}) {
    const double q = quantile(x, p);
    const Matrix indicator = (x.array() <= q).cast<double>().matrix();
    const double ess = ess_of_rows(split_chains(indicator));
    if (std::isnan(ess)) return kNaN;
    smallest = std::min(smallest, ess);
  }
  return smallest;
}

// ---------------------------------------------------------------------------------------------

double McmcDiagnostics::max_rhat() const {
  if (rhat.size() == 0 || rhat.array().isNaN().any()) return kNaN;
  return rhat.maxCoeff();
}

double McmcDiagnostics::min_ess_bulk() const {
  if (ess_bulk.size() == 0 || ess_bulk.array().isNaN().any()) return kNaN;
  return ess_bulk.minCoeff();
}

bool McmcDiagnostics::converged(double threshold) const {
  const double worst = max_rhat();
  return std::isfinite(worst) && worst < threshold;
}

std::string McmcDiagnostics::brief_report(bool with_chain_shape) const {
  auto name = [&](Eigen::Index i) {
    return static_cast<std::size_t>(i) < parameter_names.size() ? parameter_names[static_cast<std::size_t>(i)]
                                                                 : "parameter " + std::to_string(i + 1);
  };
  std::string text;
  if (rhat.size() == 0) return "no diagnostics";
  // The worst entry: a NaN if there is one, else the largest (R̂) or smallest (ESS) value.
  auto worst = [](const Vector& v, bool largest) {
    Eigen::Index best = 0;
    for (Eigen::Index i = 0; i < v.size(); ++i) {
      if (std::isnan(v[i])) return i;
      if (largest ? v[i] > v[best] : v[i] < v[best]) best = i;
    }
    return best;
  };
  const Eigen::Index worst_rhat = worst(rhat, true), worst_ess = worst(ess_bulk, false), worst_tail = worst(ess_tail, false);
  text += "R-hat max " + number_text(rhat[worst_rhat], "%.3f") + " (" + name(worst_rhat) + "), bulk ESS min " +
          number_text(ess_bulk[worst_ess], "%.0f") + " (" + name(worst_ess) + "), tail ESS min " +
          number_text(ess_tail[worst_tail], "%.0f") + " (" + name(worst_tail) + ")";
  if (with_chain_shape) text += ", " + std::to_string(chains) + " chains x " + std::to_string(draws_per_chain) + " draws";
  return text;
}

std::string McmcDiagnostics::full_report() const {
  std::string text = brief_report() + "\n";
  char buffer[256];
  for (Eigen::Index i = 0; i < rhat.size(); ++i) {
    const std::string name = static_cast<std::size_t>(i) < parameter_names.size() ? parameter_names[static_cast<std::size_t>(i)]
                                                                                   : "parameter " + std::to_string(i + 1);
    std::snprintf(buffer, sizeof buffer, "  %-16s R-hat %s  bulk ESS %s  tail ESS %s\n", name.c_str(),
                  number_text(rhat[i], "%.4f").c_str(), number_text(ess_bulk[i], "%.0f").c_str(),
                  number_text(ess_tail[i], "%.0f").c_str());
    text += buffer;
  }
  return text;
}

nlohmann::json McmcDiagnostics::to_json() const {
  return {{"parameter_names", parameter_names}, {"rhat", vector_json(rhat)},       {"ess_bulk", vector_json(ess_bulk)},
          {"ess_tail", vector_json(ess_tail)},  {"chains", chains},                {"draws_per_chain", draws_per_chain}};
}

McmcDiagnostics McmcDiagnostics::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObjectReader r(j, path);
  McmcDiagnostics d;
  d.parameter_names = r.required_string_list("parameter_names");
  const std::size_t dim = d.parameter_names.size();
  for (auto [key, target] : {std::pair{"rhat", &d.rhat}, std::pair{"ess_bulk", &d.ess_bulk}, std::pair{"ess_tail", &d.ess_tail}}) {
    const auto* value = r.get(key);
    if (!value) throw InputError(r.child_path(key) + ": missing");
    *target = vector_from_json(*value, r.child_path(key), dim);
  }
  d.chains = r.required_integer("chains", 0);
  d.draws_per_chain = r.required_integer("draws_per_chain", 0);
  r.reject_unknown_keys();
  return d;
}

McmcDiagnostics compute_mcmc_diagnostics(const RowMatrix& draws, Eigen::Index chains, const Names& parameter_names) {
  if (chains < 1 || draws.rows() % chains != 0)
    throw InputError("MCMC diagnostics: " + std::to_string(draws.rows()) + " draws do not split into " + std::to_string(chains) +
                     " chains of equal length");
  if (!parameter_names.empty() && parameter_names.size() != static_cast<std::size_t>(draws.cols()))
    throw InputError("MCMC diagnostics: " + std::to_string(parameter_names.size()) + " names for " + std::to_string(draws.cols()) +
                     " parameters");
  McmcDiagnostics d;
  d.chains = chains;
  d.draws_per_chain = draws.rows() / chains;
  d.parameter_names = parameter_names;
  if (d.parameter_names.empty())
    for (Eigen::Index i = 0; i < draws.cols(); ++i) d.parameter_names.push_back("x_" + std::to_string(i + 1));
  const Eigen::Index dim = draws.cols(), n = d.draws_per_chain;
  d.rhat.resize(dim);
  d.ess_bulk.resize(dim);
  d.ess_tail.resize(dim);
  Matrix x(chains, n);
  for (Eigen::Index p = 0; p < dim; ++p) {
    for (Eigen::Index c = 0; c < chains; ++c)
      for (Eigen::Index t = 0; t < n; ++t) x(c, t) = draws(c * n + t, p);
    d.rhat[p] = split_rhat(x);
    d.ess_bulk[p] = bulk_ess(x);
    d.ess_tail[p] = tail_ess(x);
  }
  return d;
}

}  // namespace sbi
