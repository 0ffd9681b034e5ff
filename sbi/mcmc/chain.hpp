#pragma once
// Internal to sbi/mcmc: one chain and its moves, written as state machines that ask for the target's
// values at a few points at a time (the points that do not depend on each other's values: both ends
// of a slice interval, all independence proposals of an iteration). The driver (mcmc.cpp) collects
// the requests of all chains of a block into one batched target call and hands each chain its
// values; a chain that finishes a move starts its next one at once, so batches stay full. Nothing
// here depends on other chains (except the mixture proposal, which is built between phases and
// read-only afterwards).
#include "sbi/mcmc/mcmc.hpp"
#include "sbi/random/rng.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace sbi::mcmc_detail {

// Running mean and covariance (Welford's update).
class RunningMoments {
 public:
  void reset(Eigen::Index dim);
  void add(const Vector& x);
  Eigen::Index count() const { return count_; }
  const Vector& mean() const { return mean_; }
  // The sample covariance shrunk towards its diagonal, n/(n+5)·S + 5/(n+5)·diag(S): stable when
  // estimated from few (and correlated) draws, never singular unless a coordinate never moved (then
  // that variance is floored at a tiny multiple of the largest).
  Matrix regularized_covariance() const;

 private:
  Eigen::Index count_ = 0;
  Vector mean_;
  Matrix scatter_;
};

// A fixed mixture of Gaussians: the mode-jump proposal. Its density is one matrix-vector product:
// the components' whitening maps L_k⁻¹ are stacked, so that all L_k⁻¹(x − μ_k) come out of one product.
class GaussianMixture {
 public:
  // Skips (returns false) a covariance that is not positive definite. Components have equal
  // weights until set_weights.
  bool add_component(const Vector& mean, const Matrix& covariance);
  std::size_t size() const { return means_.size(); }
  // Normalised weights, one per component.
  void set_weights(const Vector& weights);
  void sample(Rng& rng, Vector& x) const;
  // The draw of component k (for weighting the components).
  void sample_component(std::size_t k, Rng& rng, Vector& x) const;
  double log_density(const Vector& x) const;

 private:
  std::vector<Vector> means_;
  std::vector<Matrix> lower_;   // Cholesky factors L_k of the covariances
  Matrix whitening_;            // rows [k·d, (k+1)·d) = L_k⁻¹
  Vector whitened_means_;       // entries [k·d, (k+1)·d) = L_k⁻¹ μ_k
  Vector log_normalizer_;       // log w_k − log det L_k − d/2 log 2π
  std::vector<double> cumulative_;  // cumulative weights, for drawing a component
};

// Iteration numbers, the same for every chain.
struct Schedule {
  std::size_t warmup = 0;
  std::size_t thin = 1;
  std::size_t total = 0;                  // warmup + thin · draws per chain
  std::size_t window_begin = 0;           // first warm-up iteration whose draw enters a covariance window
  std::vector<std::size_t> window_ends;   // the covariance estimate is updated after these iterations
  bool jumps = false;
  std::size_t jump_begin = 0;             // jumps from this iteration on (the phase boundary)
  std::size_t jump_window_begin = 0;      // draws [jump_window_begin, jump_begin) fit the chain's component

  static Schedule make(const McmcOptions& options, std::size_t draws_per_chain);
  bool keeps(std::size_t iteration) const { return iteration >= warmup && (iteration - warmup + 1) % thin == 0; }
  std::size_t draw_index(std::size_t iteration) const { return (iteration - warmup) / thin; }
};

// What every move reads and writes.
struct ChainCore {
  Eigen::Index dim = 0;
  Vector x;              // current state
  double log_density = 0;
  Vector gradient;       // at x (HMC only)
  RowMatrix proposals;   // rows [0, requested): the points the chain asks to be evaluated
  Rng rng;
  bool warmup = true;    // in warm-up: moves adapt
};

// Slice sampling with stepping out (Neal 2003) along a sweep of directions.
class SliceMove {
 public:
  SliceMove(const McmcOptions& options, Eigen::Index dim);
  void begin(ChainCore& c);              // an iteration: `updates_per_iteration` one-dimensional updates
  int next(ChainCore& c);                // points to evaluate, in c.proposals (0: the iteration's updates are done)
  void deliver(ChainCore& c, const double* log_density);
  void adapt_widths();                   // balance expansions and contractions (warm-up)
  void set_covariance(const Matrix& covariance);
  void set_widths(const Vector& widths);  // coordinate directions: one width per axis
  std::uint64_t evaluations = 0;         // counted while not in warm-up
  std::uint64_t updates = 0;

 private:
  enum class Phase { start, stepping, shrink, done };
  void start_update(ChainCore& c);
  McmcOptions::SliceDirections mode_;
  int max_steps_out_;
  Eigen::Index updates_per_iteration_;
  Eigen::Index sweep_position_ = 0;      // the next direction of a coordinate or factor sweep
  Eigen::Index dim_;
  Matrix basis_;                         // coordinate/factor: directions as columns; random: Cholesky factor
  Vector width_;                         // per direction (random: width_[0] for all)
  Vector scale_;                         // per direction: the covariance estimate's sd along it
  std::vector<int> expansions_, contractions_;
  Vector direction_, unit_;
  Eigen::Index update_ = 0;              // index in the sweep
  Eigen::Index slot_ = 0;                // width slot of the current update
  Phase phase_ = Phase::done;
  double level_ = 0, left_ = 0, right_ = 0, offset_ = 0;
  int steps_left_ = 0, steps_right_ = 0, shrinks_ = 0;
  bool asked_left_ = false, asked_right_ = false;
};

// Hamiltonian Monte Carlo with a dense metric and dual-averaging step size.
class HmcMove {
 public:
  HmcMove(const McmcOptions& options, Eigen::Index dim);
  void begin(ChainCore& c);
  int next(ChainCore& c);
  void deliver(ChainCore& c, const double* log_density, const double* gradient);
  void set_covariance(const Matrix& covariance);  // restarts step-size adaptation
  void end_warmup();                               // fixes the step size at its averaged value
  double step_size() const { return step_size_; }
  // After warm-up:
  double acceptance_sum = 0;
  std::uint64_t trajectories = 0, leapfrog_steps = 0, divergences = 0;

 private:
  void restart_adaptation();
  void adapt(double acceptance);
  void finish(const ChainCore& c, double acceptance);
  double target_acceptance_, integration_time_;
  int max_steps_;
  Eigen::Index dim_;
  Matrix lower_;                        // Cholesky factor L of the covariance estimate (metric M⁻¹ = L Lᵀ)
  Vector momentum_;                     // whitened: q = Lᵀ p ~ N(0, I)
  Vector position_, scratch_;
  double start_energy_ = 0;
  int steps_ = 0, step_ = 0;
  bool pending_ = false;
  // Dual averaging (Hoffman & Gelman 2014, §3.2).
  double step_size_ = 0.5, mu_ = 0, h_bar_ = 0, log_step_bar_ = 0;
  std::uint64_t adapt_count_ = 0;
};

// One chain: per iteration a base move (slice updates or an HMC trajectory), then its independence
// jumps; adaptation in warm-up; kept draws written to its rows of the result (exploring chains,
// which stop halfway through warm-up, have no rows).
class Chain {
 public:
  Chain(const McmcOptions& options, const Schedule& schedule, Eigen::Index dim, Rng rng);
  void start(const Vector& x, double log_density, const Vector* gradient);
  // Runs until the chain needs target values (returns how many; the points are the first rows of
  // proposals()) or has completed iteration end − 1 (returns 0).
  int advance(std::size_t end);
  const RowMatrix& proposals() const { return core_.proposals; }
  std::size_t iterations_done() const { return iteration_; }
  // The values at the points asked for: log densities and (HMC) gradients as rows.
  void deliver(const double* log_density, const double* gradient);
  void set_mixture(const GaussianMixture* mixture) { mixture_ = mixture; }
  // Coordinate slice sampling only: the width along each axis (adapted in warm-up otherwise).
  void set_slice_widths(const Vector& widths);
  void set_output(double* draws, double* log_densities) { draws_ = draws; log_densities_ = log_densities; }
  const RunningMoments& jump_window() const { return jump_window_; }
  const SliceMove* slice() const { return slice_.get(); }
  const HmcMove* hmc() const { return hmc_.get(); }
  std::uint64_t jumps_proposed = 0, jumps_accepted = 0;  // after warm-up

 private:
  enum class Stage { idle, base, jump };
  void finish_iteration();
  int begin_jumps();
  void deliver_jumps(const double* log_density, const double* gradient);
  const Schedule& schedule_;
  double jumps_per_iteration_;
  int jumps_ = 0;                       // proposals in flight in the current iteration
  ChainCore core_;
  std::unique_ptr<SliceMove> slice_;
  std::unique_ptr<HmcMove> hmc_;
  const GaussianMixture* mixture_ = nullptr;
  std::vector<double> log_q_;           // log q of the proposals in flight, then of the current state
  Stage stage_ = Stage::idle;
  std::size_t iteration_ = 0;
  std::size_t next_window_ = 0;
  RunningMoments window_, jump_window_;
  double* draws_ = nullptr;
  double* log_densities_ = nullptr;
};

}  // namespace sbi::mcmc_detail
