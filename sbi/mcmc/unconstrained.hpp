#pragma once
// A posterior π(θ)·L(θ) as an MCMC target in the prior's unconstrained space.
//
// The prior maps θ to u ∈ R^d by an elementwise bijection (sbi/priors/prior.hpp: identity, log or
// logit). The target in u is
//
//   log p(u) = log π(θ(u)) + log L(θ(u)) + log |dθ/du|,
//
// so the samplers move freely in R^d and every draw maps back inside the prior's support. L is a
// likelihood, a likelihood estimate (NLE) or a likelihood-to-evidence ratio (NRE): anything whose
// product with the prior is the unnormalised posterior.
//
//   sbi::UnconstrainedPosterior posterior(prior, [&](const sbi::RowMatrix& theta, Eigen::Ref<sbi::Vector> out) {
//     for (Eigen::Index r = 0; r < theta.rows(); ++r) out[r] = my_log_likelihood(theta.row(r));
//   });
//   sbi::McmcResult result = posterior.sample(10000, /*seed=*/1, sbi::McmcOptions{});  // θ-space samples
//   std::cout << result.brief_report() << "\n";
//
// What a user provides is the table of sbi/mcmc/target.hpp in θ-space: the log-likelihood of a batch
// of θ (rows, always inside the support) and optionally its gradient ∇θ log L, which the HMC
// sampler needs. The gradient of log π comes from the prior: exact for the library's uniform,
// normal, log-normal and product priors, by central differences for other Prior classes.
#include "sbi/mcmc/mcmc.hpp"
#include "sbi/mcmc/target.hpp"
#include "sbi/priors/prior.hpp"

#include <memory>

namespace sbi {

class UnconstrainedPosterior {
 public:
  // `log_likelihood` and `log_likelihood_gradient` act on θ; `thread_safe` as in McmcTarget.
  UnconstrainedPosterior(PriorPtr prior, BatchLogDensityFn log_likelihood, BatchLogDensityGradientFn log_likelihood_gradient = {},
                         bool thread_safe = true);

  const Prior& prior() const { return *prior_; }
  std::size_t dim() const { return prior_->dim(); }

  // log p(u) as above, batched; with a gradient when a likelihood gradient was given.
  McmcTarget target() const;
  // The prior mapped to u (its density includes the Jacobian), to start chains from or to weight
  // SIR candidates by: the importance weight target − log density is then log L(θ(u)).
  McmcInitialDistribution prior_initial() const;

  RowMatrix to_constrained(const RowMatrix& u) const { return prior_->to_constrained(u); }
  RowMatrix to_unconstrained(const RowMatrix& theta) const { return prior_->to_unconstrained(theta); }

  // Runs run_mcmc on target() from prior_initial() and maps the result to θ: samples and draws in
  // θ, diagnostics computed on θ and labelled with the prior's parameter names.
  McmcResult sample(Eigen::Index n, std::uint64_t seed, const McmcOptions& options) const;

  // ∇θ log π(θ) for one θ inside the support (exposed for tests).
  void prior_log_prob_gradient(ConstRow theta, MutableRow gradient) const;

 private:
  struct Impl;
  PriorPtr prior_;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace sbi
