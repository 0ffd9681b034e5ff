#include "sbi/inference/lfvi_flow.hpp"

#include "sbi/core/error.hpp"
#include "sbi/flows/density.hpp"
#include "sbi/flows/fit.hpp"
#include "sbi/flows/network.hpp"
#include "sbi/inference/method.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/mcmc/unconstrained.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/parallel/parallel_for.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>

namespace sbi {

using FMat = ad::Matrix<float>;
using FVar = ad::Var<float>;

// ---------------------------------------------------------------------------------------------
// Options

flows::DensityEstimatorOptions LfviFlowOptions::default_flow() {
  flows::DensityEstimatorOptions o = NpeOptions::default_density_estimator();
  o.direction = flows::DensityEstimatorOptions::Direction::sampling;
  // The generator's defaults were measured with the MLP conditioner (bench/lfvi_flow/RESULTS.md).
  o.conditioner = flows::DensityEstimatorOptions::Conditioner::mlp;
  return o;
}

bool LfviRefineOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (steps < 0) return fail("steps: must be ≥ 0");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) return fail("learning_rate: must be a positive number");
  if (batch_size < 1) return fail("batch_size: must be at least 1");
  if (iw_samples < 0) return fail("iw_samples: must be ≥ 0 (0: the amortised bound's)");
  if (eval_every < 1) return fail("eval_every: must be at least 1");
  if (patience < 1) return fail("patience: must be at least 1");
  if (validation_terms < 1) return fail("validation_terms: must be at least 1");
  return true;
}

nlohmann::json LfviRefineOptions::to_json() const {
  return {{"steps", steps},
          {"learning_rate", learning_rate},
          {"batch_size", batch_size},
          {"iw_samples", iw_samples},
          {"eval_every", eval_every},
          {"patience", patience},
          {"validation_terms", validation_terms}};
}

LfviRefineOptions LfviRefineOptions::from_json(const nlohmann::json& section, const std::string& path) {
  LfviRefineOptions o;
  JsonObjectReader r(section, path);
  o.steps = static_cast<int>(r.optional_integer("steps", o.steps, 0, 100000000));
  o.learning_rate = r.optional_positive_number("learning_rate", o.learning_rate);
  o.batch_size = r.optional_integer("batch_size", o.batch_size, 1, 1 << 20);
  o.iw_samples = static_cast<int>(r.optional_integer("iw_samples", o.iw_samples, 0, 1024));
  o.eval_every = static_cast<int>(r.optional_integer("eval_every", o.eval_every, 1, 1000000));
  o.patience = static_cast<int>(r.optional_integer("patience", o.patience, 1, 1000000));
  o.validation_terms = r.optional_integer("validation_terms", o.validation_terms, 1, 1 << 20);
  r.finish(o);
  return o;
}

bool LfviFlowOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  std::string inner;
  if (!flow.is_valid(&inner)) return fail("flow." + inner);
  if (flow.type == flows::DensityEstimatorOptions::Type::mog)
    return fail("flow.type: the generator must be a flow (\"maf\" or \"nsf\"): a mixture has no reparameterised sampler");
  if (flow.direction != flows::DensityEstimatorOptions::Direction::sampling)
    return fail("flow.direction: the generator's layers must run from noise to θ (\"sampling\")");
  if (surrogate == Surrogate::ratio && !ratio.is_valid(&inner)) return fail("ratio." + inner);
  if (surrogate == Surrogate::likelihood) {
    if (!likelihood.is_valid(&inner)) return fail("likelihood." + inner);
    if (ratio_ensemble != 1) return fail("ratio_ensemble: an ensemble of ratio estimators needs \"surrogate\": \"ratio\"");
    if (ratio_training != "once") return fail("ratio_training: \"alternate\" trains a ratio estimator; it needs \"surrogate\": \"ratio\"");
  }
  if (iw_samples < 1) return fail("iw_samples: must be at least 1");
  if (ratio_ensemble < 1) return fail("ratio_ensemble: must be at least 1");
  if (ratio_training != "once" && ratio_training != "alternate") return fail("ratio_training: expected \"once\" or \"alternate\"");
  if (ratio_training == "alternate" && ratio_ensemble != 1)
    return fail("ratio_training: \"alternate\" trains one ratio estimator (set ratio_ensemble to 1)");
  if (ratio_steps < 1) return fail("ratio_steps: must be at least 1");
  if (anneal_steps < 0) return fail("anneal_steps: must be ≥ 0");
  if (anneal_steps > max_iterations) return fail("anneal_steps: must not exceed max_iterations (the bound would never be untempered)");
  if (pretrain_steps < 0) return fail("pretrain_steps: must be ≥ 0");
  if (pretrain_steps > 0 && (flow.type != flows::DensityEstimatorOptions::Type::nsf || flow.form != flows::DensityEstimatorOptions::Form::coupling ||
                             flow.linear))
    return fail("pretrain_steps: maximum likelihood needs the generator's inverse on the tape: spline coupling layers (flow.type \"nsf\", "
                "flow.form \"coupling\", flow.linear false)");
  if (batch_size < 1) return fail("batch_size: must be at least 1");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) return fail("learning_rate: must be a positive number");
  if (max_iterations < 1) return fail("max_iterations: must be at least 1");
  if (min_iterations < 0) return fail("min_iterations: must be ≥ 0");
  if (eval_every < 1) return fail("eval_every: must be at least 1");
  if (patience < 1) return fail("patience: must be at least 1");
  if (!(clip_grad_norm >= 0)) return fail("clip_grad_norm: must be ≥ 0");
  if (validation_rows < 1) return fail("validation_rows: must be at least 1");
  if (!refine.is_valid(&inner)) return fail("refine." + inner);
  if (importance_resampling != 0 && (importance_resampling < 2 || importance_resampling > 4096))
    return fail("importance_resampling: proposals per draw must be 0 (off) or in [2, 4096]");
  if (resample_moves < 0 || resample_moves > 1000) return fail("resample_moves: must be in [0, 1000]");
  if (resample_moves > 0 && importance_resampling == 0) return fail("resample_moves: moves the resampled draws; set importance_resampling too");
  return true;
}

nlohmann::json LfviFlowOptions::to_json() const {
  const bool by_ratio = surrogate == Surrogate::ratio;
  // The surrogate's own options only: from_json refuses the other's section.
  return {{"generator", "flow"},
          {"flow", flow.to_json()},
          {"surrogate", by_ratio ? "ratio" : "likelihood"},
          {by_ratio ? "ratio" : "likelihood", by_ratio ? ratio.to_json() : likelihood.to_json()},
          {"ratio_ensemble", ratio_ensemble},
          {"iw_samples", iw_samples},
          {"ratio_training", ratio_training},
          {"ratio_steps", ratio_steps},
          {"anneal_steps", anneal_steps},
          {"pretrain_steps", pretrain_steps},
          {"batch_size", batch_size},
          {"learning_rate", learning_rate},
          {"max_iterations", max_iterations},
          {"min_iterations", min_iterations},
          {"eval_every", eval_every},
          {"patience", patience},
          {"clip_grad_norm", clip_grad_norm},
          {"validation_rows", validation_rows},
          {"refine", refine.to_json()},
          {"importance_resampling", importance_resampling},
          {"resample_moves", resample_moves},
          {"seed", seed}};
}

LfviFlowOptions LfviFlowOptions::from_json(const nlohmann::json& section, const std::string& path) {
  LfviFlowOptions o;
  JsonObjectReader r(section, path);
  for (const auto& key : run_level_inference_keys()) r.get(key);
  if (r.optional_string("generator", "flow", {"flow"}) != "flow") throw InputError(r.child_path("generator") + ": expected \"flow\"");
  // Keys left out keep the default flow's, its sampling direction included (a spec asking for the
  // other direction is refused below).
  if (const auto* f = r.get("flow")) o.flow = flows::DensityEstimatorOptions::from_json(*f, r.child_path("flow"), o.flow);
  o.surrogate = r.optional_string("surrogate", "ratio", {"ratio", "likelihood"}) == "ratio" ? Surrogate::ratio : Surrogate::likelihood;
  // The other surrogate's section would be silently ignored: refused instead.
  const std::string unused = o.surrogate == Surrogate::ratio ? "likelihood" : "ratio";
  if (r.get(unused))
    throw InputError(r.child_path(unused) + ": options of the " + unused + " surrogate, but \"surrogate\" is \"" +
                     (unused == "ratio" ? "likelihood" : "ratio") + "\"; set \"surrogate\": \"" + unused + "\" to use them");
  if (const auto* n = r.get("ratio")) o.ratio = NreOptions::from_json(*n, r.child_path("ratio"));
  if (const auto* l = r.get("likelihood")) o.likelihood = NleOptions::from_json(*l, r.child_path("likelihood"));
  o.ratio_ensemble = static_cast<int>(r.optional_integer("ratio_ensemble", o.ratio_ensemble, 1, 20));
  o.iw_samples = static_cast<int>(r.optional_integer("iw_samples", o.iw_samples, 1, 1024));
  o.ratio_training = r.optional_string("ratio_training", o.ratio_training, {"once", "alternate"});
  o.ratio_steps = static_cast<int>(r.optional_integer("ratio_steps", o.ratio_steps, 1, 100));
  o.anneal_steps = static_cast<int>(r.optional_integer("anneal_steps", o.anneal_steps, 0, 100000000));
  o.pretrain_steps = static_cast<int>(r.optional_integer("pretrain_steps", o.pretrain_steps, 0, 100000000));
  o.batch_size = r.optional_integer("batch_size", o.batch_size, 1, 1 << 20);
  o.learning_rate = r.optional_positive_number("learning_rate", o.learning_rate);
  o.max_iterations = static_cast<int>(r.optional_integer("max_iterations", o.max_iterations, 1, 100000000));
  o.min_iterations = static_cast<int>(r.optional_integer("min_iterations", o.min_iterations, 0, 100000000));
  o.eval_every = static_cast<int>(r.optional_integer("eval_every", o.eval_every, 1, 1000000));
  o.patience = static_cast<int>(r.optional_integer("patience", o.patience, 1, 1000000));
  o.clip_grad_norm = r.optional_number_in("clip_grad_norm", o.clip_grad_norm, 0.0, 1e9);
  o.validation_rows = r.optional_integer("validation_rows", o.validation_rows, 1, 1 << 24);
  if (const auto* f = r.get("refine")) o.refine = LfviRefineOptions::from_json(*f, r.child_path("refine"));
  o.importance_resampling = static_cast<int>(r.optional_integer("importance_resampling", o.importance_resampling, 0, 4096));
  if (o.importance_resampling == 1)
    throw InputError(r.child_path("importance_resampling") + ": 1 proposal per draw is the flow alone; use 0 (off) or at least 2");
  o.resample_moves = static_cast<int>(r.optional_integer("resample_moves", o.resample_moves, 0, 1000));
  if (o.resample_moves > 0 && o.importance_resampling == 0)
    throw InputError(r.child_path("resample_moves") + ": moves the importance-resampled draws; set importance_resampling (K ≥ 2) too");
  o.seed = r.optional_seed("seed", o.seed);
  r.finish(o);
  return o;
}

bool lfvi_flow_requested(const nlohmann::json& section, const std::string& path) {
  if (!section.is_object() || !section.contains("generator")) return false;
  const auto& g = section.at("generator");
  if (g.is_object()) return false;
  if (g.is_string() && (g == "flow" || g == "implicit")) return g == "flow";
  throw InputError(path + ".generator: expected \"flow\", \"implicit\" or the implicit generator's network options (an object), got " +
                   g.dump());
}

nlohmann::json LfviFlowFit::summary() const {
  nlohmann::json surrogate_summary;
  if (likelihood) {
    const flows::DensityFitResult& t = likelihood->training;
    surrogate_summary = {{"best_epoch", t.best_epoch}, {"best_validation_loss", t.best_validation}, {"stopped_early", t.stopped_early}};
  } else {
    nlohmann::json members = nlohmann::json::array();
    for (const auto& ratio : ratios)
      members.push_back({{"best_epoch", ratio.training.best_step},
                         {"best_validation_loss", ratio.training.best_validation},
                         {"stopped_early", ratio.training.stopped_early},
                         {"seconds", ratio.training.seconds}});
    if (members.size() == 1) surrogate_summary = members[0];
    else surrogate_summary = {{"members", members}};
  }
  surrogate_summary["seconds"] = ratio_seconds;
  return {{likelihood ? "likelihood" : "ratio", surrogate_summary},
          {"generator",
           {{"best_step", training.best_step},
            {"best_validation_negative_bound", training.best_validation},
            {"steps", training.curve.records.empty() ? 0 : training.curve.records.back().step},
            {"stopped_early", training.stopped_early},
            {"interrupted", training.interrupted},
            {"seconds", training.seconds}}},
          {"pretraining", pretraining ? nlohmann::json{{"best_step", pretraining->best_step},
                                                       {"best_validation_negative_log_q", pretraining->best_validation},
                                                       {"stopped_early", pretraining->stopped_early},
                                                       {"seconds", pretraining->seconds}}
                                      : nlohmann::json()},
          {"training_rows", training_rows},
          {"validation_rows", validation_rows},
          {"refinement", refinement}};
}

// ---------------------------------------------------------------------------------------------
// Training

namespace {

// The bound's likelihood term r on the tape, for draws ũ (u standardised with the surrogate's
// statistics) and rows of the surrogate's standardised data: n × 1.
using LikelihoodTerm = std::function<FVar(ad::Tape<float>&, const FVar& u_tilde, const FMat& y_tilde)>;

// The bound's pieces for one batch of contexts, on one tape.
class Bound {
 public:
  // u = u_mean + u_sd ⊙ ũ.
  Bound(const Prior& prior, LikelihoodTerm term, const Vector& u_mean, const Vector& u_sd, double log_u_scale)
      : prior_in_u_(PriorPtr(PriorPtr{}, &prior),
                    [](const RowMatrix&, Eigen::Ref<Vector> out) { out.setZero(); },
                    [](const RowMatrix&, Eigen::Ref<Vector> out, Eigen::Ref<RowMatrix> gradient) {
                      out.setZero();
                      gradient.setZero();
                    }),
        target_(prior_in_u_.target()), term_(std::move(term)), log_u_scale_(log_u_scale), u_mean_double_(u_mean), u_sd_double_(u_sd) {
    u_sd_ = u_sd.cast<float>().transpose();
    u_mean_ = u_mean.cast<float>().transpose();
  }

  // The per-draw weight w = log π_u(u) + r(ũ, ỹ) − log q_u(u | y) (n × 1) for a draw of the flow
  // (ũ = draw.z_x, log q̃ = draw.log_prob) and the surrogate's ỹ rows.
  // With β < 1 the likelihood term is tempered, r → β r (the annealed bound of anneal_steps).
  FVar weights(ad::Tape<float>& tape, const flows::ConditionalDensity::Draw& draw, const FMat& y_term, float beta = 1) {
    const FVar z = draw.z_x;
    const Eigen::Index n = z.rows(), p = z.cols();
    const FVar u = ad::add_bias(ad::mul(z, ad::broadcast(tape.constant(u_sd_), n, p)), tape.constant(u_mean_));
    // log π_u and its gradient in double, entered as the first-order expansion around the draw:
    // value exact, gradient exact.
    u_double_ = u.value().cast<double>();
    log_prior_.resize(n);
    prior_gradient_.resize(n, p);
    target_.log_density_gradient(u_double_, log_prior_, prior_gradient_);
    offset_.resize(n, 1);
    for (Eigen::Index r = 0; r < n; ++r) {
      double lp = log_prior_[r];
      if (!std::isfinite(lp) || !prior_gradient_.row(r).allFinite()) {  // a draw at the edge of float range
        lp = -1e30;
        prior_gradient_.row(r).setZero();
      }
      offset_(r, 0) = static_cast<float>(lp - prior_gradient_.row(r).dot(u_double_.row(r)));
    }
    gradient_float_ = prior_gradient_.cast<float>();
    const FVar log_prior = ad::add(ad::sum_rows(ad::mul(u, tape.constant(gradient_float_))), tape.constant(offset_));
    const FVar log_q = ad::add_scalar(draw.log_prob, static_cast<float>(-log_u_scale_));
    const FVar r = term_(tape, z, y_term);
    return ad::sub(ad::add(log_prior, beta == 1 ? r : ad::mul_scalar(r, beta)), log_q);
  }

  // log π_u at standardised rows ũ, values only (−1e30 where not finite).
  Vector log_prior_at(const FMat& u_tilde) {
    RowMatrix u = u_tilde.cast<double>();
    for (Eigen::Index j = 0; j < u.cols(); ++j) u.col(j) = u.col(j).array() * u_sd_double_[j] + u_mean_double_[j];
    Vector out(u.rows());
    target_.log_density(u, out);
    for (Eigen::Index r = 0; r < out.size(); ++r)
      if (!std::isfinite(out[r])) out[r] = -1e30;
    return out;
  }

  // −bound of weights w (rows k·B + i: draw k of context i): −mean w for K = 1, else
  // −mean_i log (1/K) Σ_k exp w_ik.
  static FVar negative_bound(FVar w, Eigen::Index contexts, int k) {
    if (k == 1) return ad::neg(ad::mean(w));
    const FVar per_context = ad::logsumexp_rows(ad::reshape(w, contexts, k));
    return ad::add_scalar(ad::neg(ad::mean(per_context)), static_cast<float>(std::log(static_cast<double>(k))));
  }

 private:
  UnconstrainedPosterior prior_in_u_;
  McmcTarget target_;
  LikelihoodTerm term_;
  double log_u_scale_;
  Vector u_mean_double_, u_sd_double_;
  FMat u_sd_, u_mean_, offset_, gradient_float_;
  RowMatrix u_double_, prior_gradient_;
  Vector log_prior_;
};

// Rows `rows` of `m`, each repeated k times in blocks: row b·|rows| + i = m.row(rows[i]).
FMat repeated_rows(const FMat& m, std::span<const Eigen::Index> rows, int k) {
  const auto b = static_cast<Eigen::Index>(rows.size());
  FMat out(b * k, m.cols());
  for (int copy = 0; copy < k; ++copy)
    for (Eigen::Index i = 0; i < b; ++i) out.row(copy * b + i) = m.row(rows[static_cast<std::size_t>(i)]);
  return out;
}

}  // namespace

LfviFlowFit train_lfvi_flow(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const LfviFlowOptions& options_in,
                            const TrainingCallbacks& callbacks, const std::optional<Vector>& observation) {
  LfviFlowOptions options = options_in;
  if (std::string why; !options.is_valid(&why)) throw InputError("LFVI (flow) options: " + why);
  options.ratio.seed = options.seed;
  // Refinement's observation is checked before anything trains.
  if (options.refine.enabled()) {
    if (!observation)
      throw InputError("LFVI (flow): refine.steps is " + std::to_string(options.refine.steps) +
                       ", but there is no observation to refine for (give the spec an \"observation\", or set refine.steps to 0)");
    if (observation->size() != y.cols() || !observation->allFinite())
      throw InputError("LFVI (flow): the observation to refine for must have " + std::to_string(y.cols()) + " finite values, got " +
                       std::to_string(observation->size()) + (observation->allFinite() ? "" : " with a value that is not finite"));
  }

  // 1. The surrogate, once, on the whole table (its checks are the table's checks): the ratio
  // estimators side by side on the cores (member 0 reports progress), or the surrogate likelihood.
  const bool by_ratio = options.surrogate == LfviFlowOptions::Surrogate::ratio;
  std::vector<NreFit> ratios;
  std::optional<NleFit> likelihood;
  const auto ratio_start = std::chrono::steady_clock::now();
  if (by_ratio) {
    const auto members = static_cast<std::size_t>(options.ratio_ensemble);
    std::vector<std::optional<NreFit>> trained(members);
    parallel_for(members, hardware_threads(), [&](std::size_t m, std::size_t) {
      TrainingCallbacks own;
      own.stop = callbacks.stop;
      own.checkpoints = callbacks.checkpoints;
      own.checkpoint_key = m == 0 ? callbacks.checkpoint_key : callbacks.checkpoint_key + "-ratio-" + std::to_string(m);
      if (m == 0 && callbacks.on_progress)
        own.on_progress = [&](const TrainingProgress& p) {
          TrainingProgress labelled = p;
          labelled.stage = "lfvi ratio: " + p.stage + (members > 1 ? " (" + std::to_string(members - 1) + " more beside it)" : "");
          callbacks.report(labelled);
        };
      trained[m].emplace(train_nre(theta, y, prior, options.ratio, own, m));
    });
    for (auto& t : trained) ratios.push_back(std::move(*t));
  } else {
    NleOptions nle = options.likelihood;
    nle.estimator.seed = options.seed;
    TrainingCallbacks own = callbacks;
    if (callbacks.on_progress)
      own.on_progress = [&](const TrainingProgress& p) {
        TrainingProgress labelled = p;
        labelled.stage = "lfvi likelihood: " + p.stage;
        callbacks.report(labelled);
      };
    likelihood.emplace(train_nle(theta, y, prior, nle, own));
  }
  const double ratio_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ratio_start).count();
  if (callbacks.stop_requested())
    throw InputError(std::string("LFVI (flow): stopped while training the ") + (by_ratio ? "ratio estimator" : "surrogate likelihood"));

  // 2. The y rows: the surrogate's split; for each row the surrogate's ỹ and the flow's context. The
  // flow's data are u z-scored with the surrogate's statistics, so that its draws are the
  // surrogate's inputs as they are.
  const Eigen::Index n = y.rows(), p = theta.cols(), d = y.cols();
  Vector u_mean, u_sd;
  FMat y_surrogate(n, d);  // the surrogate's ỹ
  LikelihoodTerm term;
  std::function<FMat(const Vector&)> surrogate_data;  // one observation's ỹ, a row
  const Standardization* st = nullptr;                // the ratio estimators' statistics
  optim::Split split;
  if (by_ratio) {
    st = &ratios.front().standardization;
    u_mean = st->u_mean;
    u_sd = st->u_sd;
    for (Eigen::Index r = 0; r < n; ++r) y_surrogate.row(r) = st->standardize_data(y.row(r).transpose()).cast<float>().transpose();
    // ũ clamped to the ratio's training range; several estimators: the log of their mean ratio.
    term = [&ratios](ad::Tape<float>& tape, const FVar& z, const FMat& y_tilde) {
      FVar ratio = ratios.front().log_ratio_on_tape(tape, z, y_tilde);
      if (ratios.size() == 1) return ratio;
      for (std::size_t m = 1; m < ratios.size(); ++m) ratio = ad::concat_cols(ratio, ratios[m].log_ratio_on_tape(tape, z, y_tilde));
      return ad::add_scalar(ad::logsumexp_rows(ratio), static_cast<float>(-std::log(static_cast<double>(ratios.size()))));
    };
    surrogate_data = [st](const Vector& y_o) -> FMat { return st->standardize_data(y_o).cast<float>().transpose(); };
    split = optim::train_validation_split(n, options.ratio.validation_fraction, options.ratio.seed);
  } else {
    const flows::ConditionalDensity& density = likelihood->density();
    u_mean = density.standardization().c_mean;
    u_sd = density.standardization().c_sd;
    y_surrogate = density.standardize_x(y);
    // log q(y | u) = log q̃(ỹ | ũ) − log of the data's scale.
    term = [&density](ad::Tape<float>& tape, const FVar& z, const FMat& y_tilde) {
      return ad::add_scalar(density.evaluate_standardized_log_prob(tape, tape.constant(y_tilde), z), static_cast<float>(-density.log_x_scale()));
    };
    surrogate_data = [&density](const Vector& y_o) -> FMat { return density.standardize_x(RowMatrix(y_o.transpose())); };
    // NLE's own split (flows::fit_density's), so the flow is validated on rows the likelihood did not train on.
    split = optim::train_validation_split(n, options.likelihood.estimator.validation_fraction, options.seed);
  }
  flows::Standardization flow_st;
  flow_st.x_mean = u_mean;
  flow_st.x_sd = u_sd;
  flows::column_statistics(y, split.train, flow_st.c_mean, flow_st.c_sd);
  std::shared_ptr<flows::ConditionalDensity> flow = flows::make_density(options.flow, p, d, stream_seed(options.seed, 11));
  flow->set_standardization(flow_st);
  const FMat context = flow->standardize_c(y);

  // Validation: fixed rows and fixed noise.
  const auto kept = std::min<std::size_t>(static_cast<std::size_t>(options.validation_rows), split.validation.size());
  if (kept == 0)
    throw InputError(std::string("LFVI (flow): the validation split is empty; simulate more or raise ") +
                     (by_ratio ? "ratio.validation_fraction" : "likelihood.validation_fraction"));
  const std::vector<Eigen::Index> validation(split.validation.begin(), split.validation.begin() + static_cast<std::ptrdiff_t>(kept));
  const int k = options.iw_samples;
  const FMat val_context = repeated_rows(context, validation, k), val_y_surrogate = repeated_rows(y_surrogate, validation, k);
  Rng validation_rng = Rng::stream(options.seed, 12);
  const FMat val_noise = flows::standard_normal(val_context.rows(), p, validation_rng);

  Bound bound(prior, term, u_mean, u_sd, flow->log_x_scale());
  Rng rng = Rng::stream(options.seed, 13);
  const auto batch = std::min<Eigen::Index>(options.batch_size, static_cast<Eigen::Index>(split.train.size()));
  // Shuffled passes over the training rows: fills `rows` from `order`, reshuffling with `stream` when used up.
  auto next_rows = [&split](std::vector<Eigen::Index>& rows, std::vector<Eigen::Index>& order, std::size_t& position, Rng& stream) {
    for (auto& row : rows) {
      if (position >= order.size()) {
        const auto perm = optim::permutation(static_cast<Eigen::Index>(split.train.size()), stream);
        order.resize(perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i) order[i] = split.train[static_cast<std::size_t>(perm[i])];
        position = 0;
      }
      row = order[position++];
    }
  };
  std::vector<Eigen::Index> order;
  std::size_t position = 0;
  std::vector<Eigen::Index> rows(static_cast<std::size_t>(batch));
  ad::Tape<float> tape;
  int skipped = 0;

  // Alternation (see the header): the table's ũ (unclamped: the classifier clamps its own inputs),
  // the classifier's optimiser, its minibatches and the generator's draws it contrasts with.
  const bool alternate = options.ratio_training == "alternate";
  const float log_u_scale = static_cast<float>(flow->log_x_scale());
  const FMat u_table = alternate ? st->standardize_parameters(prior.to_unconstrained(theta)) : FMat();
  nn::ParameterList<float> ratio_parameters;
  std::optional<optim::Adam> ratio_optimizer;
  if (alternate) {
    ratio_parameters = ratios.front().classifier.parameters();
    ratio_optimizer.emplace(ratio_parameters, optim::AdamOptions{.learning_rate = options.ratio.classifier.learning_rate});
  }
  Rng ratio_rng = Rng::stream(options.seed, 14);
  std::vector<Eigen::Index> ratio_order, ratio_rows(static_cast<std::size_t>(batch)), other_rows(static_cast<std::size_t>(batch));
  std::size_t ratio_position = 0;
  const FMat ones = FMat::Ones(batch, 1), zeros = FMat::Zero(batch, 1);
  // log π_u − log q_u at standardised rows, clamped to ±30 (σ(30) = 1 − 10⁻¹³: beyond it the
  // logistic loss is flat anyway, and an unbounded offset would make it inf − inf).
  auto offsets = [&](const FMat& u_tilde, const FMat& log_q_tilde) {
    const Vector log_prior = bound.log_prior_at(u_tilde);
    FMat out(u_tilde.rows(), 1);
    for (Eigen::Index r = 0; r < out.rows(); ++r)
      out(r, 0) = static_cast<float>(std::clamp(log_prior[r] - (static_cast<double>(log_q_tilde(r, 0)) - log_u_scale), -30.0, 30.0));
    return out;
  };
  // One optimiser step down `loss` (on the tape), its gradient clipped to `clip` (0 = not): false, and
  // no step, when the loss is not finite. The classifier's, the pretraining's and the bound's steps.
  auto descend = [&tape](optim::Adam& optimizer, nn::ParameterList<float>& trained, const FVar& loss, double clip) {
    optimizer.zero_grad();
    if (!std::isfinite(loss.item())) return false;
    tape.backward(loss);
    if (clip > 0) optim::clip_grad_norm(trained, clip);
    optimizer.step();
    return true;
  };
  // One classifier step: the table's pairs against the generator's draws (logit log π + r − log q) and
  // against another row's θ (logit r).
  auto ratio_step = [&]() -> double {
    next_rows(ratio_rows, ratio_order, ratio_position, ratio_rng);
    for (std::size_t i = 0; i < ratio_rows.size(); ++i) other_rows[i] = ratio_rows[(i + 1) % ratio_rows.size()];
    const FMat c = repeated_rows(context, ratio_rows, 1), yr = repeated_rows(y_surrogate, ratio_rows, 1);
    const FMat u_joint = repeated_rows(u_table, ratio_rows, 1), u_other = repeated_rows(u_table, other_rows, 1);
    const FMat noise = flows::standard_normal(batch, p, ratio_rng);
    auto scope = tape.scope();
    const auto draw = flow->evaluate_standardized_rsample(tape, tape.constant(c), noise);
    const FMat u_q = draw.z_x.value(), log_q_draw = draw.log_prob.value();
    const FMat log_q_joint = flow->evaluate_standardized_log_prob(tape, tape.constant(u_joint), tape.constant(c)).value();
    const FMat offset_joint = offsets(u_joint, log_q_joint), offset_q = offsets(u_q, log_q_draw);
    NreFit& ratio = ratios.front();
    ratio.classifier.train();
    const FVar r_joint = ratio.trainable_log_ratio_on_tape(tape, tape.constant(u_joint), yr);
    const FVar r_q = ratio.trainable_log_ratio_on_tape(tape, tape.constant(u_q), yr);
    const FVar r_other = ratio.trainable_log_ratio_on_tape(tape, tape.constant(u_other), yr);
    ratio.classifier.eval();
    const FVar loss = ad::add(ad::add(nn::bce_with_logits(ad::add(r_joint, tape.constant(offset_joint)), ones),
                                      nn::bce_with_logits(ad::add(r_q, tape.constant(offset_q)), zeros)),
                              ad::add(nn::bce_with_logits(r_joint, ones), nn::bce_with_logits(r_other, zeros)));
    const double value = loss.item();
    descend(*ratio_optimizer, ratio_parameters, loss, options.ratio.clip_grad_norm);
    return value;
  };

  // Maximum likelihood on the table's pairs before the bound (pretrain_steps; see the header): the
  // training rows' ũ against their contexts, checked on the validation rows' −log q.
  auto parameters = flow->parameters();
  std::optional<optim::TrainingOutcome> pretraining;
  if (options.pretrain_steps > 0) {
    const RowMatrix u_rows = prior.to_unconstrained(theta);
    FMat u_tilde(n, p);
    for (Eigen::Index j = 0; j < p; ++j) u_tilde.col(j) = ((u_rows.col(j).array() - u_mean[j]) / u_sd[j]).cast<float>();
    const FMat held_out_u = repeated_rows(u_tilde, validation, 1), held_out_context = repeated_rows(context, validation, 1);
    optim::Adam pretrain_optimizer(parameters, {.learning_rate = options.learning_rate});
    optim::TrainingLoop pretrain_loop({.max_steps = options.pretrain_steps, .eval_every = std::min(options.eval_every, options.pretrain_steps),
                                       .patience = options.patience, .stage = "lfvi flow, maximum likelihood"},
                                      {"loss"});
    pretrain_loop.track(parameters);
    Rng pretrain_rng = Rng::stream(options.seed, 15);
    std::vector<Eigen::Index> pretrain_order, pretrain_rows(static_cast<std::size_t>(batch));
    std::size_t pretrain_position = 0;
    optim::TrainingHooks pretrain_hooks;
    pretrain_hooks.step = [&](int, std::span<double> losses) {
      next_rows(pretrain_rows, pretrain_order, pretrain_position, pretrain_rng);
      auto scope = tape.scope();
      const FVar log_q = flow->standardized_log_prob(tape.constant(repeated_rows(u_tilde, pretrain_rows, 1)),
                                                     tape.constant(repeated_rows(context, pretrain_rows, 1)));
      const FVar loss = ad::neg(ad::mean(log_q));
      losses[0] = loss.item();
      if (!descend(pretrain_optimizer, parameters, loss, options.clip_grad_norm)) ++skipped;
    };
    pretrain_hooks.validate = [&] {
      auto scope = tape.scope();
      const FVar log_q = flow->evaluate_standardized_log_prob(tape, tape.constant(held_out_u), tape.constant(held_out_context));
      return -static_cast<double>(ad::mean(log_q).item());
    };
    pretraining = pretrain_loop.run(pretrain_hooks, callbacks);
    optim::require_finite_validation(*pretraining, "LFVI (flow), maximum likelihood",
                                     "learning_rate " + format_number(options.learning_rate) + "; try a smaller one");
  }

  optim::Adam optimizer(parameters, {.learning_rate = options.learning_rate});
  // No early stop while the bound is still tempered.
  optim::TrainingLoop loop({.max_steps = options.max_iterations, .min_steps = std::max(options.min_iterations, options.anneal_steps), .eval_every = options.eval_every,
                            .patience = options.patience, .stage = alternate ? "lfvi flow, alternating" : "lfvi flow"},
                           alternate ? std::vector<std::string>{"loss", "ratio"} : std::vector<std::string>{"loss"});
  loop.track(parameters);
  if (alternate) loop.track(ratio_parameters);  // the classifier that goes with the best flow
  // One optimiser step on −bound for `terms` contexts c of `draws` draws each (rows in blocks), their
  // ratio inputs yr and noise; a non-finite loss skips the step and is counted. Returns the loss.
  // The amortised training's step and refinement's.
  auto bound_step = [&](optim::Adam& step_optimizer, const FMat& c, const FMat& yr, const FMat& noise, Eigen::Index terms, int draws,
                        int& skipped_steps, float beta) {
    auto scope = tape.scope();
    const auto draw = flow->standardized_rsample(tape.constant(c), noise);
    const FVar loss = Bound::negative_bound(bound.weights(tape, draw, yr, beta), terms, draws);
    const double value = loss.item();
    if (!descend(step_optimizer, parameters, loss, options.clip_grad_norm)) ++skipped_steps;
    return value;
  };
  // −bound on fixed noise, without gradients: validation and refinement's checks.
  auto negative_bound_on = [&](const FMat& c, const FMat& yr, const FMat& noise, Eigen::Index terms, int draws) {
    auto scope = tape.scope();
    const auto draw = flow->evaluate_standardized_rsample(tape, tape.constant(c), noise);
    return static_cast<double>(Bound::negative_bound(bound.weights(tape, draw, yr), terms, draws).item());
  };
  optim::TrainingHooks hooks;
  hooks.step = [&](int step, std::span<double> losses) {
    // Steps count from 1: β reaches 1 at step anneal_steps.
    const float beta = options.anneal_steps > 0 ? static_cast<float>(std::min(1.0, static_cast<double>(step) / options.anneal_steps)) : 1.0f;
    if (alternate) {
      losses[1] = 0;
      for (int s = 0; s < options.ratio_steps; ++s) losses[1] += ratio_step() / options.ratio_steps;
    }
    next_rows(rows, order, position, rng);
    const FMat c = repeated_rows(context, rows, k), yr = repeated_rows(y_surrogate, rows, k);
    const FMat noise = flows::standard_normal(c.rows(), p, rng);
    losses[0] = bound_step(optimizer, c, yr, noise, batch, k, skipped, beta);
  };
  const FMat val_u = alternate ? repeated_rows(u_table, validation, 1) : FMat(), val_pair_context = repeated_rows(context, validation, 1);
  hooks.validate = [&] {
    if (alternate) {  // held-out −log q_u(θ_i | y_i): independent of r, which moves
      auto scope = tape.scope();
      const FVar log_q = flow->evaluate_standardized_log_prob(tape, tape.constant(val_u), tape.constant(val_pair_context));
      return -(static_cast<double>(ad::mean(log_q).item()) - static_cast<double>(log_u_scale));
    }
    return negative_bound_on(val_context, val_y_surrogate, val_noise, static_cast<Eigen::Index>(kept), k);
  };
  hooks.status = [](const optim::TrainingRecord& r) {
    char text[64];
    std::snprintf(text, sizeof text, "-bound %.4f val %.4f", r.losses[0], r.validation);
    return std::string(text);
  };
  optim::TrainingOutcome outcome = loop.run(hooks, callbacks);
  optim::require_finite_validation(outcome, "LFVI (flow)", "learning_rate " + format_number(options.learning_rate) + "; try a smaller one");

  // 3. Refinement for the observation (see the header): the bound at y_o alone, from the amortised
  // weights, checked on fixed draws; the amortised weights stay unless the refined ones do better there.
  std::optional<Vector> refined_for;
  nlohmann::json refinement = nullptr;
  double refine_seconds = 0;
  bool refine_interrupted = false;
  if (options.refine.enabled() && !outcome.interrupted && !callbacks.stop_requested()) {
    const LfviRefineOptions& ro = options.refine;
    const int kr = ro.iw_samples > 0 ? ro.iw_samples : k;
    const FMat observation_context = flow->standardize_c(RowMatrix(observation->transpose()));
    const FMat observation_surrogate = surrogate_data(*observation);
    const Eigen::Index step_rows = ro.batch_size * kr, check_rows = ro.validation_terms * kr;
    const FMat step_context = observation_context.replicate(step_rows, 1), step_y_surrogate = observation_surrogate.replicate(step_rows, 1);
    const FMat check_context = observation_context.replicate(check_rows, 1), check_y_surrogate = observation_surrogate.replicate(check_rows, 1);
    Rng check_rng = Rng::stream(options.seed, 16);
    const FMat check_noise = flows::standard_normal(check_rows, p, check_rng);
    auto negative_bound_at_observation = [&] { return negative_bound_on(check_context, check_y_surrogate, check_noise, ro.validation_terms, kr); };
    const double before = negative_bound_at_observation();
    std::vector<FMat> amortised_weights;
    for (const auto* parameter : parameters) amortised_weights.push_back(parameter->value);
    // Fresh Adam moments: the amortised optimiser's would be read with a restarted bias correction.
    for (auto* parameter : parameters) parameter->state.clear();
    optim::Adam refine_optimizer(parameters, {.learning_rate = ro.learning_rate});
    Rng refine_rng = Rng::stream(options.seed, 15);
    int refine_skipped = 0;
    optim::TrainingLoop refine_loop({.max_steps = ro.steps, .min_steps = 0, .eval_every = ro.eval_every, .patience = ro.patience,
                                     .stage = "lfvi flow, refining for the observation"},
                                    {"loss"});
    refine_loop.track(parameters);
    optim::TrainingHooks refine_hooks;
    refine_hooks.step = [&](int, std::span<double> losses) {
      const FMat noise = flows::standard_normal(step_rows, p, refine_rng);
      losses[0] = bound_step(refine_optimizer, step_context, step_y_surrogate, noise, ro.batch_size, kr, refine_skipped, 1.0f);
    };
    refine_hooks.validate = negative_bound_at_observation;
    refine_hooks.status = hooks.status;
    const optim::TrainingOutcome refined = refine_loop.run(refine_hooks, callbacks);
    // Written so that a finite bound also beats a NaN or +∞ one before (the amortised flow failed at
    // this observation), which `<` would not.
    const bool better = std::isfinite(refined.best_validation) && !(refined.best_validation >= before);
    if (better) {
      refined_for = *observation;
    } else {
      for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i]->value = amortised_weights[i];
    }
    refinement = {{"negative_bound_before", before},
                  {"best_negative_bound", refined.best_validation},
                  {"best_step", refined.best_step},
                  {"steps", refined.curve.records.empty() ? 0 : refined.curve.records.back().step},
                  {"stopped_early", refined.stopped_early},
                  {"interrupted", refined.interrupted},
                  {"skipped_steps", refine_skipped},
                  {"seconds", refined.seconds},
                  {"kept", better ? "refined" : "amortised"}};
    refine_seconds = refined.seconds;
    refine_interrupted = refined.interrupted;
  }

  NpeOptions npe;
  npe.density_estimator = options.flow;
  npe.alternatives.clear();
  npe.seed = options.seed;
  NpeFit posterior(flow, prior.transforms(), npe);
  posterior.training.curve = outcome.curve;
  posterior.training.best_validation = outcome.best_validation;
  posterior.training.stopped_early = outcome.stopped_early;
  posterior.training.interrupted = outcome.interrupted || refine_interrupted || (pretraining && pretraining->interrupted);
  posterior.training.skipped_steps = skipped;
  posterior.training.seconds = outcome.seconds + refine_seconds + ratio_seconds + (pretraining ? pretraining->seconds : 0.0);
  posterior.training.training_rows = static_cast<Eigen::Index>(split.train.size());
  posterior.training.validation_rows = static_cast<Eigen::Index>(kept);
  LfviFlowFit fit{std::move(posterior), std::move(ratios), std::move(outcome), std::move(pretraining), std::move(refined_for), std::move(refinement),
                  ratio_seconds, split.train.size(), kept, std::move(likelihood)};
  return fit;
}

}  // namespace sbi
