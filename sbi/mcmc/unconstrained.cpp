#include "sbi/mcmc/unconstrained.hpp"

#include "sbi/core/error.hpp"

#include <Eigen/Cholesky>

#include <cmath>
#include <functional>
#include <limits>

namespace sbi {

namespace {

using BlockGradient = std::function<void(ConstRow theta, MutableRow gradient)>;

// dθ/du and d/du log|dθ/du| of one coordinate's bijection.
double derivative(const ElementTransform& t, double u) {
  switch (t.kind) {
    case ElementTransform::Kind::identity: return 1.0;
    case ElementTransform::Kind::exp: return std::exp(u);
    case ElementTransform::Kind::interval: {
      const double s = u >= 0 ? 1.0 / (1.0 + std::exp(-u)) : std::exp(u) / (1.0 + std::exp(u));
      return (t.high - t.low) * s * (1.0 - s);
    }
  }
  return 1.0;
}

double log_jacobian_derivative(const ElementTransform& t, double u) {
  switch (t.kind) {
    case ElementTransform::Kind::identity: return 0.0;
    case ElementTransform::Kind::exp: return 1.0;  // log|dθ/du| = u
    case ElementTransform::Kind::interval: {       // log(h − l) + log σ(u) + log σ(−u)
      const double s = u >= 0 ? 1.0 / (1.0 + std::exp(-u)) : std::exp(u) / (1.0 + std::exp(u));
      return 1.0 - 2.0 * s;
    }
  }
  return 0.0;
}

// ∇θ log π(θ) of one prior: exact for the library's kinds, central differences otherwise.
BlockGradient prior_gradient(const PriorPtr& prior) {
  if (dynamic_cast<const UniformPrior*>(prior.get()))
    return [](ConstRow, MutableRow g) { std::fill(g.begin(), g.end(), 0.0); };
  if (const auto* normal = dynamic_cast<const NormalPrior*>(prior.get())) {
    const Vector mean = normal->mean();
    const Matrix precision = normal->cov().llt().solve(Matrix::Identity(mean.size(), mean.size()));
    return [mean, precision](ConstRow theta, MutableRow g) {
      const Vector diff = Eigen::Map<const Vector>(theta.data(), mean.size()) - mean;
      Eigen::Map<Vector>(g.data(), mean.size()) = -(precision * diff);
    };
  }
  if (const auto* lognormal = dynamic_cast<const LogNormalPrior*>(prior.get())) {
    const Vector mu = lognormal->mu(), sigma = lognormal->sigma();
    // log π = Σ −log θ − (log θ − μ)²/(2σ²) + const.
    return [mu, sigma](ConstRow theta, MutableRow g) {
      for (Eigen::Index i = 0; i < mu.size(); ++i) {
        const auto k = static_cast<std::size_t>(i);
        g[k] = -1.0 / theta[k] - (std::log(theta[k]) - mu[i]) / (sigma[i] * sigma[i] * theta[k]);
      }
    };
  }
  if (const auto* product = dynamic_cast<const ProductPrior*>(prior.get())) {
    std::vector<std::pair<std::size_t, BlockGradient>> blocks;
    std::size_t offset = 0;
    for (const auto& block : product->blocks()) {
      blocks.emplace_back(offset, prior_gradient(block));
      offset += block->dim();
    }
    std::vector<std::size_t> sizes;
    for (const auto& block : product->blocks()) sizes.push_back(block->dim());
    return [blocks, sizes](ConstRow theta, MutableRow g) {
      for (std::size_t b = 0; b < blocks.size(); ++b)
        blocks[b].second(theta.subspan(blocks[b].first, sizes[b]), g.subspan(blocks[b].first, sizes[b]));
    };
  }
  // Another Prior class: central differences with a step scaled to θ.
  return [prior](ConstRow theta, MutableRow g) {
    std::vector<double> probe(theta.begin(), theta.end());
    for (std::size_t i = 0; i < probe.size(); ++i) {
      const double h = 1e-6 * std::max(1.0, std::abs(theta[i]));
      probe[i] = theta[i] + h;
      const double up = prior->log_prob(probe);
      probe[i] = theta[i] - h;
      const double down = prior->log_prob(probe);
      probe[i] = theta[i];
      g[i] = (up - down) / (2.0 * h);
    }
  };
}

}  // namespace

struct UnconstrainedPosterior::Impl {
  PriorPtr prior;
  std::vector<ElementTransform> transforms;
  BatchLogDensityFn log_likelihood;
  BatchLogDensityGradientFn log_likelihood_gradient;
  BlockGradient prior_gradient;
  bool thread_safe = true;

  void to_constrained(const RowMatrix& u, RowMatrix& theta) const {
    theta.resize(u.rows(), u.cols());
    for (Eigen::Index r = 0; r < u.rows(); ++r)
      for (Eigen::Index c = 0; c < u.cols(); ++c) theta(r, c) = transforms[static_cast<std::size_t>(c)].to_constrained(u(r, c));
  }

  // Adds log π(θ) + log|dθ/du| to each row's log-likelihood.
  void add_prior_and_jacobian(const RowMatrix& u, const RowMatrix& theta, Eigen::Ref<Vector> out) const {
    for (Eigen::Index r = 0; r < u.rows(); ++r) {
      double log_jacobian = 0;
      for (Eigen::Index c = 0; c < u.cols(); ++c) log_jacobian += transforms[static_cast<std::size_t>(c)].log_abs_det_jacobian(u(r, c));
      out[r] += prior->log_prob(row_span(theta, r)) + log_jacobian;
    }
  }
};

UnconstrainedPosterior::UnconstrainedPosterior(PriorPtr prior, BatchLogDensityFn log_likelihood,
                                               BatchLogDensityGradientFn log_likelihood_gradient, bool thread_safe)
    : prior_(std::move(prior)) {
  if (!prior_) throw InputError("UnconstrainedPosterior: no prior");
  if (!log_likelihood) throw InputError("UnconstrainedPosterior: no log-likelihood function");
  auto impl = std::make_shared<Impl>();
  impl->prior = prior_;
  impl->transforms = prior_->transforms();
  impl->log_likelihood = std::move(log_likelihood);
  impl->log_likelihood_gradient = std::move(log_likelihood_gradient);
  impl->prior_gradient = prior_gradient(prior_);
  impl->thread_safe = thread_safe;
  impl_ = std::move(impl);
}

void UnconstrainedPosterior::prior_log_prob_gradient(ConstRow theta, MutableRow gradient) const { impl_->prior_gradient(theta, gradient); }

McmcTarget UnconstrainedPosterior::target() const {
  McmcTarget target;
  target.dim = dim();
  target.thread_safe = impl_->thread_safe;
  std::shared_ptr<const Impl> impl = impl_;
  target.log_density = [impl](const RowMatrix& u, Eigen::Ref<Vector> out) {
    RowMatrix theta;
    impl->to_constrained(u, theta);
    impl->log_likelihood(theta, out);
    impl->add_prior_and_jacobian(u, theta, out);
  };
  if (impl_->log_likelihood_gradient) {
    target.log_density_gradient = [impl](const RowMatrix& u, Eigen::Ref<Vector> out, Eigen::Ref<RowMatrix> gradient) {
      RowMatrix theta;
      impl->to_constrained(u, theta);
      impl->log_likelihood_gradient(theta, out, gradient);  // ∇θ log L
      impl->add_prior_and_jacobian(u, theta, out);
      // ∇u = (∇θ log L + ∇θ log π) ⊙ dθ/du + ∇u log|dθ/du|.
      std::vector<double> prior_gradient(static_cast<std::size_t>(u.cols()));
      for (Eigen::Index r = 0; r < u.rows(); ++r) {
        impl->prior_gradient(row_span(theta, r), prior_gradient);
        for (Eigen::Index c = 0; c < u.cols(); ++c) {
          const auto& t = impl->transforms[static_cast<std::size_t>(c)];
          gradient(r, c) = (gradient(r, c) + prior_gradient[static_cast<std::size_t>(c)]) * derivative(t, u(r, c)) +
                           log_jacobian_derivative(t, u(r, c));
        }
      }
    };
  }
  return target;
}

McmcInitialDistribution UnconstrainedPosterior::prior_initial() const {
  std::shared_ptr<const Impl> impl = impl_;
  McmcInitialDistribution initial;
  initial.sample = [impl](Rng& rng, MutableRow u) {
    std::vector<double> theta(u.size());
    impl->prior->sample(rng, theta);
    for (std::size_t i = 0; i < u.size(); ++i) u[i] = impl->transforms[i].to_unconstrained(theta[i]);
  };
  // The prior's density in u: π(θ(u)) |dθ/du|.
  initial.log_density = [impl](ConstRow u) {
    std::vector<double> theta(u.size());
    double log_jacobian = 0;
    for (std::size_t i = 0; i < u.size(); ++i) {
      theta[i] = impl->transforms[i].to_constrained(u[i]);
      log_jacobian += impl->transforms[i].log_abs_det_jacobian(u[i]);
    }
    return impl->prior->log_prob(theta) + log_jacobian;
  };
  return initial;
}

McmcResult UnconstrainedPosterior::sample(Eigen::Index n, std::uint64_t seed, const McmcOptions& options) const {
  McmcResult result = run_mcmc(target(), prior_initial(), n, seed, options);
  result.samples = to_constrained(result.samples);
  result.draws = to_constrained(result.draws);
  result.diagnostics = compute_mcmc_diagnostics(result.draws, result.chains, prior_->names());
  return result;
}

}  // namespace sbi
