#pragma once
// Context embedding networks (EmbeddingOptions in sbi/flows/options.hpp): a map from the z-scored
// context c (n × m) to features h (n × k) that the density estimator is conditioned on, trained
// jointly with it.
#include "sbi/flows/network.hpp"
#include "sbi/flows/options.hpp"

#include <cstdint>
#include <memory>

namespace sbi::flows {

class Embedding {
 public:
  // Throws sbi::InputError when the options do not fit the context (a CNN whose series are too
  // short for its convolutions, a set whose context is not a whole number of trials).
  Embedding(const EmbeddingOptions& options, Eigen::Index context_dim, std::uint64_t seed);

  Var forward(const Binder& bind, Var c) const;
  Eigen::Index input_dim() const { return context_dim_; }
  Eigen::Index output_dim() const { return output_dim_; }
  void collect(nn::ParameterList<float>& list);
  const EmbeddingOptions& options() const { return options_; }

 private:
  struct Convolution {
    explicit Convolution(DenseLayer layer) : kernel(std::move(layer)) {}
    DenseLayer kernel;                      // (kernel · channels_in) × channels_out
    Eigen::Index length_in = 0, length_out = 0, pooled_length = 0, channels_out = 0;
    std::vector<Eigen::Index> im2col;       // gather indices, see embedding.cpp
    std::vector<Eigen::Index> pool_gather;  // gather indices for average pooling
    Mat pool_average;                       // pool × 1, entries 1/pool
  };

  EmbeddingOptions options_;
  Eigen::Index context_dim_ = 0, output_dim_ = 0;
  FeedForward dense_;                      // mlp: the whole network; cnn: after the convolutions; set: ρ
  std::vector<Convolution> convolutions_;  // cnn
  FeedForward phi_;                        // set: the per-trial network
  std::vector<Eigen::Index> trial_order_;  // set: trial-major → feature-major columns
  Mat trial_mean_;                         // set: (trials · width) × width averaging matrix
  Eigen::Index trials_ = 0;
};

}  // namespace sbi::flows
