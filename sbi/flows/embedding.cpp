#include "sbi/flows/embedding.hpp"

#include "sbi/core/error.hpp"

namespace sbi::flows {

// Layouts (column-major matrices, rows = samples):
//  * a series of C channels and length L is n × (L·C), column l + L·c ("position fastest"), so that
//    n × (L·C) and (n·L) × C are the same data (ad::reshape is a copy, no shuffle);
//  * a convolution gathers the window of each output position into n × (L_out · K · C), column
//    l + L_out·(j + K·c) for tap j, reshapes it to (n·L_out) × (K·C), multiplies by the kernel
//    (K·C) × C_out, and reshapes back to n × (L_out · C_out), again position fastest;
//  * average pooling by P gathers column (l + L_p·c) + L_p·C·q for q < P, reshapes to
//    (n·L_p·C) × P and multiplies by a P × 1 column of 1/P.
//  * a set of T trials of p values arrives trial after trial (column f + p·t); gathered to feature
//    major (column t + T·f) it reshapes to (n·T) × p, one trial per row, for φ; φ's output
//    (n·T) × w is n × (T·w) with column t + T·k, and a (T·w) × w matrix of 1/T averages over trials.
Embedding::Embedding(const EmbeddingOptions& options, Eigen::Index context_dim, std::uint64_t seed)
    : options_(options), context_dim_(context_dim), output_dim_(context_dim) {
  std::string why;
  if (!options_.is_valid(&why)) throw InputError("embedding." + why);
  Rng rng = Rng::stream(seed, 0x656d6264);  // "embd"
  using Type = EmbeddingOptions::Type;
  FeedForwardOptions dense;
  dense.activation = options_.activation;
  switch (options_.type) {
    case Type::none: return;
    case Type::mlp: dense.widths.push_back(context_dim); break;
    case Type::cnn: {
      if (context_dim % options_.in_channels != 0)
        throw InputError("embedding.in_channels: the context has " + std::to_string(context_dim) + " values, not a multiple of " +
                         std::to_string(options_.in_channels) + " channels");
      Eigen::Index length = context_dim / options_.in_channels;
      Eigen::Index channels = options_.in_channels;
      for (std::size_t layer = 0; layer < options_.channels.size(); ++layer) {
        Convolution conv(DenseLayer(options_.kernel * channels, options_.channels[layer], options_.activation, rng,
                                    "embedding.conv" + std::to_string(layer)));
        conv.length_in = length;
        conv.length_out = length - options_.kernel + 1;
        conv.channels_out = options_.channels[layer];
        conv.pooled_length = conv.length_out / options_.pool;
        if (conv.pooled_length < 1)
          throw InputError("embedding: series of length " + std::to_string(length) + " are too short for convolution " +
                           std::to_string(layer + 1) + " (kernel " + std::to_string(options_.kernel) + ", pool " +
                           std::to_string(options_.pool) + ")");
        const Eigen::Index K = options_.kernel;
        conv.im2col.resize(static_cast<std::size_t>(conv.length_out * K * channels));
        for (Eigen::Index c = 0; c < channels; ++c)
          for (Eigen::Index j = 0; j < K; ++j)
            for (Eigen::Index l = 0; l < conv.length_out; ++l)
              conv.im2col[static_cast<std::size_t>(l + conv.length_out * (j + K * c))] = (l + j) + length * c;
        if (options_.pool > 1) {
          const Eigen::Index P = options_.pool, Lp = conv.pooled_length, C = conv.channels_out;
          conv.pool_gather.resize(static_cast<std::size_t>(Lp * C * P));
          for (Eigen::Index q = 0; q < P; ++q)
            for (Eigen::Index c = 0; c < C; ++c)
              for (Eigen::Index l = 0; l < Lp; ++l)
                conv.pool_gather[static_cast<std::size_t>(l + Lp * c + Lp * C * q)] = (l * P + q) + conv.length_out * c;
          conv.pool_average = Mat::Constant(P, 1, 1.0f / static_cast<float>(P));
        }
        length = conv.pooled_length;
        channels = conv.channels_out;
        convolutions_.push_back(std::move(conv));
      }
      dense.widths.push_back(length * channels);
      break;
    }
    case Type::set: {
      const Eigen::Index p = options_.trial_dim;
      if (context_dim % p != 0)
        throw InputError("embedding.trial_dim: the context has " + std::to_string(context_dim) + " values, not a whole number of trials of " +
                         std::to_string(p));
      trials_ = context_dim / p;
      trial_order_.resize(static_cast<std::size_t>(context_dim));
      for (Eigen::Index t = 0; t < trials_; ++t)
        for (Eigen::Index f = 0; f < p; ++f) trial_order_[static_cast<std::size_t>(t + trials_ * f)] = f + p * t;
      FeedForwardOptions phi;
      phi.widths.push_back(p);
      phi.widths.insert(phi.widths.end(), options_.hidden.begin(), options_.hidden.end());
      phi.activation = options_.activation;
      phi.activate_output = true;
      phi_ = FeedForward(phi, rng, "embedding.phi");
      const Eigen::Index w = options_.hidden.back();
      trial_mean_ = Mat::Zero(trials_ * w, w);
      for (Eigen::Index k = 0; k < w; ++k)
        for (Eigen::Index t = 0; t < trials_; ++t) trial_mean_(t + trials_ * k, k) = 1.0f / static_cast<float>(trials_);
      // ρ: one hidden layer of φ's width, then the output.
      dense.widths = {w, w, options_.output};
      dense_ = FeedForward(dense, rng, "embedding.rho");
      output_dim_ = options_.output;
      return;
    }
  }
  dense.widths.insert(dense.widths.end(), options_.hidden.begin(), options_.hidden.end());
  dense.widths.push_back(options_.output);
  dense_ = FeedForward(dense, rng, "embedding.dense");
  output_dim_ = options_.output;
}

Var Embedding::forward(const Binder& bind, Var c) const {
  using Type = EmbeddingOptions::Type;
  const Eigen::Index n = c.rows();
  switch (options_.type) {
    case Type::none: return c;
    case Type::mlp: return dense_.forward(bind, c);
    case Type::cnn: {
      Var h = c;
      for (const Convolution& conv : convolutions_) {
        const Eigen::Index taps = conv.kernel.inputs();
        Var windows = ad::reshape(ad::gather_cols(h, conv.im2col), n * conv.length_out, taps);
        Var out = nn::apply(options_.activation, conv.kernel.forward(bind, windows));
        h = ad::reshape(out, n, conv.length_out * conv.channels_out);
        if (!conv.pool_gather.empty()) {
          const Eigen::Index pooled = conv.pooled_length * conv.channels_out;
          Var stacked = ad::reshape(ad::gather_cols(h, conv.pool_gather), n * pooled, options_.pool);
          h = ad::reshape(ad::matmul(stacked, bind.constant(conv.pool_average)), n, pooled);
        }
      }
      return dense_.forward(bind, h);
    }
    case Type::set: {
      const Eigen::Index p = options_.trial_dim;
      Var per_trial = ad::reshape(ad::gather_cols(c, trial_order_), n * trials_, p);
      Var features = phi_.forward(bind, per_trial);
      Var pooled = ad::matmul(ad::reshape(features, n, trials_ * features.cols()), bind.constant(trial_mean_));
      return dense_.forward(bind, pooled);
    }
  }
  return c;
}

void Embedding::collect(nn::ParameterList<float>& list) {
  for (auto& conv : convolutions_) {
    list.push_back(&conv.kernel.weight);
    list.push_back(&conv.kernel.bias);
  }
  if (options_.type == EmbeddingOptions::Type::set) phi_.collect(list);
  if (options_.type != EmbeddingOptions::Type::none) dense_.collect(list);
}

}  // namespace sbi::flows
