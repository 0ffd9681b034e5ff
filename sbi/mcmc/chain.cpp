#include "sbi/mcmc/chain.hpp"

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace sbi::mcmc_detail {

// ---------------------------------------------------------------------------------------------
// RunningMoments

void RunningMoments::reset(Eigen::Index dim) {
  count_ = 0;
  mean_ = Vector::Zero(dim);
  scatter_ = Matrix::Zero(dim, dim);
}

void RunningMoments::add(const Vector& x) {
  ++count_;
  const Vector delta = x - mean_;
  mean_ += delta / static_cast<double>(count_);
  scatter_.noalias() += delta * (x - mean_).transpose();
}

Matrix RunningMoments::regularized_covariance() const {
  const Eigen::Index dim = mean_.size();
  Matrix s = count_ > 1 ? Matrix(scatter_ / static_cast<double>(count_ - 1)) : Matrix(Matrix::Identity(dim, dim));
  s = 0.5 * (s + s.transpose());
  // A coordinate that never moved (a stuck chain) would make the estimate singular.
  const double largest = std::max(s.diagonal().maxCoeff(), 1e-300);
  for (Eigen::Index i = 0; i < dim; ++i) s(i, i) = std::max(s(i, i), 1e-10 * largest);
  const double n = static_cast<double>(count_);
  Matrix shrunk = n / (n + 5.0) * s;
  shrunk.diagonal() += 5.0 / (n + 5.0) * s.diagonal();
  return shrunk;
}

// ---------------------------------------------------------------------------------------------
// GaussianMixture

bool GaussianMixture::add_component(const Vector& mean, const Matrix& covariance) {
  Eigen::LLT<Matrix> llt(covariance);
  if (llt.info() != Eigen::Success || !mean.allFinite()) return false;
  Matrix lower = llt.matrixL();
  if (!lower.allFinite() || !(lower.diagonal().array() > 0).all()) return false;
  const Eigen::Index d = mean.size(), k = static_cast<Eigen::Index>(means_.size());
  const Matrix inverse = lower.triangularView<Eigen::Lower>().solve(Matrix::Identity(d, d));
  whitening_.conservativeResize((k + 1) * d, d);
  whitening_.middleRows(k * d, d) = inverse;
  whitened_means_.conservativeResize((k + 1) * d);
  whitened_means_.segment(k * d, d) = inverse * mean;
  means_.push_back(mean);
  lower_.push_back(std::move(lower));
  log_normalizer_.conservativeResize(k + 1);
  set_weights(Vector::Constant(k + 1, 1.0 / static_cast<double>(k + 1)));
  return true;
}

void GaussianMixture::set_weights(const Vector& weights) {
  const Eigen::Index d = means_.empty() ? 0 : means_.front().size();
  cumulative_.resize(means_.size());
  double total = 0;
  for (std::size_t k = 0; k < means_.size(); ++k) {
    const auto i = static_cast<Eigen::Index>(k);
    log_normalizer_[i] = std::log(weights[i]) - lower_[k].diagonal().array().log().sum() -
                         0.5 * static_cast<double>(d) * std::log(2.0 * std::numbers::pi);
    cumulative_[k] = total += weights[i];
  }
}

void GaussianMixture::sample(Rng& rng, Vector& x) const {
  const double u = rng.uniform() * cumulative_.back();
  const auto k = static_cast<std::size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
  sample_component(std::min(k, means_.size() - 1), rng, x);
}

void GaussianMixture::sample_component(std::size_t k, Rng& rng, Vector& x) const {
  const Eigen::Index d = means_[k].size();
  thread_local Vector z;
  z.resize(d);
  for (Eigen::Index i = 0; i < d; ++i) z[i] = rng.normal();
  x = means_[k];
  x.noalias() += lower_[k].triangularView<Eigen::Lower>() * z;
}

double GaussianMixture::log_density(const Vector& x) const {
  // log Σ_k w_k N(x; μ_k, Σ_k) by log-sum-exp; the mixture is shared by all chains and threads, so
  // scratch space is per thread.
  const Eigen::Index d = x.size(), k_count = static_cast<Eigen::Index>(means_.size());
  thread_local Vector z, terms;
  z.noalias() = whitening_ * x;
  z -= whitened_means_;
  terms.resize(k_count);
  for (Eigen::Index k = 0; k < k_count; ++k) terms[k] = log_normalizer_[k] - 0.5 * z.segment(k * d, d).squaredNorm();
  const double largest = terms.maxCoeff();
  if (!std::isfinite(largest)) return largest;
  return largest + std::log((terms.array() - largest).exp().sum());
}

// ---------------------------------------------------------------------------------------------
// Schedule

Schedule Schedule::make(const McmcOptions& options, std::size_t draws_per_chain) {
  Schedule s;
  s.warmup = options.warmup;
  s.thin = options.thin;
  s.total = options.warmup + options.thin * draws_per_chain;
  // Covariance windows as Stan's warm-up: a first 15 % for the widths or step size alone, three
  // windows of relative lengths 1, 2, 4, and a last 10 % in which only widths or step size adapt.
  const std::size_t w = options.warmup;
  if (w >= 20) {
    const std::size_t first = w * 15 / 100, last = w - w / 10;
    const double unit = static_cast<double>(last - first) / 7.0;
    s.window_begin = first;
    s.window_ends = {first + static_cast<std::size_t>(std::lround(unit)), first + static_cast<std::size_t>(std::lround(3 * unit)), last};
  }
  s.jumps = options.jumps_per_iteration > 0 && w >= 40;
  if (s.jumps) {
    s.jump_begin = w / 2;
    s.jump_window_begin = w / 4;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Chain

Chain::Chain(const McmcOptions& options, const Schedule& schedule, Eigen::Index dim, Rng rng)
    : schedule_(schedule), jumps_per_iteration_(options.jumps_per_iteration) {
  core_.dim = dim;
  core_.rng = rng;
  core_.x = Vector::Zero(dim);
  // Room for the largest request: two slice ends, or all jumps of an iteration.
  const auto most_jumps = static_cast<Eigen::Index>(std::ceil(options.jumps_per_iteration));
  core_.proposals = RowMatrix::Zero(std::max<Eigen::Index>(2, most_jumps), dim);
  if (options.sampler == McmcOptions::Sampler::hmc) {
    hmc_ = std::make_unique<HmcMove>(options, dim);
    core_.gradient = Vector::Zero(dim);
  } else {
    slice_ = std::make_unique<SliceMove>(options, dim);
  }
  window_.reset(dim);
  jump_window_.reset(dim);
}

void Chain::start(const Vector& x, double log_density, const Vector* gradient) {
  core_.x = x;
  core_.log_density = log_density;
  if (gradient) core_.gradient = *gradient;
  core_.warmup = schedule_.warmup > 0;
  if (hmc_ && schedule_.warmup == 0) hmc_->end_warmup();
}

void Chain::set_slice_widths(const Vector& widths) {
  if (slice_) slice_->set_widths(widths);
}

int Chain::advance(std::size_t end) {
  for (;;) {
    switch (stage_) {
      case Stage::idle:
        if (iteration_ >= end) return 0;
        core_.warmup = iteration_ < schedule_.warmup;
        if (slice_) slice_->begin(core_);
        else hmc_->begin(core_);
        stage_ = Stage::base;
        [[fallthrough]];
      case Stage::base:
        if (const int count = slice_ ? slice_->next(core_) : hmc_->next(core_); count > 0) return count;
        stage_ = Stage::jump;
        if (const int count = begin_jumps(); count > 0) return count;
        [[fallthrough]];
      case Stage::jump:
        // Reached when there were no jumps or after their values were delivered.
        finish_iteration();
        stage_ = Stage::idle;
        break;
    }
  }
}

void Chain::deliver(const double* log_density, const double* gradient) {
  if (stage_ == Stage::base) {
    if (slice_) slice_->deliver(core_, log_density);
    else hmc_->deliver(core_, log_density, gradient);
  } else {
    deliver_jumps(log_density, gradient);
  }
}

int Chain::begin_jumps() {
  jumps_ = 0;
  if (!schedule_.jumps || iteration_ < schedule_.jump_begin || !mixture_ || mixture_->size() == 0) return 0;
  // ⌊j⌋ proposals, and one more with probability j − ⌊j⌋. Independence proposals do not depend on
  // the state, so all of them are drawn now and evaluated in one request; the Metropolis–Hastings
  // steps then run in order on the values, exactly as if they had been evaluated one by one.
  const double whole = std::floor(jumps_per_iteration_);
  jumps_ = static_cast<int>(whole) + (core_.rng.uniform() < jumps_per_iteration_ - whole ? 1 : 0);
  log_q_.resize(static_cast<std::size_t>(jumps_) + 1);
  thread_local Vector draw;
  for (int k = 0; k < jumps_; ++k) {
    mixture_->sample(core_.rng, draw);
    core_.proposals.row(k) = draw.transpose();
    log_q_[static_cast<std::size_t>(k)] = mixture_->log_density(draw);
  }
  if (jumps_ > 0) log_q_.back() = mixture_->log_density(core_.x);
  if (!core_.warmup) jumps_proposed += static_cast<std::uint64_t>(jumps_);
  return jumps_;
}

void Chain::deliver_jumps(const double* log_density, const double* gradient) {
  double log_q_current = log_q_.back();
  for (int k = 0; k < jumps_; ++k) {
    // Independence Metropolis–Hastings: α = min(1, p(x′) q(x) / (p(x) q(x′))).
    const double lp = log_density[k], log_q = log_q_[static_cast<std::size_t>(k)];
    const double* g = gradient ? gradient + static_cast<std::ptrdiff_t>(k) * core_.dim : nullptr;
    const double uniform = core_.rng.uniform_open();
    if (!std::isfinite(lp) || (g && !Eigen::Map<const Vector>(g, core_.dim).allFinite())) continue;
    if (std::log(uniform) < lp - core_.log_density + log_q_current - log_q) {
      core_.x = core_.proposals.row(k).transpose();
      core_.log_density = lp;
      log_q_current = log_q;
      if (g) core_.gradient = Eigen::Map<const Vector>(g, core_.dim);
      if (!core_.warmup) ++jumps_accepted;
    }
  }
  jumps_ = 0;
}

void Chain::finish_iteration() {
  const std::size_t i = iteration_;
  if (i < schedule_.warmup) {
    if (slice_) slice_->adapt_widths();
    if (next_window_ < schedule_.window_ends.size() && i >= schedule_.window_begin) {
      window_.add(core_.x);
      if (i + 1 == schedule_.window_ends[next_window_]) {
        const Matrix covariance = window_.regularized_covariance();
        if (slice_) slice_->set_covariance(covariance);
        else hmc_->set_covariance(covariance);
        window_.reset(core_.dim);
        ++next_window_;
      }
    }
    if (schedule_.jumps && i >= schedule_.jump_window_begin && i < schedule_.jump_begin) jump_window_.add(core_.x);
    if (hmc_ && i + 1 == schedule_.warmup) hmc_->end_warmup();
  } else if (draws_ && schedule_.keeps(i)) {
    const std::size_t k = schedule_.draw_index(i);
    std::copy(core_.x.data(), core_.x.data() + core_.dim, draws_ + k * static_cast<std::size_t>(core_.dim));
    log_densities_[k] = core_.log_density;
  }
  ++iteration_;
}

}  // namespace sbi::mcmc_detail
