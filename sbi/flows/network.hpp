#pragma once
// The building blocks of the density estimators: how a forward pass reads parameters (Binder), and
// a feed-forward network whose layers may carry a fixed 0/1 connectivity mask (MADE).
//
// Every forward pass is const and reads parameters through a Binder: in training (gradients on)
// they are tape leaves whose gradients accumulate into the parameters; in evaluation (gradients
// off) they are constant views of the weights. Evaluation passes therefore never write to the
// network, and several threads may evaluate one network at once, each on its own tape.
#include "sbi/autodiff/flow_ops.hpp"
#include "sbi/autodiff/ops.hpp"
#include "sbi/nn/activation.hpp"
#include "sbi/nn/parameter.hpp"
#include "sbi/random/rng.hpp"

#include <string>
#include <vector>

namespace sbi::flows {

using Mat = ad::Matrix<float>;
using Var = ad::Var<float>;
using Tape = ad::Tape<float>;

class Binder {
 public:
  Binder(Tape& tape, bool gradients) : tape_(&tape), gradients_(gradients) {}
  Tape& tape() const { return *tape_; }
  bool gradients() const { return gradients_; }
  // The parameter on the tape. With gradients on, the caller must own `p` non-const (training
  // entry points are non-const members; they are the only ones that bind with gradients).
  Var operator()(const nn::Parameter& p) const {
    if (gradients_) return const_cast<nn::Parameter&>(p).on(*tape_);
    return ad::constant_view(*tape_, p.value);
  }
  Var constant(const Mat& m) const { return ad::constant_view(*tape_, m); }

 private:
  Tape* tape_;
  bool gradients_;
};

// y = x (W ⊙ M) + b. Initialisation as sbi::nn::Linear (He for the ReLU family, Glorot otherwise),
// scaled by `init_scale` (small for the last layer of a flow's conditioner, so that each flow
// layer starts close to the identity).
struct DenseLayer {
  nn::Parameter weight, bias;
  Mat mask;  // empty = fully connected

  DenseLayer(Eigen::Index inputs, Eigen::Index outputs, nn::Activation followed_by, Rng& rng, const std::string& name,
             double init_scale = 1.0);
  Var forward(const Binder& bind, Var x) const;
  Eigen::Index inputs() const { return weight.value.rows(); }
  Eigen::Index outputs() const { return weight.value.cols(); }
};

struct FeedForwardOptions {
  std::vector<Eigen::Index> widths;  // {inputs, hidden..., outputs}
  nn::Activation activation = nn::Activation::relu;
  bool activate_output = false;
  double output_init_scale = 1.0;
};

class FeedForward {
 public:
  FeedForward() = default;
  FeedForward(const FeedForwardOptions& options, Rng& rng, const std::string& name);
  Var forward(const Binder& bind, Var x) const;
  Eigen::Index inputs() const { return layers_.front().inputs(); }
  Eigen::Index outputs() const { return layers_.back().outputs(); }
  std::vector<DenseLayer>& layers() { return layers_; }
  const std::vector<DenseLayer>& layers() const { return layers_; }
  void collect(nn::ParameterList<float>& list);

 private:
  FeedForwardOptions options_;
  std::vector<DenseLayer> layers_;
};

// MADE (Germain et al. 2015) with context: inputs x (n × d) and h (n × k); output column o depends
// on x_j only for j < output_dimension[o] (so on x_{<j+1} for the parameters of dimension j) and on
// all of h. Hidden unit u of every layer has degree u mod d: units of degree 0 see only the
// context, so the first dimension's parameters depend on the context too.
class Made {
 public:
  Made() = default;
  // output_dimension[o] ∈ [0, d): the data dimension that output column o parameterises.
  Made(Eigen::Index data_dim, Eigen::Index context_dim, const std::vector<Eigen::Index>& hidden,
       const std::vector<Eigen::Index>& output_dimension, nn::Activation activation, Rng& rng, const std::string& name);
  Var forward(const Binder& bind, Var x, Var h) const;
  void collect(nn::ParameterList<float>& list) { network_.collect(list); }

 private:
  Eigen::Index data_dim_ = 0, context_dim_ = 0;
  FeedForward network_;
};

// A residual conditioner with context gating (the shape of nflows' ResidualNet, written for our
// autodiff): h = W₀ [x, c]; then per block h ← h + (act(act(h) W₁) W₂) ⊙ σ(c W_c); out = h W_out.
// The gate lets the context rescale every block's update multiplicatively, which a plain MLP on
// [x, c] can only approximate; each block's second layer starts small, so the net starts close to its
// first and last layers. `blocks` blocks of `width` units.
class ResidualConditioner {
 public:
  ResidualConditioner() = default;
  ResidualConditioner(Eigen::Index inputs, Eigen::Index context_dim, Eigen::Index width, int blocks, Eigen::Index outputs,
                      nn::Activation activation, double output_init_scale, Rng& rng, const std::string& name);
  // x: n × inputs (may be invalid when inputs == 0); c: n × context_dim.
  Var forward(const Binder& bind, Var x, Var c) const;
  void collect(nn::ParameterList<float>& list);

 private:
  struct Block {
    DenseLayer first, second, gate;
  };
  nn::Activation activation_ = nn::Activation::relu;
  bool gated_ = true;                // false without context (then the gates are not used)
  std::vector<DenseLayer> initial_;  // one layer (a vector only because DenseLayer has no default)
  std::vector<Block> blocks_;
  std::vector<DenseLayer> output_;
};

// rows × cols standard-normal draws from rng, filled row by row (row i is the i-th draw).
Mat standard_normal(Eigen::Index rows, Eigen::Index cols, Rng& rng);

}  // namespace sbi::flows
