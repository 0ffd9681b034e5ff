#include "sbi/inference/slfvi.hpp"

#include "sbi/core/error.hpp"
#include "sbi/inference/snpe.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/nn/serialize.hpp"
#include "sbi/random/rng.hpp"

#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sbi {

namespace {

std::string short_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

}  // namespace

bool SlfviOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& m) {
    if (why) *why = m;
    return false;
  };
  if (flow) {
    std::string inner;
    if (!flow->is_valid(&inner)) return fail(inner);
    if (!retrain_from_scratch) return fail("retrain_from_scratch: the flow generator's rounds train afresh (it must be true)");
  } else if (!lfvi.is_valid(why)) {
    return false;
  } else if (region == Region::hpd) {
    return fail("region: \"hpd\" needs the flow generator's density (\"generator\": \"flow\")");
  }
  if (!sequential.is_valid(why)) return false;
  if (!(truncation_quantile > 0 && truncation_quantile < 0.5)) return fail("truncation_quantile: must be in (0, 0.5)");
  if (!(inflation >= 1) || !std::isfinite(inflation)) return fail("inflation: must be at least 1");
  if (region_samples < 100) return fail("region_samples: must be at least 100");
  if (!(max_prior_draws >= 1) || !std::isfinite(max_prior_draws)) return fail("max_prior_draws: must be at least 1");
  return true;
}

nlohmann::json SlfviOptions::to_json() const {
  nlohmann::json j = flow ? flow->to_json() : lfvi.to_json();
  j["rounds"] = sequential.rounds;
  j["truncation_quantile"] = truncation_quantile;
  j["inflation"] = inflation;
  j["region_samples"] = region_samples;
  j["max_prior_draws"] = max_prior_draws;
  j["retrain_from_scratch"] = retrain_from_scratch;
  if (flow) j["region"] = region == Region::hpd ? "hpd" : "ellipsoid";
  return j;
}

SlfviOptions SlfviOptions::from_json(const nlohmann::json& section, const std::string& path) {
  auto [rest, settings] = split_sequential_settings(section, path);
  SlfviOptions o;
  o.sequential = settings;
  const std::vector<std::string> own_keys = {"truncation_quantile", "inflation", "region_samples", "max_prior_draws", "retrain_from_scratch",
                                             "region"};
  const nlohmann::json own = take_keys(rest, own_keys);
  JsonObjectReader r(own, path);
  o.truncation_quantile = r.optional_number_in("truncation_quantile", o.truncation_quantile, 1e-12, 0.499);
  o.inflation = r.optional_number_in("inflation", o.inflation, 1, 100);
  o.region_samples = r.optional_integer("region_samples", o.region_samples, 100, 100000000);
  o.max_prior_draws = r.optional_number_in("max_prior_draws", o.max_prior_draws, 1, 1e9);
  o.retrain_from_scratch = r.optional_bool("retrain_from_scratch", o.retrain_from_scratch);
  const std::optional<std::string> region =
      own.contains("region") ? std::optional<std::string>(r.optional_string("region", "hpd", {"hpd", "ellipsoid"})) : std::nullopt;
  // "generator": "flow", or the implicit generator ("implicit", or its network options as an object,
  // which go to LFVI's reader with the rest).
  const bool flow = lfvi_flow_requested(rest, path);
  if (!flow && rest.contains("generator") && rest.at("generator").is_string()) rest.erase("generator");
  if (flow) {
    const bool refine_given = rest.contains("refine"), iw_given = rest.contains("iw_samples");
    o.flow = read_amortised_options(path, own_keys, [&] { return LfviFlowOptions::from_json(rest, path); });
    if (!refine_given) o.flow->refine.steps = default_flow_refine_steps;
    if (!iw_given) o.flow->iw_samples = default_flow_iw_samples;
    // The resampling target is the last round's surrogate posterior, made for the observation; an ensemble of
    // ratio estimators has no such posterior kind (ensembles are of amortised members).
    if (o.flow->importance_resampling != 0 && o.flow->ratio_ensemble != 1)
      throw InputError(path + ".importance_resampling: not with an ensemble of ratio estimators in slfvi (set ratio_ensemble to 1)");
    if (!o.retrain_from_scratch)
      throw InputError(path + ".retrain_from_scratch: the flow generator's rounds train the ratio estimator and the flow afresh; leave it true");
    o.region = region.value_or("hpd") == "hpd" ? Region::hpd : Region::ellipsoid;
  } else {
    if (region.value_or("ellipsoid") != "ellipsoid")
      throw InputError(path + ".region: \"hpd\" needs the flow generator's density (\"generator\": \"flow\"); the implicit generator's region is \"ellipsoid\"");
    o.lfvi = read_amortised_options(path, own_keys, [&] { return LfviOptions::from_json(rest, path); });
  }
  return o;
}

EllipsoidProposal ellipsoid_prior_proposal(const GeneratorSampler& sampler, const Prior& prior, const Vector& observation, std::size_t n,
                                           const SlfviOptions& options, std::uint64_t seed) {
  EllipsoidProposal out;
  const auto p = static_cast<Eigen::Index>(prior.dim());
  // The region from q's draws in unconstrained space.
  const RowMatrix u_all = prior.to_unconstrained(sampler(observation, options.region_samples, stream_seed(seed, 0, 0xe11)));
  std::vector<Eigen::Index> finite;
  for (Eigen::Index i = 0; i < u_all.rows(); ++i)
    if (u_all.row(i).allFinite()) finite.push_back(i);
  if (finite.size() < static_cast<std::size_t>(p) + 2) throw InputError("SLFVI: too few of the estimate's draws lie inside the prior's support");
  const auto m = static_cast<Eigen::Index>(finite.size());
  RowMatrix u(m, p);
  for (Eigen::Index i = 0; i < m; ++i) u.row(i) = u_all.row(finite[static_cast<std::size_t>(i)]);
  out.centre = u.colwise().mean().transpose();
  const RowMatrix centred = u.rowwise() - out.centre.transpose();
  Matrix cov = (centred.transpose() * centred) / static_cast<double>(m - 1);
  // A collapsed direction (a generator that ignores its noise) gets a floor, so that S is invertible.
  const double floor = 1e-10 * std::max(1.0, cov.diagonal().maxCoeff());
  cov.diagonal().array() += floor;
  const Eigen::LLT<Matrix> llt(cov);
  if (llt.info() != Eigen::Success) throw InputError("SLFVI: the estimate's covariance is not positive definite");
  const Matrix lower = llt.matrixL();
  const auto distance2 = [&](const RowMatrix& points) {
    const Matrix z = lower.triangularView<Eigen::Lower>().solve((points.rowwise() - out.centre.transpose()).transpose());
    return Vector(z.colwise().squaredNorm().transpose());
  };
  Vector d2 = distance2(u);
  std::vector<double> sorted(d2.data(), d2.data() + d2.size());
  const auto q_index = std::min(sorted.size() - 1, static_cast<std::size_t>(std::ceil((1 - options.truncation_quantile) * static_cast<double>(sorted.size()))) - 1);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(q_index), sorted.end());
  out.radius2 = sorted[q_index] * options.inflation * options.inflation;

  // Rejection from the prior.
  out.theta.resize(static_cast<Eigen::Index>(n), p);
  const auto max_draws = static_cast<std::size_t>(std::ceil(options.max_prior_draws * static_cast<double>(n)));
  const std::size_t block = std::max<std::size_t>(n, 4096);
  for (std::uint64_t b = 0; out.accepted < n && out.prior_draws < max_draws; ++b) {
    const std::size_t count = std::min(block, max_draws - out.prior_draws);
    Rng rng = Rng::stream(seed, b, 0x9a2);
    const RowMatrix candidates = prior.sample_batch(rng, static_cast<Eigen::Index>(count));
    const RowMatrix cu = prior.to_unconstrained(candidates);
    const Vector cd2 = distance2(cu);
    Eigen::Index examined = 0;
    for (; examined < candidates.rows() && out.accepted < n; ++examined)
      if (cu.row(examined).allFinite() && cd2(examined) <= out.radius2) out.theta.row(static_cast<Eigen::Index>(out.accepted++)) = candidates.row(examined);
    out.prior_draws += static_cast<std::size_t>(examined);  // draws looked at (the rest of the block is unused)
  }
  const double acceptance = static_cast<double>(out.accepted) / static_cast<double>(std::max<std::size_t>(out.prior_draws, 1));
  out.description = "truncated prior (ellipsoid around q's draws, inflation " + short_number(options.inflation) + "): rejection, " +
                    std::to_string(out.accepted) + " of " + std::to_string(out.prior_draws) + " prior draws accepted (" +
                    short_number(acceptance) + ")";
  if (out.accepted == n) return out;

  // Fallback: importance resampling of N(m, inflation² S) draws inside the region, weights π_u/N.
  const std::size_t missing = n - out.accepted;
  const auto pool_size = static_cast<Eigen::Index>(10 * missing);
  Rng rng = Rng::stream(seed, 0, 0xe12);
  RowMatrix z(pool_size, p);
  for (Eigen::Index i = 0; i < pool_size; ++i)
    for (Eigen::Index j = 0; j < p; ++j) z(i, j) = rng.normal();
  const RowMatrix pool_u = (z * (options.inflation * lower).transpose()).rowwise() + out.centre.transpose();
  const RowMatrix pool_theta = prior.to_constrained(pool_u);
  Vector log_w = Vector::Constant(pool_size, -std::numeric_limits<double>::infinity());
  const Vector pool_d2 = distance2(pool_u);
  double top = -std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < pool_size; ++i) {
    if (!(pool_d2(i) <= out.radius2) || !prior.in_support(row_span(pool_theta, i))) continue;
    const double lw = prior.log_prob(row_span(pool_theta, i)) + prior.log_abs_det_jacobian(row_span(pool_u, i)) + 0.5 * z.row(i).squaredNorm();
    if (std::isfinite(lw)) {
      log_w(i) = lw;
      top = std::max(top, lw);
    }
  }
  if (!std::isfinite(top)) throw InputError("SLFVI: no draw around the estimate lies inside the prior's support");
  Vector cumulative(pool_size);
  double total = 0;
  for (Eigen::Index i = 0; i < pool_size; ++i) cumulative(i) = total += std::isfinite(log_w(i)) ? std::exp(log_w(i) - top) : 0.0;
  const double offset = rng.uniform();
  Eigen::Index i = 0;
  for (std::size_t k = 0; k < missing; ++k) {
    const double point = (static_cast<double>(k) + offset) / static_cast<double>(missing) * total;
    while (i < pool_size - 1 && cumulative(i) < point) ++i;
    out.theta.row(static_cast<Eigen::Index>(out.accepted + k)) = pool_theta.row(i);
  }
  out.resampled = missing;
  out.description += "; " + std::to_string(missing) + " by importance resampling around q (fallback: too few accepted within " +
                     short_number(options.max_prior_draws) + " prior draws per row)";
  return out;
}

void run_slfvi(const SequentialProblem& problem, const SlfviOptions& options, SequentialRecord& record, const TrainingCallbacks& callbacks,
               const std::function<GeneratorSampler(ImplicitGeneratorFit fit)>& adopt) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("SLFVI options: " + why);
  if (!problem.prior) throw InputError("a sequential method needs a prior");
  GeneratorSampler current;
  // The last round's networks, kept for the checkpoint folder and the next round's start (adopt takes
  // the fit itself).
  std::optional<ImplicitGeneratorFit> kept;
  const bool keep = !problem.checkpoint.empty() || !options.retrain_from_scratch;
  const auto keep_copy = [&](const ImplicitGeneratorFit& fit) {
    kept.emplace(nn::Mlp(fit.generator.options(), 0));
    kept->generator.copy_weights_from(fit.generator);
    if (fit.discriminator) {
      kept->discriminator.emplace(fit.discriminator->options(), 0);
      kept->discriminator->copy_weights_from(*fit.discriminator);
    }
    kept->standardization = fit.standardization;
    kept->noise_dim = fit.noise_dim;
    kept->training_rows = fit.training_rows;
    kept->validation_rows = fit.validation_rows;
  };
  const auto fit_round = [&](int round) {
    LfviOptions round_options = options.lfvi;
    round_options.seed = stream_seed(options.lfvi.seed, static_cast<std::uint64_t>(round), 0xf17);
    const ImplicitGeneratorFit* start = options.retrain_from_scratch || !kept ? nullptr : &*kept;
    ImplicitGeneratorFit fit = train_lfvi(record.theta, record.y, *problem.prior, round_options, callbacks, start);
    const bool interrupted = fit.training.interrupted;
    if (keep) keep_copy(fit);
    current = adopt(std::move(fit));
    return !interrupted;
  };
  // Resuming: the generator and discriminator in one file, the rest of the fit in its "extra".
  RoundState state;
  state.save = [&](const std::filesystem::path& file) {
    std::vector<std::pair<std::string, const nn::Mlp*>> networks = {{"generator", &kept->generator}};
    if (kept->discriminator) networks.emplace_back("discriminator", &*kept->discriminator);
    nn::save_networks<float>(file, "slfvi-fit", networks,
                             {{"standardization", kept->standardization.to_json()},
                              {"noise_dim", kept->noise_dim},
                              {"training_rows", kept->training_rows},
                              {"validation_rows", kept->validation_rows}});
  };
  state.load = [&](const std::filesystem::path& file) {
    nn::NetworkGroup<float> group = nn::load_networks<float>(file, "slfvi-fit");
    const auto generator = group.networks.find("generator");
    if (generator == group.networks.end()) throw FileError(file.string() + ": no generator network");
    ImplicitGeneratorFit fit(std::move(generator->second));
    if (const auto d = group.networks.find("discriminator"); d != group.networks.end()) fit.discriminator.emplace(std::move(d->second));
    fit.standardization = Standardization::from_json(group.extra.at("standardization"));
    fit.noise_dim = group.extra.at("noise_dim").get<int>();
    fit.training_rows = group.extra.at("training_rows").get<std::size_t>();
    fit.validation_rows = group.extra.at("validation_rows").get<std::size_t>();
    const auto p = static_cast<Eigen::Index>(problem.prior->dim()), d = problem.observation.size();
    const auto& widths = fit.generator.options().widths;
    if (fit.noise_dim < 1 || widths.back() != p || widths.front() != d + fit.noise_dim || fit.standardization.u_mean.size() != p ||
        fit.standardization.y_mean.size() != d || (fit.discriminator && fit.discriminator->options().widths.front() != p + d))
      throw FileError(file.string() + ": the kept networks do not fit this problem's parameters and data (damaged?)");
    keep_copy(fit);
    current = adopt(std::move(fit));
  };
  state.identity = {{"name", "slfvi"}, {"options", options.to_json()}};
  const auto propose = [&](int round, std::size_t n) {
    EllipsoidProposal ellipsoid = ellipsoid_prior_proposal(current, *problem.prior, problem.observation, n, options,
                                                           stream_seed(problem.seed, static_cast<std::uint64_t>(round), 0x75f));
    return RoundProposal{std::move(ellipsoid.theta), std::move(ellipsoid.description)};
  };
  run_sequential_rounds(problem, options.sequential, record, callbacks, propose, fit_round, &state);
}

std::optional<LfviFlowFit> run_slfvi_flow(const SequentialProblem& problem, const SlfviOptions& options, SequentialRecord& record,
                                          const TrainingCallbacks& callbacks) {
  if (!options.flow) throw InputError("SLFVI: the flow generator's rounds need its options (\"generator\": \"flow\")");
  std::string why;
  if (!options.is_valid(&why)) throw InputError("SLFVI options: " + why);
  if (!problem.prior) throw InputError("a sequential method needs a prior");
  std::optional<LfviFlowFit> fit;
  const auto fit_round = [&](int round) {
    LfviFlowOptions round_options = *options.flow;
    round_options.seed = stream_seed(options.flow->seed, static_cast<std::uint64_t>(round), 0xf17);
    try {
      fit.emplace(train_lfvi_flow(record.theta, record.y, *problem.prior, round_options, callbacks, problem.observation));
    } catch (const InputError&) {
      // Stopped inside the surrogate's training (train_lfvi_flow refuses to go on without it):
      // the round is not kept, and the last round's fit stands.
      if (callbacks.stop_requested()) return false;
      throw;
    }
    return !fit->posterior.training.interrupted;
  };
  const GeneratorSampler current = [&fit, threads = problem.threads](const Vector& y, Eigen::Index n, std::uint64_t seed) {
    return fit->posterior.sample(y, n, seed, threads);
  };
  // Resuming: the flow alone (the next round trains its ratio estimator afresh).
  NpeOptions flow_options;
  flow_options.density_estimator = options.flow->flow;
  flow_options.alternatives.clear();
  RoundState state;
  state.save = [&](const std::filesystem::path& file) { fit->posterior.save_density(file); };
  state.load = [&](const std::filesystem::path& file) {
    NpeFit posterior = NpeFit::load(file, *problem.prior, flow_options);
    if (posterior.data_dim() != problem.observation.size())
      throw FileError(file.string() + ": the kept flow does not fit this problem's data (damaged?)");
    fit.emplace(LfviFlowFit{std::move(posterior), {}, {}, std::nullopt, std::nullopt, nullptr, 0, 0, 0, std::nullopt});
  };
  state.identity = {{"name", "slfvi"}, {"options", options.to_json()}};
  // The HPD region is TSNPE's (the same estimate of τ, rejection from the prior and fallback).
  SnpeOptions hpd;
  hpd.truncation_quantile = options.truncation_quantile;
  hpd.hpd_samples = options.region_samples;
  hpd.max_prior_draws = options.max_prior_draws;
  const auto propose = [&](int round, std::size_t n) {
    const std::uint64_t seed = stream_seed(problem.seed, static_cast<std::uint64_t>(round), 0x75f);
    if (options.region == SlfviOptions::Region::hpd) {
      TruncatedProposal truncated = truncated_prior_proposal(fit->posterior, *problem.prior, problem.observation, n, hpd, seed, problem.threads);
      return RoundProposal{std::move(truncated.theta), std::move(truncated.description)};
    }
    EllipsoidProposal ellipsoid = ellipsoid_prior_proposal(current, *problem.prior, problem.observation, n, options, seed);
    return RoundProposal{std::move(ellipsoid.theta), std::move(ellipsoid.description)};
  };
  run_sequential_rounds(problem, options.sequential, record, callbacks, propose, fit_round, &state);
  return fit;
}

}  // namespace sbi
