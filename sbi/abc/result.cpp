#include "sbi/abc/result.hpp"

#include "sbi/io/json_reader.hpp"

#include "sbi/core/error.hpp"
#include "sbi/util/progress.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sbi {

void read_resample_options(JsonObjectReader& reader, ResampleOptions& options) {
  options.method = resample_method_from_string(reader.optional_string("resample", to_string(options.method), {"kde", "multinomial"}));
  options.bandwidth = reader.optional_number_in("bandwidth", options.bandwidth, 0.0, 1e6);
}

void write_resample_options(const ResampleOptions& options, nlohmann::json& j) {
  j["resample"] = to_string(options.method);
  j["bandwidth"] = options.bandwidth;
}


ScaleKind scale_kind_from_string(const std::string& text) {
  if (text == "sd") return ScaleKind::sd;
  if (text == "mad") return ScaleKind::mad;
  throw InputError("unknown statistic scale \"" + text + "\" (expected sd or mad)");
}

std::string to_string(ScaleKind kind) { return kind == ScaleKind::sd ? "sd" : "mad"; }

ResampleMethod resample_method_from_string(const std::string& text) {
  if (text == "kde") return ResampleMethod::kde;
  if (text == "multinomial") return ResampleMethod::multinomial;
  throw InputError("unknown resampling method \"" + text + "\" (expected kde or multinomial)");
}

std::string to_string(ResampleMethod method) { return method == ResampleMethod::kde ? "kde" : "multinomial"; }

double effective_sample_size(const Vector& weights) {
  const double sum = weights.sum();
  const double sum_sq = weights.squaredNorm();
  return sum_sq > 0 ? sum * sum / sum_sq : 0.0;
}

double AbcResult::effective_sample_size() const { return sbi::effective_sample_size(weights); }

std::string AbcResult::brief_report() const {
  char line[400];
  std::snprintf(line, sizeof line, "%s: %lld particles (ESS %.0f), epsilon %.4g after %zu generation%s, %zu simulations, %s%s%s",
                method.c_str(), static_cast<long long>(particles.rows()), effective_sample_size(), epsilon, generations.size(),
                generations.size() == 1 ? "" : "s", simulations, format_duration(seconds).c_str(),
                stop_reason.empty() ? "" : "; stopped: ", stop_reason.c_str());
  return line;
}

std::string AbcResult::full_report() const {
  std::string out = brief_report() + "\n";
  out += "  gen      epsilon  simulations  proposals  accepted  acc.rate      ESS  resampled\n";
  for (std::size_t g = 0; g < generations.size(); ++g) {
    const auto& s = generations[g];
    char line[200];
    std::snprintf(line, sizeof line, "  %3zu %12.5g %12zu %10zu %9zu %9.4f %8.1f  %s%s\n", g, s.epsilon, s.simulations, s.proposals,
                  s.accepted, s.acceptance_rate, s.effective_sample_size, s.resampled ? "yes" : "no",
                  s.complete ? "" : " (partial)");
    out += line;
  }
  return out;
}

nlohmann::json AbcResult::to_json() const {
  nlohmann::json gens = nlohmann::json::array();
  for (const auto& s : generations)
    gens.push_back({{"epsilon", s.epsilon},
                    {"simulations", s.simulations},
                    {"proposals", s.proposals},
                    {"accepted", s.accepted},
                    {"acceptance_rate", s.acceptance_rate},
                    {"effective_sample_size", s.effective_sample_size},
                    {"resampled", s.resampled},
                    {"complete", s.complete}});
  return {{"method", method},
          {"parameters", parameter_names},
          {"particles", particles.rows()},
          {"effective_sample_size", effective_sample_size()},
          {"epsilon", epsilon},
          {"simulations", simulations},
          {"seconds", seconds},
          {"kde_bandwidth", kde_bandwidth},
          {"interrupted", interrupted},
          {"stop_reason", stop_reason},
          {"statistic_scale", std::vector<double>(statistic_scale.data(), statistic_scale.data() + statistic_scale.size())},
          {"generations", gens}};
}

std::vector<Eigen::Index> systematic_resample(const Vector& weights, Eigen::Index n, Rng& rng) {
  std::vector<Eigen::Index> picks(static_cast<std::size_t>(std::max<Eigen::Index>(n, 0)));
  const double total = weights.sum();
  if (n <= 0) return picks;
  if (!(total > 0) || !std::isfinite(total)) throw InputError("resampling: the particle weights do not have a positive finite sum");
  const double step = total / static_cast<double>(n);
  double position = rng.uniform() * step;
  double cumulative = weights[0];
  Eigen::Index j = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    while (position > cumulative && j + 1 < weights.size()) cumulative += weights[++j];
    picks[static_cast<std::size_t>(i)] = j;
    position += step;
  }
  // Systematic draws come out sorted by particle; shuffle so that any prefix is a fair subsample.
  for (Eigen::Index i = n - 1; i > 0; --i) std::swap(picks[static_cast<std::size_t>(i)], picks[rng.below(static_cast<std::uint64_t>(i + 1))]);
  return picks;
}

namespace {

// Weighted leave-one-out log likelihood of an isotropic Gaussian KDE with bandwidth h, evaluated at
// the rows `held_out` (against all particles but themselves), for every h in `grid`.
std::vector<double> leave_one_out_scores(const RowMatrix& z, const Vector& w, const std::vector<Eigen::Index>& held_out,
                                         const std::vector<double>& grid) {
  const Eigen::Index k = z.rows();
  const double d = static_cast<double>(z.cols());
  std::vector<double> scores(grid.size(), 0.0);
  std::vector<double> sq(static_cast<std::size_t>(k));
  std::vector<double> terms(static_cast<std::size_t>(k));
  double held_weight = 0;
  for (Eigen::Index i : held_out) held_weight += w[i];
  for (Eigen::Index i : held_out) {
    for (Eigen::Index j = 0; j < k; ++j) sq[static_cast<std::size_t>(j)] = (z.row(i) - z.row(j)).squaredNorm();
    const double others = w.sum() - w[i];
    if (!(others > 0)) continue;
    for (std::size_t g = 0; g < grid.size(); ++g) {
      const double h = grid[g];
      double max_term = -std::numeric_limits<double>::infinity();
      for (Eigen::Index j = 0; j < k; ++j) {
        const double t = (j == i || w[j] <= 0) ? -std::numeric_limits<double>::infinity() : std::log(w[j]) - 0.5 * sq[static_cast<std::size_t>(j)] / (h * h);
        terms[static_cast<std::size_t>(j)] = t;
        max_term = std::max(max_term, t);
      }
      if (!std::isfinite(max_term)) continue;
      double sum = 0;
      for (Eigen::Index j = 0; j < k; ++j) sum += std::exp(terms[static_cast<std::size_t>(j)] - max_term);
      const double log_density = max_term + std::log(sum) - std::log(others) - d * std::log(h);  // constants dropped
      scores[g] += w[i] / held_weight * log_density;
    }
  }
  return scores;
}

}  // namespace

RowMatrix resample_particles(const RowMatrix& particles, const Vector& weights, Eigen::Index n, const Prior& prior,
                             const ResampleOptions& options, double* bandwidth_used) {
  if (particles.rows() == 0) throw InputError("resampling: there are no particles to resample");
  if (weights.size() != particles.rows()) throw InputError("resampling: one weight per particle is required");
  if (static_cast<std::size_t>(particles.cols()) != prior.dim()) throw InputError("resampling: the particles do not have the prior's dimension");
  Rng rng = Rng::stream(options.seed, 0, 0xab5a3b1e);
  const auto picks = systematic_resample(weights, n, rng);
  RowMatrix out(n, particles.cols());
  if (bandwidth_used) *bandwidth_used = 0;

  const double ess = effective_sample_size(weights);
  if (options.method == ResampleMethod::multinomial || ess < 2.0 || particles.rows() < 2) {
    for (Eigen::Index i = 0; i < n; ++i) out.row(i) = particles.row(picks[static_cast<std::size_t>(i)]);
    return out;
  }

  // Standardise the unconstrained particles by their weighted mean and sd.
  const RowMatrix u = prior.to_unconstrained(particles);
  const Vector w = weights / weights.sum();
  const Eigen::RowVectorXd mean = (w.transpose() * u);
  Eigen::RowVectorXd sd(u.cols());
  for (Eigen::Index c = 0; c < u.cols(); ++c) {
    const double var = (w.array() * (u.col(c).array() - mean[c]).square()).sum();
    sd[c] = var > 0 ? std::sqrt(var) : 1.0;
  }
  RowMatrix z = (u.rowwise() - mean).array().rowwise() / sd.array();

  double h = options.bandwidth;
  if (!(h > 0)) {
    // Scott's factor for an effective sample size; the grid spans it by 10× either way, and the
    // leave-one-out likelihood picks the best. At most 1500 held-out rows keep the cost bounded.
    const double scott = std::pow(ess, -1.0 / (static_cast<double>(u.cols()) + 4.0));
    std::vector<double> grid;
    for (int g = 0; g < 33; ++g) grid.push_back(scott * std::pow(10.0, -1.0 + 2.0 * g / 32.0));
    std::vector<Eigen::Index> held_out;
    const Eigen::Index stride = std::max<Eigen::Index>(1, (z.rows() + 1499) / 1500);
    for (Eigen::Index i = 0; i < z.rows(); i += stride)
      if (w[i] > 0) held_out.push_back(i);
    const auto scores = leave_one_out_scores(z, w, held_out, grid);
    h = grid[static_cast<std::size_t>(std::max_element(scores.begin(), scores.end()) - scores.begin())];
  }
  if (bandwidth_used) *bandwidth_used = h;
  std::vector<double> u_row(static_cast<std::size_t>(u.cols())), theta_row(static_cast<std::size_t>(u.cols()));
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::Index j = picks[static_cast<std::size_t>(i)];
    for (Eigen::Index c = 0; c < u.cols(); ++c)
      u_row[static_cast<std::size_t>(c)] = mean[c] + sd[c] * (z(j, c) + h * rng.normal());
    prior.to_constrained(u_row, theta_row);
    for (Eigen::Index c = 0; c < u.cols(); ++c) out(i, c) = theta_row[static_cast<std::size_t>(c)];
  }
  return out;
}

}  // namespace sbi
