#pragma once
// Options of the conditional density estimators q(x | c) and of their context embedding networks,
// in the library's options style (documented defaults, is_valid, to_json, from_json with the JSON
// path in every error). The spec form:
//
//   {"type": "nsf", "transforms": 5, "hidden": [64, 64], "bins": 8, "tail_bound": 3,
//    "embedding": {"type": "cnn", "channels": [8, 16], "kernel": 5, "pool": 2, "output": 16}}
//
// | type  | the estimator                                                                        |
// |-------|--------------------------------------------------------------------------------------|
// | "maf" | masked autoregressive flow: `transforms` affine MADE layers (Papamakarios et al. 2017) |
// | "nsf" | neural spline flow: `transforms` rational-quadratic spline layers (Durkan et al. 2019), |
// |       | `form` "coupling" (conditioner MLP on half of the dimensions) or "autoregressive"    |
// |       | (MADE conditioner); identity tails outside [−tail_bound, tail_bound]                 |
// | "mog" | mixture of `components` full-covariance Gaussians from an MLP (mixture density net) |
//
// Between autoregressive layers the dimensions are permuted ("reverse" or "random" from the seed);
// coupling layers alternate which half is transformed. With "linear": true (maf and nsf only) every
// flow layer is followed by a learned invertible linear map x A + b, A = L U in LU form (as nflows'
// LULinear, which sbi puts after each spline coupling layer): it mixes and rescales all dimensions at
// once. Off by default: on the runs in bench/npe/RESULTS.md it gave no consistent gain. Data and context are
// z-scored with training statistics (sbi/flows/fit.hpp), so tail_bound is in standard deviations.
//
// "conditioner" (nsf coupling only): "mlp" (the default) maps [kept half, context] through the hidden
// widths; "residual" is a residual network of len(hidden) blocks of width hidden[0] whose every block
// is gated by the context (the shape of nflows' ResidualNet, which sbi's NSF uses), and whose bin
// width and height logits are divided by √hidden[0] (as nflows' coupling layers do).
//
// "direction" (maf and nsf): "density" (the default) stacks the layers from data to noise, so
// log_prob is one pass and sampling inverts the layers; "sampling" stacks them from noise to data (the
// inverse autoregressive flow of Kingma et al. 2016 for "maf"), so a draw is one differentiable pass
// (ConditionalDensity::standardized_rsample, for variational training: lfvi with "generator": "flow")
// and log_prob inverts the layers on plain values (exact, not differentiable in the parameters).
//
// Embeddings (trained jointly with the estimator; the estimator sees their output):
//
// | type   | network                                                                             |
// |--------|-------------------------------------------------------------------------------------|
// | "none" | the z-scored context itself                                                         |
// | "mlp"  | an MLP: context → hidden... → output                                                |
// | "cnn"  | 1-D convolutions for raw series: the context is `in_channels` series of equal       |
// |        | length, stored channel after channel; per layer a convolution with `kernel` taps,    |
// |        | no padding, then average pooling by `pool`; then a linear map to `output`            |
// | "set"  | permutation-invariant (Zaheer et al. 2017): the context is trials of `trial_dim`    |
// |        | values each, stored trial after trial; a per-trial MLP φ (hidden...), the mean over  |
// |        | trials, then a linear map to `output`                                               |
#include "sbi/nn/activation.hpp"

#include <nlohmann/json.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace sbi::flows {

struct EmbeddingOptions {
  enum class Type { none, mlp, cnn, set };
  Type type = Type::none;
  Eigen::Index output = 20;                       // features out (mlp, cnn, set)
  std::vector<Eigen::Index> hidden = {64, 64};    // mlp: hidden widths; cnn: dense widths after the
                                                  // convolutions; set: φ's widths (its last is φ's output)
  nn::Activation activation = nn::Activation::relu;
  // cnn
  int in_channels = 1;
  std::vector<int> channels = {8, 16};            // output channels per convolution
  int kernel = 5;                                 // taps per convolution
  int pool = 2;                                   // average-pool width after each convolution (1 = none)
  // set
  Eigen::Index trial_dim = 1;                     // values per trial

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  static EmbeddingOptions from_json(const nlohmann::json& j, const std::string& path = "embedding");
};

std::string to_string(EmbeddingOptions::Type type);

struct DensityEstimatorOptions {
  enum class Type { maf, nsf, mog };
  enum class Form { coupling, autoregressive };
  enum class Permutation { reverse, random };
  enum class Direction { density, sampling };
  enum class Conditioner { mlp, residual };

  Type type = Type::nsf;
  Form form = Form::coupling;                     // nsf only
  int transforms = 5;                             // flow layers (maf, nsf)
  std::vector<Eigen::Index> hidden = {64, 64};    // conditioner / MADE / mixture-network widths
  nn::Activation activation = nn::Activation::relu;
  int bins = 8;                                   // nsf: spline bins per dimension
  double tail_bound = 3.0;                        // nsf: the spline acts on [−B, B], identity outside
  int components = 10;                            // mog: mixture components
  Permutation permutation = Permutation::reverse; // between flow layers
  bool linear = false;                            // a learned invertible linear map (LU form) after each layer
  Direction direction = Direction::density;       // maf, nsf: which way the layers run (above)
  Conditioner conditioner = Conditioner::mlp;     // nsf coupling: "mlp" or "residual" (above)
  EmbeddingOptions embedding;

  bool is_valid(std::string* why = nullptr) const;
  nlohmann::json to_json() const;
  static DensityEstimatorOptions from_json(const nlohmann::json& j, const std::string& path = "density_estimator");
  // A method's estimator section: keys left out keep `defaults` (the method's default estimator),
  // so {"activation": "tanh"} changes only the activation. Naming another "type" starts that
  // family's settings (widths, bins, conditioner, …) from the library's defaults, keeping the
  // method's direction and embedding.
  static DensityEstimatorOptions from_json(const nlohmann::json& j, const std::string& path, const DensityEstimatorOptions& defaults);
};

std::string to_string(DensityEstimatorOptions::Type type);

// Options saved before every key was written left out "direction" (then always "density") and, for
// spline flows, "conditioner" (then "mlp"). Adds them to every estimator section (an object with a
// flow "type" and the keys to_json always wrote) anywhere in `options`, so that reading them against
// a method's defaults (which may differ) gives back what was saved.
void complete_saved_estimator_options(nlohmann::json& options);

}  // namespace sbi::flows
