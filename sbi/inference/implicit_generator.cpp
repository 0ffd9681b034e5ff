#include "sbi/inference/implicit_generator.hpp"

#include "sbi/core/error.hpp"
#include "sbi/io/csv.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/simulation/simulator.hpp"

#include <cmath>
#include <limits>

namespace sbi {

using FMat = ad::Matrix<float>;

// ---------------------------------------------------------------------------------------------
// Options

bool NetworkOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  if (hidden.empty()) return fail("hidden: needs at least one hidden layer");
  for (auto w : hidden)
    if (w < 1) return fail("hidden: every width must be at least 1");
  if (!(learning_rate > 0)) return fail("learning_rate: must be positive");
  if (batch_size < 1) return fail("batch_size: must be at least 1");
  return true;
}

nlohmann::json NetworkOptions::to_json() const {
  return {{"hidden", hidden}, {"activation", nn::to_string(activation)}, {"residual", residual},
          {"learning_rate", learning_rate}, {"batch_size", batch_size}};
}

void NetworkOptions::read(const nlohmann::json& section, const std::string& path) {
  JsonObjectReader r(section, path);
  if (const auto* widths_json = r.get("hidden")) {
    const auto widths = json_number_list_at(*widths_json, r.child_path("hidden"));
    hidden.clear();
    for (std::size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] < 1 || widths[i] != std::floor(widths[i]) || widths[i] > 65536)
        throw InputError(r.child_path("hidden") + "[" + std::to_string(i) + "]: expected a layer width (integer in [1, 65536]), got " +
                         format_number(widths[i]));
      hidden.push_back(static_cast<Eigen::Index>(widths[i]));
    }
  }
  const std::string name = r.optional_string("activation", nn::to_string(activation), {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus"});
  activation = nn::activation_from_string(name);
  residual = r.optional_bool("residual", residual);
  learning_rate = r.optional_positive_number("learning_rate", learning_rate);
  batch_size = static_cast<std::size_t>(r.optional_integer("batch_size", static_cast<std::int64_t>(batch_size), 1, 1 << 20));
  r.reject_unknown_keys();
}

bool GeneratorOptions::is_valid(std::string* why) const {
  auto fail = [&](const std::string& message) {
    if (why) *why = message;
    return false;
  };
  std::string inner;
  if (!generator.is_valid(&inner)) return fail("generator." + inner);
  if (noise_dim < 0) return fail("noise_dim: must be 0 (automatic) or positive");
  if (data_transform != "none" && data_transform != "log" && data_transform != "auto")
    return fail("data_transform: must be \"none\", \"log\" or \"auto\"");
  if (!(generator_ema >= 0 && generator_ema < 1)) return fail("generator_ema: must be in [0, 1)");
  if (mmd_bandwidths.empty()) return fail("mmd_bandwidths: needs at least one bandwidth");
  for (double b : mmd_bandwidths)
    if (!(b > 0)) return fail("mmd_bandwidths: every bandwidth must be positive");
  if (!(validation_fraction > 0 && validation_fraction < 0.5)) return fail("validation_fraction: must be in (0, 0.5)");
  if (max_iterations < 1) return fail("max_iterations: must be at least 1");
  if (min_iterations < 0) return fail("min_iterations: must be ≥ 0");
  if (eval_every < 1) return fail("eval_every: must be at least 1");
  if (patience < 1) return fail("patience: must be at least 1");
  return true;
}

void GeneratorOptions::write(nlohmann::json& j) const {
  j["generator"] = generator.to_json();
  j["noise_dim"] = noise_dim;
  j["data_transform"] = data_transform;
  j["generator_ema"] = generator_ema;
  j["mmd_bandwidths"] = mmd_bandwidths;
  j["validation_fraction"] = validation_fraction;
  j["max_iterations"] = max_iterations;
  j["min_iterations"] = min_iterations;
  j["eval_every"] = eval_every;
  j["patience"] = patience;
  j["seed"] = seed;
}

void GeneratorOptions::read(JsonObjectReader& r) {
  if (const auto* section = r.get("generator")) generator.read(*section, r.child_path("generator"));
  noise_dim = static_cast<int>(r.optional_integer("noise_dim", noise_dim, 0, 4096));
  data_transform = r.optional_string("data_transform", data_transform, {"none", "log", "auto"});
  generator_ema = r.optional_number_in("generator_ema", generator_ema, 0.0, 0.999999);
  if (const auto* b = r.get("mmd_bandwidths")) {
    mmd_bandwidths = json_number_list_at(*b, r.child_path("mmd_bandwidths"));
    for (std::size_t i = 0; i < mmd_bandwidths.size(); ++i)
      if (!(mmd_bandwidths[i] > 0))
        throw InputError(r.child_path("mmd_bandwidths") + "[" + std::to_string(i) + "]: expected a positive number, got " +
                         format_number(mmd_bandwidths[i]));
  }
  validation_fraction = r.optional_number_in("validation_fraction", validation_fraction, 0.01, 0.49);
  max_iterations = static_cast<int>(r.optional_integer("max_iterations", max_iterations, 1, 100000000));
  min_iterations = static_cast<int>(r.optional_integer("min_iterations", min_iterations, 0, 100000000));
  eval_every = static_cast<int>(r.optional_integer("eval_every", eval_every, 1, 1000000));
  patience = static_cast<int>(r.optional_integer("patience", patience, 1, 1000000));
  seed = r.optional_seed("seed", seed);
}

int effective_noise_dim(const GeneratorOptions& options, Eigen::Index parameters) {
  return options.noise_dim > 0 ? options.noise_dim : static_cast<int>(std::max<Eigen::Index>(2, parameters));
}

namespace detail {

namespace {

void fill_normal(FMat& z, Rng& rng) {
  for (Eigen::Index c = 0; c < z.cols(); ++c)
    for (Eigen::Index r = 0; r < z.rows(); ++r) z(r, c) = static_cast<float>(rng.normal());
}

void hcat(const FMat& a, const FMat& b, FMat& out) {
  out.resize(a.rows(), a.cols() + b.cols());
  out.leftCols(a.cols()) = a;
  out.rightCols(b.cols()) = b;
}

}  // namespace

GeneratorTrainingData::GeneratorTrainingData(const RowMatrix& theta, const RowMatrix& y, const Prior& prior,
                                             const GeneratorOptions& options, const std::string& method)
    : rng_(stream_seed(options.seed, 3)) {
  // At most 1000 validation rows: the check is a quadratic-cost MMD.
  StandardizedTable table = StandardizedTable::make(theta, y, prior, options.validation_fraction, options.seed, options.data_transform, method,
                                                    /*max_validation_rows=*/1000);
  standardization_ = std::move(table.standardization);
  u_train_ = std::move(table.u_train);
  y_train_ = std::move(table.y_train);
  u_val_ = std::move(table.u_validation);
  y_val_ = std::move(table.y_validation);
  validation_total_ = table.validation_rows;
  const Eigen::Index p = theta.cols(), d = y.cols();
  noise_dim_ = effective_noise_dim(options, p);
  for (double b : options.mmd_bandwidths) bandwidths_.push_back(b * std::sqrt(static_cast<double>(p + d)));
  // Validation: a fixed noise draw, so that successive checks differ only by the generator.
  z_val_.resize(y_val_.rows(), noise_dim_);
  Rng validation_rng(stream_seed(options.seed, 4));
  fill_normal(z_val_, validation_rng);
  hcat(y_val_, u_val_, val_reference_);
}

void GeneratorTrainingData::draw_batch(std::size_t batch_size) {
  const auto n = u_train_.rows();
  const Eigen::Index size = std::min(static_cast<Eigen::Index>(batch_size), n);
  if (position_ + size > static_cast<Eigen::Index>(order_.size())) {
    order_ = optim::permutation(n, rng_);
    position_ = 0;
  }
  const std::span<const Eigen::Index> rows(order_.data() + position_, static_cast<std::size_t>(size));
  position_ += size;
  optim::gather_rows(y_train_, rows, y_batch_);
  optim::gather_rows(u_train_, rows, u_batch_);
  z_.resize(y_batch_.rows(), noise_dim_);
  fill_normal(z_, rng_);
  hcat(y_batch_, z_, generator_input_);
}

double GeneratorTrainingData::validation_mmd2(nn::Mlp& generator, ad::Tape<float>& tape) {
  hcat(y_val_, z_val_, val_input_);
  const FMat fake = generator.predict(val_input_);
  hcat(y_val_, fake, val_generated_);
  auto scope = tape.scope();
  return static_cast<double>(
      nn::mmd2(tape.constant(val_generated_), tape.constant(val_reference_), bandwidths_, nn::MmdEstimator::unbiased).item());
}

WeightAverage::WeightAverage(nn::ParameterList<float> parameters, double beta) : parameters_(std::move(parameters)), beta_(beta) {
  for (auto* parameter : parameters_) average_.push_back(FMat::Zero(parameter->value.rows(), parameter->value.cols()));
}

void WeightAverage::update() {
  if (beta_ <= 0) return;
  const auto beta = static_cast<float>(beta_);
  for (std::size_t i = 0; i < parameters_.size(); ++i) average_[i] = beta * average_[i] + (1.0f - beta) * parameters_[i]->value;
  weight_ = 1 - beta_ * (1 - weight_);
}

void WeightAverage::swap() {
  if (beta_ <= 0 || weight_ == 0) return;
  if (!swapped_in_) {
    current_.clear();
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
      current_.push_back(parameters_[i]->value);
      parameters_[i]->value = average_[i] / static_cast<float>(weight_);
    }
  } else {
    for (std::size_t i = 0; i < parameters_.size(); ++i) parameters_[i]->value = current_[i];
  }
  swapped_in_ = !swapped_in_;
}

nn::MlpOptions network_layout(Eigen::Index inputs, Eigen::Index outputs, const NetworkOptions& network) {
  nn::MlpOptions o;
  o.widths.push_back(inputs);
  o.widths.insert(o.widths.end(), network.hidden.begin(), network.hidden.end());
  o.widths.push_back(outputs);
  o.activation = network.activation;
  o.residual = network.residual;
  return o;
}

ImplicitGeneratorFit new_generator_fit(const GeneratorTrainingData& data, const GeneratorOptions& options) {
  ImplicitGeneratorFit fit(
      nn::Mlp(network_layout(data.data_columns() + data.noise_dim(), data.parameters(), options.generator), stream_seed(options.seed, 1)));
  fit.standardization = data.standardization();
  fit.noise_dim = data.noise_dim();
  fit.training_rows = data.training_rows();
  fit.validation_rows = data.validation_rows();
  return fit;
}

GeneratorLoop::GeneratorLoop(const GeneratorOptions& options, const std::string& stage, std::vector<std::string> loss_names,
                             GeneratorTrainingData& data, nn::Mlp& generator, WeightAverage& average, ad::Tape<float>& tape)
    : loop({.max_steps = options.max_iterations, .min_steps = options.min_iterations, .eval_every = options.eval_every,
            .patience = options.patience, .stage = stage},
           std::move(loss_names)) {
  loop.track(generator.parameters());
  hooks.validate = [&data, &generator, &tape] { return data.validation_mmd2(generator, tape); };
  hooks.before_validation = [&average] { average.swap(); };
  hooks.after_validation = [&average] { average.swap(); };
}

}  // namespace detail

}  // namespace sbi
