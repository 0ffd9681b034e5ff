// Slice sampling with stepping out and shrinkage (Neal 2003, "Slice sampling", Ann. Statist. 31,
// §4, Figures 3 and 5), one request for a target value at a time.
#include "sbi/mcmc/chain.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>

namespace sbi::mcmc_detail {

namespace {
// A shrinking interval that has not found the slice after this many contractions (a target whose
// value at the current point changed, or a slice of width ~0) ends the update where it started.
constexpr int kMaxShrinks = 200;
}  // namespace

SliceMove::SliceMove(const McmcOptions& options, Eigen::Index dim)
    : mode_(options.slice_directions),
      max_steps_out_(options.slice_max_steps_out),
      updates_per_iteration_(options.slice_updates_per_iteration > 0 ? static_cast<Eigen::Index>(options.slice_updates_per_iteration) : dim),
      dim_(dim) {
  basis_ = Matrix::Identity(dim, dim);
  const Eigen::Index slots = mode_ == McmcOptions::SliceDirections::random ? 1 : dim;
  width_ = Vector::Ones(slots);
  scale_ = Vector::Ones(slots);
  expansions_.assign(static_cast<std::size_t>(slots), 0);
  contractions_.assign(static_cast<std::size_t>(slots), 0);
  direction_ = Vector::Zero(dim);
  unit_ = Vector::Zero(dim);
}

void SliceMove::begin(ChainCore&) {
  update_ = 0;
  phase_ = Phase::start;
}

void SliceMove::start_update(ChainCore& c) {
  if (mode_ == McmcOptions::SliceDirections::random) {
    // A uniformly random direction in the whitened space, mapped back: x + t·L·ẑ.
    for (Eigen::Index i = 0; i < dim_; ++i) unit_[i] = c.rng.normal();
    unit_ /= unit_.norm();
    direction_.noalias() = basis_.triangularView<Eigen::Lower>() * unit_;
    slot_ = 0;
  } else {
    // Sweeps continue across iterations when an iteration has fewer updates than directions.
    direction_ = basis_.col(sweep_position_);
    slot_ = sweep_position_;
    sweep_position_ = (sweep_position_ + 1) % dim_;
  }
  const double w = width_[slot_];
  // Slice level log y = log p(x) − E, E ~ Exp(1); an interval of width w placed at random around 0,
  // and a random split of the m steps out between the two ends.
  level_ = c.log_density - c.rng.exponential();
  left_ = -w * c.rng.uniform();
  right_ = left_ + w;
  steps_left_ = static_cast<int>(std::floor(max_steps_out_ * c.rng.uniform()));
  steps_right_ = max_steps_out_ - 1 - steps_left_;
  shrinks_ = 0;
}

int SliceMove::next(ChainCore& c) {
  for (;;) {
    switch (phase_) {
      case Phase::done:
        return 0;
      case Phase::start:
        if (update_ == updates_per_iteration_) {
          phase_ = Phase::done;
          return 0;
        }
        start_update(c);
        phase_ = Phase::stepping;
        [[fallthrough]];
      case Phase::stepping: {
        // The two ends step out independently (Neal's procedure checks each end against the same
        // level with its own step budget), so both are asked for in one request.
        int count = 0;
        asked_left_ = steps_left_ > 0;
        asked_right_ = steps_right_ > 0;
        if (asked_left_) c.proposals.row(count++) = (c.x + left_ * direction_).transpose();
        if (asked_right_) c.proposals.row(count++) = (c.x + right_ * direction_).transpose();
        if (count > 0) return count;
        phase_ = Phase::shrink;
        [[fallthrough]];
      }
      case Phase::shrink:
        offset_ = left_ + (right_ - left_) * c.rng.uniform();
        c.proposals.row(0) = (c.x + offset_ * direction_).transpose();
        return 1;
    }
  }
}

void SliceMove::deliver(ChainCore& c, const double* log_density) {
  const auto slot = static_cast<std::size_t>(slot_);
  if (phase_ == Phase::stepping) {
    int i = 0;
    // Inside the slice (false for NaN): the end moves out by one width; else it stops.
    if (asked_left_) {
      if (!c.warmup) ++evaluations;
      if (log_density[i++] > level_) {
        left_ -= width_[slot_];
        --steps_left_;
        ++expansions_[slot];
      } else {
        steps_left_ = 0;
      }
    }
    if (asked_right_) {
      if (!c.warmup) ++evaluations;
      if (log_density[i] > level_) {
        right_ += width_[slot_];
        --steps_right_;
        ++expansions_[slot];
      } else {
        steps_right_ = 0;
      }
    }
    return;
  }
  if (phase_ != Phase::shrink) return;
  if (!c.warmup) ++evaluations;
  if (log_density[0] > level_) {
    c.x = c.proposals.row(0).transpose();
    c.log_density = log_density[0];
  } else {
    ++contractions_[slot];
    if (offset_ < 0) left_ = offset_;
    else right_ = offset_;
    if (++shrinks_ < kMaxShrinks) return;
  }
  if (!c.warmup) ++updates;
  ++update_;
  phase_ = Phase::start;
}

void SliceMove::adapt_widths() {
  // Tibbits, Groendyke, Haran & Liechty (2014), "Automated factor slice sampling", J. Comput. Graph.
  // Stat. 23: a width is well tuned when stepping out expands about as often as shrinkage contracts;
  // w ← w · 2·expansions / (expansions + contractions), here once 10 events were counted and by at
  // most a factor 2 per update.
  for (std::size_t j = 0; j < expansions_.size(); ++j) {
    const int events = expansions_[j] + contractions_[j];
    if (events < 10) continue;
    const double factor = std::clamp(2.0 * expansions_[j] / events, 0.5, 2.0);
    width_[static_cast<Eigen::Index>(j)] *= factor;
    expansions_[j] = contractions_[j] = 0;
  }
}

void SliceMove::set_widths(const Vector& widths) {
  if (mode_ == McmcOptions::SliceDirections::coordinate && widths.size() == width_.size()) width_ = widths;
}

void SliceMove::set_covariance(const Matrix& covariance) {
  switch (mode_) {
    case McmcOptions::SliceDirections::coordinate:
      return;  // axes and their widths need no covariance
    case McmcOptions::SliceDirections::factor: {
      // Directions along the covariance's eigenvectors; widths keep their size relative to the
      // spread along each direction (their geometric mean, so that adaptation carries over).
      Eigen::SelfAdjointEigenSolver<Matrix> eigen(covariance);
      if (eigen.info() != Eigen::Success || !eigen.eigenvectors().allFinite()) return;
      const Vector new_scale = eigen.eigenvalues().cwiseMax(1e-300).cwiseSqrt();
      const double relative = std::exp((width_.array() / scale_.array()).log().mean());
      basis_ = eigen.eigenvectors();
      scale_ = new_scale;
      width_ = relative * scale_;
      break;
    }
    case McmcOptions::SliceDirections::random: {
      // Widths are in whitened units: rescale by how much larger the new whitening is than the old
      // one (the geometric mean of the scale change, (det L_new / det L_old)^(1/d)).
      Eigen::LLT<Matrix> llt(covariance);
      if (llt.info() != Eigen::Success) return;
      const Matrix lower = llt.matrixL();
      const double log_growth = (lower.diagonal().array().log().sum() - basis_.diagonal().array().log().sum()) / static_cast<double>(dim_);
      basis_ = lower;
      width_ *= std::exp(-log_growth);
      break;
    }
  }
  std::fill(expansions_.begin(), expansions_.end(), 0);
  std::fill(contractions_.begin(), contractions_.end(), 0);
}

}  // namespace sbi::mcmc_detail
