#pragma once
// Multilayer perceptron: widths {in, h1, ..., hk, out}, one activation between layers, an optional
// activation on the output, optional residual connections between hidden layers of equal width,
// optional spectral normalisation of every layer, and the input standardisation it was trained with.
//
// A full training loop (binary classifier, as in C2ST or an LFVI discriminator):
//
//   #include "sbi/nn/losses.hpp"
//   #include "sbi/nn/mlp.hpp"
//   #include "sbi/nn/serialize.hpp"
//   #include "sbi/optim/adam.hpp"
//   #include "sbi/optim/training.hpp"
//
//   sbi::nn::MlpOptions options;
//   options.widths = {22, 128, 128, 1};
//   options.activation = sbi::nn::Activation::elu;
//   sbi::nn::Mlp net(options, /*seed=*/7);
//   net.set_standardizer(sbi::nn::Standardizer::fit(x_train));
//   sbi::optim::Adam adam(net.parameters(), {.learning_rate = 1e-3});
//   sbi::ad::Tape<float> tape;                          // reused by every step
//   sbi::Rng rng = sbi::Rng::stream(seed, 0);
//   for (int epoch = 0; epoch < 100; ++epoch) {
//     for (const auto& batch : sbi::optim::shuffled_batches(x_train.rows(), 256, rng)) {
//       auto step = tape.scope();                       // clears the tape at the end of the step
//       adam.zero_grad();
//       auto logits = net.forward(tape.constant(sbi::optim::gather_rows(x_train, batch)));
//       auto loss = sbi::nn::bce_with_logits(logits, tape.constant(sbi::optim::gather_rows(y_train, batch)));
//       tape.backward(loss);
//       adam.step();
//     }
//   }
//   sbi::nn::save(net, "classifier.sbinn");
//
// Thread safety: forward() and predict() use mutable state (spectral-norm vectors in training mode, an
// internal tape); evaluate() is const and may run on several threads at once.
#include "sbi/autodiff/ops.hpp"
#include "sbi/nn/activation.hpp"
#include "sbi/nn/linear.hpp"
#include "sbi/nn/parameter.hpp"
#include "sbi/nn/spectral_norm.hpp"
#include "sbi/nn/standardizer.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sbi::nn {

struct MlpOptions {
  std::vector<Eigen::Index> widths;               // {inputs, hidden..., outputs}, at least 2 entries
  Activation activation = Activation::relu;       // between layers
  Activation output_activation = Activation::identity;
  // Hidden layers whose input and output widths agree compute h + act(h W + b) (He et al. 2016).
  bool residual = false;
  bool spectral_norm = false;
  SpectralNormOptions spectral;                   // bound α and iterations when spectral_norm is set

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  static MlpOptions from_json(const nlohmann::json& j);  // throws sbi::InputError
};

template <class T>
class BasicMlp {
 public:
  // Weights from Rng::stream(seed, layer index): the same seed gives the same network.
  BasicMlp(const MlpOptions& options, std::uint64_t seed);

  // Raw inputs (batch × widths.front()) → outputs (batch × widths.back()), standardisation included.
  ad::Var<T> forward(ad::Var<T> x);
  // Evaluation without gradients, on an internal tape (not thread-safe; one tape per network).
  ad::Matrix<T> predict(const ad::Matrix<T>& x);
  // Evaluation on a tape of its own, changing nothing: safe from several threads at once, and the
  // same bits as predict() in evaluation mode.
  ad::Matrix<T> evaluate(const ad::Matrix<T>& x) const;
  // The evaluation-mode forward pass on the caller's tape with the weights as constants: differentiable
  // in x (the input gradient of a trained network, e.g. for HMC or a variational objective), changing
  // nothing; safe from several threads with one tape each.
  ad::Var<T> forward_constant(ad::Var<T> x) const;

  ParameterList<T> parameters();
  void zero_grad();

  // Training mode advances spectral-norm power iterations; evaluation mode is a pure function.
  void train(bool on = true) { training_ = on; }
  void eval() { training_ = false; }
  bool training() const { return training_; }

  void set_standardizer(BasicStandardizer<T> standardizer);
  // Takes the weights (and spectral-norm vectors and standardiser) of a network of the same widths,
  // e.g. to continue training from an earlier fit; std::invalid_argument if the widths differ.
  void copy_weights_from(const BasicMlp& other);
  const BasicStandardizer<T>& standardizer() const { return standardizer_; }
  const MlpOptions& options() const { return options_; }
  std::vector<BasicLinear<T>>& layers() { return layers_; }
  const std::vector<BasicLinear<T>>& layers() const { return layers_; }

 private:
  MlpOptions options_;
  std::vector<BasicLinear<T>> layers_;
  BasicStandardizer<T> standardizer_;
  bool training_ = true;
  ad::Tape<T> predict_tape_;
};

using Mlp = BasicMlp<float>;

extern template class BasicMlp<float>;
extern template class BasicMlp<double>;

}  // namespace sbi::nn
