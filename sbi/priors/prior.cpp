#include "sbi/priors/prior.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/io/json_reader.hpp"

#include <Eigen/Cholesky>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <set>

namespace sbi {

namespace {
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
const double kHalfLog2Pi = 0.5 * std::log(2.0 * std::numbers::pi);

// log σ(u) and log(1 − σ(u)) without overflow.
double log_sigmoid(double u) { return u >= 0 ? -std::log1p(std::exp(-u)) : u - std::log1p(std::exp(u)); }

Names default_names(const Names& given, std::size_t dim) {
  if (!given.empty()) {
    if (given.size() != dim)
      throw InputError("prior: " + std::to_string(given.size()) + " names for " +
                       std::to_string(dim) + " parameters");
    check_csv_names(given, "prior: names");
    return given;
  }
  Names names;
  for (std::size_t i = 0; i < dim; ++i) names.push_back("theta_" + std::to_string(i + 1));
  return names;
}

std::vector<double> to_std(const Vector& v) { return {v.data(), v.data() + v.size()}; }
}  // namespace

// ---------------------------------------------------------------------------------------------
double ElementTransform::to_constrained(double u) const {
  switch (kind) {
    case Kind::identity: return u;
    case Kind::exp: return std::exp(u);
    case Kind::interval: {
      const double s = u >= 0 ? 1.0 / (1.0 + std::exp(-u)) : std::exp(u) / (1.0 + std::exp(u));
      // Clamp so that rounding never puts θ on (or past) the open boundary.
      const double theta = low + (high - low) * s;
      return std::min(std::max(theta, std::nextafter(low, high)), std::nextafter(high, low));
    }
  }
  return u;
}

double ElementTransform::to_unconstrained(double theta) const {
  switch (kind) {
    case Kind::identity: return theta;
    case Kind::exp: return std::log(theta);
    case Kind::interval: {
      const double p = (theta - low) / (high - low);
      return std::log(p) - std::log1p(-p);
    }
  }
  return theta;
}

double ElementTransform::log_abs_det_jacobian(double u) const {
  switch (kind) {
    case Kind::identity: return 0.0;
    case Kind::exp: return u;
    case Kind::interval: return std::log(high - low) + log_sigmoid(u) + log_sigmoid(-u);
  }
  return 0.0;
}

// ---------------------------------------------------------------------------------------------
RowMatrix Prior::sample_batch(Rng& rng, Eigen::Index n) const {
  RowMatrix out(n, static_cast<Eigen::Index>(dim()));
  for (Eigen::Index r = 0; r < n; ++r) sample(rng, row_span(out, r));
  return out;
}

Vector Prior::mean_by_sampling(Rng& rng, Eigen::Index n) const {
  return sample_batch(rng, n).colwise().mean().transpose();
}

void Prior::to_unconstrained(ConstRow theta, MutableRow u) const {
  const auto t = transforms();
  for (std::size_t i = 0; i < t.size(); ++i) u[i] = t[i].to_unconstrained(theta[i]);
}

void Prior::to_constrained(ConstRow u, MutableRow theta) const {
  const auto t = transforms();
  for (std::size_t i = 0; i < t.size(); ++i) theta[i] = t[i].to_constrained(u[i]);
}

double Prior::log_abs_det_jacobian(ConstRow u) const {
  const auto t = transforms();
  double total = 0.0;
  for (std::size_t i = 0; i < t.size(); ++i) total += t[i].log_abs_det_jacobian(u[i]);
  return total;
}

RowMatrix Prior::to_unconstrained(const RowMatrix& theta) const {
  const auto t = transforms();
  RowMatrix u(theta.rows(), theta.cols());
  for (Eigen::Index r = 0; r < theta.rows(); ++r)
    for (Eigen::Index c = 0; c < theta.cols(); ++c) u(r, c) = t[static_cast<std::size_t>(c)].to_unconstrained(theta(r, c));
  return u;
}

RowMatrix Prior::to_constrained(const RowMatrix& u) const {
  const auto t = transforms();
  RowMatrix theta(u.rows(), u.cols());
  for (Eigen::Index r = 0; r < u.rows(); ++r)
    for (Eigen::Index c = 0; c < u.cols(); ++c) theta(r, c) = t[static_cast<std::size_t>(c)].to_constrained(u(r, c));
  return theta;
}

// ---------------------------------------------------------------------------------------------
UniformPrior::UniformPrior(Vector low, Vector high, Names names)
    : Prior(default_names(names, static_cast<std::size_t>(low.size()))), low_(std::move(low)), high_(std::move(high)) {
  if (low_.size() != high_.size()) throw InputError("uniform prior: low and high differ in length");
  for (Eigen::Index i = 0; i < low_.size(); ++i) {
    if (!(std::isfinite(low_[i]) && std::isfinite(high_[i]) && low_[i] < high_[i]))
      throw InputError("uniform prior: need finite low < high for " + names_[static_cast<std::size_t>(i)]);
    log_volume_ += std::log(high_[i] - low_[i]);
  }
}

void UniformPrior::sample(Rng& rng, MutableRow theta) const {
  for (Eigen::Index i = 0; i < low_.size(); ++i) theta[static_cast<std::size_t>(i)] = rng.uniform(low_[i], high_[i]);
}

bool UniformPrior::in_support(ConstRow theta) const {
  for (Eigen::Index i = 0; i < low_.size(); ++i) {
    const double t = theta[static_cast<std::size_t>(i)];
    if (!(t >= low_[i] && t <= high_[i])) return false;
  }
  return true;
}

double UniformPrior::log_prob(ConstRow theta) const { return in_support(theta) ? -log_volume_ : kNegInf; }

std::vector<ElementTransform> UniformPrior::transforms() const {
  std::vector<ElementTransform> t;
  for (Eigen::Index i = 0; i < low_.size(); ++i)
    t.push_back({ElementTransform::Kind::interval, low_[i], high_[i]});
  return t;
}

nlohmann::json UniformPrior::to_json() const {
  auto list = nlohmann::json::array();
  for (Eigen::Index i = 0; i < low_.size(); ++i)
    list.push_back({{"name", names_[static_cast<std::size_t>(i)]}, {"dist", "uniform"}, {"low", low_[i]}, {"high", high_[i]}});
  return list;
}

// ---------------------------------------------------------------------------------------------
NormalPrior::NormalPrior(Vector mean, Matrix cov, Names names)
    : Prior(default_names(names, static_cast<std::size_t>(mean.size()))), mean_(std::move(mean)), cov_(std::move(cov)) {
  const auto d = mean_.size();
  if (cov_.rows() != d || cov_.cols() != d) throw InputError("normal prior: covariance must be " + std::to_string(d) + "×" + std::to_string(d));
  if (!cov_.isApprox(cov_.transpose(), 1e-12)) throw InputError("normal prior: covariance is not symmetric");
  diagonal_ = cov_.isDiagonal(0.0);
  Eigen::LLT<Matrix> llt(cov_);
  if (llt.info() != Eigen::Success) throw InputError("normal prior: covariance is not positive definite");
  cholesky_lower_ = llt.matrixL();
  double log_det = 0.0;
  for (Eigen::Index i = 0; i < d; ++i) log_det += 2.0 * std::log(cholesky_lower_(i, i));
  log_normaliser_ = -static_cast<double>(d) * kHalfLog2Pi - 0.5 * log_det;
}

NormalPrior NormalPrior::diagonal(Vector mean, Vector sd, Names names) {
  if (mean.size() != sd.size()) throw InputError("normal prior: mean and sd differ in length");
  for (Eigen::Index i = 0; i < sd.size(); ++i)
    if (!(sd[i] > 0 && std::isfinite(sd[i]))) throw InputError("normal prior: sd must be positive");
  Matrix cov = sd.array().square().matrix().asDiagonal();
  return NormalPrior(std::move(mean), std::move(cov), std::move(names));
}

void NormalPrior::sample(Rng& rng, MutableRow theta) const {
  const auto d = mean_.size();
  if (diagonal_) {
    for (Eigen::Index i = 0; i < d; ++i) theta[static_cast<std::size_t>(i)] = mean_[i] + cholesky_lower_(i, i) * rng.normal();
    return;
  }
  // θ = μ + L z, computed in place row by row of L (lower triangular) without allocating.
  double z[64];
  std::vector<double> z_heap;
  double* zp = z;
  if (d > 64) { z_heap.resize(static_cast<std::size_t>(d)); zp = z_heap.data(); }
  for (Eigen::Index i = 0; i < d; ++i) zp[i] = rng.normal();
  for (Eigen::Index i = 0; i < d; ++i) {
    double acc = mean_[i];
    for (Eigen::Index j = 0; j <= i; ++j) acc += cholesky_lower_(i, j) * zp[j];
    theta[static_cast<std::size_t>(i)] = acc;
  }
}

double NormalPrior::log_prob(ConstRow theta) const {
  const auto d = mean_.size();
  Eigen::Map<const Vector> t(theta.data(), d);
  if (diagonal_) {
    double q = 0.0;
    for (Eigen::Index i = 0; i < d; ++i) {
      const double z = (t[i] - mean_[i]) / cholesky_lower_(i, i);
      q += z * z;
    }
    return log_normaliser_ - 0.5 * q;
  }
  const Vector z = cholesky_lower_.triangularView<Eigen::Lower>().solve(t - mean_);
  return log_normaliser_ - 0.5 * z.squaredNorm();
}

bool NormalPrior::in_support(ConstRow theta) const {
  for (double t : theta) if (!std::isfinite(t)) return false;
  return true;
}

std::vector<ElementTransform> NormalPrior::transforms() const {
  return std::vector<ElementTransform>(static_cast<std::size_t>(mean_.size()));
}

nlohmann::json NormalPrior::to_json() const {
  auto list = nlohmann::json::array();
  if (diagonal_) {
    for (Eigen::Index i = 0; i < mean_.size(); ++i)
      list.push_back({{"name", names_[static_cast<std::size_t>(i)]}, {"dist", "normal"}, {"mu", mean_[i]}, {"sigma", cholesky_lower_(i, i)}});
    return list;
  }
  auto cov = nlohmann::json::array();
  for (Eigen::Index i = 0; i < cov_.rows(); ++i) cov.push_back(to_std(cov_.row(i).transpose()));
  list.push_back({{"dist", "mvnormal"}, {"names", names_}, {"mean", to_std(mean_)}, {"cov", cov}});
  return list;
}

// ---------------------------------------------------------------------------------------------
LogNormalPrior::LogNormalPrior(Vector mu, Vector sigma, Names names)
    : Prior(default_names(names, static_cast<std::size_t>(mu.size()))), mu_(std::move(mu)), sigma_(std::move(sigma)) {
  if (mu_.size() != sigma_.size()) throw InputError("lognormal prior: mu and sigma differ in length");
  for (Eigen::Index i = 0; i < sigma_.size(); ++i)
    if (!(sigma_[i] > 0 && std::isfinite(sigma_[i]) && std::isfinite(mu_[i])))
      throw InputError("lognormal prior: need finite mu and positive sigma for " + names_[static_cast<std::size_t>(i)]);
}

void LogNormalPrior::sample(Rng& rng, MutableRow theta) const {
  for (Eigen::Index i = 0; i < mu_.size(); ++i) theta[static_cast<std::size_t>(i)] = std::exp(mu_[i] + sigma_[i] * rng.normal());
}

bool LogNormalPrior::in_support(ConstRow theta) const {
  for (double t : theta) if (!(t > 0 && std::isfinite(t))) return false;
  return true;
}

double LogNormalPrior::log_prob(ConstRow theta) const {
  if (!in_support(theta)) return kNegInf;
  double total = 0.0;
  for (Eigen::Index i = 0; i < mu_.size(); ++i) {
    const double log_t = std::log(theta[static_cast<std::size_t>(i)]);
    const double z = (log_t - mu_[i]) / sigma_[i];
    total += -kHalfLog2Pi - std::log(sigma_[i]) - log_t - 0.5 * z * z;
  }
  return total;
}

std::vector<ElementTransform> LogNormalPrior::transforms() const {
  return std::vector<ElementTransform>(static_cast<std::size_t>(mu_.size()), ElementTransform{ElementTransform::Kind::exp});
}

nlohmann::json LogNormalPrior::to_json() const {
  auto list = nlohmann::json::array();
  for (Eigen::Index i = 0; i < mu_.size(); ++i)
    list.push_back({{"name", names_[static_cast<std::size_t>(i)]}, {"dist", "lognormal"}, {"mu", mu_[i]}, {"sigma", sigma_[i]}});
  return list;
}

// ---------------------------------------------------------------------------------------------
namespace {
Names concatenated_names(const std::vector<PriorPtr>& blocks) {
  Names names;
  for (const auto& b : blocks) {
    if (!b) throw InputError("product prior: empty block");
    names.insert(names.end(), b->names().begin(), b->names().end());
  }
  return names;
}
}  // namespace

ProductPrior::ProductPrior(std::vector<PriorPtr> blocks) : Prior(concatenated_names(blocks)), blocks_(std::move(blocks)) {
  for (const auto& b : blocks_) dim_ += b->dim();
}

void ProductPrior::sample(Rng& rng, MutableRow theta) const {
  std::size_t offset = 0;
  for (const auto& b : blocks_) {
    b->sample(rng, theta.subspan(offset, b->dim()));
    offset += b->dim();
  }
}

double ProductPrior::log_prob(ConstRow theta) const {
  double total = 0.0;
  std::size_t offset = 0;
  for (const auto& b : blocks_) {
    total += b->log_prob(theta.subspan(offset, b->dim()));
    offset += b->dim();
  }
  return total;
}

bool ProductPrior::in_support(ConstRow theta) const {
  std::size_t offset = 0;
  for (const auto& b : blocks_) {
    if (!b->in_support(theta.subspan(offset, b->dim()))) return false;
    offset += b->dim();
  }
  return true;
}

std::vector<ElementTransform> ProductPrior::transforms() const {
  std::vector<ElementTransform> all;
  for (const auto& b : blocks_) {
    auto t = b->transforms();
    all.insert(all.end(), t.begin(), t.end());
  }
  return all;
}

nlohmann::json ProductPrior::to_json() const {
  auto list = nlohmann::json::array();
  for (const auto& b : blocks_)
    for (const auto& entry : b->to_json()) list.push_back(entry);
  return list;
}

// ---------------------------------------------------------------------------------------------
PriorPtr prior_from_json(const nlohmann::json& spec, const std::string& path) {
  if (!spec.is_array() || spec.empty())
    throw InputError(path + ": expected a non-empty list of parameters, got " + json_type_description(spec));
  std::vector<PriorPtr> blocks;
  std::set<std::string> seen;
  auto check_name = [&](const std::string& name, const std::string& where) {
    if (name.empty()) throw InputError(where + ": expected a non-empty name");
    // Names become CSV column headers (samples.csv, tables): they must read back as themselves.
    if (const auto problem = csv_name_problem(name); !problem.empty()) throw InputError(where + ": " + problem);
    if (!seen.insert(name).second) throw InputError(where + ": duplicate parameter name \"" + name + "\"");
  };
  for (std::size_t i = 0; i < spec.size(); ++i) {
    JsonObjectReader entry(spec[i], path + "[" + std::to_string(i) + "]");
    const std::string dist = entry.required_string("dist", {"uniform", "normal", "lognormal", "mvnormal"});
    if (dist == "mvnormal") {
      const Names names = entry.required_string_list("names");
      for (std::size_t k = 0; k < names.size(); ++k) check_name(names[k], entry.path() + ".names[" + std::to_string(k) + "]");
      const std::vector<double> mean = entry.required_number_list("mean", names.size());
      const std::vector<std::vector<double>> cov = entry.required_number_matrix("cov", names.size(), names.size());
      entry.reject_unknown_keys();
      Matrix c(static_cast<Eigen::Index>(names.size()), static_cast<Eigen::Index>(names.size()));
      for (std::size_t r = 0; r < names.size(); ++r)
        for (std::size_t k = 0; k < names.size(); ++k) c(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(k)) = cov[r][k];
      try {
        blocks.push_back(std::make_shared<NormalPrior>(Eigen::Map<const Vector>(mean.data(), static_cast<Eigen::Index>(mean.size())), c, names));
      } catch (const InputError& e) {
        throw InputError(entry.path() + ".cov: " + std::string(e.what()).substr(std::string("normal prior: ").size()));
      }
      continue;
    }
    const std::string name = entry.required_string("name");
    check_name(name, entry.path() + ".name");
    Vector one(1), two(1);
    if (dist == "uniform") {
      one[0] = entry.required_number("low");
      two[0] = entry.required_number("high");
      if (!(one[0] < two[0]))
        throw InputError(entry.path() + ".high: expected a number greater than low (" + format_number(one[0]) + "), got " + format_number(two[0]));
      entry.reject_unknown_keys();
      blocks.push_back(std::make_shared<UniformPrior>(one, two, Names{name}));
    } else if (dist == "normal") {
      one[0] = entry.required_number("mu");
      two[0] = entry.required_positive_number("sigma");
      entry.reject_unknown_keys();
      blocks.push_back(std::make_shared<NormalPrior>(NormalPrior::diagonal(one, two, Names{name})));
    } else {  // lognormal
      one[0] = entry.required_number("mu");
      two[0] = entry.required_positive_number("sigma");
      entry.reject_unknown_keys();
      blocks.push_back(std::make_shared<LogNormalPrior>(one, two, Names{name}));
    }
  }
  if (blocks.size() == 1) return blocks.front();
  return std::make_shared<ProductPrior>(std::move(blocks));
}

std::optional<std::string> portable_prior_json(const Prior& prior) {
  try {
    const nlohmann::json j = prior.to_json();
    const PriorPtr copy = prior_from_json(j);
    if (copy->to_json() != j || copy->names() != prior.names() || copy->dim() != prior.dim()) return std::nullopt;
    return j.dump();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string prior_order_misfit(const Prior& prior, const Names& wanted, const std::string& owner) {
  if (prior.dim() != wanted.size())
    return "has " + std::to_string(prior.dim()) + " parameters but " + owner + " has " + std::to_string(wanted.size());
  const Names& given = prior.names();
  for (std::size_t i = 0; i < given.size(); ++i) {
    const auto found = std::find(wanted.begin(), wanted.end(), given[i]);
    if (found == wanted.end() || found == wanted.begin() + static_cast<std::ptrdiff_t>(i)) continue;
    return "names parameter " + std::to_string(i + 1) + " \"" + given[i] + "\", which " + owner + " has as parameter " +
           std::to_string(found - wanted.begin() + 1) + ": list the parameters in the order of " + owner + " (" + comma_separated(wanted) + ")";
  }
  return {};
}

}  // namespace sbi
