#include "sbi/causal/cgnn.hpp"

#include "sbi/causal/kernel_rows.hpp"

#include "sbi/core/error.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/parallel/parallel_for.hpp"
#include "sbi/random/rng.hpp"

#include <cmath>
#include <numeric>

namespace sbi::causal {

namespace {

// Which γ_k can be had as the tenth power of the previous term (γ_k = 10 γ_{k−1}, the default list
// {0.01, …, 100}): then it costs four multiplications instead of an exponential. The relative error
// grows tenfold per step (float: ~6e-7 after one, 6e-6 after two), irrelevant for the loss. The
// default list costs two exponentials per entry (γ = 0.01 and γ = 1 start chains).
struct KernelPlan {
  std::vector<float> gammas;
  std::vector<char> chained;
  explicit KernelPlan(const std::vector<float>& g) : gammas(g), chained(g.size(), 0) {
    for (std::size_t k = 1; k < g.size(); ++k)
      chained[k] = std::abs(g[k] - 10.0f * g[k - 1]) <= 1e-6f * g[k] && !chained[k - 1] ? 1 : 0;
  }
  detail::KernelRowPlan row() const { return {gammas.data(), chained.data(), static_cast<int>(gammas.size())}; }
};

// The generator-dependent part of the biased MMD² (the observed-observed term is constant):
// (1/n²)[Σ_ij k(G_i, G_j) − 2 Σ_ij k(G_i, O_j)] and its gradient in g. The generated-generated
// sum is symmetric: each row i visits j > i only, and the diagonal adds n·Σ_γ 1.
float mmd2_generated_terms(const Eigen::VectorXf& cause, const Eigen::VectorXf& generated, const Eigen::VectorXf& effect,
                           const KernelPlan& plan, Eigen::VectorXf* gradient, Eigen::ArrayXf* scratch) {
  const Eigen::Index n = cause.size();
  Eigen::ArrayXf& gap = scratch[0];
  Eigen::ArrayXf& dist = scratch[1];
  Eigen::ArrayXf& term = scratch[2];
  Eigen::ArrayXf& total = scratch[3];
  Eigen::ArrayXf& weighted = scratch[4];
  Eigen::ArrayXf& upper = scratch[5];  // gradient contributions pushed to later rows j > i
  double gen_gen = static_cast<double>(n) * static_cast<double>(plan.gammas.size()), gen_obs = 0;
  const detail::KernelRowPlan row = plan.row();
  if (gradient) upper.setZero();
  for (Eigen::Index i = 0; i < n; ++i) {
    const float c = cause[i], g = generated[i];
    // Cross term, all j: d = (c_i − c_j)² + (g_i − e_j)².
    detail::kernel_row(row, cause.data(), effect.data(), n, c, g, gap.data(), dist.data(), term.data(), total.data(),
                       weighted.data());
    gen_obs += total.sum();
    // ∂/∂g_i of −2 Σ_j k(G_i, O_j) = −2 Σ_j Σ_γ (−2γ)(g_i − e_j) k_γ = 4 Σ_j gap_j weighted_j.
    float slope = gradient ? 4.0f * (gap * weighted).sum() : 0.0f;
    const Eigen::Index m = n - i - 1;
    if (m > 0) {
      detail::kernel_row(row, cause.data() + i + 1, generated.data() + i + 1, m, c, g, gap.data(), dist.data(),
                         term.data(), total.data(), weighted.data());
      gen_gen += 2.0 * static_cast<double>(total.head(m).sum());
      if (gradient) {
        // Σ_jk k(G_j, G_k): pair (i, j) appears twice; ∂/∂g_i = 2 Σ_j (−2γ)(g_i − g_j) k, and the
        // opposite for g_j.
        auto push = term.head(m);  // free once kernel_row has returned
        push = gap.head(m) * weighted.head(m);
        slope -= 4.0f * push.sum();
        upper.tail(m) += 4.0f * push;
      }
    }
    if (gradient) (*gradient)[i] = slope;
  }
  if (gradient) *gradient = ((gradient->array() + upper) / static_cast<float>(n * n)).matrix();
  return static_cast<float>((gen_gen - 2.0 * gen_obs) / static_cast<double>(n * n));
}

float observed_term(const Eigen::VectorXf& cause, const Eigen::VectorXf& effect, const std::vector<float>& gammas) {
  const Eigen::Index n = cause.size();
  double total = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::ArrayXf d = (cause.array() - cause[i]).square() + (effect.array() - effect[i]).square();
    for (const float gamma : gammas) total += static_cast<double>((-gamma * d).exp().sum());
  }
  return static_cast<float>(total / static_cast<double>(n * n));
}

std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

}  // namespace

float paired_mmd2(const Eigen::VectorXf& cause, const Eigen::VectorXf& generated, const Eigen::VectorXf& effect,
                  const std::vector<float>& gammas, Eigen::VectorXf* gradient) {
  Eigen::ArrayXf scratch[6];
  for (auto& s : scratch) s.resize(cause.size());
  return mmd2_generated_terms(cause, generated, effect, KernelPlan(gammas), gradient, scratch) +
         observed_term(cause, effect, gammas);
}

double cgnn_fit_direction(const Vector& cause_in, const Vector& effect_in, const CgnnOptions& options, std::uint64_t seed) {
  const Eigen::Index n = cause_in.size();
  const Eigen::VectorXf cause = cause_in.cast<float>();
  const Eigen::VectorXf effect = effect_in.cast<float>();
  const std::vector<float> gammas = to_float(options.gammas);
  const KernelPlan plan(gammas);

  nn::MlpOptions mlp;
  mlp.widths = {2, options.hidden, 1};
  mlp.activation = nn::Activation::relu;
  nn::Mlp generator(mlp, stream_seed(seed, 0, 0x6e7));
  optim::Adam adam(generator.parameters(), {.learning_rate = options.learning_rate});
  Rng noise = Rng::stream(seed, 1, 0x6e7);

  ad::Tape<float> tape;
  ad::Matrix<float> inputs(n, 2);
  inputs.col(0) = cause;
  Eigen::VectorXf generated(n), gradient(n);
  Eigen::ArrayXf scratch[6];
  for (auto& s : scratch) s.resize(n);
  const float constant_part = observed_term(cause, effect, gammas);

  auto draw_noise = [&] {
    for (Eigen::Index i = 0; i < n; ++i) inputs(i, 1) = static_cast<float>(noise.normal());
  };
  for (int epoch = 0; epoch < options.train_epochs; ++epoch) {
    auto step = tape.scope();
    draw_noise();
    adam.zero_grad();
    auto output = generator.forward(tape.constant(inputs));
    generated = output.value().col(0);
    mmd2_generated_terms(cause, generated, effect, plan, &gradient, scratch);
    // Backpropagate the fused kernel gradient: d/dθ Σ_i g_i(θ) · (dMMD²/dg_i) is the chain rule.
    auto surrogate = ad::sum(ad::mul(output, tape.constant(ad::Matrix<float>(gradient))));
    tape.backward(surrogate);
    adam.step();
  }
  generator.eval();
  double total = 0;
  for (int epoch = 0; epoch < options.eval_epochs; ++epoch) {
    draw_noise();
    generated = generator.predict(inputs).col(0);
    total += mmd2_generated_terms(cause, generated, effect, plan, nullptr, scratch) + constant_part;
  }
  return total / std::max(1, options.eval_epochs);
}

CgnnResult cgnn(const CausePair& pair_in, const CgnnOptions& options, std::uint64_t seed, int threads) {
  if (options.runs < 1 || options.hidden < 1 || options.train_epochs < 0 || options.eval_epochs < 1 || options.gammas.empty())
    throw InputError("cgnn: runs, hidden units and evaluation epochs must be at least 1, with at least one kernel γ");
  const CausePair pair = subsample(pair_in, options.max_samples, seed);
  const Vector x = standardise(pair.x), y = standardise(pair.y);
  const auto runs = static_cast<std::size_t>(options.runs);
  std::vector<double> mmd(2 * runs);
  // Task 2r: X → Y of run r; task 2r+1: Y → X.
  parallel_for(2 * runs, threads, [&](std::size_t task, std::size_t) {
    const std::size_t run = task / 2;
    const bool forward = task % 2 == 0;
    mmd[task] = forward ? cgnn_fit_direction(x, y, options, stream_seed(seed, run, 0))
                        : cgnn_fit_direction(y, x, options, stream_seed(seed, run, 1));
  });
  CgnnResult result;
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
