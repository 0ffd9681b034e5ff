#include "sbi/causal/methods.hpp"

#include "sbi/causal/kernels.hpp"
#include "sbi/core/error.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace sbi::causal {

namespace {

int sign_of(double score) { return score > 0 ? 1 : (score < 0 ? -1 : 0); }

double normalised_difference(double yx, double xy) {
  const double total = yx + xy;
  return total > 0 ? (yx - xy) / total : 0.0;
}

// The result of a method whose criterion is smaller in the causal direction: the score is their
// normalised difference, positive for X → Y.
DirectionResult from_criteria(double criterion_xy, double criterion_yx, Eigen::Index samples_used) {
  DirectionResult result;
  result.criterion_xy = criterion_xy;
  result.criterion_yx = criterion_yx;
  result.score = normalised_difference(criterion_yx, criterion_xy);
  result.direction = sign_of(result.score);
  result.samples_used = samples_used;
  return result;
}

// Mooij et al. (2016), slope-based: mean of log |Δy/Δx| over neighbours in x order, skipping steps
// where either difference is zero (ties).
double igci_slope(const Vector& x, const Vector& y) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(x.size()));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return x[a] < x[b]; });
  double total = 0;
  long count = 0;
  for (std::size_t k = 0; k + 1 < order.size(); ++k) {
    const double dx = x[order[k + 1]] - x[order[k]];
    const double dy = y[order[k + 1]] - y[order[k]];
    if (dx != 0 && dy != 0) {
      total += std::log(std::abs(dy / dx));
      ++count;
    }
  }
  return count > 0 ? total / static_cast<double>(count) : 0.0;
}

// Spacing entropy estimate (up to the constant ψ(n) − ψ(1), which cancels in the difference):
// mean over the n−1 sorted spacings of log Δ, zero spacings skipped.
double spacing_entropy(const Vector& v) {
  std::vector<double> sorted(v.data(), v.data() + v.size());
  std::sort(sorted.begin(), sorted.end());
  double total = 0;
  for (std::size_t k = 0; k + 1 < sorted.size(); ++k) {
    const double gap = sorted[k + 1] - sorted[k];
    if (gap > 0) total += std::log(gap);
  }
  return total / static_cast<double>(sorted.size() - 1);
}

template <class Body>
DirectionResult timed(const std::string& method, Body body) {
  const auto start = std::chrono::steady_clock::now();
  DirectionResult result = body();
  result.method = method;
  result.direction = sign_of(result.score);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

DirectionResult igci(const CausePair& pair, IgciEstimator estimator, IgciReference reference) {
  const Vector x = reference == IgciReference::uniform ? min_max_scale(pair.x) : standardise(pair.x);
  const Vector y = reference == IgciReference::uniform ? min_max_scale(pair.y) : standardise(pair.y);
  DirectionResult result;
  if (estimator == IgciEstimator::slope) {
    result.criterion_xy = igci_slope(x, y);
    result.criterion_yx = igci_slope(y, x);
  } else {
    // C_{X→Y} = H(Y) − H(X): the cause is the variable with more entropy after normalisation.
    const double hx = spacing_entropy(x), hy = spacing_entropy(y);
    result.criterion_xy = hy - hx;
    result.criterion_yx = hx - hy;
  }
  result.score = result.criterion_yx - result.criterion_xy;
  result.direction = sign_of(result.score);
  result.samples_used = x.size();
  return result;
}

DirectionResult anm_hsic(const CausePair& pair_in, Eigen::Index max_samples, std::uint64_t seed) {
  const CausePair pair = subsample(pair_in, max_samples, seed);
  const Vector x = standardise(pair.x), y = standardise(pair.y);
  return from_criteria(hsic(x, kernel_ridge_loo(x, y).residuals), hsic(y, kernel_ridge_loo(y, x).residuals), x.size());
}

DirectionResult reci(const CausePair& pair) {
  const Vector x = min_max_scale(pair.x), y = min_max_scale(pair.y);
  auto monotone_mse = [](const Vector& cause, const Vector& effect) {
    const double up = (effect - isotonic_fit(cause, effect, true)).squaredNorm();
    const double down = (effect - isotonic_fit(cause, effect, false)).squaredNorm();
    return std::min(up, down) / static_cast<double>(effect.size());
  };
  return from_criteria(monotone_mse(x, y), monotone_mse(y, x), x.size());
}

DirectionResult bivariate_fit(const CausePair& pair_in, Eigen::Index max_samples, std::uint64_t seed) {
  const CausePair pair = subsample(pair_in, max_samples, seed);
  const Vector x = standardise(pair.x), y = standardise(pair.y);
  return from_criteria(kernel_ridge_loo(x, y).loo_mse, kernel_ridge_loo(y, x).loo_mse, x.size());
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"cgnn", "meta-cgnn", "anm", "igci", "igci-slope-uniform", "igci-entropy-uniform",
                                                 "igci-slope-gauss", "igci-entropy-gauss", "reci", "fit"};
  return names;
}

bool is_method(const std::string& name) {
  const auto& names = method_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

DirectionResult run_method(const std::string& method, const CausePair& pair, const MethodOptions& options,
                           std::uint64_t seed, int threads) {
  if (method == "cgnn") {
    return timed(method, [&] {
      const CgnnResult fit = cgnn(pair, options.cgnn, seed, threads);
      DirectionResult result;
      result.score = fit.score;
      result.criterion_xy = fit.mmd_xy;
      result.criterion_yx = fit.mmd_yx;
      result.run_scores = fit.run_scores;
      result.run_score_sd = fit.run_score_sd;
      result.samples_used = fit.samples_used;
      result.hidden = fit.hidden;
      return result;
    });
  }
  if (method == "meta-cgnn") {
    if (options.meta_models.empty() || std::find(options.meta_models.begin(), options.meta_models.end(), nullptr) != options.meta_models.end())
      throw InputError("meta-cgnn needs a trained meta-model (MetaCgnnModel::load(folder) or meta_train(); on the command line "
                       "--model DIR, or the default one in data/causal_meta_cgnn)");
    return timed(method, [&] {
      DirectionResult result;
      for (const auto& model : options.meta_models) {
        const MetaCgnnResult fit = meta_cgnn(*model, pair, options.meta_cgnn, seed, threads);
        result.score += fit.score;
        result.criterion_xy += fit.mmd_xy;
        result.criterion_yx += fit.mmd_yx;
        result.samples_used = fit.samples_used;  // the same subsample for every model (it depends on the seed only)
      }
      const auto models = static_cast<double>(options.meta_models.size());
      result.score /= models;
      result.criterion_xy /= models;
      result.criterion_yx /= models;
      return result;
    });
  }
  if (method == "anm") return timed(method, [&] { return anm_hsic(pair, options.kernel_max_samples, seed); });
  if (method == "fit") return timed(method, [&] { return bivariate_fit(pair, options.kernel_max_samples, seed); });
  if (method == "reci") return timed(method, [&] { return reci(pair); });
  if (method.rfind("igci", 0) == 0 && is_method(method)) {
    const bool entropy = method.find("entropy") != std::string::npos;
    const bool gauss = method.find("gauss") != std::string::npos;
    return timed(method, [&] {
      return igci(pair, entropy ? IgciEstimator::entropy : IgciEstimator::slope,
                  gauss ? IgciReference::gaussian : IgciReference::uniform);
    });
  }
  std::string known;
  for (const auto& name : method_names()) known += (known.empty() ? "" : ", ") + name;
  throw InputError("unknown causal method \"" + method + "\" (known: " + known + ")");
}

}  // namespace sbi::causal
