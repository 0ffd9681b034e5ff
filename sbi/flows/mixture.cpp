#include "sbi/flows/mixture.hpp"

#include <cmath>
#include <numbers>

namespace sbi::flows {

using Index = Eigen::Index;

MixtureDensity::MixtureDensity(const DensityEstimatorOptions& options, Index data_dim, Index context_dim, std::uint64_t seed)
    : ConditionalDensity(options, data_dim, context_dim, seed) {
  const Index d = data_dim, K = options.components;
  components_ = K;
  pairs_ = d * (d - 1) / 2;
  Rng rng = Rng::stream(seed, 1);
  FeedForwardOptions net;
  net.widths.push_back(embedded_dim());
  net.widths.insert(net.widths.end(), options.hidden.begin(), options.hidden.end());
  net.widths.push_back(K + 2 * K * d + K * pairs_);
  net.activation = options.activation;
  net.output_init_scale = 0.1;  // start near equal weights and unit precisions
  network_ = FeedForward(net, rng, "mixture");
  // Spread the initial means over the z-scored data so that components do not start identical.
  auto& bias = network_.layers().back().bias.value;
  for (Index c = 0; c < K * d; ++c) bias(0, K + c) = static_cast<float>(rng.normal());

  replicate_ = Mat::Zero(d, K * d);
  sum_components_ = Mat::Zero(K * d, K);
  for (Index k = 0; k < K; ++k)
    for (Index i = 0; i < d; ++i) {
      replicate_(i, k * d + i) = 1.0f;
      sum_components_(k * d + i, k) = 1.0f;
    }
  if (pairs_ > 0) {
    pick_upper_ = Mat::Zero(K * d, K * pairs_);
    sum_pairs_ = Mat::Zero(K * pairs_, K * d);
    for (Index k = 0; k < K; ++k) {
      Index p = 0;
      for (Index i = 0; i < d; ++i)
        for (Index j = i + 1; j < d; ++j, ++p) {
          pick_upper_(k * d + j, k * pairs_ + p) = 1.0f;
          sum_pairs_(k * pairs_ + p, k * d + i) = 1.0f;
        }
    }
  }
}

Var MixtureDensity::family_log_prob(const Binder& bind, Var z, Var h) const {
  const Index n = z.rows(), d = data_dim(), K = components_;
  const Var out = network_.forward(bind, h);
  const Var logits = ad::slice_cols(out, 0, K);
  const Var means = ad::slice_cols(out, K, K * d);
  const Var log_diagonal = ad::slice_cols(out, K + K * d, K * d);
  const Var diff = ad::sub(ad::matmul(z, bind.constant(replicate_)), means);
  // U (z − μ), row i: U_ii (z − μ)_i + Σ_{j>i} U_ij (z − μ)_j
  Var whitened = ad::mul(ad::exp(log_diagonal), diff);
  if (pairs_ > 0) {
    const Var upper = ad::slice_cols(out, K + 2 * K * d, K * pairs_);
    const Var products = ad::mul(upper, ad::matmul(diff, bind.constant(pick_upper_)));
    whitened = ad::add(whitened, ad::matmul(products, bind.constant(sum_pairs_)));
  }
  const Var sums = bind.constant(sum_components_);
  const Var quadratic = ad::matmul(ad::square(whitened), sums);  // n × K
  const Var log_det = ad::matmul(log_diagonal, sums);
  const Var log_weights = ad::sub(logits, ad::broadcast(ad::logsumexp_rows(logits), n, K));
  const float normaliser = static_cast<float>(-0.5 * static_cast<double>(d) * std::log(2.0 * std::numbers::pi));
  const Var per_component = ad::add_scalar(ad::add(ad::add(log_weights, log_det), ad::mul_scalar(quadratic, -0.5f)), normaliser);
  return ad::logsumexp_rows(per_component);
}

Mat MixtureDensity::family_sample(const Binder& bind, Var h, Rng& rng) const {
  const Index n = h.rows(), d = data_dim(), K = components_;
  const Mat out = network_.forward(bind, h).value();
  Mat z(n, d);
  std::vector<double> weights(static_cast<std::size_t>(K));
  Eigen::VectorXd epsilon(d), v(d);
  for (Index r = 0; r < n; ++r) {
    // Component by inverse CDF of the softmax weights (in double).
    double largest = out(r, 0);
    for (Index k = 1; k < K; ++k) largest = std::max(largest, static_cast<double>(out(r, k)));
    double total = 0;
    for (Index k = 0; k < K; ++k) total += weights[static_cast<std::size_t>(k)] = std::exp(static_cast<double>(out(r, k)) - largest);
    double u = rng.uniform() * total;
    Index k = 0;
    while (k + 1 < K && u >= weights[static_cast<std::size_t>(k)]) u -= weights[static_cast<std::size_t>(k++)];
    for (Index i = 0; i < d; ++i) epsilon(i) = rng.normal();
    // Solve U v = ε from the last row up; z = μ + v.
    Index pair_end = pairs_;  // pairs are in row order: row i's pairs end where row i+1's begin
    for (Index i = d - 1; i >= 0; --i) {
      const Index row_pairs = d - 1 - i;
      const Index first_pair = pair_end - row_pairs;
      double sum = epsilon(i);
      for (Index j = i + 1; j < d; ++j) sum -= static_cast<double>(out(r, K + 2 * K * d + k * pairs_ + first_pair + (j - i - 1))) * v(j);
      v(i) = sum / std::exp(static_cast<double>(out(r, K + K * d + k * d + i)));
      pair_end = first_pair;
    }
    for (Index i = 0; i < d; ++i) z(r, i) = static_cast<float>(static_cast<double>(out(r, K + k * d + i)) + v(i));
  }
  return z;
}

void MixtureDensity::family_parameters(nn::ParameterList<float>& list) { network_.collect(list); }

}  // namespace sbi::flows
