#pragma once
// What the two implicit-generator methods share ("lfvi" in lfvi.hpp, "mmd" in mmd.hpp): a generator
// θ = f(y, z), z ~ N(0, I), fitted in a standardised unconstrained space, its options, the
// standardisation, the validation yardstick and the fit it produces.
//
// Everything is fitted in a standardised unconstrained space: θ is mapped by the prior's bijection
// to u ∈ R^p, and u and y are z-scored with training-set statistics (y's heavy-tailed positive
// columns optionally log-transformed first). The generator's samples, mapped back, always lie in the
// prior's support.
//
// Training keeps a held-out validation split and evaluates, every `eval_every` generator steps, the
// joint MMD² between (y, f(y, z)) and (y, θ) on it — a yardstick that does not depend on any
// discriminator; the generator with the best value is kept (sbi/optim/training_loop.hpp), and
// training stops after `patience` checks without improvement.
#include "sbi/core/types.hpp"
#include "sbi/inference/standardization.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/nn/mlp.hpp"
#include "sbi/optim/training_loop.hpp"
#include "sbi/priors/prior.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace sbi {

struct NetworkOptions {
  std::vector<Eigen::Index> hidden = {128, 128, 128};
  nn::Activation activation = nn::Activation::elu;
  bool residual = false;
  double learning_rate = 1e-3;
  std::size_t batch_size = 256;

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  // Reads the keys present in `section` (path for errors) over the current values.
  void read(const nlohmann::json& section, const std::string& path);
};

// Options both implicit-generator methods have.
struct GeneratorOptions {
  NetworkOptions generator{{128, 128, 128}, nn::Activation::elu, false, 1e-4, 256};
  int noise_dim = 0;                 // 0 = as many noise inputs as parameters (at least 2)
  // Data columns to take the log of before z-scoring: "none", "log" (all; data must be > 0) or
  // "auto" (columns whose training values are all positive and span more than two decades, such
  // as population counts; heavy right tails otherwise squeeze most data into a sliver).
  std::string data_transform = "auto";
  // Exponential moving average of the generator's weights (Polyak averaging, a standard GAN
  // stabiliser): the averaged generator is validated and kept. 0 = off.
  double generator_ema = 0.995;
  std::vector<double> mmd_bandwidths = {0.25, 0.5, 1.0, 2.0, 4.0};  // × √(dimension of the joint)
  double validation_fraction = 0.1;
  int max_iterations = 20000;        // generator steps
  int min_iterations = 1000;         // no early stop before this many generator steps
  int eval_every = 100;              // generator steps between validation checks
  int patience = 20;                 // validation checks without improvement before stopping
  std::uint64_t seed = 1;            // weights, minibatches and noise

  bool is_valid(std::string* why = nullptr) const;
  // Adds the shared keys to `j`.
  void write(nlohmann::json& j) const;
  // Reads the shared keys through `reader` (which the caller then checks for unknown keys).
  void read(JsonObjectReader& reader);
};

// A trained implicit generator and what sampling needs.
struct ImplicitGeneratorFit {
  explicit ImplicitGeneratorFit(nn::Mlp trained_generator) : generator(std::move(trained_generator)) {}
  nn::Mlp generator;
  std::optional<nn::Mlp> discriminator;  // lfvi: the ratio estimator r(u, y) (in standardised units)
  Standardization standardization;
  int noise_dim = 2;
  optim::TrainingOutcome training;        // curve (losses, validation MMD²), best step, stop reason
  std::size_t training_rows = 0, validation_rows = 0;
};

// The number of noise inputs z of the generator for `parameters` parameters.
int effective_noise_dim(const GeneratorOptions& options, Eigen::Index parameters);

namespace detail {

// The training data of a generator method: checks, split, standardisation, minibatches, and the
// validation MMD² of a generator. Shared by train_lfvi and train_mmd.
class GeneratorTrainingData {
 public:
  // Throws InputError for bad shapes, θ outside the prior's support, non-finite data, < 20 rows.
  GeneratorTrainingData(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const GeneratorOptions& options,
                        const std::string& method);

  Eigen::Index parameters() const { return u_train_.cols(); }
  Eigen::Index data_columns() const { return y_train_.cols(); }
  int noise_dim() const { return noise_dim_; }
  const Standardization& standardization() const { return standardization_; }
  std::size_t training_rows() const { return static_cast<std::size_t>(u_train_.rows()); }
  std::size_t validation_rows() const { return validation_total_; }
  // The kernel bandwidths of the MMD² (options × √(p + d)).
  const std::vector<double>& bandwidths() const { return bandwidths_; }

  // Draws the next minibatch (a fresh permutation each epoch) and fresh noise:
  // y_batch, u_batch and generator_input = [y_batch | z] are filled.
  void draw_batch(std::size_t batch_size);
  const ad::Matrix<float>& y_batch() const { return y_batch_; }
  const ad::Matrix<float>& u_batch() const { return u_batch_; }
  const ad::Matrix<float>& generator_input() const { return generator_input_; }
  Rng& rng() { return rng_; }

  // Unbiased joint MMD² between (y, f(y, z)) and (y, u) on the validation rows, with fixed noise.
  double validation_mmd2(nn::Mlp& generator, ad::Tape<float>& tape);

 private:
  Standardization standardization_;
  ad::Matrix<float> u_train_, y_train_, u_val_, y_val_, z_val_, val_reference_, val_input_, val_generated_;
  std::size_t validation_total_ = 0;
  int noise_dim_ = 2;
  std::vector<double> bandwidths_;
  Rng rng_;
  std::vector<Eigen::Index> order_;
  Eigen::Index position_ = 0;
  ad::Matrix<float> y_batch_, u_batch_, z_, generator_input_;
};

// Polyak averaging of a network's weights, swapped in for validation and kept at the end. Started at
// zero and divided by 1 − βᵗ (as Adam's moments), so the initial weights carry no weight.
class WeightAverage {
 public:
  WeightAverage(nn::ParameterList<float> parameters, double beta);
  void update();     // after each optimiser step
  void swap();       // averaged ↔ current (no-op when off or before the first update)

 private:
  nn::ParameterList<float> parameters_;
  double beta_;
  std::vector<ad::Matrix<float>> average_, current_;
  double weight_ = 0;  // 1 − βᵗ
  bool swapped_in_ = false;
};

// The generator network {d + k, hidden..., p}.
nn::MlpOptions network_layout(Eigen::Index inputs, Eigen::Index outputs, const NetworkOptions& network);

// A fresh fit for `data`: the generator network (weights from stream (seed, 1)), the standardisation,
// the noise dimension and the row counts.
ImplicitGeneratorFit new_generator_fit(const GeneratorTrainingData& data, const GeneratorOptions& options);

// The training loop of a generator method, with `loss_names` and the shared validation: the averaged
// generator swapped in, the validation MMD² on it, the best averaged weights kept.
struct GeneratorLoop {
  GeneratorLoop(const GeneratorOptions& options, const std::string& stage, std::vector<std::string> loss_names,
                GeneratorTrainingData& data, nn::Mlp& generator, WeightAverage& average, ad::Tape<float>& tape);
  optim::TrainingLoop loop;
  optim::TrainingHooks hooks;  // validate, before/after_validation set; the method sets step and status
};

}  // namespace detail

}  // namespace sbi
