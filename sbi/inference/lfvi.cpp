#include "sbi/inference/lfvi.hpp"

#include "sbi/core/error.hpp"
#include "sbi/nn/losses.hpp"
#include "sbi/optim/adam.hpp"
#include "sbi/optim/training.hpp"
#include "sbi/simulation/simulator.hpp"
#include "sbi/io/json_reader.hpp"
#include "sbi/stability/estimators.hpp"

#include <chrono>
#include <cmath>
#include <limits>

namespace sbi {

using FMat = ad::Matrix<float>;

// ---------------------------------------------------------------------------------------------
// Options

std::string to_string(LfviOptions::Method method) { return method == LfviOptions::Method::lfvi ? "lfvi" : "mmd"; }

namespace {

const char* to_string(LfviOptions::GeneratorLoss loss) { return loss == LfviOptions::GeneratorLoss::kl ? "kl" : "non_saturating"; }
const char* to_string(LfviOptions::PenaltyPoints p) {
  switch (p) {
    case LfviOptions::PenaltyPoints::real: return "real";
    case LfviOptions::PenaltyPoints::fake: return "fake";
    case LfviOptions::PenaltyPoints::interpolated: return "interpolated";
  }
  return "real";
}

std::string check_network(const NetworkOptions& n, const std::string& name) {
  if (n.hidden.empty()) return name + ".hidden: needs at least one hidden layer";
  for (auto w : n.hidden)
    if (w < 1) return name + ".hidden: every width must be at least 1";
  if (!(n.learning_rate > 0)) return name + ".learning_rate: must be positive";
  if (n.batch_size < 1) return name + ".batch_size: must be at least 1";
  return {};
}

nlohmann::json network_json(const NetworkOptions& n) {
  return {{"hidden", n.hidden}, {"activation", nn::to_string(n.activation)}, {"residual", n.residual},
          {"learning_rate", n.learning_rate}, {"batch_size", n.batch_size}};
}

void read_network(JsonObjectReader& parent, const std::string& key, NetworkOptions& n) {
  const auto* section = parent.get(key);
  if (!section) return;
  JsonObjectReader r(*section, parent.child_path(key));
  if (const auto* hidden = r.get("hidden")) {
    const auto widths = json_number_list_at(*hidden, r.child_path("hidden"));
    n.hidden.clear();
    for (std::size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] < 1 || widths[i] != std::floor(widths[i]) || widths[i] > 65536)
        throw InputError(r.child_path("hidden") + "[" + std::to_string(i) + "]: expected a layer width (integer in [1, 65536]), got " +
                         format_number(widths[i]));
      n.hidden.push_back(static_cast<Eigen::Index>(widths[i]));
    }
  }
  const std::string activation = r.optional_string("activation", nn::to_string(n.activation),
                                                   {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "softplus"});
  n.activation = nn::activation_from_string(activation);
  n.residual = r.optional_bool("residual", n.residual);
  n.learning_rate = r.optional_positive_number("learning_rate", n.learning_rate);
  n.batch_size = static_cast<std::size_t>(r.optional_integer("batch_size", static_cast<std::int64_t>(n.batch_size), 1, 1 << 20));
  r.reject_unknown_keys();
}

}  // namespace

std::string LfviOptions::validate() const {
  if (auto e = check_network(generator, "generator"); !e.empty()) return e;
  if (method == Method::lfvi)
    if (auto e = check_network(discriminator, "discriminator"); !e.empty()) return e;
  if (noise_dim < 0) return "noise_dim: must be 0 (automatic) or positive";
  if (discriminator_steps < 1) return "discriminator_steps: must be at least 1";
  if (!(generator_ema >= 0 && generator_ema < 1)) return "generator_ema: must be in [0, 1)";
  if (!(spectral_bound > 0)) return "spectral_bound: must be positive";
  if (!(gradient_penalty >= 0)) return "gradient_penalty: must be ≥ 0";
  if (!(weight_decay >= 0)) return "weight_decay: must be ≥ 0";
  if (penalty_every < 1) return "penalty_every: must be at least 1";
  if (!(gradient_penalty_target > 0)) return "gradient_penalty_target: must be positive";
  if (!(rkhs_beta2 >= 0)) return "rkhs_beta2: must be ≥ 0";
  if (rkhs_support < 2) return "rkhs_support: must be at least 2";
  if (!(generator_learning_rate_gamma0_multiple >= 0)) return "generator_learning_rate_gamma0_multiple: must be ≥ 0";
  if (generator_learning_rate_gamma0_multiple > 0 && !spectral_norm &&
      !(gradient_penalty > 0 && gradient_penalty_mode != stability::GradientPenaltyMode::zero_centred))
    return "generator_learning_rate_gamma0_multiple: γ0 needs a Lipschitz bound α (spectral_norm, or a two_sided/one_sided gradient penalty)";
  if (mmd_bandwidths.empty()) return "mmd_bandwidths: needs at least one bandwidth";
  for (double b : mmd_bandwidths)
    if (!(b > 0)) return "mmd_bandwidths: every bandwidth must be positive";
  if (!(validation_fraction > 0 && validation_fraction < 0.5)) return "validation_fraction: must be in (0, 0.5)";
  if (max_iterations < 1) return "max_iterations: must be at least 1";
  if (min_iterations < 0) return "min_iterations: must be ≥ 0";
  if (eval_every < 1) return "eval_every: must be at least 1";
  if (patience < 1) return "patience: must be at least 1";
  if (refine_oversample < 0) return "refine_oversample: must be ≥ 0";
  if (refine_oversample > 0 && method != Method::lfvi) return "refine_oversample: needs method \"lfvi\" (it uses the discriminator)";
  return {};
}

nlohmann::json LfviOptions::to_json() const {
  return {{"method", sbi::to_string(method)},
          {"generator_loss", to_string(generator_loss)},
          {"generator", network_json(generator)},
          {"discriminator", network_json(discriminator)},
          {"noise_dim", noise_dim},
          {"data_transform", data_transform},
          {"generator_ema", generator_ema},
          {"discriminator_steps", discriminator_steps},
          {"spectral_norm", spectral_norm},
          {"spectral_bound", spectral_bound},
          {"gradient_penalty", gradient_penalty},
          {"penalty_points", to_string(penalty_points)},
          {"penalty_every", penalty_every},
          {"weight_decay", weight_decay},
          {"gradient_penalty_mode", stability::to_string(gradient_penalty_mode)},
          {"gradient_penalty_target", gradient_penalty_target},
          {"rkhs_beta2", rkhs_beta2},
          {"rkhs_support", rkhs_support},
          {"generator_learning_rate_gamma0_multiple", generator_learning_rate_gamma0_multiple},
          {"mmd_bandwidths", mmd_bandwidths},
          {"validation_fraction", validation_fraction},
          {"max_iterations", max_iterations},
          {"min_iterations", min_iterations},
          {"eval_every", eval_every},
          {"patience", patience},
          {"refine_oversample", refine_oversample},
          {"seed", seed}};
}

LfviOptions LfviOptions::from_json(const nlohmann::json& section, const std::string& path) {
  LfviOptions o;
  JsonObjectReader r(section, path);
  r.get("simulations");  // read by the caller
  r.get("table");
  o.method = r.optional_string("method", "lfvi", {"lfvi", "mmd"}) == "lfvi" ? Method::lfvi : Method::mmd;
  o.generator_loss = r.optional_string("generator_loss", "kl", {"kl", "non_saturating"}) == "kl" ? GeneratorLoss::kl
                                                                                                    : GeneratorLoss::non_saturating;
  read_network(r, "generator", o.generator);
  read_network(r, "discriminator", o.discriminator);
  o.noise_dim = static_cast<int>(r.optional_integer("noise_dim", o.noise_dim, 0, 4096));
  o.data_transform = r.optional_string("data_transform", o.data_transform, {"none", "log", "auto"});
  o.generator_ema = r.optional_number_in("generator_ema", o.generator_ema, 0.0, 0.999999);
  o.discriminator_steps = static_cast<int>(r.optional_integer("discriminator_steps", o.discriminator_steps, 1, 100));
  o.spectral_norm = r.optional_bool("spectral_norm", o.spectral_norm);
  o.spectral_bound = r.optional_positive_number("spectral_bound", o.spectral_bound);
  o.gradient_penalty = r.optional_number_in("gradient_penalty", o.gradient_penalty, 0.0, 1e6);
  const std::string points = r.optional_string("penalty_points", "real", {"real", "fake", "interpolated"});
  o.penalty_points = points == "real" ? PenaltyPoints::real : points == "fake" ? PenaltyPoints::fake : PenaltyPoints::interpolated;
  o.penalty_every = static_cast<int>(r.optional_integer("penalty_every", o.penalty_every, 1, 1000));
  o.weight_decay = r.optional_number_in("weight_decay", o.weight_decay, 0.0, 1.0);
  o.gradient_penalty_mode = stability::gradient_penalty_mode_from_string(
      r.optional_string("gradient_penalty_mode", "zero_centred", {"zero_centred", "two_sided", "one_sided"}));
  o.gradient_penalty_target = r.optional_positive_number("gradient_penalty_target", o.gradient_penalty_target);
  o.rkhs_beta2 = r.optional_number_in("rkhs_beta2", o.rkhs_beta2, 0.0, 1e12);
  o.rkhs_support = static_cast<int>(r.optional_integer("rkhs_support", o.rkhs_support, 2, 4096));
  o.generator_learning_rate_gamma0_multiple =
      r.optional_number_in("generator_learning_rate_gamma0_multiple", o.generator_learning_rate_gamma0_multiple, 0.0, 1e12);
  if (const auto* b = r.get("mmd_bandwidths")) {
    o.mmd_bandwidths = json_number_list_at(*b, r.child_path("mmd_bandwidths"));
    for (std::size_t i = 0; i < o.mmd_bandwidths.size(); ++i)
      if (!(o.mmd_bandwidths[i] > 0))
        throw InputError(r.child_path("mmd_bandwidths") + "[" + std::to_string(i) + "]: expected a positive number, got " +
                         format_number(o.mmd_bandwidths[i]));
  }
  o.validation_fraction = r.optional_number_in("validation_fraction", o.validation_fraction, 0.01, 0.49);
  o.max_iterations = static_cast<int>(r.optional_integer("max_iterations", o.max_iterations, 1, 100000000));
  o.min_iterations = static_cast<int>(r.optional_integer("min_iterations", o.min_iterations, 0, 100000000));
  o.eval_every = static_cast<int>(r.optional_integer("eval_every", o.eval_every, 1, 1000000));
  o.patience = static_cast<int>(r.optional_integer("patience", o.patience, 1, 1000000));
  o.refine_oversample = static_cast<int>(r.optional_integer("refine_oversample", o.refine_oversample, 0, 1000));
  o.seed = static_cast<std::uint64_t>(r.optional_integer("seed", static_cast<std::int64_t>(o.seed), 0));
  r.reject_unknown_keys();
  if (o.refine_oversample > 0 && o.method != Method::lfvi)
    throw InputError(r.child_path("refine_oversample") + ": needs \"method\": \"lfvi\" (it reweights by the discriminator)");
  if (auto problem = o.validate(); problem.rfind("generator_learning_rate_gamma0_multiple", 0) == 0)
    throw InputError(r.child_path(problem.substr(0, problem.find(':'))) + problem.substr(problem.find(':')));
  return o;
}

// ---------------------------------------------------------------------------------------------
// Standardisation

nlohmann::json Standardization::to_json() const {
  auto v = [](const Vector& x) { return std::vector<double>(x.data(), x.data() + x.size()); };
  return {{"u_mean", v(u_mean)}, {"u_sd", v(u_sd)}, {"y_mean", v(y_mean)}, {"y_sd", v(y_sd)}, {"y_log", y_log}};
}

Standardization Standardization::from_json(const nlohmann::json& j) {
  auto v = [&](const char* key) {
    const auto x = j.at(key).get<std::vector<double>>();
    return Vector(Eigen::Map<const Vector>(x.data(), static_cast<Eigen::Index>(x.size())));
  };
  Standardization s{v("u_mean"), v("u_sd"), v("y_mean"), v("y_sd"), j.value("y_log", std::vector<bool>{})};
  return s;
}

Vector Standardization::standardize_data(const Vector& y) const {
  Vector g = y;
  for (std::size_t c = 0; c < y_log.size(); ++c)
    if (y_log[c]) g[static_cast<Eigen::Index>(c)] = std::log(g[static_cast<Eigen::Index>(c)]);
  return (g - y_mean).array() / y_sd.array();
}

namespace {

void column_moments(const RowMatrix& x, const std::vector<Eigen::Index>& rows, Vector& mean, Vector& sd) {
  mean = Vector::Zero(x.cols());
  for (auto r : rows) mean += x.row(r).transpose();
  mean /= static_cast<double>(rows.size());
  sd = Vector::Zero(x.cols());
  for (auto r : rows) sd += (x.row(r).transpose() - mean).array().square().matrix();
  sd = (sd / static_cast<double>(std::max<std::size_t>(1, rows.size() - 1))).array().sqrt();
  // A constant column (e.g. SIR's first count) is centred but not scaled.
  for (Eigen::Index c = 0; c < sd.size(); ++c)
    if (!(sd[c] > 1e-12 * std::max(1.0, std::abs(mean[c])))) sd[c] = 1.0;
}

// Rows `rows` of x, standardised, as a float batch matrix.
FMat standardised_rows(const RowMatrix& x, const std::vector<Eigen::Index>& rows, const Vector& mean, const Vector& sd) {
  FMat out(static_cast<Eigen::Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i)
    out.row(static_cast<Eigen::Index>(i)) = ((x.row(rows[i]).transpose() - mean).array() / sd.array()).cast<float>().transpose();
  return out;
}

void fill_normal(FMat& z, Rng& rng) {
  for (Eigen::Index c = 0; c < z.cols(); ++c)
    for (Eigen::Index r = 0; r < z.rows(); ++r) z(r, c) = static_cast<float>(rng.normal());
}

void hcat(const FMat& a, const FMat& b, FMat& out) {
  out.resize(a.rows(), a.cols() + b.cols());
  out.leftCols(a.cols()) = a;
  out.rightCols(b.cols()) = b;
}

// Endless minibatches: a fresh permutation per epoch.
class BatchCycler {
 public:
  BatchCycler(Eigen::Index n, Rng& rng) : n_(n), rng_(rng) {}
  std::span<const Eigen::Index> next(Eigen::Index size) {
    size = std::min(size, n_);
    if (position_ + size > static_cast<Eigen::Index>(order_.size())) {
      order_ = optim::permutation(n_, rng_);
      position_ = 0;
    }
    std::span<const Eigen::Index> batch(order_.data() + position_, static_cast<std::size_t>(size));
    position_ += size;
    return batch;
  }

 private:
  Eigen::Index n_;
  Rng& rng_;
  std::vector<Eigen::Index> order_;
  Eigen::Index position_ = 0;
};

std::vector<bool> log_columns(const RowMatrix& y, const std::vector<Eigen::Index>& rows, const std::string& transform) {
  std::vector<bool> flags(static_cast<std::size_t>(y.cols()), false);
  if (transform == "none") return flags;
  for (Eigen::Index c = 0; c < y.cols(); ++c) {
    double low = std::numeric_limits<double>::infinity(), high = 0;
    for (auto r : rows) {
      low = std::min(low, y(r, c));
      high = std::max(high, y(r, c));
    }
    if (transform == "log") {
      if (!(low > 0))
        throw InputError("LFVI: data_transform \"log\" needs positive data, but data column " + std::to_string(c + 1) +
                         " has the value " + format_number(low));
      flags[static_cast<std::size_t>(c)] = true;
    } else {
      flags[static_cast<std::size_t>(c)] = low > 0 && high / low > 100;
    }
  }
  return flags;
}

nn::MlpOptions network(Eigen::Index inputs, Eigen::Index outputs, const NetworkOptions& n) {
  nn::MlpOptions o;
  o.widths.push_back(inputs);
  o.widths.insert(o.widths.end(), n.hidden.begin(), n.hidden.end());
  o.widths.push_back(outputs);
  o.activation = n.activation;
  o.residual = n.residual;
  return o;
}

}  // namespace

double lfvi_gamma0(const LfviOptions& options) {
  double alpha = 0;
  if (options.spectral_norm)
    alpha = std::pow(options.spectral_bound, static_cast<double>(options.discriminator.hidden.size() + 1));
  else if (options.gradient_penalty > 0 && options.gradient_penalty_mode != stability::GradientPenaltyMode::zero_centred)
    alpha = options.gradient_penalty_target;
  else
    throw InputError("LFVI: γ0 needs a Lipschitz bound α on the discriminator (spectral_norm, or a two_sided/one_sided gradient penalty)");
  return stability::learnable_points_step_size(alpha, options.rkhs_beta2);
}

double effective_generator_learning_rate(const LfviOptions& options) {
  return options.generator_learning_rate_gamma0_multiple > 0 ? options.generator_learning_rate_gamma0_multiple * lfvi_gamma0(options)
                                                               : options.generator.learning_rate;
}

int effective_noise_dim(const LfviOptions& options, Eigen::Index parameters) {
  return options.noise_dim > 0 ? options.noise_dim : static_cast<int>(std::max<Eigen::Index>(2, parameters));
}

// ---------------------------------------------------------------------------------------------
// Training

LfviFit train_lfvi(const RowMatrix& theta, const RowMatrix& y, const Prior& prior, const LfviOptions& options,
                   const LfviCallbacks& callbacks) {
  if (auto problem = options.validate(); !problem.empty()) throw InputError("LFVI options: " + problem);
  const Eigen::Index n = theta.rows(), p = theta.cols(), d = y.cols();
  if (y.rows() != n) throw InputError("LFVI: θ and y have different numbers of rows");
  if (static_cast<std::size_t>(p) != prior.dim()) throw InputError("LFVI: θ has " + std::to_string(p) + " columns, the prior " + std::to_string(prior.dim()));
  if (n < 20) throw InputError("LFVI: need at least 20 simulations, got " + std::to_string(n));
  const RowMatrix u = prior.to_unconstrained(theta);
  for (Eigen::Index r = 0; r < n; ++r) {
    if (!u.row(r).allFinite())
      throw InputError("LFVI: row " + std::to_string(r) + " has θ outside the prior's support (or on its boundary): " +
                       describe_theta(prior.names(), row_span(theta, r)));
    if (!y.row(r).allFinite()) throw InputError("LFVI: row " + std::to_string(r) + " has non-finite data");
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  const auto split = optim::train_validation_split(n, options.validation_fraction, options.seed);
  Standardization standardization;
  standardization.y_log = log_columns(y, split.train, options.data_transform);
  RowMatrix g = y;
  for (std::size_t c = 0; c < standardization.y_log.size(); ++c)
    if (standardization.y_log[c]) g.col(static_cast<Eigen::Index>(c)) = g.col(static_cast<Eigen::Index>(c)).array().log().matrix();
  column_moments(u, split.train, standardization.u_mean, standardization.u_sd);
  column_moments(g, split.train, standardization.y_mean, standardization.y_sd);
  const FMat u_train = standardised_rows(u, split.train, standardization.u_mean, standardization.u_sd);
  const FMat y_train = standardised_rows(g, split.train, standardization.y_mean, standardization.y_sd);
  // At most 1000 validation rows: the check is a quadratic-cost MMD.
  std::vector<Eigen::Index> validation_rows(split.validation.begin(),
                                            split.validation.begin() + std::min<std::ptrdiff_t>(1000, static_cast<std::ptrdiff_t>(split.validation.size())));
  const FMat u_val = standardised_rows(u, validation_rows, standardization.u_mean, standardization.u_sd);
  const FMat y_val = standardised_rows(g, validation_rows, standardization.y_mean, standardization.y_sd);

  const int k = effective_noise_dim(options, p);
  const bool adversarial = options.method == LfviOptions::Method::lfvi;
  LfviFit fit(nn::Mlp(network(d + k, p, options.generator), stream_seed(options.seed, 1)));
  fit.standardization = standardization;
  fit.training_rows = split.train.size();
  fit.validation_rows = split.validation.size();
  if (adversarial) {
    auto o = network(p + d, 1, options.discriminator);
    o.spectral_norm = options.spectral_norm;
    o.spectral.bound = options.spectral_bound;
    fit.discriminator.emplace(o, stream_seed(options.seed, 2));
  }
  nn::Mlp& generator = fit.generator;
  optim::Adam generator_optimizer(generator.parameters(), {.learning_rate = effective_generator_learning_rate(options), .beta1 = 0.5});
  std::optional<optim::Adam> discriminator_optimizer;
  if (adversarial)
    discriminator_optimizer.emplace(fit.discriminator->parameters(),
                                    optim::AdamOptions{.learning_rate = options.discriminator.learning_rate, .beta1 = 0.5,
                                                       .weight_decay = options.weight_decay, .decoupled_weight_decay = true});
  optim::EarlyStopping best_generator(generator.parameters(), {.patience = options.patience});
  // The discriminator that goes with the best generator (for sampling refinement).
  std::vector<FMat> best_discriminator_weights;
  auto snapshot_discriminator = [&] {
    if (!adversarial) return;
    best_discriminator_weights.clear();
    for (auto* parameter : fit.discriminator->parameters()) best_discriminator_weights.push_back(parameter->value);
  };

  std::vector<double> bandwidths;
  for (double b : options.mmd_bandwidths) bandwidths.push_back(b * std::sqrt(static_cast<double>(p + d)));

  // Averaged generator weights; swapped in for validation and kept at the end.
  // Started at zero and divided by 1 − βᵗ (as Adam's moments), so the initial weights carry no weight.
  std::vector<FMat> generator_average, generator_current;
  for (auto* parameter : generator.parameters()) generator_average.push_back(FMat::Zero(parameter->value.rows(), parameter->value.cols()));
  double average_weight = 0;  // 1 − βᵗ
  bool average_in = false;
  auto swap_in_average = [&] {
    if (options.generator_ema <= 0 || average_weight == 0) return;
    auto parameters = generator.parameters();
    if (!average_in) {
      generator_current.clear();
      for (std::size_t i = 0; i < parameters.size(); ++i) {
        generator_current.push_back(parameters[i]->value);
        parameters[i]->value = generator_average[i] / static_cast<float>(average_weight);
      }
    } else {
      for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i]->value = generator_current[i];
    }
    average_in = !average_in;
  };

  Rng rng(stream_seed(options.seed, 3));
  BatchCycler batches(static_cast<Eigen::Index>(split.train.size()), rng);
  ad::Tape<float> tape;
  FMat y_batch, u_batch, z, generator_input, fake, real_joint, fake_joint, ones, zeros, epsilon;

  // Validation: a fixed noise draw, so that successive checks differ only by the generator.
  FMat z_val(y_val.rows(), k), val_input, val_fake, val_generated, val_reference;
  Rng validation_rng(stream_seed(options.seed, 4));
  fill_normal(z_val, validation_rng);
  hcat(y_val, u_val, val_reference);
  auto validate = [&] {
    hcat(y_val, z_val, val_input);
    val_fake = generator.predict(val_input);
    hcat(y_val, val_fake, val_generated);
    auto scope = tape.scope();
    return static_cast<double>(nn::mmd2(tape.constant(val_generated), tape.constant(val_reference), bandwidths, nn::MmdEstimator::unbiased).item());
  };

  auto draw_batch = [&](std::size_t batch_size) {
    const auto rows = batches.next(static_cast<Eigen::Index>(batch_size));
    optim::gather_rows(y_train, rows, y_batch);
    optim::gather_rows(u_train, rows, u_batch);
    z.resize(y_batch.rows(), k);
    fill_normal(z, rng);
    hcat(y_batch, z, generator_input);
  };

  long discriminator_step_count = 0;
  double discriminator_loss_sum = 0, generator_loss_sum = 0;
  int discriminator_loss_count = 0, generator_loss_count = 0;
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    if (adversarial) {
      nn::Mlp& discriminator = *fit.discriminator;
      discriminator.train();
      for (int s = 0; s < options.discriminator_steps; ++s) {
        draw_batch(options.discriminator.batch_size);
        fake = generator.predict(generator_input);
        hcat(u_batch, y_batch, real_joint);
        hcat(fake, y_batch, fake_joint);
        const Eigen::Index b = real_joint.rows();
        ones.setOnes(b, 1);
        zeros.setZero(b, 1);
        auto scope = tape.scope();
        auto real_in = tape.constant(real_joint);
        auto fake_in = tape.constant(fake_joint);
        auto loss = nn::bce_with_logits(discriminator.forward(real_in), ones) + nn::bce_with_logits(discriminator.forward(fake_in), zeros);
        if (options.gradient_penalty > 0 && ++discriminator_step_count % options.penalty_every == 0) {
          FMat points;
          if (options.penalty_points == LfviOptions::PenaltyPoints::real) {
            points = real_joint;
          } else if (options.penalty_points == LfviOptions::PenaltyPoints::fake) {
            points = fake_joint;
          } else {
            epsilon.resize(b, 1);
            for (Eigen::Index r = 0; r < b; ++r) epsilon(r, 0) = static_cast<float>(rng.uniform());
            points = (real_joint.array().colwise() * epsilon.col(0).array() +
                      fake_joint.array().colwise() * (1.0f - epsilon.col(0).array())).matrix();
          }
          loss = loss + stability::gradient_penalty(tape, [&](ad::Var<float> x) { return discriminator.forward(x); }, points,
                                                    {options.gradient_penalty_mode, options.gradient_penalty * options.penalty_every,
                                                     options.gradient_penalty_target});
        }
        if (options.rkhs_beta2 > 0) {
          // (1/(2β2))·‖r‖²_H on a support set of real and generated rows (sbi/stability/regularizers.hpp).
          const Eigen::Index m = std::min<Eigen::Index>(options.rkhs_support / 2, b);
          RowMatrix support(2 * m, real_joint.cols());
          support.topRows(m) = real_joint.topRows(m).cast<double>();
          support.bottomRows(m) = fake_joint.topRows(m).cast<double>();
          const FMat precision = stability::rkhs_support_precision(support).cast<float>();
          auto values = discriminator.forward(tape.constant(support.cast<float>()));
          loss = loss + stability::rkhs_penalty(values, precision) * static_cast<float>(1.0 / (2.0 * options.rkhs_beta2));
        }
        discriminator_optimizer->zero_grad();
        tape.backward(loss);
        discriminator_optimizer->step();
        discriminator_loss_sum += loss.item();
        ++discriminator_loss_count;
      }
    }
    {
      draw_batch(options.generator.batch_size);
      auto scope = tape.scope();
      auto generated = generator.forward(tape.constant(generator_input));
      ad::Var<float> loss;
      if (adversarial) {
        nn::Mlp& discriminator = *fit.discriminator;
        discriminator.eval();
        auto ratio = discriminator.forward(ad::concat_cols(generated, tape.constant(y_batch)));
        loss = options.generator_loss == LfviOptions::GeneratorLoss::kl ? -ad::mean(ratio) : ad::mean(ad::softplus(-ratio));
      } else {
        hcat(y_batch, u_batch, real_joint);
        loss = nn::mmd2(ad::concat_cols(tape.constant(y_batch), generated), tape.constant(real_joint), bandwidths);
      }
      generator_optimizer.zero_grad();
      tape.backward(loss);
      generator_optimizer.step();
      if (options.generator_ema > 0) {
        const auto beta = static_cast<float>(options.generator_ema);
        auto parameters = generator.parameters();
        for (std::size_t i = 0; i < parameters.size(); ++i)
          generator_average[i] = beta * generator_average[i] + (1.0f - beta) * parameters[i]->value;
        average_weight = 1 - options.generator_ema * (1 - average_weight);
      }
      generator_loss_sum += loss.item();
      ++generator_loss_count;
    }

    const bool last = iteration == options.max_iterations;
    if (iteration % options.eval_every == 0 || last) {
      TrainingRecord record;
      record.iteration = iteration;
      record.discriminator_loss = discriminator_loss_count ? discriminator_loss_sum / discriminator_loss_count : 0.0;
      record.generator_loss = generator_loss_count ? generator_loss_sum / generator_loss_count : 0.0;
      swap_in_average();
      record.validation_mmd2 = validate();
      record.seconds = elapsed();
      discriminator_loss_sum = generator_loss_sum = 0;
      discriminator_loss_count = generator_loss_count = 0;
      fit.curve.push_back(record);
      const bool patience_over = best_generator.update(record.validation_mmd2);  // snapshots the averaged weights
      swap_in_average();
      if (best_generator.epochs_since_best() == 0) snapshot_discriminator();
      if (callbacks.on_record) callbacks.on_record(record, options.max_iterations);
      if (callbacks.stop && callbacks.stop->load()) {
        fit.interrupted = true;
        break;
      }
      if (patience_over && iteration >= options.min_iterations) {
        fit.stopped_early = true;
        break;
      }
    }
  }
  best_generator.restore_best();
  if (!best_discriminator_weights.empty()) {
    auto parameters = fit.discriminator->parameters();
    for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i]->value = best_discriminator_weights[i];
  }
  fit.best_iteration = fit.curve.empty() ? 0 : fit.curve[static_cast<std::size_t>(best_generator.best_epoch())].iteration;
  fit.best_validation_mmd2 = best_generator.best_loss();
  if (fit.discriminator) fit.discriminator->eval();
  fit.seconds = elapsed();
  return fit;
}

}  // namespace sbi
