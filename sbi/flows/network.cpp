#include "sbi/flows/network.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sbi::flows {

DenseLayer::DenseLayer(Eigen::Index inputs, Eigen::Index outputs, nn::Activation followed_by, Rng& rng, const std::string& name,
                       double init_scale) {
  if (inputs < 0 || outputs <= 0) throw std::invalid_argument("flows::DenseLayer: sizes must be positive");
  weight.name = name + ".weight";
  bias.name = name + ".bias";
  weight.value.resize(inputs, outputs);
  if (nn::is_relu_family(followed_by)) {
    const double sd = init_scale * std::sqrt(2.0 / static_cast<double>(std::max<Eigen::Index>(inputs, 1)));
    for (Eigen::Index k = 0; k < weight.value.size(); ++k) weight.value.data()[k] = static_cast<float>(sd * rng.normal());
  } else {
    const double limit = init_scale * std::sqrt(6.0 / static_cast<double>(inputs + outputs));
    for (Eigen::Index k = 0; k < weight.value.size(); ++k) weight.value.data()[k] = static_cast<float>(rng.uniform(-limit, limit));
  }
  bias.value.setZero(1, outputs);
  weight.zero_grad();
  bias.zero_grad();
}

Var DenseLayer::forward(const Binder& bind, Var x) const {
  Var w = bind(weight);
  if (mask.size() != 0) w = ad::mul(w, bind.constant(mask));
  return ad::affine(x, w, bind(bias));
}

FeedForward::FeedForward(const FeedForwardOptions& options, Rng& rng, const std::string& name) : options_(options) {
  if (options_.widths.size() < 2) throw std::invalid_argument("flows::FeedForward: needs input and output widths");
  const std::size_t count = options_.widths.size() - 1;
  layers_.reserve(count);
  for (std::size_t k = 0; k < count; ++k) {
    const bool last = k + 1 == count;
    const nn::Activation next = last && !options_.activate_output ? nn::Activation::identity : options_.activation;
    layers_.emplace_back(options_.widths[k], options_.widths[k + 1], next, rng, name + ".layer" + std::to_string(k),
                         last ? options_.output_init_scale : 1.0);
  }
}

Var FeedForward::forward(const Binder& bind, Var x) const {
  Var h = x;
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    h = layers_[k].forward(bind, h);
    if (k + 1 < layers_.size() || options_.activate_output) h = nn::apply(options_.activation, h);
  }
  return h;
}

void FeedForward::collect(nn::ParameterList<float>& list) {
  for (auto& layer : layers_) {
    list.push_back(&layer.weight);
    list.push_back(&layer.bias);
  }
}

ResidualConditioner::ResidualConditioner(Eigen::Index inputs, Eigen::Index context_dim, Eigen::Index width, int blocks,
                                         Eigen::Index outputs, nn::Activation activation, double output_init_scale, Rng& rng,
                                         const std::string& name)
    : activation_(activation) {
  if (width < 1 || blocks < 1 || inputs + context_dim < 1) throw std::invalid_argument("flows::ResidualConditioner: needs inputs, width and blocks");
  gated_ = context_dim > 0;
  initial_.emplace_back(inputs + context_dim, width, activation, rng, name + ".initial");
  blocks_.reserve(static_cast<std::size_t>(blocks));
  for (int b = 0; b < blocks; ++b) {
    const std::string block = name + ".block" + std::to_string(b);
    blocks_.push_back({DenseLayer(width, width, activation, rng, block + ".first"),
                       DenseLayer(width, width, nn::Activation::identity, rng, block + ".second", 1e-2),
                       DenseLayer(std::max<Eigen::Index>(context_dim, 1), width, nn::Activation::identity, rng, block + ".gate")});
  }
  output_.emplace_back(width, outputs, nn::Activation::identity, rng, name + ".output", output_init_scale);
}

Var ResidualConditioner::forward(const Binder& bind, Var x, Var c) const {
  Var h = initial_.front().forward(bind, !x.valid() ? c : gated_ ? ad::concat_cols(x, c) : x);
  for (const Block& block : blocks_) {
    Var update = block.first.forward(bind, nn::apply(activation_, h));
    update = block.second.forward(bind, nn::apply(activation_, update));
    if (gated_) update = ad::mul(update, ad::sigmoid(block.gate.forward(bind, c)));
    h = ad::add(h, update);
  }
  return output_.front().forward(bind, h);
}

void ResidualConditioner::collect(nn::ParameterList<float>& list) {
  for (auto* layer : {&initial_.front(), &output_.front()}) {
    list.push_back(&layer->weight);
    list.push_back(&layer->bias);
  }
  for (auto& block : blocks_)
    for (auto* layer : {&block.first, &block.second, &block.gate}) {
      if (layer == &block.gate && !gated_) continue;
      list.push_back(&layer->weight);
      list.push_back(&layer->bias);
    }
}

Made::Made(Eigen::Index data_dim, Eigen::Index context_dim, const std::vector<Eigen::Index>& hidden,
           const std::vector<Eigen::Index>& output_dimension, nn::Activation activation, Rng& rng, const std::string& name)
    : data_dim_(data_dim), context_dim_(context_dim) {
  if (data_dim < 1 || hidden.empty()) throw std::invalid_argument("flows::Made: needs data and hidden layers");
  FeedForwardOptions options;
  options.widths.push_back(data_dim + context_dim);
  options.widths.insert(options.widths.end(), hidden.begin(), hidden.end());
  options.widths.push_back(static_cast<Eigen::Index>(output_dimension.size()));
  options.activation = activation;
  options.output_init_scale = 0.1;
  network_ = FeedForward(options, rng, name);

  // Degrees: input x_j has degree j + 1, context inputs degree 0; hidden unit u degree u mod d;
  // a hidden unit sees inputs of degree ≤ its own; output column for dimension j (degree j + 1)
  // sees hidden units of degree < j + 1.
  std::vector<Eigen::Index> previous(static_cast<std::size_t>(data_dim + context_dim), 0);
  for (Eigen::Index j = 0; j < data_dim; ++j) previous[static_cast<std::size_t>(j)] = j + 1;
  auto& layers = network_.layers();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const bool output = l + 1 == layers.size();
    const Eigen::Index width = layers[l].outputs();
    std::vector<Eigen::Index> degree(static_cast<std::size_t>(width));
    for (Eigen::Index u = 0; u < width; ++u)
      degree[static_cast<std::size_t>(u)] = output ? output_dimension[static_cast<std::size_t>(u)] + 1 : u % data_dim;
    Mat mask(layers[l].inputs(), width);
    for (Eigen::Index i = 0; i < mask.rows(); ++i)
      for (Eigen::Index u = 0; u < width; ++u) {
        const auto in = previous[static_cast<std::size_t>(i)], out = degree[static_cast<std::size_t>(u)];
        mask(i, u) = (output ? out > in : out >= in) ? 1.0f : 0.0f;
      }
    layers[l].mask = std::move(mask);
    layers[l].weight.value.array() *= layers[l].mask.array();  // masked weights start (and stay) unused
    previous = std::move(degree);
  }
}

Var Made::forward(const Binder& bind, Var x, Var h) const {
  return network_.forward(bind, context_dim_ > 0 ? ad::concat_cols(x, h) : x);
}

Mat standard_normal(Eigen::Index rows, Eigen::Index cols, Rng& rng) {
  Mat z(rows, cols);
  for (Eigen::Index r = 0; r < rows; ++r)
    for (Eigen::Index c = 0; c < cols; ++c) z(r, c) = static_cast<float>(rng.normal());
  return z;
}

}  // namespace sbi::flows
