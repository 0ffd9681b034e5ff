#include "sbi/causal/cgnn.hpp"

#include "sbi/causal/paired_mmd.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

namespace sbi::causal {

namespace {

constexpr std::uint64_t kCgnnSubstream = 0x6e7;
constexpr std::uint64_t kCvSubstream = 0xc5f0;

// Rows of a minibatch: `count` distinct indices of [0, n) by a partial Fisher–Yates shuffle of
// `order` (kept between calls, so no allocation per step).
void draw_minibatch(std::vector<Eigen::Index>& order, Eigen::Index count, Rng& rng) {
  const auto n = static_cast<Eigen::Index>(order.size());
  for (Eigen::Index k = 0; k < count; ++k) {
    const auto j = k + static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(n - k)));
    std::swap(order[static_cast<std::size_t>(k)], order[static_cast<std::size_t>(j)]);
  }
}

// Trains cause → effect on the training rows and returns the mean evaluation-phase MMD² on the
// evaluation rows (the same rows unless cross-validating). With batch_size > 0 smaller than a set,
// every step (training and evaluation) uses a fresh random minibatch of that set.
double fit_and_evaluate(const Eigen::VectorXf& train_cause, const Eigen::VectorXf& train_effect,
                        const Eigen::VectorXf& eval_cause, const Eigen::VectorXf& eval_effect, int hidden,
                        const CgnnOptions& options, std::uint64_t seed) {
  PairedMmd mmd(options.gammas);
  nn::MlpOptions mlp;
  mlp.widths = {2, hidden, 1};
  mlp.activation = nn::Activation::relu;
  nn::Mlp generator(mlp, stream_seed(seed, 0, kCgnnSubstream));
  optim::Adam adam(generator.parameters(), {.learning_rate = options.learning_rate});
  Rng noise = Rng::stream(seed, 1, kCgnnSubstream);
  Rng batches = Rng::stream(seed, 2, kCgnnSubstream);

  // One phase (training or evaluation) on one set of rows: its minibatch size and the batch's data.
  struct Phase {
    const Eigen::VectorXf& cause;
    const Eigen::VectorXf& effect;
    Eigen::Index rows;  // per step
    std::vector<Eigen::Index> order;
    Eigen::VectorXf batch_cause, batch_effect;
    Phase(const Eigen::VectorXf& c, const Eigen::VectorXf& e, Eigen::Index batch_size)
        : cause(c), effect(e), rows(batch_size > 0 && batch_size < c.size() ? batch_size : c.size()) {
      if (rows < c.size()) {
        order.resize(static_cast<std::size_t>(c.size()));
        std::iota(order.begin(), order.end(), Eigen::Index{0});
        batch_cause.resize(rows);
        batch_effect.resize(rows);
      }
    }
    bool minibatched() const { return rows < cause.size(); }
    // The step's rows: the whole set, or a fresh minibatch of it.
    void next(Rng& rng) {
      if (!minibatched()) return;
      draw_minibatch(order, rows, rng);
      for (Eigen::Index k = 0; k < rows; ++k) {
        batch_cause[k] = cause[order[static_cast<std::size_t>(k)]];
        batch_effect[k] = effect[order[static_cast<std::size_t>(k)]];
      }
    }
    const Eigen::VectorXf& step_cause() const { return minibatched() ? batch_cause : cause; }
    const Eigen::VectorXf& step_effect() const { return minibatched() ? batch_effect : effect; }
  };
  Phase training(train_cause, train_effect, options.batch_size);
  Phase evaluation(eval_cause, eval_effect, options.batch_size);

  ad::Tape<float> tape;
  ad::Matrix<float> inputs(training.rows, 2);
  if (!training.minibatched()) inputs.col(0) = train_cause;
  Eigen::VectorXf generated, gradient;
  auto draw_noise = [&] {
    for (Eigen::Index i = 0; i < inputs.rows(); ++i) inputs(i, 1) = static_cast<float>(noise.normal());
  };
  for (int epoch = 0; epoch < options.train_epochs; ++epoch) {
    auto step = tape.scope();
    if (training.minibatched()) {
      training.next(batches);
      inputs.col(0) = training.batch_cause;
    }
    draw_noise();
    adam.zero_grad();
    auto output = generator.forward(tape.constant(inputs));
    generated = output.value().col(0);
    mmd.generated_terms(training.step_cause(), generated, training.step_effect(), &gradient);
    // Backpropagate the fused kernel gradient: d/dθ Σ_i g_i(θ) · (dMMD²/dg_i) is the chain rule.
    auto surrogate = ad::sum(ad::mul(output, tape.constant(ad::Matrix<float>(gradient))));
    tape.backward(surrogate);
    adam.step();
  }
  generator.eval();
  inputs.resize(evaluation.rows, 2);
  if (!evaluation.minibatched()) inputs.col(0) = eval_cause;
  const float constant_part = evaluation.minibatched() ? 0.0f : mmd.observed_term(eval_cause, eval_effect);
  double total = 0;
  for (int epoch = 0; epoch < options.eval_epochs; ++epoch) {
    if (evaluation.minibatched()) {
      evaluation.next(batches);
      inputs.col(0) = evaluation.batch_cause;
    }
    draw_noise();
    generated = generator.predict(inputs).col(0);
    const float observed = evaluation.minibatched() ? mmd.observed_term(evaluation.batch_cause, evaluation.batch_effect) : constant_part;
    total += mmd.generated_terms(evaluation.step_cause(), generated, evaluation.step_effect(), nullptr) + observed;
  }
  return total / std::max(1, options.eval_epochs);
}

// The hidden units with the smallest held-out MMD², summed over folds, runs and both directions.
int cross_validated_hidden(const Eigen::VectorXf& x, const Eigen::VectorXf& y, const CgnnOptions& options,
                           std::uint64_t seed, int threads, std::vector<double>* cv_mmd) {
  const Eigen::Index n = x.size();
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  Rng shuffle = Rng::stream(seed, 0, kCvSubstream);
  draw_minibatch(order, n, shuffle);
  const auto folds = static_cast<std::size_t>(options.cv_folds);
  // Fold k: the rows at shuffled positions p with p % folds == k.
  std::vector<std::array<Eigen::VectorXf, 2>> held_out(folds), kept(folds);  // [0]: x, [1]: y
  for (std::size_t k = 0; k < folds; ++k) {
    std::vector<Eigen::Index> in, out;
    for (std::size_t p = 0; p < order.size(); ++p) (p % folds == k ? in : out).push_back(order[p]);
    auto gather = [](const Eigen::VectorXf& v, const std::vector<Eigen::Index>& rows) {
      Eigen::VectorXf g(static_cast<Eigen::Index>(rows.size()));
      for (std::size_t i = 0; i < rows.size(); ++i) g[static_cast<Eigen::Index>(i)] = v[rows[i]];
      return g;
    };
    held_out[k] = {gather(x, in), gather(y, in)};
    kept[k] = {gather(x, out), gather(y, out)};
  }
  const std::size_t candidates = options.hidden_candidates.size(), runs = static_cast<std::size_t>(options.cv_runs);
  const std::size_t per_candidate = folds * runs * 2;
  std::vector<double> mmd(candidates * per_candidate);
  parallel_for(mmd.size(), threads, [&](std::size_t task, std::size_t) {
    const std::size_t c = task / per_candidate, rest = task % per_candidate;
    const std::size_t fold = rest / (runs * 2), direction = rest % 2;
    const auto& train = kept[fold];
    const auto& test = held_out[fold];
    const int cause = direction == 0 ? 0 : 1, effect = 1 - cause;
    mmd[task] = fit_and_evaluate(train[cause], train[effect], test[cause], test[effect], options.hidden_candidates[c], options,
                                 stream_seed(seed, task, kCvSubstream + 1));
  });
  cv_mmd->assign(candidates, 0.0);
  for (std::size_t t = 0; t < mmd.size(); ++t) (*cv_mmd)[t / per_candidate] += mmd[t];
  const auto best = std::min_element(cv_mmd->begin(), cv_mmd->end()) - cv_mmd->begin();
  return options.hidden_candidates[static_cast<std::size_t>(best)];
}

}  // namespace

bool CgnnOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (hidden < 1) return fail("hidden must be at least 1");
  if (runs < 1) return fail("runs must be at least 1");
  if (train_epochs < 0) return fail("train_epochs must be at least 0");
  if (eval_epochs < 1) return fail("eval_epochs must be at least 1");
  if (!(learning_rate > 0) || !std::isfinite(learning_rate)) return fail("learning_rate must be a positive number");
  if (max_samples < 0) return fail("max_samples must be at least 0 (0 = all rows)");
  if (batch_size < 0) return fail("batch_size must be at least 0 (0 = all rows)");
  for (const int h : hidden_candidates)
    if (h < 1) return fail("hidden_candidates: every candidate must be at least 1");
  if (cv_folds < 2) return fail("cv_folds must be at least 2");
  if (cv_runs < 1) return fail("cv_runs must be at least 1");
  if (gammas.empty()) return fail("gammas: list at least one kernel γ");
  for (const double g : gammas)
    if (!(g > 0) || !std::isfinite(g)) return fail("gammas: every γ must be a positive number");
  return true;
}

nlohmann::json CgnnOptions::to_json() const {
  return {{"hidden", hidden},
          {"runs", runs},
          {"train_epochs", train_epochs},
          {"eval_epochs", eval_epochs},
          {"learning_rate", learning_rate},
          {"max_samples", max_samples},
          {"batch_size", batch_size},
          {"hidden_candidates", hidden_candidates},
          {"cv_folds", cv_folds},
          {"cv_runs", cv_runs},
          {"gammas", gammas}};
}

CgnnOptions CgnnOptions::from_json(const nlohmann::json& j, const std::string& path) {
  JsonObjectReader reader(j, path);
  CgnnOptions o;
  o.hidden = static_cast<int>(reader.optional_integer("hidden", o.hidden, 1, 1 << 20));
  o.runs = static_cast<int>(reader.optional_integer("runs", o.runs, 1, 1 << 20));
  o.train_epochs = static_cast<int>(reader.optional_integer("train_epochs", o.train_epochs, 0, 1 << 30));
  o.eval_epochs = static_cast<int>(reader.optional_integer("eval_epochs", o.eval_epochs, 1, 1 << 30));
  o.learning_rate = reader.optional_positive_number("learning_rate", o.learning_rate);
  o.max_samples = reader.optional_integer("max_samples", o.max_samples, 0);
  o.batch_size = reader.optional_integer("batch_size", o.batch_size, 0);
  if (reader.has("hidden_candidates")) {
    o.hidden_candidates.clear();
    const auto* list = reader.get("hidden_candidates");
    if (!list->is_array()) throw InputError(reader.child_path("hidden_candidates") + ": expected a list of whole numbers");
    for (std::size_t k = 0; k < list->size(); ++k) {
      const std::string where = reader.child_path("hidden_candidates") + "[" + std::to_string(k) + "]";
      const double v = json_number_at((*list)[k], where);
      if (v != std::floor(v) || v < 1 || v > (1 << 20)) throw InputError(where + ": expected a whole number of units >= 1");
      o.hidden_candidates.push_back(static_cast<int>(v));
    }
  }
  o.cv_folds = static_cast<int>(reader.optional_integer("cv_folds", o.cv_folds, 2, 1000));
  o.cv_runs = static_cast<int>(reader.optional_integer("cv_runs", o.cv_runs, 1, 1 << 20));
  o.gammas = reader.optional_number_list("gammas", o.gammas);
  reader.reject_unknown_keys();
  std::string why;
  if (!o.is_valid(&why)) throw InputError((path.empty() ? std::string("options") : path) + ": " + why);
  return o;
}

float paired_mmd2(const Eigen::VectorXf& cause, const Eigen::VectorXf& generated, const Eigen::VectorXf& effect,
                  const std::vector<float>& gammas, Eigen::VectorXf* gradient) {
  PairedMmd mmd(gammas);
  return mmd.value(cause, generated, effect, gradient);
}

double cgnn_fit_direction(const Vector& cause_in, const Vector& effect_in, const CgnnOptions& options, std::uint64_t seed) {
  const Eigen::VectorXf cause = cause_in.cast<float>();
  const Eigen::VectorXf effect = effect_in.cast<float>();
  return fit_and_evaluate(cause, effect, cause, effect, options.hidden, options, seed);
}

CgnnResult cgnn(const CausePair& pair_in, const CgnnOptions& options, std::uint64_t seed, int threads) {
  std::string why;
  if (!options.is_valid(&why)) throw InputError("cgnn: " + why);
  const CausePair pair = subsample(pair_in, options.max_samples, seed);
  const Vector x = standardise(pair.x), y = standardise(pair.y);
  const Eigen::VectorXf xf = x.cast<float>(), yf = y.cast<float>();
  CgnnResult result;
  result.hidden = options.hidden;
  if (!options.hidden_candidates.empty()) result.hidden = cross_validated_hidden(xf, yf, options, seed, threads, &result.cv_mmd);
  const auto runs = static_cast<std::size_t>(options.runs);
  std::vector<double> mmd(2 * runs);
  // Task 2r: X → Y of run r; task 2r+1: Y → X.
  parallel_for(2 * runs, threads, [&](std::size_t task, std::size_t) {
    const std::size_t run = task / 2;
    const bool forward = task % 2 == 0;
    mmd[task] = forward ? fit_and_evaluate(xf, yf, xf, yf, result.hidden, options, stream_seed(seed, run, 0))
                        : fit_and_evaluate(yf, xf, yf, xf, result.hidden, options, stream_seed(seed, run, 1));
  });
  result.samples_used = x.size();
  for (std::size_t r = 0; r < runs; ++r) {
    result.mmd_xy += mmd[2 * r] / static_cast<double>(runs);
    result.mmd_yx += mmd[2 * r + 1] / static_cast<double>(runs);
    const double sum = mmd[2 * r] + mmd[2 * r + 1];
    result.run_scores.push_back(sum > 0 ? (mmd[2 * r + 1] - mmd[2 * r]) / sum : 0.0);
  }
  const double total = result.mmd_xy + result.mmd_yx;
  result.score = total > 0 ? (result.mmd_yx - result.mmd_xy) / total : 0.0;
  if (runs > 1) {
    const double mean = std::accumulate(result.run_scores.begin(), result.run_scores.end(), 0.0) / static_cast<double>(runs);
    double ss = 0;
    for (double s : result.run_scores) ss += (s - mean) * (s - mean);
    result.run_score_sd = std::sqrt(ss / static_cast<double>(runs - 1));
  }
  return result;
}

}  // namespace sbi::causal
