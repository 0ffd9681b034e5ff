#include "sbi/diagnostics/calibration.hpp"

#include "sbi/core/error.hpp"
#include "sbi/util/clock.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/io/checksum.hpp"
#include "sbi/parallel/bytes.hpp"
#include "sbi/parallel/cluster.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"
#include "sbi/simulation/runner.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <sstream>

namespace sbi {

namespace {

using Clock = std::chrono::steady_clock;

// Streams (root, pair index, substream); root = stream_seed(seed, 2^32, 0xCA1B) keeps them apart
// from the runner's streams (seed, i, ·) that simulate the pairs.
constexpr std::uint64_t kSampleStream = 0;     // seed of posterior.sample for the pair
constexpr std::uint64_t kJitterStream = 1;     // tie-breaks and the fractional part U of the ranks
constexpr std::uint64_t kReferenceStream = 2;  // TARP reference point of the pair
constexpr std::uint64_t kPilotStream = 3;      // TARP pilot prior draws (index = pilot draw)
constexpr std::uint64_t kPosteriorStream = 4;  // seed handed to a PosteriorForObservation

std::uint64_t root_seed(std::uint64_t seed) { return stream_seed(seed, std::uint64_t{1} << 32, 0xCA1B); }

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string percent(double share) { return fmt("%.1f %%", 100.0 * share); }

// (k + U)/(total + 1) with k = below + a uniform tie-break among the `equal` ones: exactly U(0, 1)
// when the point is exchangeable with the `total` others.
double fractional_rank(std::size_t below, std::size_t equal, std::size_t total, Rng& jitter, std::int64_t* rank = nullptr) {
  const std::size_t k = below + static_cast<std::size_t>(jitter.below(static_cast<std::uint64_t>(equal) + 1));
  if (rank) *rank = static_cast<std::int64_t>(k);
  return (static_cast<double>(k) + jitter.uniform()) / static_cast<double>(total + 1);
}

template <class Values>
double rank_of_first(const Values& scores, Eigen::Index count, Rng& jitter) {
  // scores[0] is θ*'s, scores[1..count] the draws'.
  std::size_t below = 0, equal = 0;
  const double truth = scores[0];
  for (Eigen::Index l = 1; l <= count; ++l) {
    below += scores[l] < truth;
    equal += scores[l] == truth;
  }
  return fractional_rank(below, equal, static_cast<std::size_t>(count), jitter);
}

// Per-thread scratch and tallies.
struct Workspace {
  RowMatrix finite;      // the finite draws, when some are not
  RowMatrix pooled;      // θ* and draws, for log_prob or the kernel density estimate
  Vector scores;
  Matrix distances;
  double sampling = 0, density = 0, statistics = 0;
  std::size_t non_finite_samples = 0, non_finite_log_prob = 0;
};

// The TARP standardisation and reference box, fixed by pilot prior draws before any pair is seen.
struct TarpFrame {
  Vector mean, sd, low, high;  // low/high: the pilot draws' box in standardised units
};

TarpFrame tarp_frame(const Prior& prior, std::size_t pilot, std::uint64_t root) {
  const auto d = static_cast<Eigen::Index>(prior.dim());
  RowMatrix draws(static_cast<Eigen::Index>(pilot), d);
  for (std::size_t k = 0; k < pilot; ++k) {
    Rng rng = Rng::stream(root, k, kPilotStream);
    prior.sample(rng, row_span(draws, static_cast<Eigen::Index>(k)));
  }
  TarpFrame frame;
  frame.mean = draws.colwise().mean().transpose();
  frame.sd.resize(d);
  frame.low.resize(d);
  frame.high.resize(d);
  for (Eigen::Index j = 0; j < d; ++j) {
    const double variance = (draws.col(j).array() - frame.mean[j]).square().sum() / static_cast<double>(std::max<std::size_t>(pilot - 1, 1));
    frame.sd[j] = variance > 0 && std::isfinite(variance) ? std::sqrt(variance) : 1.0;
    frame.low[j] = (draws.col(j).minCoeff() - frame.mean[j]) / frame.sd[j];
    frame.high[j] = (draws.col(j).maxCoeff() - frame.mean[j]) / frame.sd[j];
  }
  return frame;
}

// Leave-one-out Gaussian kernel scores of the rows of `pooled` (row 0 = θ*), standardised by the pool's
// own sd, bandwidth by Scott's rule: a function of the pool that treats its rows alike.
void kde_scores(const RowMatrix& pooled, Workspace& w) {
  const Eigen::Index n = pooled.rows(), d = pooled.cols();
  w.scores.resize(n);
  if (n == 1) {
    w.scores[0] = 0;
    return;
  }
  const Eigen::RowVectorXd mean = pooled.colwise().mean();
  Eigen::RowVectorXd scale(d);
  for (Eigen::Index j = 0; j < d; ++j) {
    const double variance = (pooled.col(j).array() - mean[j]).square().sum() / static_cast<double>(n - 1);
    scale[j] = variance > 0 ? 1.0 / std::sqrt(variance) : 1.0;
  }
  const double h2 = std::pow(static_cast<double>(n), -2.0 / static_cast<double>(d + 4));
  const double factor = -0.5 / h2;
  w.distances.resize(n, n);
  for (Eigen::Index p = 0; p < n; ++p) {
    w.distances(p, p) = -std::numeric_limits<double>::infinity();
    for (Eigen::Index q = p + 1; q < n; ++q) {
      double squared = 0;
      for (Eigen::Index j = 0; j < d; ++j) {
        const double diff = (pooled(p, j) - pooled(q, j)) * scale[j];
        squared += diff * diff;
      }
      w.distances(p, q) = w.distances(q, p) = factor * squared;
    }
  }
  for (Eigen::Index p = 0; p < n; ++p) {
    const auto column = w.distances.col(p);
    const double top = column.maxCoeff();
    w.scores[p] = top + std::log((column.array() - top).exp().sum());
  }
}

struct Pairs {
  std::vector<std::uint64_t> indices;
  RowMatrix theta, y;
};

struct Run {
  const PosteriorForObservation& posterior_for;
  const Simulator& simulator;
  const Prior& prior;
  const CalibrationOptions& options;
  const TrainingCallbacks& callbacks;
  // The posterior of an amortised run (dimensions checked once), else null.
  const Posterior* amortized = nullptr;
};

void check_posterior_fits(const Posterior& posterior, const Simulator& simulator, const Prior& prior) {
  if (!posterior) throw InputError("calibration: the posterior is empty");
  if (posterior.parameter_dim() != prior.dim())
    throw InputError("calibration: the posterior has " + std::to_string(posterior.parameter_dim()) + " parameters but the prior has " +
                     std::to_string(prior.dim()));
  if (posterior.data_dim() != simulator.data_dim())
    throw InputError("calibration: the posterior takes " + std::to_string(posterior.data_dim()) + " data values but simulator \"" +
                     simulator.name() + "\" returns " + std::to_string(simulator.data_dim()));
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t k = 0; k < items.size(); ++k) out += (k ? (k + 1 == items.size() ? " and " : ", ") : "") + items[k];
  return out;
}

// The verdict and its one-sentence reason (rules at the top of calibration.hpp).
void decide(CalibrationResult& r) {
  const double s = r.options.significance;
  if (r.draws == 0) {
    r.verdict = CalibrationVerdict::inconclusive;
    r.verdict_reason = r.interrupted ? "interrupted before any draw was evaluated" : "no prior-predictive draw could be simulated";
    return;
  }
  std::vector<std::string> failures, passes;
  int over = 0, under = 0;
  bool coverage_failed = false;
  if (r.coverage) {
    const auto& c = *r.coverage;
    const std::size_t k = c.levels.size();
    if (!c.passed) {
      coverage_failed = true;
      std::string text = "coverage ";
      if (c.below) text += "below nominal at " + std::to_string(c.below) + " of " + std::to_string(k) + " levels";
      if (c.below && c.above) text += " and ";
      if (c.above) text += "above nominal at " + std::to_string(c.above) + " of " + std::to_string(k) + " levels";
      // The level nearest 0.5 as an example.
      std::size_t middle = 0;
      for (std::size_t i = 0; i < k; ++i)
        if (std::abs(c.levels[i] - 0.5) < std::abs(c.levels[middle] - 0.5)) middle = i;
      text += " (the " + fmt("%.2g", c.levels[middle]) + " HPD region holds θ* in " + percent(c.observed[middle]) + " of draws)";
      failures.push_back(text);
    } else {
      passes.push_back("coverage within its " + fmt("%.3g", 100 * (1 - s)) + " % band at all " + std::to_string(k) + " levels");
    }
  }
  // A failed parameter's histogram: ∪ (θ* in the draws' tails: over-confident), ∩ (under-confident),
  // or skewed (θ* on one side: a biased posterior, neither of the two).
  std::vector<std::string> sbc_over, sbc_under, sbc_biased;
  bool sbc_run = !r.sbc.empty(), sbc_failed = false;
  for (const auto& p : r.sbc) {
    if (p.passed) continue;
    sbc_failed = true;
    const std::string shape = p.ranks.shape(0.0);
    const std::string label = p.parameter + " (" + shape + ", p = " + fmt("%.2g", p.ranks.chi_square_p) + ")";
    (shape == "∪-shaped" ? sbc_over : shape == "∩-shaped" ? sbc_under : sbc_biased).push_back(label);
  }
  int biased = 0;
  if (sbc_failed) {
    std::vector<std::string> all = sbc_over;
    all.insert(all.end(), sbc_under.begin(), sbc_under.end());
    all.insert(all.end(), sbc_biased.begin(), sbc_biased.end());
    failures.push_back("SBC ranks not uniform for " + join(all));
    over += sbc_over.empty() ? 0 : 1;
    under += sbc_under.empty() ? 0 : 1;
    biased += sbc_biased.empty() ? 0 : 1;
  } else if (sbc_run) {
    passes.push_back("SBC ranks uniform for all " + std::to_string(r.sbc.size()) + " parameters");
  }
  if (r.tarp) {
    const auto& t = *r.tarp;
    if (!t.passed) {
      failures.push_back("TARP coverage off the diagonal (D = " + fmt("%.3f", t.distance) + ", p = " + fmt("%.2g", t.f.ks_p) + ")");
      (t.f.spread_z > 0 ? over : under) += 1;
    } else {
      passes.push_back("TARP within its band (p = " + fmt("%.2g", t.f.ks_p) + ")");
    }
  }
  if (failures.empty()) {
    r.verdict = CalibrationVerdict::calibrated;
    r.verdict_reason = "every check passed: " + join(passes);
    if (r.coverage) r.verdict_reason += "; coverage deviations smaller than ±" + fmt("%.3f", r.resolution()) + " go unnoticed at N = " +
                                        std::to_string(r.draws);
    return;
  }
  if (coverage_failed) {
    const auto& c = *r.coverage;
    r.verdict = c.below && !c.above ? CalibrationVerdict::over_confident
                : c.above && !c.below ? CalibrationVerdict::under_confident
                                      : CalibrationVerdict::miscalibrated;
  } else {
    r.verdict = over && !under && !biased ? CalibrationVerdict::over_confident
                : under && !over && !biased ? CalibrationVerdict::under_confident
                                            : CalibrationVerdict::miscalibrated;
  }
  r.verdict_reason = join(failures);
  if (!passes.empty()) r.verdict_reason += "; passed: " + join(passes);
}

// What the evaluation of every pair shares (step 2 of run()).
struct PairContext {
  const CalibrationOptions& options;
  const Prior& prior;
  Eigen::Index d = 0, L = 0;
  std::uint64_t root = 0;
  const TarpFrame* frame = nullptr;  // with TARP
  bool use_kde_always = false, need_log_prob = false;
};

// Per-pair values, by slot (a pair's position in the run, or in a chunk of it).
struct PairValues {
  std::vector<std::int64_t> ranks;  // slot × d (SBC)
  std::vector<double> fractions;    // slot × d (SBC)
  std::vector<double> hpd, tarp_f;  // coverage, TARP
  std::vector<char> done, used_log_prob;
  PairValues(std::size_t n, Eigen::Index d, const CalibrationOptions& o)
      : ranks(o.sbc ? n * static_cast<std::size_t>(d) : 0), fractions(ranks.size()), hpd(o.coverage ? n : 0), tarp_f(o.tarp ? n : 0),
        done(n, 0), used_log_prob(n, 0) {}
};

// One pair's posterior draws and ranks, into slot `slot` of `out`: a function of (seed, index) and the
// pair only. `clock` started before the posterior was obtained (its time counts as sampling).
// An MCMC kind's chains stop at `stop` with sbi::Interrupted, leaving the slot not done.
void evaluate_pair(const PairContext& c, const Posterior& posterior, std::uint64_t index, const Vector& y,
                   const Eigen::Ref<const Eigen::RowVectorXd>& truth, Workspace& w, PairValues& out, std::size_t slot, Clock::time_point clock,
                   const std::atomic<bool>* stop) {
  TrainingCallbacks sampling;
  sampling.stop = stop;
  const RowMatrix draws_all = posterior.sample(y, c.L, stream_seed(c.root, index, kSampleStream), sampling);
  if (draws_all.rows() != c.L || draws_all.cols() != c.d)
    throw InputError("calibration: posterior kind \"" + posterior.kind() + "\" returned " + std::to_string(draws_all.rows()) + "×" +
                     std::to_string(draws_all.cols()) + " draws, expected " + std::to_string(c.L) + "×" + std::to_string(c.d));
  // Draws with a non-finite entry are left out; the rest stay exchangeable with θ*.
  const RowMatrix* draws = &draws_all;
  Eigen::Index finite_rows = 0;
  for (Eigen::Index l = 0; l < c.L; ++l) finite_rows += draws_all.row(l).allFinite();
  if (finite_rows < c.L) {
    w.non_finite_samples += static_cast<std::size_t>(c.L - finite_rows);
    w.finite.resize(finite_rows, c.d);
    for (Eigen::Index l = 0, k = 0; l < c.L; ++l)
      if (draws_all.row(l).allFinite()) w.finite.row(k++) = draws_all.row(l);
    draws = &w.finite;
  }
  const Eigen::Index n = draws->rows();
  auto now = Clock::now();
  w.sampling += std::chrono::duration<double>(now - clock).count();
  clock = now;

  Rng jitter = Rng::stream(c.root, index, kJitterStream);
  if (c.options.sbc) {
    for (Eigen::Index j = 0; j < c.d; ++j) {
      std::size_t below = 0, equal = 0;
      const double value = truth[j];
      for (Eigen::Index l = 0; l < n; ++l) {
        below += (*draws)(l, j) < value;
        equal += (*draws)(l, j) == value;
      }
      const std::size_t at = slot * static_cast<std::size_t>(c.d) + static_cast<std::size_t>(j);
      out.fractions[at] = fractional_rank(below, equal, static_cast<std::size_t>(n), jitter, &out.ranks[at]);
    }
  }
  now = Clock::now();
  w.statistics += std::chrono::duration<double>(now - clock).count();
  clock = now;

  if (c.options.coverage) {
    const bool log_prob = !c.use_kde_always && posterior.info().has_log_prob;
    if (c.need_log_prob && !log_prob)
      throw InputError("calibration: coverage_density \"log_prob\" was asked for, but a posterior of kind \"" + posterior.kind() +
                       "\" has no log_prob; use \"kde\" or \"auto\"");
    out.used_log_prob[slot] = log_prob;
    const Eigen::Index m = log_prob ? n : std::min(n, c.options.kde_samples);
    w.pooled.resize(m + 1, c.d);
    w.pooled.row(0) = truth;
    w.pooled.bottomRows(m) = draws->topRows(m);
    if (log_prob) {
      w.scores = posterior.log_prob(w.pooled, y);
      if (w.scores.size() != m + 1)
        throw InputError("calibration: posterior kind \"" + posterior.kind() + "\" returned " + std::to_string(w.scores.size()) +
                         " log_prob values for " + std::to_string(m + 1) + " points");
      for (Eigen::Index l = 0; l <= m; ++l)
        if (std::isnan(w.scores[l])) {
          w.scores[l] = -std::numeric_limits<double>::infinity();
          ++w.non_finite_log_prob;
        }
    } else {
      kde_scores(w.pooled, w);
    }
    now = Clock::now();
    w.density += std::chrono::duration<double>(now - clock).count();
    clock = now;
    out.hpd[slot] = rank_of_first(w.scores, m, jitter);
  }

  if (c.options.tarp) {
    Rng reference_rng = Rng::stream(c.root, index, kReferenceStream);
    Eigen::RowVectorXd reference(c.d);
    if (c.options.tarp_reference == "prior") {
      c.prior.sample(reference_rng, {reference.data(), static_cast<std::size_t>(c.d)});
      reference = (reference - c.frame->mean.transpose()).cwiseQuotient(c.frame->sd.transpose());
    } else {
      for (Eigen::Index j = 0; j < c.d; ++j) reference[j] = reference_rng.uniform(c.frame->low[j], c.frame->high[j]);
    }
    auto squared_distance = [&](const auto& theta) {
      double sum = 0;
      for (Eigen::Index j = 0; j < c.d; ++j) {
        const double z = (theta[j] - c.frame->mean[j]) / c.frame->sd[j] - reference[j];
        sum += z * z;
      }
      return sum;
    };
    const double truth_distance = squared_distance(truth);
    std::size_t below = 0, equal = 0;
    for (Eigen::Index l = 0; l < n; ++l) {
      const double distance = squared_distance(draws->row(l));
      below += distance < truth_distance;
      equal += distance == truth_distance;
    }
    out.tarp_f[slot] = fractional_rank(below, equal, static_cast<std::size_t>(n), jitter);
  }
  w.statistics += seconds_since(clock);
  out.done[slot] = 1;
}

// ---------------------------------------------------------------------------------------------
// Under MPI (sbi/parallel/cluster.hpp): the job "calibration-draws" of an amortised posterior that every
// rank holds (share_posterior_for_calibration). The job is the posterior's fingerprint and the options;
// a chunk's payload, its pairs (indices, θ*, y*); its result, their PairValues and the chunk's counts
// and times.
constexpr const char* kCalibrationJob = "calibration-draws";

// Identifies a posterior across processes: its posterior.json's content but the files' checksums.
std::string posterior_fingerprint(const Posterior& posterior) {
  const auto& info = posterior.info();
  nlohmann::json j = {{"kind", info.kind}, {"method", info.method}, {"options", info.options}, {"provenance", info.provenance.to_json()},
                      {"parameter_names", posterior.parameter_names()}, {"data_names", posterior.data_names()},
                      {"prior", posterior.prior().to_json()}};
  return hex64(fnv1a64(j.dump()));
}

// What this rank was given to evaluate calibration draws of (every rank calls the share functions
// alike; a worker's handler reads it when a job arrives).
struct CalibrationSharing {
  std::optional<Posterior> posterior;               // share_posterior_for_calibration
  std::optional<Posterior> made_for_one;            // share_rerun_for_calibration ...
  std::optional<Simulator> simulator;               // ... its simulator
  PosteriorForObservation rerun;                    // ... and the method re-run per observation
  std::function<std::string(const Posterior&)> encode;  // ship_posteriors_for_calibration
  std::function<Posterior(const std::string&)> decode;
  bool handler_registered = false;
};

CalibrationSharing& sharing() {
  static CalibrationSharing state;
  return state;
}

// How a calibration job names its posterior: one every rank holds (by fingerprint), one shipped with
// the job (its bytes), or a one-observation posterior whose method every rank re-runs (by fingerprint).
enum class JobPosterior : std::uint8_t { shared = 1, shipped = 2, rerun = 3 };

std::string encode_pairs(const Pairs& pairs, std::uint64_t begin, std::uint64_t end) {
  cluster::ByteWriter w;
  const auto b = static_cast<Eigen::Index>(begin), count = static_cast<Eigen::Index>(end - begin);
  w.put_raw(pairs.indices.data() + begin, static_cast<std::size_t>(count) * sizeof(std::uint64_t));
  w.put_raw(pairs.theta.row(b).data(), static_cast<std::size_t>(count * pairs.theta.cols()) * sizeof(double));
  w.put_raw(pairs.y.row(b).data(), static_cast<std::size_t>(count * pairs.y.cols()) * sizeof(double));
  return w.take();
}

Pairs decode_pairs(const std::string& bytes, std::size_t count, Eigen::Index theta_dim, Eigen::Index y_dim) {
  cluster::ByteReader r(bytes);
  Pairs pairs;
  pairs.indices.resize(count);
  pairs.theta.resize(static_cast<Eigen::Index>(count), theta_dim);
  pairs.y.resize(static_cast<Eigen::Index>(count), y_dim);
  r.get_raw(pairs.indices.data(), count * sizeof(std::uint64_t));
  r.get_raw(pairs.theta.data(), static_cast<std::size_t>(pairs.theta.size()) * sizeof(double));
  r.get_raw(pairs.y.data(), static_cast<std::size_t>(pairs.y.size()) * sizeof(double));
  if (!r.done()) throw std::runtime_error("calibration chunk: unexpected bytes after the pairs");
  return pairs;
}

// The posterior for one pair: the amortised one, or a re-run of the method for the pair's y*
// (PosteriorForObservation with the pair's seed), dimensions checked.
using PairPosterior = std::function<Posterior(const Vector& y, std::uint64_t index)>;

PairPosterior same_posterior(const Posterior& posterior) {
  return [posterior](const Vector&, std::uint64_t) { return posterior; };
}

PairPosterior rerun_posterior(const PosteriorForObservation& posterior_for, std::uint64_t root, const Prior& prior, const Simulator& simulator) {
  return [&posterior_for, root, &prior, &simulator](const Vector& y, std::uint64_t index) {
    Posterior posterior = posterior_for(y, stream_seed(root, index, kPosteriorStream));
    check_posterior_fits(posterior, simulator, prior);
    return posterior;
  };
}

// Pair k of `pairs`: its posterior (a re-run's time counts as sampling) evaluated into slot k. False
// when stopped inside the pair (a re-run or MCMC chains): the slot stays not done.
bool evaluate_stoppable(const PairContext& c, const PairPosterior& posterior_for_pair, const Pairs& pairs, std::size_t k, Workspace& w,
                        PairValues& out, const std::atomic<bool>* stop) {
  const auto clock = Clock::now();
  const auto row = static_cast<Eigen::Index>(k);
  const Vector y = pairs.y.row(row).transpose();
  try {
    const Posterior posterior = posterior_for_pair(y, pairs.indices[k]);
    evaluate_pair(c, posterior, pairs.indices[k], y, pairs.theta.row(row), w, out, k, clock, stop);
    return true;
  } catch (const Interrupted&) {
    return false;
  }
}

// Evaluates every pair of `pairs` on `threads` threads (a chunk of the run, on any rank); the result
// holds each pair's values and the chunk's counts and times.
std::string evaluate_chunk(const PairContext& c, const PairPosterior& posterior_for_pair, const Pairs& pairs, int threads,
                           const std::atomic<bool>* stop) {
  const std::size_t count = pairs.indices.size();
  PairValues values(count, c.d, c.options);
  std::vector<Workspace> workspaces(static_cast<std::size_t>(std::max(1, threads)));
  parallel_for(count, threads, [&](std::size_t k, std::size_t worker) {
    if (stop && stop->load()) return;
    evaluate_stoppable(c, posterior_for_pair, pairs, k, workspaces[worker], values, stop);
  });
  cluster::ByteWriter w;
  const auto d = static_cast<std::size_t>(c.d);
  for (std::size_t k = 0; k < count; ++k) {
    w.put(values.done[k]).put(values.used_log_prob[k]);
    if (c.options.sbc) {
      w.put_raw(values.ranks.data() + k * d, d * sizeof(std::int64_t));
      w.put_raw(values.fractions.data() + k * d, d * sizeof(double));
    }
    if (c.options.coverage) w.put(values.hpd[k]);
    if (c.options.tarp) w.put(values.tarp_f[k]);
  }
  Workspace total;
  for (const auto& ws : workspaces) {
    total.sampling += ws.sampling;
    total.density += ws.density;
    total.statistics += ws.statistics;
    total.non_finite_samples += ws.non_finite_samples;
    total.non_finite_log_prob += ws.non_finite_log_prob;
  }
  w.put(total.sampling).put(total.density).put(total.statistics);
  w.put<std::uint64_t>(total.non_finite_samples).put<std::uint64_t>(total.non_finite_log_prob);
  return w.take();
}

// Copies a chunk's result into slots [begin, end) of `values` and adds its counts and times to `total`.
void decode_chunk(const std::string& bytes, const PairContext& c, std::size_t begin, std::size_t end, PairValues& values, Workspace& total) {
  cluster::ByteReader r(bytes);
  const auto d = static_cast<std::size_t>(c.d);
  for (std::size_t p = begin; p < end; ++p) {
    values.done[p] = r.get<char>();
    values.used_log_prob[p] = r.get<char>();
    if (c.options.sbc) {
      r.get_raw(values.ranks.data() + p * d, d * sizeof(std::int64_t));
      r.get_raw(values.fractions.data() + p * d, d * sizeof(double));
    }
    if (c.options.coverage) values.hpd[p] = r.get<double>();
    if (c.options.tarp) values.tarp_f[p] = r.get<double>();
  }
  total.sampling += r.get<double>();
  total.density += r.get<double>();
  total.statistics += r.get<double>();
  total.non_finite_samples += r.get<std::uint64_t>();
  total.non_finite_log_prob += r.get<std::uint64_t>();
  if (!r.done()) throw std::runtime_error("calibration chunk: unexpected bytes after the results");
}

std::string encode_calibration_job(JobPosterior how, const std::string& posterior, const CalibrationOptions& options) {
  cluster::ByteWriter w;
  w.put(static_cast<std::uint8_t>(how)).put_string(posterior).put_string(options.to_json().dump());
  return w.take();
}

// What a worker rank keeps for a calibration job.
struct WorkerCalibration {
  Posterior posterior;
  PairPosterior posterior_for_pair;
  CalibrationOptions options;
  std::optional<TarpFrame> frame;
  std::unique_ptr<PairContext> context;
};

void require_fingerprint(const Posterior& held, const std::string& fingerprint) {
  if (fingerprint != posterior_fingerprint(held))
    throw InputError("holds another posterior (" + posterior_fingerprint(held) + ") than rank 0 (" + fingerprint +
                     "): every rank must load the same posterior folder");
}

cluster::ChunkFunction start_worker_calibration(const std::string& bytes) {
  const CalibrationSharing& shared = sharing();
  cluster::ByteReader r(bytes);
  const auto how = static_cast<JobPosterior>(r.get<std::uint8_t>());
  const std::string posterior_bytes = r.get_string();
  auto state = std::make_shared<WorkerCalibration>();
  state->options = CalibrationOptions::from_json(nlohmann::json::parse(r.get_string()));
  const CalibrationOptions& o = state->options;
  const std::uint64_t root = root_seed(o.seed);
  if (how == JobPosterior::shared) {
    if (!shared.posterior) throw InputError("was given no posterior to calibrate (share_posterior_for_calibration)");
    require_fingerprint(*shared.posterior, posterior_bytes);
    state->posterior = *shared.posterior;
  } else if (how == JobPosterior::shipped) {
    if (!shared.decode) throw InputError("cannot rebuild a shipped posterior (ship_posteriors_for_calibration)");
    state->posterior = shared.decode(posterior_bytes);
  } else if (how == JobPosterior::rerun) {
    if (!shared.made_for_one || !shared.rerun) throw InputError("was given no method to re-run (share_rerun_for_calibration)");
    require_fingerprint(*shared.made_for_one, posterior_bytes);
    state->posterior = *shared.made_for_one;
  } else {
    throw InputError("calibration job: unknown posterior kind " + std::to_string(static_cast<int>(how)));
  }
  const Prior& prior = state->posterior.prior();
  state->posterior_for_pair = how == JobPosterior::rerun ? rerun_posterior(shared.rerun, root, prior, *shared.simulator)
                                                         : same_posterior(state->posterior);
  if (o.tarp) state->frame = tarp_frame(prior, o.tarp_pilot, root);
  state->context = std::make_unique<PairContext>(PairContext{o, prior, static_cast<Eigen::Index>(prior.dim()), o.posterior_samples, root,
                                                             state->frame ? &*state->frame : nullptr, o.coverage_density == "kde",
                                                             o.coverage_density == "log_prob"});
  return [state](std::uint64_t begin, std::uint64_t end, const std::string& payload) {
    const Pairs pairs = decode_pairs(payload, static_cast<std::size_t>(end - begin), state->context->d,
                                     static_cast<Eigen::Index>(state->posterior.data_dim()));
    return evaluate_chunk(*state->context, state->posterior_for_pair, pairs, resolve_thread_count(state->options.threads), nullptr);
  };
}

void register_worker_calibration() {
  if (!cluster::active() || !cluster::is_worker() || sharing().handler_registered) return;
  sharing().handler_registered = true;
  cluster::register_handler(kCalibrationJob, start_worker_calibration);
}

CalibrationResult run(const Run& run) {
  const auto started = Clock::now();
  const CalibrationOptions& o = run.options;
  std::string why;
  if (!o.is_valid(&why)) throw InputError("calibration options: " + why);
  check_prior_fits(run.prior, run.simulator, "calibration");
  const auto d = static_cast<Eigen::Index>(run.prior.dim());
  const Eigen::Index L = o.posterior_samples;
  const std::uint64_t root = root_seed(o.seed);

  CalibrationResult r;
  r.options = o;
  r.threads = resolve_thread_count(o.threads);
  r.parameter_names = run.amortized ? run.amortized->parameter_names() : run.prior.names();
  if (run.amortized) {
    r.posterior_kind = run.amortized->kind();
    r.posterior_method = run.amortized->method();
  }

  // 1. The prior-predictive pairs.
  Pairs pairs;
  {
    SimulationOptions simulation;
    simulation.threads = o.threads;
    simulation.failure_policy = o.failure_policy;
    simulation.max_redraws = o.max_redraws;
    simulation.stop = run.callbacks.stop;
    simulation.on_progress = [&](std::size_t done, std::size_t total) {
      run.callbacks.report({.stage = "simulate", .done = done, .total = total, .unit = "sim", .status = ""});
    };
    pairs.theta.resize(0, d);
    pairs.y.resize(0, static_cast<Eigen::Index>(run.simulator.data_dim()));
    std::vector<SimulationChunk> chunks;
    r.simulation = simulate_from_prior(run.simulator, run.prior, o.draws, o.seed, 0, simulation,
                                       [&](const SimulationChunk& chunk) { chunks.push_back(chunk); });
    Eigen::Index rows = 0;
    for (const auto& c : chunks) rows += c.theta.rows();
    pairs.theta.resize(rows, d);
    pairs.y.resize(rows, pairs.y.cols());
    Eigen::Index at = 0;
    for (const auto& c : chunks) {
      pairs.theta.middleRows(at, c.theta.rows()) = c.theta;
      pairs.y.middleRows(at, c.y.rows()) = c.y;
      pairs.indices.insert(pairs.indices.end(), c.indices.begin(), c.indices.end());
      at += c.theta.rows();
    }
    r.timings.simulation = seconds_since(started);
    if (r.simulation.interrupted) r.interrupted = true;
  }
  const std::size_t n_pairs = pairs.indices.size();

  // 2. Per pair: posterior draws, ranks. Every value depends on (seed, pair index) only.
  const bool use_kde_always = o.coverage_density == "kde";
  const bool need_log_prob = o.coverage_density == "log_prob";
  if (run.amortized && o.coverage && need_log_prob && !run.amortized->info().has_log_prob)
    throw InputError("calibration: coverage_density \"log_prob\" was asked for, but a posterior of kind \"" + run.amortized->kind() +
                     "\" has no log_prob; use \"kde\" or \"auto\"");
  std::optional<TarpFrame> frame;
  if (o.tarp) frame = tarp_frame(run.prior, o.tarp_pilot, root);

  const PairContext context{o, run.prior, d, L, root, frame ? &*frame : nullptr, use_kde_always, need_log_prob};
  PairValues values(n_pairs, d, o);
  std::vector<Workspace> workspaces(static_cast<std::size_t>(std::max(1, r.threads)));
  std::atomic<std::size_t> finished{0};
  std::mutex progress_mutex;
  std::size_t reported = 0;  // guarded by progress_mutex
  const std::size_t report_every = std::max<std::size_t>(1, n_pairs / 200);
  std::string first_kind, first_method;
  std::once_flag first_posterior;

  // This rank's posterior per pair; a re-run's kind and method are the result's.
  const PairPosterior rerun = run.amortized ? PairPosterior{} : rerun_posterior(run.posterior_for, root, run.prior, run.simulator);
  const PairPosterior posterior_for_pair = run.amortized ? same_posterior(*run.amortized) : PairPosterior([&](const Vector& y, std::uint64_t index) {
    Posterior posterior = rerun(y, index);
    std::call_once(first_posterior, [&] {
      first_kind = posterior.kind();
      first_method = posterior.method();
    });
    return posterior;
  });

  // Under MPI the pairs go over the ranks when every rank can evaluate them: it holds the posterior,
  // is sent it, or can re-run its method.
  const CalibrationSharing& shared = sharing();
  std::optional<std::string> job;
  if (n_pairs > 0 && cluster::can_run_job()) {
    if (run.amortized && &run.prior == &run.amortized->prior()) {
      if (shared.posterior && &shared.posterior->model() == &run.amortized->model())
        job = encode_calibration_job(JobPosterior::shared, posterior_fingerprint(*run.amortized), o);
      else if (shared.encode)
        job = encode_calibration_job(JobPosterior::shipped, shared.encode(*run.amortized), o);
    } else if (!run.amortized && shared.made_for_one && shared.rerun && &run.prior == &shared.made_for_one->prior()) {
      job = encode_calibration_job(JobPosterior::rerun, posterior_fingerprint(*shared.made_for_one), o);
    }
  }
  if (job) {
    // Chunks of pairs over the ranks, gathered in pair order.
    cluster::JobOptions sizing;
    sizing.first_chunk = static_cast<std::uint64_t>(std::max(1, r.threads));
    sizing.stop = run.callbacks.stop;
    cluster::run_job(
        kCalibrationJob, *job, n_pairs, sizing,
        [&](std::uint64_t begin, std::uint64_t end, const std::string& payload) {
          const Pairs chunk = decode_pairs(payload, static_cast<std::size_t>(end - begin), d, pairs.y.cols());
          return evaluate_chunk(context, posterior_for_pair, chunk, r.threads, run.callbacks.stop);
        },
        [&](std::uint64_t begin, std::uint64_t end, std::string&& bytes) {
          decode_chunk(bytes, context, static_cast<std::size_t>(begin), static_cast<std::size_t>(end), values, workspaces.front());
          finished = static_cast<std::size_t>(end);
          run.callbacks.report({.stage = "calibrate", .done = finished.load(), .total = n_pairs, .unit = "draw", .status = ""});
        },
        [&](std::uint64_t begin, std::uint64_t end) { return encode_pairs(pairs, begin, end); });
    std::size_t evaluated = 0;
    for (char done : values.done) evaluated += done != 0;
    finished = evaluated;
    if (!run.amortized && first_kind.empty()) {  // rank 0 re-ran none itself: the method's kind is the original's
      first_kind = shared.made_for_one->kind();
      first_method = shared.made_for_one->method();
    }
  } else {
    parallel_for(n_pairs, r.threads, [&](std::size_t p, std::size_t worker) {
      if (run.callbacks.stop_requested()) return;
      if (!evaluate_stoppable(context, posterior_for_pair, pairs, p, workspaces[worker], values, run.callbacks.stop)) return;
      const std::size_t count = finished.fetch_add(1) + 1;
      if (run.callbacks.on_progress && (count % report_every == 0 || count == n_pairs)) {
        std::lock_guard lock(progress_mutex);
        if (count > reported) {  // another thread may have reported a later count first
          reported = count;
          run.callbacks.report({.stage = "calibrate", .done = count, .total = n_pairs, .unit = "draw", .status = ""});
        }
      }
    });
  }
  if (!run.amortized) {
    r.posterior_kind = first_kind;
    r.posterior_method = first_method;
  }
  if (finished.load() < n_pairs) r.interrupted = true;
  for (const auto& w : workspaces) {
    r.timings.sampling += w.sampling;
    r.timings.density += w.density;
    r.timings.statistics += w.statistics;
    r.non_finite_samples += w.non_finite_samples;
    r.non_finite_log_prob += w.non_finite_log_prob;
  }

  // 3. Gather the finished pairs in pair order.
  std::vector<std::size_t> kept;
  for (std::size_t p = 0; p < n_pairs; ++p)
    if (values.done[p]) kept.push_back(p);
  const std::size_t N = kept.size();
  r.draws = N;
  r.draw_index.reserve(N);
  for (std::size_t p : kept) r.draw_index.push_back(pairs.indices[p]);
  const double s = o.significance;

  if (o.sbc) {
    r.ranks.resize(static_cast<Eigen::Index>(N), d);
    r.rank_fractions.resize(static_cast<Eigen::Index>(N), d);
    for (std::size_t k = 0; k < N; ++k)
      for (Eigen::Index j = 0; j < d; ++j) {
        const std::size_t at = kept[k] * static_cast<std::size_t>(d) + static_cast<std::size_t>(j);
        r.ranks(static_cast<Eigen::Index>(k), j) = values.ranks[at];
        r.rank_fractions(static_cast<Eigen::Index>(k), j) = values.fractions[at];
      }
    const int bins = o.bins > 0 ? o.bins
                                : static_cast<int>(std::max<std::size_t>(
                                      2, std::min<std::size_t>({20, N / 10, static_cast<std::size_t>(L) + 1})));
    for (Eigen::Index j = 0; j < d; ++j) {
      SbcResult p;
      p.parameter = r.parameter_names[static_cast<std::size_t>(j)];
      const Vector column = r.rank_fractions.col(j);
      p.ranks = test_uniformity({column.data(), static_cast<std::size_t>(column.size())}, bins);
      p.p_threshold = s / static_cast<double>(d);
      p.passed = N == 0 || p.ranks.chi_square_p >= p.p_threshold;
      r.sbc.push_back(std::move(p));
    }
  }

  if (o.coverage) {
    CoverageResult c;
    bool any_log_prob = false, any_kde = false;
    for (std::size_t p : kept) (values.used_log_prob[p] ? any_log_prob : any_kde) = true;
    c.density = any_log_prob && any_kde ? "log_prob and kde" : any_kde ? "kde" : any_log_prob ? "log_prob"
                : (use_kde_always || (run.amortized && !run.amortized->info().has_log_prob)) ? "kde" : "log_prob";
    for (std::size_t p : kept) r.hpd_ranks.push_back(values.hpd[p]);
    c.hpd_ranks = test_uniformity(r.hpd_ranks, r.sbc.empty() ? std::max(2, static_cast<int>(std::min<std::size_t>(20, N / 10))) : r.sbc[0].ranks.bins);
    c.levels = o.levels;
    const double per_level = s / static_cast<double>(o.levels.size());
    if (o.sbc) c.marginal.assign(static_cast<std::size_t>(d), {});
    for (double level : o.levels) {
      std::size_t inside = 0;
      for (double u : r.hpd_ranks) inside += u > 1.0 - level;
      const auto [low, high] = binomial_band(N, level, per_level);
      const double n = N > 0 ? static_cast<double>(N) : 1.0;
      c.observed.push_back(static_cast<double>(inside) / n);
      c.band_low.push_back(static_cast<double>(low) / n);
      c.band_high.push_back(static_cast<double>(high) / n);
      if (N > 0 && inside < low) ++c.below;
      if (N > 0 && inside > high) ++c.above;
      c.max_deviation = std::max(c.max_deviation, std::abs(c.observed.back() - level));
      for (Eigen::Index j = 0; j < d && o.sbc; ++j) {
        std::size_t central = 0;
        for (std::size_t k = 0; k < N; ++k) central += std::abs(r.rank_fractions(static_cast<Eigen::Index>(k), j) - 0.5) < level / 2;
        c.marginal[static_cast<std::size_t>(j)].push_back(static_cast<double>(central) / n);
      }
    }
    c.passed = c.below == 0 && c.above == 0;
    r.coverage = std::move(c);
  }

  if (o.tarp) {
    TarpResult t;
    t.reference = o.tarp_reference;
    for (std::size_t p : kept) r.tarp_f.push_back(values.tarp_f[p]);
    t.f = test_uniformity(r.tarp_f, r.sbc.empty() ? std::max(2, static_cast<int>(std::min<std::size_t>(20, N / 10))) : r.sbc[0].ranks.bins);
    std::vector<double> sorted = r.tarp_f;
    std::sort(sorted.begin(), sorted.end());
    constexpr int kGrid = 100;
    for (int g = 0; g <= kGrid; ++g) {
      const double alpha = static_cast<double>(g) / kGrid;
      const auto below = static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), alpha) - sorted.begin());
      t.alpha.push_back(alpha);
      t.ecp.push_back(N > 0 ? below / static_cast<double>(N) : alpha);
    }
    for (int g = 0; g < kGrid; ++g) {
      t.area += 0.5 * (std::abs(t.ecp[g] - t.alpha[g]) + std::abs(t.ecp[g + 1] - t.alpha[g + 1])) / kGrid;
      if (2 * g >= kGrid) t.atc += 0.5 * (t.ecp[g] - t.alpha[g] + t.ecp[g + 1] - t.alpha[g + 1]) / kGrid;
    }
    t.distance = t.f.ks_statistic;
    t.band = ks_critical_value(N, s);
    t.passed = N == 0 || t.f.ks_p >= s;
    r.tarp = std::move(t);
  }

  decide(r);
  r.timings.total = seconds_since(started);
  return r;
}

}  // namespace

std::string to_string(CalibrationVerdict verdict) {
  switch (verdict) {
    case CalibrationVerdict::calibrated: return "calibrated";
    case CalibrationVerdict::over_confident: return "over-confident";
    case CalibrationVerdict::under_confident: return "under-confident";
    case CalibrationVerdict::miscalibrated: return "miscalibrated";
    case CalibrationVerdict::inconclusive: return "inconclusive";
  }
  return "?";
}

std::vector<double> CalibrationOptions::default_levels() {
  std::vector<double> levels;
  for (int k = 1; k <= 19; ++k) levels.push_back(0.05 * k);
  return levels;
}

CalibrationOptions CalibrationOptions::quick() {
  CalibrationOptions o;
  o.draws = 300;
  o.posterior_samples = 300;
  return o;
}

bool CalibrationOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (draws < 1) return fail("draws must be at least 1");
  if (posterior_samples < 1) return fail("posterior_samples must be at least 1");
  if (threads < 0) return fail("threads must be >= 0 (0 = all cores)");
  if (!sbc && !coverage && !tarp) return fail("at least one of sbc, coverage and tarp must be on");
  if (bins < 0) return fail("bins must be >= 0 (0 = automatic)");
  if (levels.empty()) return fail("levels must not be empty");
  for (std::size_t k = 0; k < levels.size(); ++k) {
    if (!(levels[k] > 0 && levels[k] < 1)) return fail("levels[" + std::to_string(k) + "] must be in (0, 1)");
    if (k > 0 && !(levels[k] > levels[k - 1])) return fail("levels must be increasing");
  }
  if (coverage_density != "auto" && coverage_density != "log_prob" && coverage_density != "kde")
    return fail("coverage_density must be \"auto\", \"log_prob\" or \"kde\"");
  if (kde_samples < 1) return fail("kde_samples must be at least 1");
  if (tarp_reference != "box" && tarp_reference != "prior") return fail("tarp_reference must be \"box\" or \"prior\"");
  if (tarp_pilot < 2) return fail("tarp_pilot must be at least 2");
  if (!(significance > 0 && significance < 0.5)) return fail("significance must be in (0, 0.5)");
  if (max_redraws < 1) return fail("max_redraws must be at least 1");
  return true;
}

nlohmann::json CalibrationOptions::to_json() const {
  return {{"draws", draws},
          {"posterior_samples", posterior_samples},
          {"seed", seed},
          {"threads", threads},
          {"sbc", sbc},
          {"coverage", coverage},
          {"tarp", tarp},
          {"bins", bins},
          {"levels", levels},
          {"coverage_density", coverage_density},
          {"kde_samples", kde_samples},
          {"tarp_reference", tarp_reference},
          {"tarp_pilot", tarp_pilot},
          {"significance", significance},
          {"failure_policy", to_string(failure_policy)},
          {"max_redraws", max_redraws}};
}

CalibrationOptions CalibrationOptions::from_json(const nlohmann::json& j, const std::string& path) {
  CalibrationOptions o;
  JsonObjectReader r(j, path);
  o.draws = static_cast<std::size_t>(r.optional_integer("draws", static_cast<std::int64_t>(o.draws), 1, 100'000'000));
  o.posterior_samples = static_cast<Eigen::Index>(r.optional_integer("posterior_samples", o.posterior_samples, 1, 100'000'000));
  if (const auto* seed = r.get("seed")) {
    if (!seed->is_number_unsigned() && !(seed->is_number_integer() && seed->get<std::int64_t>() >= 0))
      throw InputError(r.child_path("seed") + ": expected a non-negative integer, got " + json_type_description(*seed));
    o.seed = seed->get<std::uint64_t>();
  }
  o.threads = static_cast<int>(r.optional_integer("threads", o.threads, 0, 4096));
  o.sbc = r.optional_bool("sbc", o.sbc);
  o.coverage = r.optional_bool("coverage", o.coverage);
  o.tarp = r.optional_bool("tarp", o.tarp);
  o.bins = static_cast<int>(r.optional_integer("bins", o.bins, 0, 100000));
  o.levels = r.optional_number_list("levels", o.levels);
  for (std::size_t k = 0; k < o.levels.size(); ++k) {
    if (!(o.levels[k] > 0 && o.levels[k] < 1))
      throw InputError(r.child_path("levels") + "[" + std::to_string(k) + "]: expected a level in (0, 1), got " + format_number(o.levels[k]));
    if (k > 0 && !(o.levels[k] > o.levels[k - 1]))
      throw InputError(r.child_path("levels") + "[" + std::to_string(k) + "]: levels must be increasing, got " +
                       format_number(o.levels[k]) + " after " + format_number(o.levels[k - 1]));
  }
  o.coverage_density = r.optional_string("coverage_density", o.coverage_density, {"auto", "log_prob", "kde"});
  o.kde_samples = static_cast<Eigen::Index>(r.optional_integer("kde_samples", o.kde_samples, 1, 100000));
  o.tarp_reference = r.optional_string("tarp_reference", o.tarp_reference, {"box", "prior"});
  o.tarp_pilot = static_cast<std::size_t>(r.optional_integer("tarp_pilot", static_cast<std::int64_t>(o.tarp_pilot), 2, 100'000'000));
  o.significance = r.optional_number_in("significance", o.significance, 1e-12, 0.499);
  o.failure_policy = failure_policy_from_string(r.optional_string("failure_policy", to_string(o.failure_policy), {"drop", "redraw", "fail"}));
  o.max_redraws = static_cast<int>(r.optional_integer("max_redraws", o.max_redraws, 1, 1'000'000));
  r.reject_unknown_keys();
  std::string why;
  if (!o.is_valid(&why)) throw InputError(path + ": " + why);
  return o;
}

double CalibrationResult::resolution() const {
  if (draws == 0) return 1.0;
  const std::size_t levels = coverage ? coverage->levels.size() : options.levels.size();
  const auto [low, high] = binomial_band(draws, 0.5, options.significance / static_cast<double>(levels));
  return 0.5 * static_cast<double>(high - low) / static_cast<double>(draws);
}

std::string CalibrationResult::brief_report() const {
  std::ostringstream out;
  out << "calibration: " << to_string(verdict) << " — " << verdict_reason << "; N = " << draws;
  if (draws != options.draws) out << " of " << options.draws;
  out << ", L = " << options.posterior_samples << ", " << fmt("%.1f", timings.total) << " s";
  if (interrupted) out << " (interrupted)";
  return out.str();
}

std::string CalibrationResult::plain_summary() const {
  const std::string cases = std::to_string(draws) + " simulated cases";
  if (verdict == CalibrationVerdict::inconclusive) return "inconclusive: " + verdict_reason;
  // The coverage at 0.9 explains a verdict only when the coverage check made it (else the verdict came
  // from SBC or TARP and the phrases below say what they saw).
  std::string held;
  if (coverage && !coverage->levels.empty() && (verdict == CalibrationVerdict::calibrated || !coverage->passed)) {
    std::size_t k = 0;  // the level nearest 0.9
    for (std::size_t i = 0; i < coverage->levels.size(); ++i)
      if (std::abs(coverage->levels[i] - 0.9) < std::abs(coverage->levels[k] - 0.9)) k = i;
    const double nominal = coverage->levels[k], observed = coverage->observed[k];
    held = "its " + fmt("%.3g", 100 * nominal) + " % credible regions held the true parameter in " +
           (observed < nominal && verdict != CalibrationVerdict::calibrated ? "only " : "") + fmt("%.3g", 100 * observed) + " % of " + cases;
  }
  switch (verdict) {
    case CalibrationVerdict::calibrated:
      return "calibrated: " + (held.empty() ? "no miscalibration found in " + cases : held);
    case CalibrationVerdict::over_confident:
      return "over-confident: " + (held.empty() ? "the true parameter fell in the tails of the posterior too often in " + cases : held) +
             " (its uncertainty is too small: do not trust its intervals)";
    case CalibrationVerdict::under_confident:
      return "under-confident: " + (held.empty() ? "the true parameter fell too near the posterior's centre too often in " + cases : held) +
             " (its intervals are wider than they need to be)";
    default:
      return "miscalibrated: " + verdict_reason;
  }
}

std::string CalibrationResult::full_report() const {
  std::ostringstream out;
  out << brief_report() << "\n";
  out << "posterior: kind " << (posterior_kind.empty() ? "?" : posterior_kind) << ", method " << (posterior_method.empty() ? "?" : posterior_method)
      << "\n";
  out << "prior-predictive draws: " << simulation.brief_report() << " (failure policy " << to_string(options.failure_policy) << ")\n";
  if (non_finite_samples) out << "posterior draws with non-finite values (left out of the ranks): " << non_finite_samples << "\n";
  if (non_finite_log_prob) out << "NaN log_prob values (ranked as -inf): " << non_finite_log_prob << "\n";
  const double s = options.significance;
  if (draws == 0) out << "no simulated case was evaluated: no SBC, coverage or TARP figures\n";
  if (draws > 0 && !sbc.empty()) {
    out << "SBC (" << sbc[0].ranks.bins << " bins; fails when the chi-square p < " << fmt("%.3g", s) << "/" << sbc.size() << "):\n";
    for (const auto& p : sbc) {
      out << "  " << p.parameter << ": chi2(" << p.ranks.chi_square_df << ") = " << fmt("%.1f", p.ranks.chi_square)
          << ", p = " << fmt("%.3g", p.ranks.chi_square_p) << "; KS D = " << fmt("%.4f", p.ranks.ks_statistic) << ", p = " << fmt("%.3g", p.ranks.ks_p)
          << "; mean z = " << fmt("%.2f", p.ranks.mean_z) << ", spread z = " << fmt("%.2f", p.ranks.spread_z) << " (" << p.ranks.shape() << ")"
          << (p.passed ? "" : "  FAILED") << "\n";
    }
  }
  if (draws > 0 && coverage) {
    const auto& c = *coverage;
    out << "expected coverage (HPD regions from " << c.density << "; band " << fmt("%.3g", 100 * (1 - s)) << " % simultaneous):\n";
    out << "  level  observed  band\n";
    for (std::size_t k = 0; k < c.levels.size(); ++k) {
      const bool outside = c.observed[k] < c.band_low[k] || c.observed[k] > c.band_high[k];
      out << "  " << fmt("%5.2f", c.levels[k]) << "  " << fmt("%8.3f", c.observed[k]) << "  [" << fmt("%.3f", c.band_low[k]) << ", "
          << fmt("%.3f", c.band_high[k]) << "]" << (outside ? (c.observed[k] < c.levels[k] ? "  below" : "  above") : "") << "\n";
    }
    out << "  HPD rank: mean z = " << fmt("%.2f", c.hpd_ranks.mean_z) << " (< 0: θ* in low-density places), KS p = " << fmt("%.3g", c.hpd_ranks.ks_p)
        << "\n";
  }
  if (draws > 0 && tarp) {
    const auto& t = *tarp;
    out << "TARP (reference " << t.reference << "): D = " << fmt("%.4f", t.distance) << " (band ±" << fmt("%.4f", t.band) << "), p = "
        << fmt("%.3g", t.f.ks_p) << ", area " << fmt("%.4f", t.area) << ", ATC " << fmt("%+.4f", t.atc) << ", spread z = " << fmt("%.2f", t.f.spread_z) << " (" << t.f.shape()
        << ")" << (t.passed ? "" : "  FAILED") << "\n";
  }
  out << "time: " << fmt("%.2f", timings.total) << " s wall on " << threads << " threads (simulation " << fmt("%.2f", timings.simulation)
      << " s wall; summed over threads: sampling " << fmt("%.2f", timings.sampling) << " s, density " << fmt("%.2f", timings.density) << " s, ranks "
      << fmt("%.2f", timings.statistics) << " s)\n";
  return out.str();
}

nlohmann::json CalibrationResult::to_json() const {
  nlohmann::json j;
  j["verdict"] = to_string(verdict);
  j["verdict_reason"] = verdict_reason;
  j["passed"] = passed();
  j["resolution"] = resolution();
  j["options"] = options.to_json();
  j["threads"] = threads;
  j["parameter_names"] = parameter_names;
  j["posterior"] = {{"kind", posterior_kind}, {"method", posterior_method}};
  j["simulation"] = {{"requested", simulation.requested}, {"kept", simulation.kept},       {"failed", simulation.failed},
                     {"non_finite", simulation.non_finite}, {"dropped", simulation.dropped}, {"redraws", simulation.redraws},
                     {"first_failure", simulation.first_failure}, {"seconds", simulation.seconds}};
  j["draws"] = draws;
  j["non_finite_samples"] = non_finite_samples;
  j["non_finite_log_prob"] = non_finite_log_prob;
  j["interrupted"] = interrupted;
  nlohmann::json sbc_json = nlohmann::json::array();
  for (const auto& p : sbc)
    sbc_json.push_back({{"parameter", p.parameter}, {"passed", p.passed}, {"p_threshold", p.p_threshold}, {"ranks", p.ranks.to_json()}});
  j["sbc"] = sbc_json;
  if (coverage) {
    const auto& c = *coverage;
    j["coverage"] = {{"density", c.density},      {"levels", c.levels},     {"observed", c.observed}, {"band_low", c.band_low},
                     {"band_high", c.band_high},  {"marginal", c.marginal}, {"below", c.below},       {"above", c.above},
                     {"max_deviation", c.max_deviation}, {"passed", c.passed}, {"hpd_ranks", c.hpd_ranks.to_json()}};
  } else {
    j["coverage"] = nullptr;
  }
  if (tarp) {
    const auto& t = *tarp;
    j["tarp"] = {{"reference", t.reference}, {"alpha", t.alpha}, {"ecp", t.ecp},       {"distance", t.distance},
                 {"area", t.area},           {"atc", t.atc},     {"band", t.band},   {"passed", t.passed}, {"f", t.f.to_json()}};
  } else {
    j["tarp"] = nullptr;
  }
  nlohmann::json per_draw = {{"index", draw_index}};
  if (ranks.size() > 0) {
    nlohmann::json rank_rows = nlohmann::json::array(), fraction_rows = nlohmann::json::array();
    for (Eigen::Index i = 0; i < ranks.rows(); ++i) {
      rank_rows.push_back(std::vector<std::int64_t>(ranks.row(i).data(), ranks.row(i).data() + ranks.cols()));
      fraction_rows.push_back(std::vector<double>(rank_fractions.row(i).data(), rank_fractions.row(i).data() + rank_fractions.cols()));
    }
    per_draw["ranks"] = rank_rows;
    per_draw["rank_fractions"] = fraction_rows;
  }
  if (!hpd_ranks.empty()) per_draw["hpd_rank"] = hpd_ranks;
  if (!tarp_f.empty()) per_draw["tarp_f"] = tarp_f;
  j["per_draw"] = per_draw;
  j["timings"] = {{"total", timings.total},
                  {"simulation", timings.simulation},
                  {"sampling_cpu", timings.sampling},
                  {"density_cpu", timings.density},
                  {"statistics_cpu", timings.statistics}};
  return j;
}

void share_posterior_for_calibration(const Posterior& posterior) {
  if (!cluster::active() || !posterior) return;
  sharing().posterior = posterior;
  register_worker_calibration();
}

void share_rerun_for_calibration(const Posterior& made_for_one, const Simulator& simulator, PosteriorForObservation rerun) {
  if (!cluster::active() || !made_for_one || !rerun) return;
  sharing().made_for_one = made_for_one;
  sharing().simulator = simulator;
  sharing().rerun = std::move(rerun);
  register_worker_calibration();
}

void ship_posteriors_for_calibration(std::function<std::string(const Posterior&)> encode, std::function<Posterior(const std::string&)> decode) {
  if (!cluster::active() || !encode || !decode) return;
  sharing().encode = std::move(encode);
  sharing().decode = std::move(decode);
  register_worker_calibration();
}

CalibrationResult run_calibration(const Posterior& posterior, const Simulator& simulator, const CalibrationOptions& options,
                                  const TrainingCallbacks& callbacks) {
  if (!posterior) throw InputError("calibration: the posterior is empty");
  return run_calibration(posterior, simulator, posterior.prior(), options, callbacks);
}

CalibrationResult run_calibration(const Posterior& posterior, const Simulator& simulator, const Prior& prior,
                                  const CalibrationOptions& options, const TrainingCallbacks& callbacks) {
  check_posterior_fits(posterior, simulator, prior);
  if (!posterior.info().amortized)
    throw InputError("calibration: this posterior (kind \"" + posterior.kind() + "\", method \"" + posterior.method() +
                     "\") was made for one observation and cannot be sampled for the simulated ones; calibrating it means "
                     "re-running the method for each of the N draws (run_calibration with a PosteriorForObservation; cost N "
                     "trainings), or calibrating an amortised method on the same simulator instead");
  const PosteriorForObservation same = [&](const Vector&, std::uint64_t) { return posterior; };
  return run(Run{same, simulator, prior, options, callbacks, &posterior});
}

CalibrationResult run_calibration(const PosteriorForObservation& posterior_for, const Simulator& simulator, const Prior& prior,
                                  const CalibrationOptions& options, const TrainingCallbacks& callbacks) {
  if (!posterior_for) throw InputError("calibration: no posterior factory given");
  return run(Run{posterior_for, simulator, prior, options, callbacks, nullptr});
}

}  // namespace sbi
