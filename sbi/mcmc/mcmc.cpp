#include "sbi/mcmc/mcmc.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/mcmc/chain.hpp"
#include "sbi/parallel/parallel_for.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <vector>

namespace sbi {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Substreams of Rng::stream(seed, index, substream): chain c moves with (c, 0) and starts from an
// initial draw with (c, 1); SIR candidate i is drawn, with its Gumbel variate, from (i, 2).
constexpr std::uint64_t kChainStream = 0, kInitialDrawStream = 1, kCandidateStream = 2, kMixtureStream = 3;

// Draws per mixture component for estimating the posterior mass near it, and the share of the
// mixture kept spread equally over the components whatever the estimates say.
constexpr int kDrawsPerComponent = 16;
constexpr double kEqualShare = 0.1;

// Initial draws per chain before giving up on finding a point with a finite target value.
constexpr int kMaxInitialAttempts = 100;
// Rows per target call when evaluating SIR candidates (fixed, so the calls do not depend on threads).
constexpr Eigen::Index kCandidateRowsPerCall = 256;

const std::vector<std::string> kSamplerNames = {"slice", "hmc"};
const std::vector<std::string> kInitNames = {"prior", "sir"};
const std::vector<std::string> kDirectionNames = {"coordinate", "factor", "random"};

// Evaluates the target on a batch: NaN becomes −∞ (outside the support); +∞ is an error.
class Evaluator {
 public:
  Evaluator(const McmcTarget& target, bool gradient) : target_(target), gradient_(gradient) {}
  bool gradient() const { return gradient_; }
  void operator()(const RowMatrix& x, Eigen::Ref<Vector> log_density, Eigen::Ref<RowMatrix> gradient) const {
    if (gradient_) target_.log_density_gradient(x, log_density, gradient);
    else target_.log_density(x, log_density);
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      if (std::isnan(log_density[r])) log_density[r] = kNegInf;
      else if (log_density[r] == std::numeric_limits<double>::infinity())
        throw InputError("MCMC: the target returned +inf at row " + std::to_string(r) + " of a batch (a log-density must be finite or -inf)");
    }
  }

 private:
  const McmcTarget& target_;
  bool gradient_;
};

// Evaluates `x` in calls of at most `rows_per_call` rows, the calls spread over threads.
void evaluate_in_calls(const Evaluator& evaluate, const RowMatrix& x, Vector& log_density, RowMatrix& gradient,
                       Eigen::Index rows_per_call, int threads, std::uint64_t& calls) {
  const Eigen::Index n = x.rows(), dim = x.cols();
  log_density.resize(n);
  if (evaluate.gradient()) gradient.resize(n, dim);
  const auto call_count = static_cast<std::size_t>((n + rows_per_call - 1) / rows_per_call);
  parallel_for(call_count, threads, [&](std::size_t call, std::size_t) {
    const Eigen::Index begin = static_cast<Eigen::Index>(call) * rows_per_call, rows = std::min(rows_per_call, n - begin);
    const RowMatrix batch = x.middleRows(begin, rows);
    RowMatrix batch_gradient(evaluate.gradient() ? rows : 0, dim);
    evaluate(batch, log_density.segment(begin, rows), batch_gradient);
    if (evaluate.gradient()) gradient.middleRows(begin, rows) = batch_gradient;
  });
  calls += call_count;
}

// Runs `chains` up to iteration `end`, each step one target call with the points all of them ask
// for (a chain that finishes a move starts its next one at once, so the batches stay full).
// `before_step()` returning false stops them early. Adds the calls and rows evaluated to `calls`
// and `rows_evaluated`.
template <class BeforeStep>
void advance_together(std::span<mcmc_detail::Chain> chains, std::size_t end, const Evaluator& evaluate, BeforeStep before_step,
                      std::uint64_t& calls, std::uint64_t& rows_evaluated) {
  struct Request {
    mcmc_detail::Chain* chain;
    Eigen::Index first, count;  // rows of the batch
  };
  if (chains.empty()) return;
  const Eigen::Index dim = chains.front().proposals().cols();
  const bool gradients = evaluate.gradient();
  std::vector<Request> waiting, active;
  for (auto& chain : chains) active.push_back({&chain, 0, 0});
  RowMatrix batch, gradient(0, dim);
  Vector lp;
  while (before_step()) {
    waiting.clear();
    Eigen::Index rows = 0;
    for (const Request& r : active)
      if (const int count = r.chain->advance(end); count > 0) {
        waiting.push_back({r.chain, rows, count});
        rows += count;
      }
    if (waiting.empty()) break;
    batch.resize(rows, dim);
    lp.resize(rows);
    if (gradients) gradient.resize(rows, dim);
    for (const Request& r : waiting) batch.middleRows(r.first, r.count) = r.chain->proposals().topRows(r.count);
    evaluate(batch, lp, gradient);
    ++calls;
    rows_evaluated += static_cast<std::uint64_t>(rows);
    for (const Request& r : waiting) r.chain->deliver(lp.data() + r.first, gradients ? gradient.row(r.first).data() : nullptr);
    active.swap(waiting);
  }
}

std::string fail_text(const std::string& key, const std::string& message) { return key + ": " + message; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Options

std::string to_string(McmcOptions::Sampler sampler) { return kSamplerNames[static_cast<std::size_t>(sampler)]; }
std::string to_string(McmcOptions::Init init) { return kInitNames[static_cast<std::size_t>(init)]; }
std::string to_string(McmcOptions::SliceDirections directions) { return kDirectionNames[static_cast<std::size_t>(directions)]; }

std::size_t McmcOptions::resolved_exploration_chains() const { return std::max(chains, exploration_chains); }

std::size_t McmcOptions::chains_per_call(std::size_t running) const {
  const std::size_t groups = std::max<std::size_t>(1, std::min(chain_blocks, running));
  return (running + groups - 1) / groups;
}

bool McmcOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& key, const std::string& message) {
    if (why) *why = fail_text(key, message);
    return false;
  };
  if (chains < 1 || chains > 100000) return fail("chains", "must be between 1 and 100000");
  if (warmup > 100000000) return fail("warmup", "must be at most 10^8");
  if (thin < 1 || thin > 100000) return fail("thin", "must be between 1 and 100000");
  if (exploration_chains > 100000) return fail("exploration_chains", "must be at most 100000");
  if (init == Init::sir && init_candidates < resolved_exploration_chains())
    return fail("init_candidates", "must be at least the number of chains (and of exploration chains)");
  if (init_candidates > 100000000) return fail("init_candidates", "must be at most 10^8");
  if (slice_max_steps_out < 1 || slice_max_steps_out > 100000) return fail("slice_max_steps_out", "must be between 1 and 100000");
  if (!(hmc_target_acceptance > 0 && hmc_target_acceptance < 1)) return fail("hmc_target_acceptance", "must lie in (0, 1)");
  if (!(hmc_integration_time > 0) || !std::isfinite(hmc_integration_time)) return fail("hmc_integration_time", "must be a positive number");
  if (hmc_max_steps < 1 || hmc_max_steps > 100000) return fail("hmc_max_steps", "must be between 1 and 100000");
  if (!(jumps_per_iteration >= 0 && jumps_per_iteration <= 1000)) return fail("jumps_per_iteration", "must lie in [0, 1000]");
  if (slice_updates_per_iteration > 100000) return fail("slice_updates_per_iteration", "must be at most 100000");
  if (!(jump_scale > 0) || !std::isfinite(jump_scale)) return fail("jump_scale", "must be a positive number");
  if (chain_blocks < 1 || chain_blocks > 100000) return fail("chain_blocks", "must be between 1 and 100000");
  if (threads < 0) return fail("threads", "must be 0 (all cores) or positive");
  return true;
}

nlohmann::json McmcOptions::to_json() const {
  return {{"sampler", to_string(sampler)},
          {"chains", chains},
          {"exploration_chains", exploration_chains},
          {"warmup", warmup},
          {"thin", thin},
          {"init", to_string(init)},
          {"init_candidates", init_candidates},
          {"slice_directions", to_string(slice_directions)},
          {"slice_max_steps_out", slice_max_steps_out},
          {"slice_updates_per_iteration", slice_updates_per_iteration},
          {"hmc_target_acceptance", hmc_target_acceptance},
          {"hmc_integration_time", hmc_integration_time},
          {"hmc_max_steps", hmc_max_steps},
          {"jumps_per_iteration", jumps_per_iteration},
          {"jump_scale", jump_scale},
          {"chain_blocks", chain_blocks},
          {"threads", threads}};
}

McmcOptions McmcOptions::from_json(const nlohmann::json& j, const std::string& path) {
  McmcOptions o;
  JsonObjectReader r(j, path);
  auto index_of = [](const std::vector<std::string>& names, const std::string& name) {
    return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
  };
  o.sampler = static_cast<Sampler>(index_of(kSamplerNames, r.optional_string("sampler", to_string(o.sampler), kSamplerNames)));
  o.chains = static_cast<std::size_t>(r.optional_integer("chains", static_cast<std::int64_t>(o.chains), 1, 100000));
  o.exploration_chains =
      static_cast<std::size_t>(r.optional_integer("exploration_chains", static_cast<std::int64_t>(o.exploration_chains), 0, 100000));
  o.warmup = static_cast<std::size_t>(r.optional_integer("warmup", static_cast<std::int64_t>(o.warmup), 0, 100000000));
  o.thin = static_cast<std::size_t>(r.optional_integer("thin", static_cast<std::int64_t>(o.thin), 1, 100000));
  o.init = static_cast<Init>(index_of(kInitNames, r.optional_string("init", to_string(o.init), kInitNames)));
  o.init_candidates =
      static_cast<std::size_t>(r.optional_integer("init_candidates", static_cast<std::int64_t>(o.init_candidates), 1, 100000000));
  o.slice_directions = static_cast<SliceDirections>(
      index_of(kDirectionNames, r.optional_string("slice_directions", to_string(o.slice_directions), kDirectionNames)));
  o.slice_max_steps_out = static_cast<int>(r.optional_integer("slice_max_steps_out", o.slice_max_steps_out, 1, 100000));
  o.slice_updates_per_iteration = static_cast<std::size_t>(
      r.optional_integer("slice_updates_per_iteration", static_cast<std::int64_t>(o.slice_updates_per_iteration), 0, 100000));
  o.hmc_target_acceptance = r.optional_number_in("hmc_target_acceptance", o.hmc_target_acceptance, 0.01, 0.99);
  o.hmc_integration_time = r.optional_positive_number("hmc_integration_time", o.hmc_integration_time);
  o.hmc_max_steps = static_cast<int>(r.optional_integer("hmc_max_steps", o.hmc_max_steps, 1, 100000));
  o.jumps_per_iteration = r.optional_number_in("jumps_per_iteration", o.jumps_per_iteration, 0.0, 1000.0);
  o.jump_scale = r.optional_positive_number("jump_scale", o.jump_scale);
  o.chain_blocks = static_cast<std::size_t>(r.optional_integer("chain_blocks", static_cast<std::int64_t>(o.chain_blocks), 1, 100000));
  o.threads = static_cast<int>(r.optional_integer("threads", o.threads, 0, 4096));
  // Constraints between keys are reported at the key that has to change.
  r.finish(o);
  return o;
}

// ---------------------------------------------------------------------------------------------
// Statistics and result

nlohmann::json McmcStatistics::to_json() const {
  return {{"evaluations", evaluations},
          {"target_calls", target_calls},
          {"init_evaluations", init_evaluations},
          {"mixture_evaluations", mixture_evaluations},
          {"acceptance_rate", acceptance_rate},
          {"step_size", step_size},
          {"mean_leapfrog_steps", mean_leapfrog_steps},
          {"divergences", divergences},
          {"slice_evaluations_per_update", slice_evaluations_per_update},
          {"jumps_proposed", jumps_proposed},
          {"jumps_accepted", jumps_accepted},
          {"seconds", seconds}};
}

McmcStatistics McmcStatistics::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObjectReader r(j, path);
  McmcStatistics s;
  auto count = [&](const char* key) { return static_cast<std::uint64_t>(r.optional_integer(key, 0, 0)); };
  s.evaluations = count("evaluations");
  s.target_calls = count("target_calls");
  s.init_evaluations = count("init_evaluations");
  s.mixture_evaluations = count("mixture_evaluations");
  s.acceptance_rate = r.optional_number("acceptance_rate", 0);
  s.step_size = r.optional_number("step_size", 0);
  s.mean_leapfrog_steps = r.optional_number("mean_leapfrog_steps", 0);
  s.divergences = count("divergences");
  s.slice_evaluations_per_update = r.optional_number("slice_evaluations_per_update", 0);
  s.jumps_proposed = count("jumps_proposed");
  s.jumps_accepted = count("jumps_accepted");
  s.seconds = r.optional_number("seconds", 0);
  r.reject_unknown_keys();
  return s;
}

std::string McmcResult::brief_report() const {
  std::string sampler = to_string(options.sampler);
  if (options.sampler == McmcOptions::Sampler::slice) {
    sampler += '/';
    sampler += to_string(options.slice_directions);
  }
  char buffer[200];
  std::snprintf(buffer, sizeof buffer, "%s: %lld samples, %lld chains x %lld draws; ", sampler.c_str(),
                static_cast<long long>(samples.rows()), static_cast<long long>(chains), static_cast<long long>(draws_per_chain));
  std::string text = buffer;
  text += diagnostics.brief_report(/*with_chain_shape=*/false);  // said at the start
  std::snprintf(buffer, sizeof buffer, "; %llu evaluations in %.3g s", static_cast<unsigned long long>(statistics.evaluations),
                statistics.seconds);
  return text + buffer;
}

std::string McmcResult::full_report() const {
  std::string text = brief_report() + "\n" + diagnostics.full_report();
  char buffer[300];
  std::snprintf(buffer, sizeof buffer, "  %llu target calls, %llu evaluations for the start\n",
                static_cast<unsigned long long>(statistics.target_calls), static_cast<unsigned long long>(statistics.init_evaluations));
  text += buffer;
  if (options.sampler == McmcOptions::Sampler::slice) {
    std::snprintf(buffer, sizeof buffer, "  %.2f evaluations per one-dimensional slice update\n", statistics.slice_evaluations_per_update);
    text += buffer;
  } else {
    std::snprintf(buffer, sizeof buffer, "  step size %.3g, %.1f leapfrog steps per iteration, acceptance %.3f, %llu divergences\n",
                  statistics.step_size, statistics.mean_leapfrog_steps, statistics.acceptance_rate,
                  static_cast<unsigned long long>(statistics.divergences));
    text += buffer;
  }
  if (statistics.jumps_proposed > 0) {
    std::snprintf(buffer, sizeof buffer, "  mode jumps: %llu of %llu accepted (%.1f %%)\n",
                  static_cast<unsigned long long>(statistics.jumps_accepted), static_cast<unsigned long long>(statistics.jumps_proposed),
                  100.0 * static_cast<double>(statistics.jumps_accepted) / static_cast<double>(statistics.jumps_proposed));
    text += buffer;
  }
  return text;
}

nlohmann::json McmcResult::to_json() const {
  return {{"options", options.to_json()},   {"seed", seed},
          {"samples", samples.rows()},      {"chains", chains},
          {"draws_per_chain", draws_per_chain}, {"statistics", statistics.to_json()},
          {"diagnostics", diagnostics.to_json()}};
}

// ---------------------------------------------------------------------------------------------
// The run

McmcResult run_mcmc(const McmcTarget& target, const McmcInitialDistribution& initial, Eigen::Index n, std::uint64_t seed,
                    const McmcOptions& options) {
  using mcmc_detail::Chain;
  const auto clock_start = std::chrono::steady_clock::now();
  if (std::string why; !options.is_valid(&why)) throw InputError("MCMC options: " + why);
  if (n < 1) throw InputError("MCMC: the number of samples must be at least 1, got " + std::to_string(n));
  if (target.dim < 1 || !target.log_density) throw InputError("MCMC: the target needs a dimension of at least 1 and a log-density function");
  const bool hmc = options.sampler == McmcOptions::Sampler::hmc;
  if (hmc && !target.has_gradient())
    throw InputError("MCMC: the hmc sampler needs the target's gradient (McmcTarget::log_density_gradient); use the slice sampler");
  if (!initial.sample) throw InputError("MCMC: the initial distribution has no sample function");
  if (options.init == McmcOptions::Init::sir && !initial.log_density)
    throw InputError("MCMC: \"init\": \"sir\" needs the initial distribution's log-density (or use \"init\": \"prior\")");

  const auto dim = static_cast<Eigen::Index>(target.dim);
  const auto chain_count = static_cast<Eigen::Index>(options.chains);
  const Eigen::Index draws_per_chain = (n + chain_count - 1) / chain_count;
  const mcmc_detail::Schedule schedule = mcmc_detail::Schedule::make(options, static_cast<std::size_t>(draws_per_chain));
  // Chains started: the sampling chains, plus the exploring ones that only run until the mixture is built.
  const Eigen::Index started = schedule.jumps ? static_cast<Eigen::Index>(options.resolved_exploration_chains()) : chain_count;
  const int threads = target.thread_safe ? (options.threads > 0 ? options.threads : hardware_threads()) : 1;
  const Evaluator evaluate(target, hmc);

  McmcResult result;
  result.options = options;
  result.seed = seed;
  result.chains = chain_count;
  result.draws_per_chain = draws_per_chain;
  McmcStatistics& stats = result.statistics;

  // 1. Starting points.
  RowMatrix start(started, dim), start_gradient;
  Vector start_log_density(started);
  if (options.init == McmcOptions::Init::prior) {
    std::vector<Rng> init_rngs;
    for (Eigen::Index c = 0; c < started; ++c) init_rngs.push_back(Rng::stream(seed, static_cast<std::uint64_t>(c), kInitialDrawStream));
    std::vector<Eigen::Index> pending(static_cast<std::size_t>(started));
    for (Eigen::Index c = 0; c < started; ++c) pending[static_cast<std::size_t>(c)] = c;
    if (hmc) start_gradient.resize(started, dim);
    for (int attempt = 0; !pending.empty(); ++attempt) {
      if (attempt == kMaxInitialAttempts)
        throw InputError("MCMC: the target is -inf or NaN at all " + std::to_string(kMaxInitialAttempts) +
                         " initial draws of chain " + std::to_string(pending.front()) + "; check the target and the initial distribution");
      RowMatrix x(static_cast<Eigen::Index>(pending.size()), dim);
      for (std::size_t i = 0; i < pending.size(); ++i)
        initial.sample(init_rngs[static_cast<std::size_t>(pending[i])], row_span(x, static_cast<Eigen::Index>(i)));
      Vector lp;
      RowMatrix gradient;
      evaluate_in_calls(evaluate, x, lp, gradient, static_cast<Eigen::Index>(options.chains_per_call(static_cast<std::size_t>(started))),
                        threads, stats.target_calls);
      stats.init_evaluations += pending.size();
      std::vector<Eigen::Index> still;
      for (std::size_t i = 0; i < pending.size(); ++i) {
        const Eigen::Index c = pending[i], row = static_cast<Eigen::Index>(i);
        if (lp[row] > kNegInf) {
          start.row(c) = x.row(row);
          start_log_density[c] = lp[row];
          if (hmc) start_gradient.row(c) = gradient.row(row);
        } else {
          still.push_back(c);
        }
      }
      pending.swap(still);
    }
  } else {
    const auto candidates = static_cast<Eigen::Index>(options.init_candidates);
    RowMatrix x(candidates, dim);
    // Each candidate's draw and its Gumbel variate come from the candidate's own stream.
    Vector gumbel(candidates);
    for (Eigen::Index i = 0; i < candidates; ++i) {
      Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(i), kCandidateStream);
      initial.sample(rng, row_span(x, i));
      gumbel[i] = -std::log(-std::log(rng.uniform_open()));
    }
    Vector lp;
    RowMatrix gradient;
    evaluate_in_calls(evaluate, x, lp, gradient, kCandidateRowsPerCall, threads, stats.target_calls);
    stats.init_evaluations += static_cast<std::uint64_t>(candidates);
    if (options.stop && options.stop->load()) throw Interrupted("MCMC: stopped on request while weighting the starting candidates; no samples were kept");
    // Importance weights target / initial density. The chains take distinct candidates, drawn
    // without replacement with probabilities ∝ weight (the Gumbel-top-k trick: the `chains` largest
    // log w_i + G_i), so that they start spread over the regions the candidates found rather
    // than piled on the few heaviest ones.
    std::vector<std::pair<double, Eigen::Index>> keys;
    keys.reserve(static_cast<std::size_t>(candidates));
    for (Eigen::Index i = 0; i < candidates; ++i) {
      const double w = lp[i] > kNegInf ? lp[i] - initial.log_density(row_span(x, i)) : kNegInf;
      if (std::isfinite(w)) keys.emplace_back(w + gumbel[i], i);
    }
    if (keys.empty())
      throw InputError("MCMC: the target is -inf or NaN at all " + std::to_string(candidates) +
                       " SIR candidates; check the target and the initial distribution");
    const auto picks = std::min(keys.size(), static_cast<std::size_t>(started));
    std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(picks), keys.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    if (hmc) start_gradient.resize(started, dim);
    // With fewer usable candidates than chains, chains share them in turn.
    for (Eigen::Index c = 0; c < started; ++c) {
      const Eigen::Index pick = keys[static_cast<std::size_t>(c) % picks].second;
      start.row(c) = x.row(pick);
      start_log_density[c] = lp[pick];
      if (hmc) start_gradient.row(c) = gradient.row(pick);
    }
  }

  // 2. The chains.
  result.draws.resize(chain_count * draws_per_chain, dim);
  result.log_density.resize(chain_count * draws_per_chain);
  std::vector<Chain> chains;
  chains.reserve(static_cast<std::size_t>(started));
  for (Eigen::Index c = 0; c < started; ++c) {
    chains.emplace_back(options, schedule, dim, Rng::stream(seed, static_cast<std::uint64_t>(c), kChainStream));
    const Vector x = start.row(c).transpose();
    Vector g;
    if (hmc) g = start_gradient.row(c).transpose();
    chains.back().start(x, start_log_density[c], hmc ? &g : nullptr);
    if (c < chain_count)
      chains.back().set_output(result.draws.data() + c * draws_per_chain * dim, result.log_density.data() + c * draws_per_chain);
  }

  std::vector<std::uint64_t> block_calls(options.chain_blocks, 0), block_rows(options.chain_blocks, 0);
  // Progress: chain iterations over all phases (the exploring chains' first half of warm-up included).
  const std::size_t iterations_due =
      schedule.jumps ? static_cast<std::size_t>(started) * schedule.jump_begin + static_cast<std::size_t>(chain_count) * (schedule.total - schedule.jump_begin)
                     : static_cast<std::size_t>(chain_count) * schedule.total;
  std::atomic<std::size_t> iterations_done{0};
  std::atomic<bool> stopped{false};
  auto stop_requested = [&] { return options.stop && options.stop->load(std::memory_order_relaxed); };
  auto throw_if_stopped = [&](const char* where) {
    if (stopped || stop_requested())
      throw Interrupted(std::string("MCMC: stopped on request ") + where + " (" + std::to_string(iterations_done.load()) + " of " +
                        std::to_string(iterations_due) + " chain iterations done); no samples were kept");
  };
  throw_if_stopped("while starting the chains");
  // Runs chains 0..count−1 up to iteration `end`, in chain_blocks blocks whose chains share each
  // target call.
  auto run_phase = [&](std::size_t end, Eigen::Index count) {
    const auto per_call = static_cast<Eigen::Index>(options.chains_per_call(static_cast<std::size_t>(count)));
    const auto block_count = static_cast<std::size_t>((count + per_call - 1) / per_call);
    parallel_for(block_count, threads, [&](std::size_t block, std::size_t worker) {
      const Eigen::Index begin = static_cast<Eigen::Index>(block) * per_call, size = std::min(per_call, count - begin);
      // This block's iterations already counted in iterations_done.
      std::size_t counted = 0;
      for (Eigen::Index c = begin; c < begin + size; ++c) counted += chains[static_cast<std::size_t>(c)].iterations_done();
      auto last_report = std::chrono::steady_clock::now();
      auto before_step = [&] {
        if (stop_requested()) stopped = true;
        if (stopped) return false;
        if (options.on_progress) {
          std::size_t now_done = 0;
          for (Eigen::Index c = begin; c < begin + size; ++c) now_done += chains[static_cast<std::size_t>(c)].iterations_done();
          iterations_done += now_done - counted;
          counted = now_done;
          // Only the calling thread (worker 0) reports, so the callback never runs concurrently.
          if (worker == 0) {
            if (const auto now = std::chrono::steady_clock::now(); now - last_report > std::chrono::milliseconds(100)) {
              last_report = now;
              options.on_progress(iterations_done.load(), iterations_due);
            }
          }
        }
        return true;
      };
      advance_together(std::span(chains).subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(size)), end, evaluate, before_step,
                       block_calls[block], block_rows[block]);
    });
    throw_if_stopped("while the chains ran");
    // Exact at the phase's end (the blocks count their last iterations only when they step again).
    iterations_done = end == schedule.total ? iterations_due : static_cast<std::size_t>(count) * end;
    if (options.on_progress) options.on_progress(iterations_done.load(), iterations_due);
  };

  mcmc_detail::GaussianMixture mixture;
  if (schedule.jumps) {
    run_phase(schedule.jump_begin, started);
    // 3. The mode-jump proposal: one component per chain from its draws of the second warm-up quarter.
    const double scale2 = options.jump_scale * options.jump_scale;
    for (const Chain& chain : chains)
      if (chain.jump_window().count() >= 2) mixture.add_component(chain.jump_window().mean(), scale2 * chain.jump_window().regularized_covariance());
    // Chains are spread over the modes unevenly (by chance and by where they started), so equal
    // weights would propose some modes far more often than their posterior mass. One step of
    // population Monte Carlo (Cappé et al. 2004) weights component k by the mean importance weight
    // p(x)/q(x) of kDrawsPerComponent draws from it: an estimate of the mass near it.
    const auto components = static_cast<Eigen::Index>(mixture.size());
    if (components > 1) {
      RowMatrix x(components * kDrawsPerComponent, dim);
      Vector draw;
      for (Eigen::Index k = 0; k < components; ++k) {
        Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(k), kMixtureStream);
        for (int i = 0; i < kDrawsPerComponent; ++i) {
          mixture.sample_component(static_cast<std::size_t>(k), rng, draw);
          x.row(k * kDrawsPerComponent + i) = draw.transpose();
        }
      }
      Vector lp;
      RowMatrix unused_gradient;
      evaluate_in_calls(Evaluator(target, false), x, lp, unused_gradient, kCandidateRowsPerCall, threads, stats.target_calls);
      stats.mixture_evaluations = static_cast<std::uint64_t>(x.rows());
      Vector log_mass(components);
      for (Eigen::Index k = 0; k < components; ++k) {
        double largest = kNegInf;
        std::vector<double> log_ratio(kDrawsPerComponent);
        for (int i = 0; i < kDrawsPerComponent; ++i) {
          const Eigen::Index row = k * kDrawsPerComponent + i;
          log_ratio[static_cast<std::size_t>(i)] = lp[row] - mixture.log_density(x.row(row).transpose());
          largest = std::max(largest, log_ratio[static_cast<std::size_t>(i)]);
        }
        double sum = 0;
        if (largest > kNegInf)
          for (double r : log_ratio) sum += std::exp(r - largest);
        log_mass[k] = largest > kNegInf ? largest + std::log(sum) : kNegInf;
      }
      const double top = log_mass.maxCoeff();
      if (std::isfinite(top)) {
        Vector weights = (log_mass.array() - top).exp();
        weights = (1 - kEqualShare) * weights / weights.sum() + Vector::Constant(components, kEqualShare / static_cast<double>(components));
        mixture.set_weights(weights);
      }
    }
    for (Chain& chain : chains) chain.set_mixture(&mixture);
  }
  run_phase(schedule.total, chain_count);

  // 4. Samples, statistics, diagnostics.
  result.samples.resize(n, dim);
  for (Eigen::Index r = 0; r < n; ++r) result.samples.row(r) = result.draws.row((r % chain_count) * draws_per_chain + r / chain_count);
  for (std::size_t b = 0; b < block_calls.size(); ++b) {
    stats.target_calls += block_calls[b];
    stats.evaluations += block_rows[b];
  }
  stats.evaluations += stats.init_evaluations + stats.mixture_evaluations;
  double acceptance = 0, step = 0;
  std::uint64_t trajectories = 0, leapfrogs = 0, slice_rows = 0, slice_updates = 0;
  for (Eigen::Index c = 0; c < chain_count; ++c) {
    const Chain& chain = chains[static_cast<std::size_t>(c)];
    stats.jumps_proposed += chain.jumps_proposed;
    stats.jumps_accepted += chain.jumps_accepted;
    if (const auto* h = chain.hmc()) {
      acceptance += h->acceptance_sum;
      trajectories += h->trajectories;
      leapfrogs += h->leapfrog_steps;
      stats.divergences += h->divergences;
      step += h->step_size();
    }
    if (const auto* s = chain.slice()) {
      slice_rows += s->evaluations;
      slice_updates += s->updates;
    }
  }
  if (trajectories > 0) {
    stats.acceptance_rate = acceptance / static_cast<double>(trajectories);
    stats.mean_leapfrog_steps = static_cast<double>(leapfrogs) / static_cast<double>(trajectories);
  }
  if (hmc) stats.step_size = step / static_cast<double>(chain_count);
  if (slice_updates > 0) stats.slice_evaluations_per_update = static_cast<double>(slice_rows) / static_cast<double>(slice_updates);
  result.diagnostics = compute_mcmc_diagnostics(result.draws, chain_count);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - clock_start).count();
  return result;
}

std::uint64_t move_by_slice_sampling(const McmcTarget& target, RowMatrix& x, Vector& log_density, std::size_t iterations, const Vector& widths,
                                     std::uint64_t seed) {
  const auto dim = static_cast<Eigen::Index>(target.dim);
  if (dim < 1 || !target.log_density) throw InputError("MCMC moves: the target needs a dimension of at least 1 and a log-density function");
  if (x.cols() != dim || log_density.size() != x.rows())
    throw InputError("MCMC moves: " + std::to_string(x.rows()) + " × " + std::to_string(x.cols()) + " points with " +
                     std::to_string(log_density.size()) + " values for a target of dimension " + std::to_string(dim));
  if (widths.size() != dim || !(widths.array() > 0).all() || !widths.allFinite())
    throw InputError("MCMC moves: the widths must be " + std::to_string(dim) + " positive numbers, one per coordinate");
  if (iterations < 1 || iterations > 100000) throw InputError("MCMC moves: iterations must be between 1 and 100000");
  McmcOptions options;
  options.sampler = McmcOptions::Sampler::slice;
  options.slice_directions = McmcOptions::SliceDirections::coordinate;
  options.warmup = 0;
  options.jumps_per_iteration = 0;
  options.thin = iterations;  // one kept draw per chain: the last
  const mcmc_detail::Schedule schedule = mcmc_detail::Schedule::make(options, 1);
  std::vector<mcmc_detail::Chain> chains;
  chains.reserve(static_cast<std::size_t>(x.rows()));
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    if (!std::isfinite(log_density[r])) continue;
    chains.emplace_back(options, schedule, dim, Rng::stream(seed, static_cast<std::uint64_t>(r), kChainStream));
    chains.back().set_slice_widths(widths);
    chains.back().start(x.row(r).transpose(), log_density[r], nullptr);
    chains.back().set_output(x.row(r).data(), log_density.data() + r);
  }
  std::uint64_t calls = 0, rows = 0;
  advance_together(std::span(chains), schedule.total, Evaluator(target, false), [] { return true; }, calls, rows);
  return rows;
}

std::pair<nlohmann::json, McmcOptions> split_mcmc_section(const nlohmann::json& section, const std::string& path) {
  if (!section.is_object()) throw InputError(path + ": expected an object");
  nlohmann::json rest = section;
  McmcOptions mcmc;
  if (const auto it = rest.find("mcmc"); it != rest.end()) {
    mcmc = McmcOptions::from_json(*it, path + ".mcmc");
    rest.erase("mcmc");
  }
  return {rest, mcmc};
}

}  // namespace sbi
