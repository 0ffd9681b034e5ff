#include "sbi/inference/snpe.hpp"

#include "sbi/autodiff/ops.hpp"
#include "sbi/core/error.hpp"
#include "sbi/inference/standardization.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sbi {

namespace {

using flows::Mat;
using flows::Tape;
using flows::Var;

// The atomic loss of Greenberg et al. (2019) on one set of rows. Row i of the set is scored against
// itself and K − 1 other rows of the set (`atoms` holds, for each i, the K indices into the set, its
// own first); ℓ_i(j) = log q̃(z_x_j | z_c_i) − log π_u(u_j) (the z-scoring's constant cancels).
// `log_q` evaluates log q̃ for stacked rows (training: on the parameters; validation: as constants).
template <class LogQ>
Var atomic_loss(Tape& tape, const LogQ& log_q, const Mat& zx, const Mat& zc, const Vector& log_prior, std::span<const Eigen::Index> rows,
                const std::vector<std::vector<Eigen::Index>>& atoms) {
  const auto b = static_cast<Eigen::Index>(rows.size());
  const auto k = static_cast<Eigen::Index>(atoms.front().size());
  const Eigen::Index n = b * k;
  // Stacked block by block: row a·b + i pairs atom a of row i with row i's context.
  Mat x(n, zx.cols()), c(n, zc.cols()), prior(n, 1);
  for (Eigen::Index a = 0; a < k; ++a)
    for (Eigen::Index i = 0; i < b; ++i) {
      const Eigen::Index atom = rows[static_cast<std::size_t>(atoms[static_cast<std::size_t>(i)][static_cast<std::size_t>(a)])];
      x.row(a * b + i) = zx.row(atom);
      c.row(a * b + i) = zc.row(rows[static_cast<std::size_t>(i)]);
      prior(a * b + i, 0) = static_cast<float>(log_prior(atom));
    }
  const Var logits = ad::sub(log_q(tape.constant(x), tape.constant(c)), tape.constant(prior));
  // logsumexp over each row's atoms, stabilised by the row's largest logit (a constant).
  const Mat& value = logits.value();
  Mat row_max = Mat::Constant(b, 1, -std::numeric_limits<float>::infinity());
  for (Eigen::Index a = 0; a < k; ++a)
    for (Eigen::Index i = 0; i < b; ++i)
      if (std::isfinite(value(a * b + i, 0))) row_max(i, 0) = std::max(row_max(i, 0), value(a * b + i, 0));
  for (Eigen::Index i = 0; i < b; ++i)
    if (!std::isfinite(row_max(i, 0))) row_max(i, 0) = 0;
  Mat shift(n, 1), pick_all = Mat::Zero(b, n), pick_own = Mat::Zero(b, n);
  for (Eigen::Index a = 0; a < k; ++a)
    for (Eigen::Index i = 0; i < b; ++i) {
      shift(a * b + i, 0) = row_max(i, 0);
      pick_all(i, a * b + i) = 1;
    }
  for (Eigen::Index i = 0; i < b; ++i) pick_own(i, i) = 1;
  const Var all = ad::matmul(tape.constant(pick_all), ad::exp(ad::sub(logits, tape.constant(shift))));
  const Var lse = ad::add(ad::log(all), tape.constant(row_max));
  const Var own = ad::matmul(tape.constant(pick_own), logits);
  return ad::mean(ad::sub(lse, own));
}

// For each of m rows: itself, then K − 1 distinct-from-itself others among the m (with replacement
// among the others), from rng.
std::vector<std::vector<Eigen::Index>> draw_atoms(Eigen::Index m, int atoms, Rng& rng) {
  const Eigen::Index k = std::min<Eigen::Index>(atoms, m);
  std::vector<std::vector<Eigen::Index>> out(static_cast<std::size_t>(m));
  for (Eigen::Index i = 0; i < m; ++i) {
    auto& row = out[static_cast<std::size_t>(i)];
    row.push_back(i);
    for (Eigen::Index a = 1; a < k; ++a) {
      auto j = static_cast<Eigen::Index>(rng() % static_cast<std::uint64_t>(m - 1));
      if (j >= i) ++j;
      row.push_back(j);
    }
  }
  return out;
}

// Fits q(u | y) by the atomic loss on all rows; the split, z-scoring, early stopping and curve as
// flows::fit_density (sbi/flows/fit.hpp).
flows::DensityFitResult fit_atomic(flows::ConditionalDensity& density, const RowMatrix& u, const RowMatrix& y, const Vector& log_prior_u,
                                   const flows::DensityFitOptions& options, int atoms, const TrainingCallbacks& callbacks) {
  const optim::Split split = optim::train_validation_split(u.rows(), options.validation_fraction, options.seed);
  if (split.train.size() < 2 || split.validation.empty())
    throw InputError("SNPE: " + std::to_string(u.rows()) + " rows are too few for a training and a validation set");
  flows::Standardization standardization;
  if (options.z_score_x) flows::column_statistics(u, split.train, standardization.x_mean, standardization.x_sd);
  if (options.z_score_c) flows::column_statistics(y, split.train, standardization.c_mean, standardization.c_sd);
  density.set_standardization(standardization);
  const Mat zx = density.standardize_x(u), zc = density.standardize_c(y);

  const auto parameters = density.parameters();
  optim::Adam adam(parameters, {.learning_rate = options.learning_rate});
  flows::PlateauDecay schedule(options.learning_rate, options.learning_rate_decay, options.decays);
  const auto train_rows = static_cast<Eigen::Index>(split.train.size());
  const Eigen::Index batch = std::min(options.batch_size, train_rows);
  const int steps_per_epoch = static_cast<int>((train_rows + batch - 1) / batch);
  optim::TrainingLoopOptions loop_options;
  loop_options.max_steps = static_cast<int>(std::min<long long>(static_cast<long long>(options.max_epochs) * steps_per_epoch,
                                                                std::numeric_limits<int>::max()));
  loop_options.eval_every = steps_per_epoch;
  loop_options.patience = options.patience;
  optim::TrainingLoop loop(loop_options, {"atomic_loss"});
  loop.track(parameters);

  // Validation: chunks of `batch` rows with atoms fixed by the seed, so that the yardstick does not move.
  std::vector<std::span<const Eigen::Index>> validation_chunks;
  std::vector<std::vector<std::vector<Eigen::Index>>> validation_atoms;
  {
    Rng rng = Rng::stream(options.seed, 0, 0xa70);
    for (std::size_t first = 0; first < split.validation.size(); first += static_cast<std::size_t>(batch)) {
      const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(batch), split.validation.size() - first);
      if (count < 2) break;  // a single row has no other atom
      validation_chunks.emplace_back(split.validation.data() + first, count);
      validation_atoms.push_back(draw_atoms(static_cast<Eigen::Index>(count), atoms, rng));
    }
  }
  if (validation_chunks.empty()) throw InputError("SNPE (atomic): the validation set needs at least 2 rows");

  Tape tape, validation_tape;
  std::vector<Eigen::Index> order;
  flows::DensityFitResult result;
  optim::TrainingHooks hooks;
  hooks.step = [&](int step, std::span<double> losses) {
    const int in_epoch = (step - 1) % steps_per_epoch;
    const auto epoch = static_cast<std::uint64_t>((step - 1) / steps_per_epoch);
    if (in_epoch == 0) {
      Rng rng = Rng::stream(options.seed, epoch, 0xba7c);
      order = optim::permutation(train_rows, rng);
      for (auto& k : order) k = split.train[static_cast<std::size_t>(k)];
    }
    const Eigen::Index first = static_cast<Eigen::Index>(in_epoch) * batch;
    const std::span<const Eigen::Index> rows(order.data() + first, static_cast<std::size_t>(std::min(batch, train_rows - first)));
    if (rows.size() < 2) {
      losses[0] = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    Rng atom_rng = Rng::stream(options.seed, static_cast<std::uint64_t>(step), 0xa7);
    const auto batch_atoms = draw_atoms(static_cast<Eigen::Index>(rows.size()), atoms, atom_rng);
    auto scope = tape.scope();
    adam.zero_grad();
    const Var loss = atomic_loss(
        tape, [&](Var x, Var c) { return density.standardized_log_prob(x, c); }, zx, zc, log_prior_u, rows, batch_atoms);
    const double value = static_cast<double>(loss.item());
    losses[0] = value;
    if (!std::isfinite(value)) {
      ++result.skipped_steps;
      return;
    }
    tape.backward(loss);
    if (options.clip_grad_norm > 0) optim::clip_grad_norm(parameters, options.clip_grad_norm);
    adam.step();
  };
  hooks.validate = [&] {
    double total = 0, rows = 0;
    for (std::size_t chunk = 0; chunk < validation_chunks.size(); ++chunk) {
      auto scope = validation_tape.scope();
      const Var loss = atomic_loss(
          validation_tape, [&](Var x, Var c) { return density.evaluate_standardized_log_prob(validation_tape, x, c); }, zx, zc, log_prior_u,
          validation_chunks[chunk], validation_atoms[chunk]);
      const auto count = static_cast<double>(validation_chunks[chunk].size());
      total += static_cast<double>(loss.item()) * count;
      rows += count;
    }
    return total / rows;
  };
  hooks.on_plateau = [&] { return schedule.decay(adam); };
  hooks.status = [&](const optim::TrainingRecord& record) {
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "epoch %d, atomic %.4f, validation %.4f", record.step / steps_per_epoch, record.losses[0],
                  record.validation);
    return std::string(buffer);
  };
  const optim::TrainingOutcome outcome = loop.run(hooks, callbacks);
  result.curve = outcome.curve;
  result.epochs = outcome.curve.records.empty() ? 0 : (outcome.curve.records.back().step + steps_per_epoch - 1) / steps_per_epoch;
  result.best_epoch = outcome.best_step / steps_per_epoch;
  result.best_validation = outcome.best_validation;
  result.stopped_early = outcome.stopped_early;
  result.interrupted = outcome.interrupted;
  result.final_learning_rate = schedule.rate();
  result.seconds = outcome.seconds;
  result.training_rows = train_rows;
  result.validation_rows = static_cast<Eigen::Index>(split.validation.size());
  flows::check_density_trained(result, options);
  return result;
}

// log q(θ | y_o) in blocks of rows on `threads` threads (0 = all cores); blocks bound the evaluation
// tape's memory for large pools. The values do not depend on the thread count.
Vector log_prob_in_blocks(const NpeFit& fit, const RowMatrix& theta, const Vector& observation, int threads) {
  constexpr Eigen::Index kBlock = 2048;
  Vector out(theta.rows());
  const auto blocks = static_cast<std::size_t>((theta.rows() + kBlock - 1) / kBlock);
  parallel_for(blocks, threads < 1 ? hardware_threads() : threads, [&](std::size_t b, std::size_t) {
    const Eigen::Index first = static_cast<Eigen::Index>(b) * kBlock;
    const Eigen::Index count = std::min(kBlock, theta.rows() - first);
    out.segment(first, count) = fit.log_prob(theta.middleRows(first, count), observation);
  });
  return out;
}

std::string short_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

}  // namespace

std::string to_string(SnpeOptions::Loss loss) { return loss == SnpeOptions::Loss::truncated ? "truncated" : "atomic"; }

bool SnpeOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (!npe.is_valid(why) || !sequential.is_valid(why)) return false;
  if (!(truncation_quantile > 0 && truncation_quantile < 0.5)) return fail("truncation_quantile: must be in (0, 0.5)");
  if (hpd_samples < 100) return fail("hpd_samples: must be at least 100");
  if (!(max_prior_draws >= 1) || !std::isfinite(max_prior_draws)) return fail("max_prior_draws: must be at least 1");
  if (atoms < 2) return fail("atoms: must be at least 2");
  return true;
}

nlohmann::json SnpeOptions::to_json() const {
  nlohmann::json j = npe.to_json();
  j["rounds"] = sequential.rounds;
  j["loss"] = to_string(loss);
  j["truncation_quantile"] = truncation_quantile;
  j["hpd_samples"] = hpd_samples;
  j["max_prior_draws"] = max_prior_draws;
  j["atoms"] = atoms;
  return j;
}

SnpeOptions SnpeOptions::from_json(const nlohmann::json& section, const std::string& path) {
  auto [rest, settings] = split_sequential_settings(section, path);
  SnpeOptions o;
  o.sequential = settings;
  // SNPE's own keys are read here and removed; the rest is NPE's (which rejects unknown keys).
  const std::vector<std::string> own_keys = {"loss", "truncation_quantile", "hpd_samples", "max_prior_draws", "atoms"};
  const nlohmann::json own = take_keys(rest, own_keys);
  JsonObjectReader r(own, path);
  o.loss = r.optional_string("loss", "truncated", {"truncated", "atomic"}) == "truncated" ? Loss::truncated : Loss::atomic;
  o.truncation_quantile = r.optional_number_in("truncation_quantile", o.truncation_quantile, 1e-12, 0.499);
  o.hpd_samples = r.optional_integer("hpd_samples", o.hpd_samples, 100, 100000000);
  o.max_prior_draws = r.optional_number_in("max_prior_draws", o.max_prior_draws, 1, 1e9);
  o.atoms = static_cast<int>(r.optional_integer("atoms", o.atoms, 2, 100000));
  o.npe = read_amortised_options(path, own_keys, [&] { return NpeOptions::from_json(rest, path, default_npe()); });
  if (!o.npe.alternatives.empty())
    throw InputError(path + ".alternatives: SNPE trains one estimator through its rounds; name it in density_estimator (alternatives are for npe and nle)");
  return o;
}

NpeOptions SnpeOptions::default_npe() {
  NpeOptions o;
  o.density_estimator.conditioner = flows::DensityEstimatorOptions::Conditioner::mlp;
  o.alternatives.clear();  // its rounds continue one estimator
  o.learning_rate_decay = 1.0;  // NPE's decay was measured on NPE only; SNPE's grid ran without it
  return o;
}

TruncatedProposal truncated_prior_proposal(const NpeFit& fit, const Prior& prior, const Vector& observation, std::size_t n,
                                           const SnpeOptions& options, std::uint64_t seed, int threads) {
  TruncatedProposal out;
  const auto p = static_cast<Eigen::Index>(prior.dim());
  // τ: the ε-quantile of log q over q's own draws.
  const RowMatrix draws = fit.sample(observation, options.hpd_samples, stream_seed(seed, 0, 0x4bd), threads);
  const Vector draw_lp = log_prob_in_blocks(fit, draws, observation, threads);
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(draw_lp.size()));
  for (Eigen::Index i = 0; i < draw_lp.size(); ++i)
    if (std::isfinite(draw_lp(i))) values.push_back(draw_lp(i));
  if (values.empty()) throw InputError("SNPE: the posterior estimate's log-density is not finite at any of its own draws");
  const auto q_index = static_cast<std::size_t>(std::floor(options.truncation_quantile * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(q_index), values.end());
  out.threshold = values[q_index];

  // Rejection from the prior, block after block (block b from its own stream).
  out.theta.resize(static_cast<Eigen::Index>(n), p);
  const auto max_draws = static_cast<std::size_t>(std::ceil(options.max_prior_draws * static_cast<double>(n)));
  const std::size_t block = std::max<std::size_t>(n, 4096);
  for (std::uint64_t b = 0; out.accepted < n && out.prior_draws < max_draws; ++b) {
    const std::size_t count = std::min(block, max_draws - out.prior_draws);
    Rng rng = Rng::stream(seed, b, 0x9a1);
    const RowMatrix candidates = prior.sample_batch(rng, static_cast<Eigen::Index>(count));
    const Vector lp = log_prob_in_blocks(fit, candidates, observation, threads);
    Eigen::Index examined = 0;
    for (; examined < candidates.rows() && out.accepted < n; ++examined)
      if (lp(examined) >= out.threshold) out.theta.row(static_cast<Eigen::Index>(out.accepted++)) = candidates.row(examined);
    out.prior_draws += static_cast<std::size_t>(examined);  // draws looked at (the rest of the block is unused)
  }
  const double acceptance = static_cast<double>(out.accepted) / static_cast<double>(std::max<std::size_t>(out.prior_draws, 1));
  out.description = "truncated prior (1 - " + short_number(options.truncation_quantile) + " HPD region of q): rejection, " +
                    std::to_string(out.accepted) + " of " + std::to_string(out.prior_draws) + " prior draws accepted (" +
                    short_number(acceptance) + ")";
  if (out.accepted == n) return out;

  // Fallback: importance resampling of q's draws inside the region, weights π(θ)/q(θ).
  const std::size_t missing = n - out.accepted;
  const auto m = static_cast<Eigen::Index>(10 * missing);
  const RowMatrix pool = fit.sample(observation, m, stream_seed(seed, 1, 0x4bd), threads);
  const Vector pool_lp = log_prob_in_blocks(fit, pool, observation, threads);
  Vector log_w = Vector::Constant(m, -std::numeric_limits<double>::infinity());
  double top = -std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < m; ++i) {
    if (!(pool_lp(i) >= out.threshold)) continue;
    const double lw = prior.log_prob(row_span(pool, i)) - pool_lp(i);
    if (std::isfinite(lw)) {
      log_w(i) = lw;
      top = std::max(top, lw);
    }
  }
  if (!std::isfinite(top)) throw InputError("SNPE: no draw of the posterior estimate lies inside the prior's support and its own region");
  Vector cumulative(m);
  double total = 0;
  for (Eigen::Index i = 0; i < m; ++i) cumulative(i) = total += std::isfinite(log_w(i)) ? std::exp(log_w(i) - top) : 0.0;
  // Systematic resampling: one uniform offset, `missing` evenly spaced points.
  Rng rng = Rng::stream(seed, 2, 0x4bd);
  const double offset = rng.uniform();
  Eigen::Index i = 0;
  for (std::size_t k = 0; k < missing; ++k) {
    const double point = (static_cast<double>(k) + offset) / static_cast<double>(missing) * total;
    while (i < m - 1 && cumulative(i) < point) ++i;
    out.theta.row(static_cast<Eigen::Index>(out.accepted + k)) = pool.row(i);
  }
  out.resampled = missing;
  out.description += "; " + std::to_string(missing) + " by importance resampling of q's draws (fallback: too few accepted within " +
                     short_number(options.max_prior_draws) + " prior draws per row)";
  return out;
}

std::optional<NpeFit> run_snpe(const SequentialProblem& problem, const SnpeOptions& options, SequentialRecord& record,
                               const TrainingCallbacks& callbacks) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("SNPE options: " + why);
  if (!problem.prior) throw InputError("a sequential method needs a prior");
  const Prior& prior = *problem.prior;
  const auto p = static_cast<Eigen::Index>(prior.dim());
  std::shared_ptr<flows::ConditionalDensity> density =
      flows::make_density(options.npe.density_estimator, p, problem.observation.size(), options.npe.seed);
  std::optional<NpeFit> fit;
  const auto fit_round = [&](int round) {
    const RowMatrix u = prior.to_unconstrained(record.theta);
    check_standardizable(u, prior.names(), "prior parameter", "SNPE");
    check_standardizable(record.y, {}, "data column", "SNPE");
    // Each round starts a fresh optimiser from the last weights (Adam keeps its moments in the
    // parameters; clearing them makes a round depend on the weights alone, so a resumed run is the same).
    for (auto* parameter : density->parameters()) parameter->state.clear();
    flows::DensityFitOptions fit_options = options.npe.fit_options();
    fit_options.seed = stream_seed(options.npe.seed, static_cast<std::uint64_t>(round), 0xf17);
    flows::DensityFitResult result;
    if (options.loss == SnpeOptions::Loss::truncated || round == 0) {
      result = flows::fit_density(*density, u, record.y, fit_options, callbacks);
    } else {
      Vector log_prior_u(u.rows());
      for (Eigen::Index i = 0; i < u.rows(); ++i)
        log_prior_u(i) = prior.log_prob(row_span(record.theta, i)) + prior.log_abs_det_jacobian(row_span(u, i));
      result = fit_atomic(*density, u, record.y, log_prior_u, fit_options, options.atoms, callbacks);
    }
    fit.emplace(density, prior.transforms(), options.npe);
    fit->training = std::move(result);
    return !fit->training.interrupted;
  };
  const auto propose = [&](int round, std::size_t n) {
    const std::uint64_t seed = stream_seed(problem.seed, static_cast<std::uint64_t>(round), 0x75e);
    RoundProposal proposal;
    if (options.loss == SnpeOptions::Loss::truncated) {
      TruncatedProposal truncated = truncated_prior_proposal(*fit, prior, problem.observation, n, options, seed, problem.threads);
      proposal.theta = std::move(truncated.theta);
      proposal.description = std::move(truncated.description);
    } else {
      proposal.theta = fit->sample(problem.observation, static_cast<Eigen::Index>(n), seed, problem.threads);
      proposal.description = "posterior estimate q(theta | y_o)";
    }
    return proposal;
  };
  RoundState state;
  state.save = [&](const std::filesystem::path& file) { density->save(file); };
  state.load = [&](const std::filesystem::path& file) {
    density = flows::load_density(file);
    fit.emplace(density, prior.transforms(), options.npe);
  };
  state.identity = {{"name", "snpe"}, {"options", options.to_json()}};
  run_sequential_rounds(problem, options.sequential, record, callbacks, propose, fit_round, &state);
  return fit;
}

}  // namespace sbi
