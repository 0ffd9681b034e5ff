#pragma once
// The MCMC target: an unnormalised log-density evaluated on a whole batch of points at once.
//
// What a user provides (plain lambdas or function objects; no base class):
//
// | expression                    | meaning                                                            |
// |-------------------------------|--------------------------------------------------------------------|
// | `f(x, log_density)`           | x: `const sbi::RowMatrix&`, one point per row (rows = chains);     |
// |                               | writes log p(x_r), up to a constant, into `log_density[r]`         |
// |                               | (`Eigen::Ref<sbi::Vector>`, already sized x.rows()). −∞ or NaN     |
// |                               | means "outside the support" (NaN is treated as −∞).                |
// | `g(x, log_density, gradient)` | optional, for gradient-based samplers (HMC): as f, and also        |
// |                               | ∇ₓ log p(x_r) into row r of `gradient`                             |
// |                               | (`Eigen::Ref<sbi::RowMatrix>`, already sized x.rows() × dim)       |
//
// make_mcmc_target(dim, f) or make_mcmc_target(dim, f, g) wraps them into an McmcTarget. The
// samplers call f (or g) with many chains per call, never one point at a time, so a neural
// likelihood evaluates one matrix product per layer for all chains.
//
// Contract:
//   * Row r of the result depends on row r of x only (the samplers' results then do not depend on
//     how chains are grouped into calls).
//   * With `thread_safe` (the default) f and g may be called concurrently from several threads on
//     different batches; keep per-thread scratch (an autodiff tape, say) in `thread_local`
//     storage. With thread_safe = false the samplers call them from one thread at a time.
//   * Exceptions propagate out of the sampler.
//
// The initial distribution (McmcInitialDistribution) draws starting points and, for
// sampling-importance-resampling, gives their log-density; UnconstrainedPosterior
// (sbi/mcmc/unconstrained.hpp) builds both from a prior.
#include "sbi/core/types.hpp"
#include "sbi/random/rng.hpp"

#include <concepts>
#include <cstddef>
#include <functional>
#include <utility>

namespace sbi {

using BatchLogDensityFn = std::function<void(const RowMatrix& x, Eigen::Ref<Vector> log_density)>;
using BatchLogDensityGradientFn =
    std::function<void(const RowMatrix& x, Eigen::Ref<Vector> log_density, Eigen::Ref<RowMatrix> gradient)>;

struct McmcTarget {
  std::size_t dim = 0;
  BatchLogDensityFn log_density;              // required
  BatchLogDensityGradientFn log_density_gradient;  // optional; needed by the HMC sampler
  bool thread_safe = true;                    // f and g may run concurrently on different batches

  bool has_gradient() const { return static_cast<bool>(log_density_gradient); }
};

// Where chains start: a draw in the target's space and, for sampling-importance-resampling (SIR),
// the log-density of those draws (the importance weight of a draw x is target(x) − log_density(x)).
struct McmcInitialDistribution {
  std::function<void(Rng& rng, MutableRow x)> sample;   // required
  std::function<double(ConstRow x)> log_density;        // required for "init": "sir"
};

template <class F>
concept BatchLogDensityFunction = std::invocable<const F&, const RowMatrix&, Eigen::Ref<Vector>>;
template <class G>
concept BatchLogDensityGradientFunction =
    std::invocable<const G&, const RowMatrix&, Eigen::Ref<Vector>, Eigen::Ref<RowMatrix>>;

template <class F>
McmcTarget make_mcmc_target(std::size_t dim, F f, bool thread_safe = true) {
  static_assert(BatchLogDensityFunction<F>,
                "sbi::make_mcmc_target: the log-density must be callable as f(const sbi::RowMatrix& x, "
                "Eigen::Ref<sbi::Vector> log_density), writing log p of row r into log_density[r]; see the table "
                "in sbi/mcmc/target.hpp");
  McmcTarget target;
  target.dim = dim;
  target.log_density = std::move(f);
  target.thread_safe = thread_safe;
  return target;
}

template <class F, class G>
McmcTarget make_mcmc_target(std::size_t dim, F f, G g, bool thread_safe = true) {
  static_assert(BatchLogDensityGradientFunction<G>,
                "sbi::make_mcmc_target: the gradient function must be callable as g(const sbi::RowMatrix& x, "
                "Eigen::Ref<sbi::Vector> log_density, Eigen::Ref<sbi::RowMatrix> gradient), writing log p and "
                "its gradient of row r into log_density[r] and gradient.row(r); see sbi/mcmc/target.hpp");
  McmcTarget target = make_mcmc_target(dim, std::move(f), thread_safe);
  target.log_density_gradient = std::move(g);
  return target;
}

}  // namespace sbi
