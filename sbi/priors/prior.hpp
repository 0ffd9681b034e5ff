#pragma once
// Priors over simulator parameters θ.
//
// A prior can: draw θ, evaluate log π(θ) (−∞ outside the support), test support membership, and map
// θ to and from an unconstrained space R^d by an elementwise bijection (identity for real
// parameters, log for positive ones, logit for intervals). Generators and MCMC work in the
// unconstrained space, so their output always lands inside the support.
//
// Priors are immutable once built and safe to share between threads (hold them by
// std::shared_ptr<const Prior>).
#include "sbi/core/types.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sbi {

// One coordinate of the bijection u ∈ R ↦ θ in the support.
struct ElementTransform {
  enum class Kind { identity, exp, interval };  // θ = u, θ = exp(u), θ = low + (high − low)·σ(u)
  Kind kind = Kind::identity;
  double low = 0.0;
  double high = 1.0;

  double to_constrained(double u) const;
  double to_unconstrained(double theta) const;
  // log |dθ/du| at u.
  double log_abs_det_jacobian(double u) const;
};

class Prior {
 public:
  virtual ~Prior() = default;

  virtual std::size_t dim() const = 0;
  // Fills `theta` (length dim()) with one draw.
  virtual void sample(Rng& rng, MutableRow theta) const = 0;
  // log π(θ); −∞ outside the support.
  virtual double log_prob(ConstRow theta) const = 0;
  virtual bool in_support(ConstRow theta) const = 0;
  // The elementwise bijection to unconstrained space, one entry per coordinate.
  virtual std::vector<ElementTransform> transforms() const = 0;
  // A JSON description in the spec's format (a list with one entry per parameter or block).
  virtual nlohmann::json to_json() const = 0;
  // Parameter names, one per coordinate.
  const Names& names() const { return names_; }

  // Conveniences built on the above.
  RowMatrix sample_batch(Rng& rng, Eigen::Index n) const;
  Vector mean_by_sampling(Rng& rng, Eigen::Index n) const;
  void to_unconstrained(ConstRow theta, MutableRow u) const;
  void to_constrained(ConstRow u, MutableRow theta) const;
  // Σ_i log |dθ_i/du_i| at u.
  double log_abs_det_jacobian(ConstRow u) const;
  RowMatrix to_unconstrained(const RowMatrix& theta) const;
  RowMatrix to_constrained(const RowMatrix& u) const;

 protected:
  explicit Prior(Names names) : names_(std::move(names)) {}
  Names names_;
};

using PriorPtr = std::shared_ptr<const Prior>;

// Independent U(low_i, high_i) per coordinate.
class UniformPrior final : public Prior {
 public:
  UniformPrior(Vector low, Vector high, Names names = {});
  std::size_t dim() const override { return static_cast<std::size_t>(low_.size()); }
  void sample(Rng& rng, MutableRow theta) const override;
  double log_prob(ConstRow theta) const override;
  bool in_support(ConstRow theta) const override;
  std::vector<ElementTransform> transforms() const override;
  nlohmann::json to_json() const override;
  const Vector& low() const { return low_; }
  const Vector& high() const { return high_; }

 private:
  Vector low_, high_;
  double log_volume_ = 0.0;
};

// Multivariate normal N(mean, cov); a diagonal covariance is detected and handled cheaply.
class NormalPrior final : public Prior {
 public:
  NormalPrior(Vector mean, Matrix cov, Names names = {});
  // Diagonal form from per-coordinate standard deviations.
  static NormalPrior diagonal(Vector mean, Vector sd, Names names = {});
  std::size_t dim() const override { return static_cast<std::size_t>(mean_.size()); }
  void sample(Rng& rng, MutableRow theta) const override;
  double log_prob(ConstRow theta) const override;
  bool in_support(ConstRow theta) const override;
  std::vector<ElementTransform> transforms() const override;
  nlohmann::json to_json() const override;
  const Vector& mean() const { return mean_; }
  const Matrix& cov() const { return cov_; }
  bool is_diagonal() const { return diagonal_; }

 private:
  Vector mean_;
  Matrix cov_;
  Matrix cholesky_lower_;  // cov = L Lᵀ
  bool diagonal_ = false;
  double log_normaliser_ = 0.0;
};

// Independent log-normals: log θ_i ~ N(mu_i, sigma_i²).
class LogNormalPrior final : public Prior {
 public:
  LogNormalPrior(Vector mu, Vector sigma, Names names = {});
  std::size_t dim() const override { return static_cast<std::size_t>(mu_.size()); }
  void sample(Rng& rng, MutableRow theta) const override;
  double log_prob(ConstRow theta) const override;
  bool in_support(ConstRow theta) const override;
  std::vector<ElementTransform> transforms() const override;
  nlohmann::json to_json() const override;
  const Vector& mu() const { return mu_; }
  const Vector& sigma() const { return sigma_; }

 private:
  Vector mu_, sigma_;
};

// Independent blocks stacked in order: θ = (θ_block1, θ_block2, ...). Each block is any prior,
// typically one-dimensional (one entry per parameter of a spec).
class ProductPrior final : public Prior {
 public:
  explicit ProductPrior(std::vector<PriorPtr> blocks);
  std::size_t dim() const override { return dim_; }
  void sample(Rng& rng, MutableRow theta) const override;
  double log_prob(ConstRow theta) const override;
  bool in_support(ConstRow theta) const override;
  std::vector<ElementTransform> transforms() const override;
  nlohmann::json to_json() const override;
  const std::vector<PriorPtr>& blocks() const { return blocks_; }

 private:
  std::vector<PriorPtr> blocks_;
  std::size_t dim_ = 0;
};

// Builds a prior from its spec form: a JSON list with one object per parameter
// ({"name", "dist": "uniform"|"normal"|"lognormal", ...}) or per multivariate block
// ({"dist": "mvnormal", "names": [...], "mean": [...], "cov": [[...]]}). Errors name the JSON path,
// rooted at `path` (e.g. "prior[2].sigma: expected a positive number, got -1").
PriorPtr prior_from_json(const nlohmann::json& spec, const std::string& path = "prior");
// The prior's JSON (dumped) when prior_from_json rebuilds the same prior from it — same JSON, names
// and dimension — so another process can have it; nullopt otherwise (a prior built in C++ that has
// no JSON form, or one that does not survive the trip).
std::optional<std::string> portable_prior_json(const Prior& prior);

// Whether the prior's parameters line up with those of `owner` (`simulator "sir"`, `the table
// (sims.csv)`), named `wanted`: as many, and none named by the prior at another position than the
// owner's (a prior listing them in another order would give each value to the wrong parameter
// without a word). Names the owner does not use are labels and pass. Empty when they line up; else
// what is wrong with the prior as its subject ("has 3 parameters but simulator "sir" has 2").
std::string prior_order_misfit(const Prior& prior, const Names& wanted, const std::string& owner);

}  // namespace sbi
