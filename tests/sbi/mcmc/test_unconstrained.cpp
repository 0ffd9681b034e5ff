// The prior-space adapter: its density and gradient in u, and posteriors on bounded supports.
#include "sbi/mcmc/unconstrained.hpp"

#include "sbi/core/error.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace sbi;

namespace {

// Central differences of a scalar function of one row.
template <class F>
Vector numeric_gradient(const F& f, Vector x) {
  Vector g(x.size());
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double h = 1e-6 * std::max(1.0, std::abs(x[i]));
    const double keep = x[i];
    x[i] = keep + h;
    const double up = f(x);
    x[i] = keep - h;
    const double down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

PriorPtr mixed_prior() {
  Matrix cov(2, 2);
  cov << 1.0, 0.3, 0.3, 0.5;
  return std::make_shared<ProductPrior>(std::vector<PriorPtr>{
      std::make_shared<UniformPrior>(Vector::Constant(1, -1.0), Vector::Constant(1, 2.0), Names{"a"}),
      std::make_shared<NormalPrior>(Vector::Constant(2, 0.5), cov, Names{"b", "c"}),
      std::make_shared<LogNormalPrior>(Vector::Constant(1, 0.2), Vector::Constant(1, 0.7), Names{"d"})});
}

// log L(θ) = −½‖θ − (0.5, 0, 1, 1.5)‖² / 0.3, with its gradient.
void quadratic_likelihood(const RowMatrix& theta, Eigen::Ref<Vector> out) {
  const Eigen::RowVector4d centre(0.5, 0.0, 1.0, 1.5);
  for (Eigen::Index r = 0; r < theta.rows(); ++r) out[r] = -0.5 * (theta.row(r) - centre).squaredNorm() / 0.3;
}
void quadratic_likelihood_gradient(const RowMatrix& theta, Eigen::Ref<Vector> out, Eigen::Ref<RowMatrix> gradient) {
  quadratic_likelihood(theta, out);
  const Eigen::RowVector4d centre(0.5, 0.0, 1.0, 1.5);
  for (Eigen::Index r = 0; r < theta.rows(); ++r) gradient.row(r) = -(theta.row(r) - centre) / 0.3;
}

}  // namespace

TEST_CASE("the prior's gradient matches central differences for every prior kind", "[mcmc][unconstrained]") {
  const PriorPtr prior = mixed_prior();
  UnconstrainedPosterior posterior(prior, quadratic_likelihood);
  const Vector theta = (Vector(4) << 0.7, -0.4, 1.1, 2.3).finished();
  Vector g(4);
  posterior.prior_log_prob_gradient(std::span<const double>(theta.data(), 4), std::span<double>(g.data(), 4));
  const Vector numeric = numeric_gradient([&](const Vector& t) { return prior->log_prob(std::span<const double>(t.data(), 4)); }, theta);
  CHECK((g - numeric).norm() < 1e-6 * std::max(1.0, numeric.norm()));
}

TEST_CASE("the unconstrained target is log prior + log likelihood + log Jacobian, with its gradient", "[mcmc][unconstrained]") {
  const PriorPtr prior = mixed_prior();
  UnconstrainedPosterior posterior(prior, quadratic_likelihood, quadratic_likelihood_gradient);
  const McmcTarget target = posterior.target();
  REQUIRE(target.dim == 4);
  REQUIRE(target.has_gradient());
  RowMatrix u(3, 4);
  u << 0.3, -0.2, 0.9, 0.1,  //
      -2.0, 1.5, -0.7, -1.2,  //
      4.0, 0.0, 0.2, 0.8;
  Vector lp(3), lp_with_gradient(3);
  RowMatrix gradient(3, 4);
  target.log_density(u, lp);
  target.log_density_gradient(u, lp_with_gradient, gradient);
  const RowMatrix theta = posterior.to_constrained(u);
  Vector log_likelihood(3);
  quadratic_likelihood(theta, log_likelihood);
  for (Eigen::Index r = 0; r < 3; ++r) {
    const double expected = prior->log_prob(row_span(theta, r)) + log_likelihood[r] + prior->log_abs_det_jacobian(row_span(u, r));
    CHECK(lp[r] == Approx(expected).epsilon(1e-12));
    CHECK(lp_with_gradient[r] == lp[r]);
    const Vector numeric = numeric_gradient(
        [&](const Vector& v) {
          RowMatrix one = v.transpose();
          Vector value(1);
          target.log_density(one, value);
          return value[0];
        },
        u.row(r).transpose());
    INFO("row " << r);
    CHECK((gradient.row(r).transpose() - numeric).norm() < 1e-5 * std::max(1.0, numeric.norm()));
  }
  // Every u maps inside the support.
  for (Eigen::Index r = 0; r < 3; ++r) CHECK(prior->in_support(row_span(theta, r)));
}

TEST_CASE("the prior in u: draws map back to the prior, and SIR weights are the log-likelihood", "[mcmc][unconstrained]") {
  const PriorPtr prior = mixed_prior();
  UnconstrainedPosterior posterior(prior, quadratic_likelihood);
  const McmcInitialDistribution initial = posterior.prior_initial();
  const McmcTarget target = posterior.target();
  Rng rng(3);
  RowMatrix u(5, 4);
  for (Eigen::Index r = 0; r < 5; ++r) initial.sample(rng, row_span(u, r));
  Vector lp(5), log_likelihood(5);
  target.log_density(u, lp);
  quadratic_likelihood(posterior.to_constrained(u), log_likelihood);
  for (Eigen::Index r = 0; r < 5; ++r) CHECK(lp[r] - initial.log_density(row_span(u, r)) == Approx(log_likelihood[r]).margin(1e-10));
}

// θ1 ~ U(0, 1) with likelihood θ1³ (1 − θ1)⁷: posterior Beta(4, 8), mean 1/3, variance 32/1872.
// θ2 ~ LogNormal(0, 0.5) with a flat likelihood: the posterior is the prior, mean e^{1/8},
// variance (e^{1/4} − 1) e^{1/4}. Only a correct Jacobian gives both.
TEST_CASE("posteriors on bounded supports through the unconstrained space, with slice sampling and HMC", "[mcmc][unconstrained]") {
  const PriorPtr prior = std::make_shared<ProductPrior>(std::vector<PriorPtr>{
      std::make_shared<UniformPrior>(Vector::Constant(1, 0.0), Vector::Constant(1, 1.0), Names{"p"}),
      std::make_shared<LogNormalPrior>(Vector::Constant(1, 0.0), Vector::Constant(1, 0.5), Names{"scale"})});
  auto log_likelihood = [](const RowMatrix& theta, Eigen::Ref<Vector> out) {
    for (Eigen::Index r = 0; r < theta.rows(); ++r) out[r] = 3 * std::log(theta(r, 0)) + 7 * std::log1p(-theta(r, 0));
  };
  auto gradient = [log_likelihood](const RowMatrix& theta, Eigen::Ref<Vector> out, Eigen::Ref<RowMatrix> g) {
    log_likelihood(theta, out);
    for (Eigen::Index r = 0; r < theta.rows(); ++r) {
      g(r, 0) = 3 / theta(r, 0) - 7 / (1 - theta(r, 0));
      g(r, 1) = 0;
    }
  };
  UnconstrainedPosterior posterior(prior, log_likelihood, gradient);
  const double mean[2] = {1.0 / 3.0, std::exp(0.125)};
  const double variance[2] = {32.0 / 1872.0, (std::exp(0.25) - 1) * std::exp(0.25)};
  for (auto sampler : {McmcOptions::Sampler::slice, McmcOptions::Sampler::hmc}) {
    INFO(to_string(sampler));
    McmcOptions o;
    o.sampler = sampler;
    const McmcResult r = posterior.sample(10000, 8, o);
    CHECK(r.diagnostics.parameter_names == Names{"p", "scale"});
    CHECK(r.diagnostics.max_rhat() < 1.01);
    for (Eigen::Index r_ = 0; r_ < r.samples.rows(); ++r_) REQUIRE(prior->in_support(row_span(r.samples, r_)));
    // 4.5 Monte Carlo standard errors with each coordinate's bulk ESS.
    for (Eigen::Index i = 0; i < 2; ++i) {
      INFO("coordinate " << i);
      CHECK(std::abs(r.samples.col(i).mean() - mean[i]) < 4.5 * std::sqrt(variance[i] / r.diagnostics.ess_bulk[i]));
    }
    CHECK((r.draws.rows() == r.chains * r.draws_per_chain));
  }
}

TEST_CASE("the adapter refuses a missing prior or likelihood", "[mcmc][unconstrained]") {
  CHECK_THROWS_AS(UnconstrainedPosterior(nullptr, quadratic_likelihood), InputError);
  CHECK_THROWS_AS(UnconstrainedPosterior(mixed_prior(), nullptr), InputError);
}
