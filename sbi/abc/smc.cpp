#include "sbi/abc/smc.hpp"

#include "sbi/abc/rejection.hpp"
#include "sbi/core/error.hpp"
#include "sbi/inference/method.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/simulation/runner.hpp"
#include "sbi/util/statistics.hpp"

#include <Eigen/Cholesky>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

namespace sbi {

std::size_t SmcAbcOptions::resolved_population() const {
  const std::size_t n = population > 0 ? population : (budget > 10000 ? 300 : 100);
  return std::max<std::size_t>(1, std::min(n, budget / 2));
}

bool SmcAbcOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (budget < 4) return fail("the budget must be at least 4 simulations");
  if (population > 0 && 2 * population > budget) return fail("the population must be at most half the budget");
  if (!(initial_factor >= 1)) return fail("initial_factor must be ≥ 1");
  if (!(epsilon_quantile > 0 && epsilon_quantile < 1)) return fail("epsilon_quantile must lie in (0, 1)");
  if (!(kernel_scale > 0) || !std::isfinite(kernel_scale)) return fail("kernel_scale must be a positive number");
  if (!(ess_fraction >= 0 && ess_fraction <= 1)) return fail("ess_fraction must lie in [0, 1]");
  if (!(min_acceptance_rate >= 0 && min_acceptance_rate < 1)) return fail("min_acceptance_rate must lie in [0, 1)");
  if (!(final_epsilon >= 0) || !std::isfinite(final_epsilon)) return fail("final_epsilon must be a finite number ≥ 0");
  return true;
}

nlohmann::json SmcAbcOptions::to_json() const {
  nlohmann::json j = {{"population", population},
                      {"initial_factor", initial_factor},
                      {"epsilon_quantile", epsilon_quantile},
                      {"kernel_scale", kernel_scale},
                      {"ess_fraction", ess_fraction},
                      {"min_acceptance_rate", min_acceptance_rate},
                      {"final_epsilon", final_epsilon},
                      {"scale", sbi::to_string(scale)}};
  write_resample_options(resample, j);
  return j;
}

SmcAbcOptions SmcAbcOptions::from_json(const nlohmann::json& section, const std::string& path) {
  SmcAbcOptions o;
  JsonObjectReader r(section, path);
  for (const auto& key : run_level_inference_keys()) r.get(key);
  o.population = static_cast<std::size_t>(r.optional_integer("population", 0, 0, std::int64_t{1} << 32));
  o.initial_factor = r.optional_number_in("initial_factor", o.initial_factor, 1.0, 1e6);
  o.epsilon_quantile = r.optional_number_in("epsilon_quantile", o.epsilon_quantile, 1e-6, 1.0 - 1e-6);
  o.kernel_scale = r.optional_positive_number("kernel_scale", o.kernel_scale);
  o.ess_fraction = r.optional_number_in("ess_fraction", o.ess_fraction, 0.0, 1.0);
  o.min_acceptance_rate = r.optional_number_in("min_acceptance_rate", o.min_acceptance_rate, 0.0, 1.0 - 1e-12);
  o.final_epsilon = r.optional_number_in("final_epsilon", o.final_epsilon, 0.0, 1e300);
  o.scale = scale_kind_from_string(r.optional_string("scale", "mad", {"mad", "sd"}));
  read_resample_options(r, o.resample);
  r.reject_unknown_keys();
  return o;
}

namespace {

// Substream of the proposal streams (far from the runner's 0/1 and redraw substreams).
constexpr std::uint64_t kProposalSubstream = 0x50c0ab0c;
constexpr std::uint64_t kResampleSubstream = 0x50c0ab0d;

struct Population {
  RowMatrix theta;
  Vector weights;    // normalised
  Vector distances;
};

double log_sum_exp(const Eigen::Ref<const Vector>& v) {
  const double m = v.maxCoeff();
  if (!std::isfinite(m)) return m;
  return m + std::log((v.array() - m).exp().sum());
}

// The perturbation kernel N(0, scale · Σ_w) of a population, with its lower Cholesky factor and the
// population's particles whitened by it (for the importance weights).
struct Kernel {
  Matrix lower;             // L with L Lᵀ = kernel covariance
  RowMatrix whitened;       // L⁻¹ θ_j per row
  Vector log_weights;       // log w_j of the population
  std::vector<double> cumulative;

  Kernel(const Population& pop, double scale) {
    const Eigen::Index d = pop.theta.cols();
    const Eigen::RowVectorXd mean = pop.weights.transpose() * pop.theta;
    const RowMatrix centred = pop.theta.rowwise() - mean;
    Matrix cov = scale * (centred.transpose() * pop.weights.asDiagonal() * centred);
    // A degenerate population (one distinct particle, or a parameter that never varies) still needs
    // a proper kernel: add a small multiple of the average variance, or a tiny absolute floor.
    const double average_variance = std::max(cov.trace() / static_cast<double>(d), 1e-12);
    Eigen::LLT<Matrix> llt(cov);
    for (double jitter = 1e-9; llt.info() != Eigen::Success || !llt.matrixL().toDenseMatrix().allFinite(); jitter *= 10) {
      llt.compute(cov + jitter * average_variance * Matrix::Identity(d, d));
      if (jitter > 1) throw InputError("SMC-ABC: the perturbation kernel's covariance is not positive definite");
    }
    lower = llt.matrixL();
    whitened = lower.triangularView<Eigen::Lower>().solve(Matrix(pop.theta.transpose())).transpose();
    log_weights = pop.weights.array().log().matrix();
    cumulative.resize(static_cast<std::size_t>(pop.weights.size()));
    std::partial_sum(pop.weights.data(), pop.weights.data() + pop.weights.size(), cumulative.begin());
  }

  Eigen::Index pick(double u) const {
    const double target = u * cumulative.back();
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
    return std::min<Eigen::Index>(static_cast<Eigen::Index>(it - cumulative.begin()), static_cast<Eigen::Index>(cumulative.size()) - 1);
  }

  // log Σ_j w_j K(θ | θ_j), up to the constant shared by every θ.
  double log_mixture_density(const Eigen::RowVectorXd& theta) const {
    const Eigen::VectorXd w = lower.triangularView<Eigen::Lower>().solve(theta.transpose());
    Vector terms(whitened.rows());
    for (Eigen::Index j = 0; j < whitened.rows(); ++j) terms[j] = log_weights[j] - 0.5 * (whitened.row(j) - w.transpose()).squaredNorm();
    return log_sum_exp(terms);
  }
};

Vector normalised_from_log(const Vector& log_w) {
  const double total = log_sum_exp(log_w);
  return (log_w.array() - total).exp().matrix();
}

}  // namespace

AbcResult smc_abc(const Simulator& simulator, const Prior& prior, const Vector& observation, const SmcAbcOptions& options,
                  const SmcAbcCallbacks& callbacks) {
  const auto start = std::chrono::steady_clock::now();
  std::string why;
  if (!options.is_valid(&why)) throw InputError("SMC-ABC: " + why);
  check_prior_fits(prior, simulator, "SMC-ABC");
  if (static_cast<std::size_t>(observation.size()) != simulator.data_dim())
    throw InputError("SMC-ABC: the observation has " + std::to_string(observation.size()) + " values but simulator \"" + simulator.name() +
                     "\" produces " + std::to_string(simulator.data_dim()));

  const std::size_t n_particles = options.resolved_population();
  const auto d = static_cast<Eigen::Index>(prior.dim());
  SimulationOptions sim_options;
  sim_options.threads = options.threads;  // the runner falls back to one thread for a simulator that is not thread-safe
  sim_options.failure_policy = options.failure_policy == FailurePolicy::fail ? FailurePolicy::fail : FailurePolicy::drop;

  AbcResult result;
  result.method = "smc";
  result.parameter_names = prior.names();
  std::size_t used = 0;
  auto stop_requested = [&] { return callbacks.stop && callbacks.stop->load(); };
  auto report_progress = [&] {
    if (callbacks.on_progress) callbacks.on_progress(used, options.budget);
  };

  // Generation 0: prior predictive draws, simulated in fixed-size batches (progress, interrupts).
  const auto n_initial = static_cast<std::size_t>(std::clamp(
      options.initial_factor * static_cast<double>(n_particles), static_cast<double>(n_particles),
      std::max(static_cast<double>(options.budget / 2), static_cast<double>(n_particles))));
  RowMatrix theta0(static_cast<Eigen::Index>(n_initial), d);
  RowMatrix y0(static_cast<Eigen::Index>(n_initial), static_cast<Eigen::Index>(simulator.data_dim()));
  std::size_t simulated0 = 0;
  for (std::size_t first = 0; first < n_initial; first += 2048) {
    if (stop_requested()) {
      result.interrupted = true;
      break;
    }
    const std::size_t count = std::min<std::size_t>(2048, n_initial - first);
    RowMatrix theta(static_cast<Eigen::Index>(count), d);
    for (std::size_t i = 0; i < count; ++i) {
      Rng rng = Rng::stream(options.seed, first + i, 0);
      prior.sample(rng, row_span(theta, static_cast<Eigen::Index>(i)));
    }
    std::vector<SimulationOutcome> outcomes;
    RowMatrix y = simulate_given(simulator, theta, options.seed, first, sim_options, &outcomes);
    for (std::size_t i = 0; i < count; ++i)
      if (!outcomes[i].ok()) y.row(static_cast<Eigen::Index>(i)).setConstant(std::numeric_limits<double>::quiet_NaN());
    theta0.middleRows(static_cast<Eigen::Index>(first), static_cast<Eigen::Index>(count)) = theta;
    y0.middleRows(static_cast<Eigen::Index>(first), static_cast<Eigen::Index>(count)) = y;
    used += count;
    simulated0 += count;
    report_progress();
  }
  theta0.conservativeResize(static_cast<Eigen::Index>(simulated0), d);
  y0.conservativeResize(static_cast<Eigen::Index>(simulated0), y0.cols());
  if (simulated0 == 0) throw InputError("SMC-ABC: interrupted before any simulation finished");

  RejectionOptions initial;
  initial.scale = options.scale;
  initial.keep = static_cast<Eigen::Index>(n_particles);
  const AbcResult first_generation = rejection_abc(theta0, y0, observation, prior, initial);
  result.statistic_scale = first_generation.statistic_scale;
  Population population{first_generation.particles, first_generation.weights, first_generation.distances};
  AbcGeneration g0 = first_generation.generations.front();
  g0.complete = !result.interrupted;
  result.generations.push_back(g0);
  if (callbacks.on_generation) callbacks.on_generation(g0);
  double epsilon = first_generation.epsilon;
  double last_rate = g0.acceptance_rate;
  std::size_t proposal_counter = 0;

  std::optional<Population> partial;  // accepted particles of a generation the budget cut short
  while (!result.interrupted) {
    if (options.final_epsilon > 0 && epsilon <= options.final_epsilon) {
      result.stop_reason = "final epsilon reached";
      break;
    }
    if (used >= options.budget) {
      result.stop_reason = "budget spent";
      break;
    }
    std::vector<double> previous_distances(population.distances.data(), population.distances.data() + population.distances.size());
    double next_epsilon = quantile(previous_distances, options.epsilon_quantile);
    if (options.final_epsilon > 0) next_epsilon = std::max(next_epsilon, options.final_epsilon);
    const Kernel kernel(population, options.kernel_scale);

    AbcGeneration generation;
    generation.epsilon = next_epsilon;
    std::vector<Eigen::RowVectorXd> accepted_theta;
    std::vector<double> accepted_distance;
    double rate_estimate = std::max(last_rate, 1e-3);
    bool cut_short = false;
    while (accepted_theta.size() < n_particles) {
      if (stop_requested()) {
        result.interrupted = true;
        result.stop_reason = "interrupted";
        cut_short = true;
        break;
      }
      if (used >= options.budget) {
        result.stop_reason = "budget spent";
        cut_short = true;
        break;
      }
      if (options.min_acceptance_rate > 0 &&
          static_cast<double>(generation.simulations) * options.min_acceptance_rate >= static_cast<double>(n_particles) &&
          static_cast<double>(accepted_theta.size()) < options.min_acceptance_rate * static_cast<double>(generation.simulations)) {
        result.stop_reason = "acceptance rate below the minimum";
        cut_short = true;
        break;
      }
      // Batch size from the acceptance rate so far (never from the thread count), at most one
      // population's worth so that a generation overshoots its need by at most one batch.
      const double needed = static_cast<double>(n_particles - accepted_theta.size());
      auto batch = static_cast<std::size_t>(
          std::clamp(std::ceil(needed / rate_estimate), 16.0, std::max(64.0, static_cast<double>(n_particles))));
      batch = std::min(batch, options.budget - used);

      RowMatrix proposals(static_cast<Eigen::Index>(batch), d);
      std::size_t out_of_support_in_a_row = 0;
      for (std::size_t i = 0; i < batch;) {
        Rng rng = Rng::stream(options.seed, proposal_counter++, kProposalSubstream);
        ++generation.proposals;
        const Eigen::Index ancestor = kernel.pick(rng.uniform());
        Vector z(d);
        for (Eigen::Index c = 0; c < d; ++c) z[c] = rng.normal();
        const Eigen::RowVectorXd candidate = population.theta.row(ancestor) + (kernel.lower * z).transpose();
        proposals.row(static_cast<Eigen::Index>(i)) = candidate;
        if (prior.in_support(row_span(proposals, static_cast<Eigen::Index>(i)))) {
          ++i;
          out_of_support_in_a_row = 0;
        } else if (++out_of_support_in_a_row > 1000000) {
          throw InputError("SMC-ABC: a million proposals in a row fell outside the prior's support");
        }
      }
      std::vector<SimulationOutcome> outcomes;
      const RowMatrix y = simulate_given(simulator, proposals, options.seed, used, sim_options, &outcomes);
      used += batch;
      generation.simulations += batch;
      for (std::size_t i = 0; i < batch; ++i) {
        const auto r = static_cast<Eigen::Index>(i);
        if (!outcomes[i].ok() || !y.row(r).allFinite()) continue;
        const double distance = ((y.row(r) - observation.transpose()).cwiseQuotient(result.statistic_scale.transpose())).norm();
        if (distance <= next_epsilon) {
          accepted_theta.push_back(proposals.row(r));
          accepted_distance.push_back(distance);
        }
      }
      rate_estimate = std::max(static_cast<double>(accepted_theta.size()) / static_cast<double>(generation.simulations),
                               0.5 / static_cast<double>(generation.simulations));
      report_progress();
    }

    generation.accepted = accepted_theta.size();
    generation.acceptance_rate =
        generation.simulations > 0 ? static_cast<double>(generation.accepted) / static_cast<double>(generation.simulations) : 0.0;
    generation.complete = !cut_short;
    if (generation.accepted == 0) {
      if (generation.simulations > 0 || generation.proposals > 0) result.generations.push_back(generation);
      break;
    }

    Population next;
    next.theta.resize(static_cast<Eigen::Index>(generation.accepted), d);
    next.distances.resize(static_cast<Eigen::Index>(generation.accepted));
    Vector log_w(static_cast<Eigen::Index>(generation.accepted));
    for (std::size_t i = 0; i < generation.accepted; ++i) {
      const auto r = static_cast<Eigen::Index>(i);
      next.theta.row(r) = accepted_theta[i];
      next.distances[r] = accepted_distance[i];
      log_w[r] = prior.log_prob(row_span(next.theta, r)) - kernel.log_mixture_density(accepted_theta[i]);
    }
    next.weights = normalised_from_log(log_w);
    generation.effective_sample_size = effective_sample_size(next.weights);

    if (cut_short) {
      partial = std::move(next);
      result.generations.push_back(generation);
      if (callbacks.on_generation) callbacks.on_generation(generation);
      break;
    }
    if (generation.effective_sample_size < options.ess_fraction * static_cast<double>(n_particles)) {
      Rng rng = Rng::stream(options.seed, result.generations.size(), kResampleSubstream);
      const auto picks = systematic_resample(next.weights, next.theta.rows(), rng);
      Population resampled;
      resampled.theta.resize(next.theta.rows(), d);
      resampled.distances.resize(next.theta.rows());
      for (std::size_t i = 0; i < picks.size(); ++i) {
        resampled.theta.row(static_cast<Eigen::Index>(i)) = next.theta.row(picks[i]);
        resampled.distances[static_cast<Eigen::Index>(i)] = next.distances[picks[i]];
      }
      resampled.weights = Vector::Constant(next.theta.rows(), 1.0 / static_cast<double>(next.theta.rows()));
      next = std::move(resampled);
      generation.resampled = true;
    }
    population = std::move(next);
    epsilon = next_epsilon;
    last_rate = generation.acceptance_rate;
    result.generations.push_back(generation);
    if (callbacks.on_generation) callbacks.on_generation(generation);
    if (options.min_acceptance_rate > 0 && generation.acceptance_rate < options.min_acceptance_rate) {
      result.stop_reason = "acceptance rate below the minimum";
      break;
    }
  }

  if (partial) {
    // Merge the unfinished generation (tolerance ε_t, M particles) with the last complete one
    // (ε_{t−1}): each keeps its own normalised weights, scaled by its share of the population.
    const double share = std::min(1.0, static_cast<double>(partial->theta.rows()) / static_cast<double>(n_particles));
    Population merged;
    const Eigen::Index a = population.theta.rows(), b = partial->theta.rows();
    merged.theta.resize(a + b, d);
    merged.theta << population.theta, partial->theta;
    merged.distances.resize(a + b);
    merged.distances << population.distances, partial->distances;
    merged.weights.resize(a + b);
    merged.weights << (1.0 - share) * population.weights, share * partial->weights;
    merged.weights /= merged.weights.sum();
    // Keep only particles with positive weight (a full share drops the previous generation).
    std::vector<Eigen::Index> keep;
    for (Eigen::Index i = 0; i < a + b; ++i)
      if (merged.weights[i] > 0) keep.push_back(i);
    population.theta.resize(static_cast<Eigen::Index>(keep.size()), d);
    population.distances.resize(static_cast<Eigen::Index>(keep.size()));
    population.weights.resize(static_cast<Eigen::Index>(keep.size()));
    for (std::size_t k = 0; k < keep.size(); ++k) {
      population.theta.row(static_cast<Eigen::Index>(k)) = merged.theta.row(keep[k]);
      population.distances[static_cast<Eigen::Index>(k)] = merged.distances[keep[k]];
      population.weights[static_cast<Eigen::Index>(k)] = merged.weights[keep[k]];
    }
    epsilon = result.generations.back().epsilon;
  }
  if (result.interrupted) result.stop_reason = "interrupted";

  result.particles = std::move(population.theta);
  result.weights = std::move(population.weights);
  result.distances = std::move(population.distances);
  result.epsilon = epsilon;
  result.simulations = used;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace sbi
