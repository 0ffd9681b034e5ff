// Hamiltonian Monte Carlo (Neal 2011, "MCMC using Hamiltonian dynamics") with a dense metric and the
// dual-averaging step size of Hoffman & Gelman (2014), "The No-U-Turn sampler", JMLR 15, §3.2.
//
// The metric is the chain's covariance estimate Σ = L Lᵀ (inverse mass matrix). The leapfrog runs
// on the whitened momentum q = Lᵀ p ~ N(0, I):
//   q ← q + ε/2 · Lᵀ ∇log p(x),   x ← x + ε · L q,   q ← q + ε/2 · Lᵀ ∇log p(x),
// with energy H = −log p(x) + ½‖q‖².
#include "sbi/mcmc/chain.hpp"

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>

namespace sbi::mcmc_detail {

namespace {
// Dual averaging constants recommended by Hoffman & Gelman (2014).
constexpr double kGamma = 0.05, kT0 = 10.0, kKappa = 0.75;
// An energy error above this ends the trajectory as divergent (Stan's threshold).
constexpr double kDivergence = 1000.0;
constexpr double kInitialStepSize = 0.5;

// q ← q + h · Lᵀ g (a momentum kick in whitened units).
template <class Gradient>
void kick(Vector& momentum, double h, const Matrix& lower, const Gradient& g, Vector& scratch) {
  scratch.noalias() = lower.transpose().triangularView<Eigen::Upper>() * g;
  momentum += h * scratch;
}

// x ← x + h · L q (a drift).
void drift(Vector& position, double h, const Matrix& lower, const Vector& momentum, Vector& scratch) {
  scratch.noalias() = lower.triangularView<Eigen::Lower>() * momentum;
  position += h * scratch;
}
}  // namespace

HmcMove::HmcMove(const McmcOptions& options, Eigen::Index dim)
    : target_acceptance_(options.hmc_target_acceptance),
      integration_time_(options.hmc_integration_time),
      max_steps_(options.hmc_max_steps),
      dim_(dim) {
  lower_ = Matrix::Identity(dim, dim);
  momentum_ = Vector::Zero(dim);
  step_size_ = kInitialStepSize;
  restart_adaptation();
}

void HmcMove::restart_adaptation() {
  mu_ = std::log(10.0 * step_size_);
  h_bar_ = 0;
  log_step_bar_ = std::log(step_size_);
  adapt_count_ = 0;
}

void HmcMove::adapt(double acceptance) {
  const double t = static_cast<double>(++adapt_count_);
  h_bar_ = (1.0 - 1.0 / (t + kT0)) * h_bar_ + (target_acceptance_ - acceptance) / (t + kT0);
  const double log_step = mu_ - std::sqrt(t) / kGamma * h_bar_;
  const double weight = std::pow(t, -kKappa);
  log_step_bar_ = weight * log_step + (1.0 - weight) * log_step_bar_;
  step_size_ = std::exp(log_step);
}

void HmcMove::end_warmup() { step_size_ = std::exp(log_step_bar_); }

void HmcMove::set_covariance(const Matrix& covariance) {
  Eigen::LLT<Matrix> llt(covariance);
  if (llt.info() != Eigen::Success) return;
  // Keep the step size's meaning across the change of units (as the slice widths do), then adapt anew.
  const Matrix lower = llt.matrixL();
  const double log_growth = (lower.diagonal().array().log().sum() - lower_.diagonal().array().log().sum()) / static_cast<double>(dim_);
  lower_ = lower;
  step_size_ = std::exp(log_step_bar_ - log_growth);
  restart_adaptation();
}

void HmcMove::begin(ChainCore& c) {
  for (Eigen::Index i = 0; i < dim_; ++i) momentum_[i] = c.rng.normal();
  start_energy_ = -c.log_density + 0.5 * momentum_.squaredNorm();
  // Jittered trajectory length (integration time × U(0.5, 1.5)) avoids periodic orbits.
  const double time = integration_time_ * (0.5 + c.rng.uniform());
  steps_ = static_cast<int>(std::clamp(std::ceil(time / step_size_), 1.0, static_cast<double>(max_steps_)));
  step_ = 0;
  kick(momentum_, 0.5 * step_size_, lower_, c.gradient, scratch_);
  position_ = c.x;
  drift(position_, step_size_, lower_, momentum_, scratch_);
  pending_ = true;
}

int HmcMove::next(ChainCore& c) {
  if (!pending_) return 0;
  c.proposals.row(0) = position_.transpose();
  return 1;
}

void HmcMove::deliver(ChainCore& c, const double* log_density_at, const double* gradient) {
  pending_ = false;
  const double log_density = log_density_at[0];
  ++step_;
  const Eigen::Map<const Vector> g(gradient, dim_);
  if (!std::isfinite(log_density) || !g.allFinite()) {
    if (!c.warmup) ++divergences;
    finish(c, 0.0);
    return;
  }
  kick(momentum_, 0.5 * step_size_, lower_, g, scratch_);
  const double energy = -log_density + 0.5 * momentum_.squaredNorm();
  if (!(energy - start_energy_ < kDivergence)) {
    if (!c.warmup) ++divergences;
    finish(c, 0.0);
    return;
  }
  if (step_ < steps_) {
    kick(momentum_, 0.5 * step_size_, lower_, g, scratch_);
    drift(position_, step_size_, lower_, momentum_, scratch_);
    pending_ = true;
    return;
  }
  const double acceptance = std::min(1.0, std::exp(start_energy_ - energy));
  if (c.rng.uniform() < acceptance) {
    c.x = position_;
    c.log_density = log_density;
    c.gradient = g;
  }
  finish(c, acceptance);
}

void HmcMove::finish(const ChainCore& c, double acceptance) {
  if (c.warmup) {
    adapt(acceptance);
  } else {
    acceptance_sum += acceptance;
    ++trajectories;
    leapfrog_steps += static_cast<std::uint64_t>(step_);
  }
}

}  // namespace sbi::mcmc_detail
