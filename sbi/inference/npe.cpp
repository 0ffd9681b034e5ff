#include "sbi/inference/npe.hpp"


#include "sbi/core/error.hpp"
#include "sbi/inference/method.hpp"
#include "sbi/inference/standardization.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/parallel/parallel_for.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sbi {
namespace {

constexpr Eigen::Index kSampleBlock = 1024;
constexpr std::size_t kMaxAlternatives = 8;

}  // namespace

flows::DensityEstimatorOptions NpeOptions::default_density_estimator() {
  flows::DensityEstimatorOptions o;
  o.type = flows::DensityEstimatorOptions::Type::nsf;
  o.form = flows::DensityEstimatorOptions::Form::coupling;
  o.transforms = 5;
  o.hidden = {64, 64};
  o.bins = 8;
  o.tail_bound = 3.0;
  // The residual conditioner beat the MLP one on five of the six sbibm tasks at 10^4 simulations
  // (observations 1–5 each) and tied on Lotka–Volterra, at 1.6–3.9× the training time:
  // bench/npe/RESULTS.md §3b and §5.
  o.conditioner = flows::DensityEstimatorOptions::Conditioner::residual;
  return o;
}

std::vector<flows::DensityEstimatorOptions> NpeOptions::default_alternatives() {
  flows::DensityEstimatorOptions relu;
  relu.type = flows::DensityEstimatorOptions::Type::maf;
  relu.transforms = 5;
  relu.hidden = {64, 64};
  // With tanh the MAF had the lower validation loss on all six sbibm tasks at 10^3 and 10^4, with
  // ReLU on two_moons, slcp and SIR at 10^5: both are tried (bench/npe/RESULTS.md §6b). They usually
  // train one after the other on the core the spline flow leaves.
  flows::DensityEstimatorOptions tanh = relu;
  tanh.activation = nn::Activation::tanh;
  return {relu, tanh};
}

std::vector<flows::DensityEstimatorOptions> NpeOptions::candidates() const {
  // An alternative equal to an earlier candidate (a MAF named as the estimator while the default
  // alternatives stay) would train the same model twice for nothing: it is left out.
  std::vector<flows::DensityEstimatorOptions> all{density_estimator};
  for (const auto& alternative : alternatives) {
    const nlohmann::json key = alternative.to_json();
    if (std::none_of(all.begin(), all.end(), [&](const auto& earlier) { return earlier.to_json() == key; })) all.push_back(alternative);
  }
  return all;
}

flows::DensityFitOptions NpeOptions::fit_options() const {
  flows::DensityFitOptions f;
  f.batch_size = batch_size;
  f.learning_rate = learning_rate;
  f.validation_fraction = validation_fraction;
  f.max_epochs = max_epochs;
  f.patience = patience;
  f.clip_grad_norm = clip_grad_norm;
  f.learning_rate_decay = learning_rate_decay;
  f.decays = decays;
  f.race_window = race_window;
  f.race_margin = race_margin;
  f.seed = seed;
  return f;
}

bool NpeOptions::is_valid(std::string* why) const {
  std::string inner;
  if (!density_estimator.is_valid(&inner)) {
    if (why) *why = "density_estimator." + inner;
    return false;
  }
  if (alternatives.size() > kMaxAlternatives) {
    if (why) *why = "alternatives: at most " + std::to_string(kMaxAlternatives) + " estimators";
    return false;
  }
  for (std::size_t i = 0; i < alternatives.size(); ++i)
    if (!alternatives[i].is_valid(&inner)) {
      if (why) *why = "alternatives[" + std::to_string(i) + "]." + inner;
      return false;
    }
  return fit_options().is_valid(why);
}

nlohmann::json NpeOptions::to_json() const {
  nlohmann::json tried = nlohmann::json::array();
  for (const auto& a : alternatives) tried.push_back(a.to_json());
  return {{"density_estimator", density_estimator.to_json()},
          {"alternatives", std::move(tried)},
          {"batch_size", batch_size},
          {"learning_rate", learning_rate},
          {"validation_fraction", validation_fraction},
          {"max_epochs", max_epochs},
          {"patience", patience},
          {"clip_grad_norm", clip_grad_norm},
          {"learning_rate_decay", learning_rate_decay},
          {"decays", decays},
          {"race_window", race_window},
          {"race_margin", race_margin},
          {"seed", seed}};
}

NpeOptions NpeOptions::from_json(const nlohmann::json& section, const std::string& path) { return from_json(section, path, NpeOptions{}); }

NpeOptions NpeOptions::from_json(const nlohmann::json& section, const std::string& path, const NpeOptions& defaults) {
  NpeOptions o = defaults;
  JsonObjectReader r(section, path);
  for (const auto& key : run_level_inference_keys()) r.get(key);
  if (const auto* d = r.get("density_estimator"))
    o.density_estimator = flows::DensityEstimatorOptions::from_json(*d, r.child_path("density_estimator"), defaults.density_estimator);
  if (const auto* list = r.get("alternatives")) {
    const std::string list_path = r.child_path("alternatives");
    if (!list->is_array())
      throw InputError(list_path + ": expected a list of density estimator sections ([] for none), got " + list->dump());
    if (list->size() > kMaxAlternatives)
      throw InputError(list_path + ": at most " + std::to_string(kMaxAlternatives) + " estimators, got " + std::to_string(list->size()));
    o.alternatives.clear();
    // Keys left out of an alternative keep the method's own estimator's values, as for density_estimator.
    for (std::size_t i = 0; i < list->size(); ++i)
      o.alternatives.push_back(flows::DensityEstimatorOptions::from_json((*list)[i], list_path + "[" + std::to_string(i) + "]",
                                                                        o.density_estimator));
  }
  o.batch_size = r.optional_integer("batch_size", o.batch_size, 1, 1 << 20);
  o.learning_rate = r.optional_positive_number("learning_rate", o.learning_rate);
  o.validation_fraction = r.optional_number_in("validation_fraction", o.validation_fraction, 0.001, 0.499);
  o.max_epochs = static_cast<int>(r.optional_integer("max_epochs", o.max_epochs, 1, 100000000));
  o.patience = static_cast<int>(r.optional_integer("patience", o.patience, 1, 100000000));
  o.clip_grad_norm = r.optional_number_in("clip_grad_norm", o.clip_grad_norm, 0.0, 1e12);
  o.learning_rate_decay = r.optional_number_in("learning_rate_decay", o.learning_rate_decay, 1e-6, 1.0);
  o.decays = static_cast<int>(r.optional_integer("decays", o.decays, 0, 1000));
  o.race_window = static_cast<int>(r.optional_integer("race_window", o.race_window, 0, 100000000));
  o.race_margin = r.optional_number_in("race_margin", o.race_margin, 0.0, 1e6);
  o.seed = r.optional_seed("seed", o.seed);
  r.reject_unknown_keys();
  return o;
}

NpeFit::NpeFit(std::shared_ptr<const flows::ConditionalDensity> density, std::vector<ElementTransform> transforms, NpeOptions options)
    : density_(std::move(density)), transforms_(std::move(transforms)), options_(std::move(options)) {
  if (!density_) throw std::invalid_argument("NpeFit: no density estimator");
  if (static_cast<Eigen::Index>(transforms_.size()) != density_->data_dim())
    throw InputError("NPE: the prior has " + std::to_string(transforms_.size()) + " parameters, the estimator " +
                     std::to_string(density_->data_dim()));
}

RowMatrix NpeFit::sample(const Vector& observation, Eigen::Index n, std::uint64_t seed, int threads) const {
  if (observation.size() != data_dim())
    throw InputError("NPE sample: the observation has " + std::to_string(observation.size()) + " values, the posterior expects " +
                     std::to_string(data_dim()));
  if (!observation.allFinite()) throw InputError("NPE sample: the observation has a non-finite value");
  check_observation_standardizable(observation, density_->standardization().c_mean, density_->standardization().c_sd, {}, "NPE sample");
  if (n < 0) throw InputError("NPE sample: the number of draws must be ≥ 0");
  const Eigen::Index p = parameter_dim();
  RowMatrix theta(n, p);
  const auto blocks = static_cast<std::size_t>((n + kSampleBlock - 1) / kSampleBlock);
  parallel_for(blocks, threads < 1 ? hardware_threads() : threads, [&](std::size_t b, std::size_t) {
    const Eigen::Index first = static_cast<Eigen::Index>(b) * kSampleBlock;
    const Eigen::Index count = std::min(kSampleBlock, n - first);
    Rng rng = Rng::stream(seed, b);
    const RowMatrix u = density_->sample(observation, count, rng);
    for (Eigen::Index r = 0; r < count; ++r)
      for (Eigen::Index j = 0; j < p; ++j) theta(first + r, j) = transforms_[static_cast<std::size_t>(j)].to_constrained(u(r, j));
  });
  return theta;
}

Vector NpeFit::log_prob(const RowMatrix& theta, const Vector& observation) const {
  if (theta.cols() != parameter_dim())
    throw InputError("NPE log_prob: theta has " + std::to_string(theta.cols()) + " columns, the posterior has " +
                     std::to_string(parameter_dim()) + " parameters");
  if (observation.size() != data_dim())
    throw InputError("NPE log_prob: the observation has " + std::to_string(observation.size()) + " values, the posterior expects " +
                     std::to_string(data_dim()));
  const Eigen::Index n = theta.rows(), p = parameter_dim();
  Vector result = Vector::Constant(n, -std::numeric_limits<double>::infinity());
  // Rows inside the support (finite u) are evaluated together; the rest stay −∞.
  std::vector<Eigen::Index> inside;
  RowMatrix u(n, p);
  Vector log_jacobian = Vector::Zero(n);
  for (Eigen::Index r = 0; r < n; ++r) {
    bool ok = true;
    for (Eigen::Index j = 0; j < p && ok; ++j) {
      const auto& t = transforms_[static_cast<std::size_t>(j)];
      const double value = theta(r, j);
      const bool in_support = t.kind == ElementTransform::Kind::identity ? std::isfinite(value)
                              : t.kind == ElementTransform::Kind::exp     ? value > 0 && std::isfinite(value)
                                                                          : value > t.low && value < t.high;
      if (!in_support) {
        ok = false;
        break;
      }
      u(r, j) = t.to_unconstrained(value);
      ok = std::isfinite(u(r, j));
      if (ok) log_jacobian(r) += t.log_abs_det_jacobian(u(r, j));
    }
    if (ok) inside.push_back(r);
  }
  if (inside.empty()) return result;
  RowMatrix u_inside(static_cast<Eigen::Index>(inside.size()), p);
  for (std::size_t k = 0; k < inside.size(); ++k) u_inside.row(static_cast<Eigen::Index>(k)) = u.row(inside[k]);
  const RowMatrix context = observation.transpose();
  const Vector lp = density_->log_prob(u_inside, context);
  for (std::size_t k = 0; k < inside.size(); ++k) result(inside[k]) = lp(static_cast<Eigen::Index>(k)) - log_jacobian(inside[k]);
  return result;
}

NpeFit NpeFit::load(const std::filesystem::path& density_file, const Prior& prior, NpeOptions options) {
  std::shared_ptr<const flows::ConditionalDensity> density = flows::load_density(density_file);
  options.density_estimator = density->options();
  return NpeFit(std::move(density), prior.transforms(), std::move(options));
}

NpeFit train_npe(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const NpeOptions& options,
                 const TrainingCallbacks& callbacks, int threads) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("NPE options: " + why);
  const auto p = static_cast<Eigen::Index>(prior.dim());
  if (theta.cols() != p)
    throw InputError("NPE: the table has " + std::to_string(theta.cols()) + " parameter columns, the prior " + std::to_string(p));
  if (theta.rows() != y.rows())
    throw InputError("NPE: " + std::to_string(theta.rows()) + " parameter rows but " + std::to_string(y.rows()) + " data rows");
  for (Eigen::Index r = 0; r < theta.rows(); ++r)
    if (!prior.in_support(row_span(theta, r)))
      throw InputError("NPE: table row " + std::to_string(r) + " has parameters outside the prior's support");
  RowMatrix u = prior.to_unconstrained(theta);
  for (Eigen::Index r = 0; r < u.rows(); ++r)
    if (!u.row(r).allFinite())
      throw InputError("NPE: table row " + std::to_string(r) + " lies on the boundary of the prior's support");

  check_standardizable(u, prior.names(), "prior parameter", "NPE");
  check_standardizable(y, {}, "data column", "NPE");
  flows::SelectedDensity selected = flows::fit_best_density(options.candidates(), u, y, options.seed, options.fit_options(), callbacks, threads);
  NpeFit fit(std::move(selected.density), prior.transforms(), options);
  fit.training = std::move(selected.training);
  fit.trials = std::move(selected.trials);
  return fit;
}

}  // namespace sbi
